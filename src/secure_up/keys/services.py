"""The key services of one command: open a file's data key, wrap a new one for its recipients.

Each key group wraps the whole data key or, when a file has several groups, one
Shamir share of it. To open a file we need one master key from enough groups;
to write one we wrap the key (or the group's share) for every recipient. Which
kind a master key is concerns only its service (:mod:`secure_up.keys.registry`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from secure_up.audit.record import note_keys
from secure_up.errors import NoKeyError, SecureUpError
from secure_up.keys.interface import KeyContext, KeyKind, KeyService
from secure_up.keys.registry import KINDS
from secure_up.sops.cipher import DATA_KEY_SIZE
from secure_up.sops.metadata import KeyGroup, Metadata, format_rfc3339


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


class KeyServices:
    """The master keys one command can use, by kind; each service is made on first need."""

    def __init__(self, context: KeyContext, kinds: Mapping[str, KeyKind] = KINDS) -> None:
        self._context = context
        self._kinds = kinds
        self._services: dict[str, KeyService] = {}

    def __repr__(self) -> str:
        return f"KeyServices({sorted(self._services)})"

    def service(self, kind: str) -> KeyService | None:
        """The service for ``kind``, or None when secure-up cannot handle that kind."""
        if kind not in self._services:
            entry = self._kinds.get(kind)
            if entry is None:
                return None
            self._services[kind] = entry.make_service(self._context)
        return self._services[kind]

    def open_data_key(self, metadata: Metadata) -> bytes:
        """The data key, opened by whichever recipient's key this command holds."""
        failures: list[str] = []
        parts = [
            part for group in metadata.key_groups if (part := self._open_group(group, failures))
        ]
        groups = len(metadata.key_groups)
        if groups == 1 and parts:
            return parts[0]
        threshold = metadata.shamir_threshold or groups
        if groups > 1 and len(parts) >= threshold:
            from secure_up.sops import shamir  # only files with several key groups need it

            return shamir.combine(parts)
        raise self._no_key_error(metadata, failures, opened=len(parts), needed=threshold)

    def _open_group(self, group: KeyGroup, failures: list[str]) -> bytes | None:
        for key in group.keys:
            try:
                service = self.service(key.kind)
                if service is None:
                    continue
                opened = service.open(key)
            except SecureUpError as error:
                # A kind this machine cannot use at all (no gpg) must not stop another
                # kind of the same group (an age key in CI) from opening the file.
                failures.append(f"{key.kind} {key.identifier}: {error.what}")
                continue
            note_keys([f"{key.kind}:{key.identifier}"])
            return opened
        return None

    def _no_key_error(
        self, metadata: Metadata, failures: list[str], *, opened: int, needed: int
    ) -> NoKeyError:
        lines = ["no master key could open this file's data key"]
        if len(metadata.key_groups) > 1:
            lines[0] += f" ({opened} of the {needed} key groups needed could be opened)"
        if failures:
            lines.append("recipients of the file, and why each failed:")
            lines += [f"  - {failure}" for failure in failures]
        unsupported = sorted(
            {key.kind for key in metadata.master_keys if key.kind not in self._kinds}
        )
        if unsupported:
            lines.append(
                "the file can also be opened with "
                + ", ".join(unsupported)
                + " keys, which secure-up does not handle: use sops for those"
            )
        kinds = {key.kind for key in metadata.master_keys if key.kind in self._kinds}
        for kind in sorted(kinds):
            service = self.service(kind)
            held = service.identities() if service else []
            where = service.where() if service else kind
            lines.append(f"{where}: " + (", ".join(held) or "none"))
        return NoKeyError(
            "\n".join(lines),
            "give secure-up the key of one of the recipients (gpg --import KEYFILE, "
            "SOPS_AGE_KEY_FILE, AWS credentials; in CI SECURE_UP_GPG_KEY or SOPS_AGE_KEY), "
            "or ask someone who can open the file to add yours with `secure-up updatekeys`",
        )

    def wrap_data_key(self, metadata: Metadata, data_key: bytes, *, only_new: bool = False) -> None:
        """Wrap ``data_key`` (or each group's share) for the recipients of ``metadata``, in place.

        ``only_new`` wraps only entries without a wrapped key yet (the same data key
        for recipients just added); the others keep theirs.
        """
        groups = metadata.key_groups
        if len(groups) > 1:
            if only_new:
                raise SecureUpError(
                    "cannot add recipients to a file with several key groups without its shares",
                    "rotate the file (`secure-up rotate`) to split a new data key",
                )
            threshold = metadata.shamir_threshold or len(groups)
            from secure_up.sops import shamir

            parts = shamir.split(data_key, len(groups), threshold)
        else:
            parts = [data_key]
        now = format_rfc3339(datetime.now(UTC))
        for group, part in zip(groups, parts, strict=True):
            for key in group.keys:
                if only_new and key.enc:
                    continue
                service = self.service(key.kind)
                if service is None:
                    raise SecureUpError(
                        f"secure-up cannot wrap a data key for the {key.kind} key "
                        f"{key.identifier}; rewriting the key would lock it out",
                        "rotate with `sops rotate -i FILE`, or remove that key first",
                    )
                service.wrap(key, part)
                key.created_at = now
                note_keys([f"{key.kind}:{key.identifier}"])


@contextlib.contextmanager
def key_services(
    environ: Mapping[str, str], *, interactive: bool, kinds: Mapping[str, KeyKind] = KINDS
) -> Iterator[KeyServices]:
    """The key services of one command; what they made (a keyring, an agent) goes at the end."""
    from secure_up.audit.record import note_key_use

    note_key_use(environ)  # this command decrypts or changes a secret: it is audited
    from secure_up.keys import early

    with contextlib.ExitStack() as cleanup:
        # Last to run: a session set up at start-up that no service took ends here too.
        cleanup.callback(early.discard)
        yield KeyServices(KeyContext(environ, interactive, cleanup), kinds)


# -- a key of one's own (init) -------------------------------------------------------------------


def age_key_file(environ: Mapping[str, str]) -> Path | None:
    """Where sops looks for age keys: ``SOPS_AGE_KEY_FILE``, else the user's default file.

    None when neither that variable nor a config directory (XDG_CONFIG_HOME, HOME) is set.
    """
    from secure_up.keys.age import KEY_FILE_VARIABLE, default_key_file

    named = environ.get(KEY_FILE_VARIABLE)
    return Path(named) if named else default_key_file(environ)


def ensure_age_identity(path: Path) -> tuple[str, bool]:
    """(recipient, created): the first age identity in ``path``, made there if missing."""
    from secure_up.keys.age import ensure_identity_file

    return ensure_identity_file(path)
