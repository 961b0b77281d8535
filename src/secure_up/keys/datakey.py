"""Opening and wrapping a file's data key with its master keys.

Each key group wraps the whole data key, or, when a file has several groups,
one Shamir share of it. To open a file we need one master key from enough
groups; to write one we wrap the key (or the group's share) for every
recipient.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from secure_up.errors import NoKeyError
from secure_up.keys.pgp import GnuPG, PgpError
from secure_up.sops.cipher import DATA_KEY_SIZE
from secure_up.sops.metadata import KeyGroup, Metadata, format_rfc3339


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def _open_group(group: KeyGroup, gpg: GnuPG, failures: list[str]) -> bytes | None:
    for key in group.pgp:
        try:
            return gpg.decrypt(key.enc)
        except PgpError as error:
            failures.append(f"{key.fingerprint}: {error.what}")
    return None


def open_data_key(metadata: Metadata, gpg: GnuPG) -> bytes:
    """The data key, opened by whichever recipient's secret key gpg has."""
    failures: list[str] = []
    parts = [part for group in metadata.key_groups if (part := _open_group(group, gpg, failures))]
    groups = len(metadata.key_groups)
    if groups == 1 and parts:
        return parts[0]
    threshold = metadata.shamir_threshold or groups
    if groups > 1 and len(parts) >= threshold:
        from secure_up.sops import shamir  # only files with several key groups need it

        return shamir.combine(parts)
    raise _no_key_error(metadata, gpg, failures, opened=len(parts), needed=threshold)


def _no_key_error(
    metadata: Metadata, gpg: GnuPG, failures: list[str], *, opened: int, needed: int
) -> NoKeyError:
    lines = ["no master key could open this file's data key"]
    if len(metadata.key_groups) > 1:
        lines[0] += f" ({opened} of the {needed} key groups needed could be opened)"
    if failures:
        lines.append("PGP recipients of the file, and why each failed:")
        lines += [f"  - {failure}" for failure in failures]
    others = sorted(
        {name for group in metadata.key_groups for name, keys in group.others.items() if keys}
    )
    if others:
        lines.append(
            "the file can also be opened with "
            + ", ".join(others)
            + " keys, which secure-up does not handle: use sops for those"
        )
    try:
        available = [key.describe() for key in gpg.secret_keys()]
    except PgpError:
        available = []
    lines.append(f"secret keys in {gpg.home}: " + (", ".join(available) or "none"))
    return NoKeyError(
        "\n".join(lines),
        "import the secret key of one of the recipients (gpg --import KEYFILE, or set "
        "SECURE_UP_GPG_KEY in CI), or ask someone who can open the file to add your key "
        "with `secure-up updatekeys`",
    )


def wrap_data_key(metadata: Metadata, data_key: bytes, gpg: GnuPG) -> None:
    """Wrap ``data_key`` for every PGP recipient of ``metadata`` (in place)."""
    groups = metadata.key_groups
    if len(groups) > 1:
        threshold = metadata.shamir_threshold or len(groups)
        from secure_up.sops import shamir

        parts = shamir.split(data_key, len(groups), threshold)
    else:
        parts = [data_key]
    now = format_rfc3339(datetime.now(UTC))
    for group, part in zip(groups, parts, strict=True):
        for key in group.pgp:
            key.enc = gpg.encrypt(part, key.fingerprint)
            key.created_at = now
