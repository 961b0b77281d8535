"""Who can open a sops file: the changes ``rotate`` and ``updatekeys`` make to its key groups.

Pure: sops metadata (and a creation rule) in, changed metadata or a plan out.
Wrapping the data key for the new recipients is gpg's part, done by the
commands. secure-up wraps for PGP only, so every change here refuses what
would lock out a recipient of another key type (age, kms, ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from secure_up.config import CreationRule
from secure_up.errors import ConfigError, SecureUpError, UsageError
from secure_up.sops.metadata import KeyGroup, Metadata, PgpKey

_FINGERPRINT: Final = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")


def parse_fingerprint(text: str, option: str) -> str:
    """A full PGP fingerprint as sops writes it (upper case, no spaces) from ``option``'s value."""
    fingerprint = text.replace(" ", "").upper()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise UsageError(
            f"{option} {text!r} is not a full PGP fingerprint (40 or 64 hex digits)",
            "find it with `gpg --list-keys --with-colons KEY | grep ^fpr`",
        )
    return fingerprint


def refuse_keys_we_cannot_wrap(metadata: Metadata, path: Path) -> None:
    """Other key types would keep the *old* data key: the file would no longer open for them."""
    others = sorted(
        {name for group in metadata.key_groups for name, v in group.others.items() if v}
    )
    if others:
        raise SecureUpError(
            f"{path} can also be opened with {', '.join(others)} keys, which secure-up cannot "
            "wrap a new data key for; rotating here would lock those keys out",
            f"rotate it with `sops rotate -i {path}`, or remove those keys first",
        )


def change_recipients(
    metadata: Metadata, added: Sequence[str], removed: Sequence[str], path: Path
) -> None:
    """Apply ``--add-pgp`` (to the first key group, as sops does) and ``--rm-pgp``."""
    present = {key.fingerprint.upper() for key in metadata.pgp_keys}
    missing = [fp for fp in removed if fp not in present]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} is not a recipient of {path}",
            f"list the recipients with `secure-up filestatus` or in the sops section of {path}",
        )
    for group in metadata.key_groups:
        group.pgp = [key for key in group.pgp if key.fingerprint.upper() not in removed]
    first = metadata.key_groups[0]
    first.pgp += [PgpKey(fp) for fp in added if fp not in present or fp in removed]
    empty = [number for number, group in enumerate(metadata.key_groups, 1) if group.is_empty()]
    if empty:
        raise UsageError(
            f"removing those recipients would leave key group {empty[0]} of {path} empty, "
            "and nobody could open the file",
            "add another recipient with --add-pgp in the same command",
        )


@dataclass
class RecipientChange:
    """How a file's recipients differ from what its creation rule names."""

    groups: list[KeyGroup]
    threshold: int
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)
    threshold_before: int = 0
    #: The data key must be split again (group count or threshold changed, or several
    #: groups): every recipient then gets a new share.
    resplit: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.threshold != self.threshold_before)

    def describe(self, path: Path) -> list[str]:
        several = len(self.groups) > 1
        lines = [f"{path}: recipients change"]
        lines += [f"  +{fp}" + (f" (key group {g})" if several else "") for g, fp in self.added]
        lines += [f"  -{fp}" + (f" (key group {g})" if several else "") for g, fp in self.removed]
        if self.threshold != self.threshold_before:
            lines.append(f"  shamir_threshold {self.threshold_before} -> {self.threshold}")
        return lines


def plan_recipients(metadata: Metadata, rule: CreationRule, path: Path) -> RecipientChange:
    """The key groups ``rule`` asks for, reusing the file's wrapped keys where they stay valid.

    secure-up wraps for PGP only: other master keys in the file are kept when
    the data key is not split again, and a split is refused while they exist.
    """
    wanted = [spec.pgp for spec in rule.key_groups]
    if not wanted or not all(wanted):
        raise ConfigError(
            f"the creation rule {rule.origin or ''} for {path} has a key group without PGP keys",
            "secure-up updates PGP recipients only: name pgp fingerprints in every key group "
            "(or use sops updatekeys)",
        )
    old = metadata.key_groups
    resplit = (
        len(wanted) > 1
        or len(old) != len(wanted)
        or (rule.shamir_threshold != metadata.shamir_threshold)
    )
    if resplit and any(group.others for group in old):
        raise SecureUpError(
            f"{path} has non-PGP master keys and its data key would have to be split again "
            "for the new key groups; secure-up cannot wrap the new shares for those keys",
            f"run `sops updatekeys {path}`",
        )
    change = RecipientChange(
        groups=[],
        threshold=rule.shamir_threshold,
        threshold_before=metadata.shamir_threshold,
        resplit=resplit,
    )
    for number, fingerprints in enumerate(wanted, 1):
        before = old[number - 1] if number <= len(old) else KeyGroup()
        kept = {key.fingerprint.upper(): key for key in before.pgp}
        group = KeyGroup(
            pgp=[kept.get(fp) or PgpKey(fp) for fp in fingerprints],
            others=dict(before.others),
        )
        change.groups.append(group)
        change.added += [(number, fp) for fp in fingerprints if fp not in kept]
        change.removed += [(number, fp) for fp in kept if fp not in fingerprints]
    for number, group in enumerate(old[len(wanted) :], len(wanted) + 1):
        change.removed += [(number, key.fingerprint) for key in group.pgp]
    return change
