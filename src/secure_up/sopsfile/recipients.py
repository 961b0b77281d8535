"""Who can open a sops file: the changes ``rotate`` and ``updatekeys`` make to its key groups.

Pure: sops metadata (and a creation rule) in, changed metadata or a plan out.
A recipient is a ``(kind, identifier)`` pair (``("pgp", FINGERPRINT)``,
``("age", "age1...")``); wrapping the data key for new recipients is the key
services' part, done by the caller. Master keys of kinds secure-up cannot wrap
(gcp_kms, azure_kv, ...) are kept when the data key stays the same, and every
change that would need a new data key for them is refused: it would lock them out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from secure_up.errors import ConfigError, SecureUpError, UsageError
from secure_up.sops.metadata import KeyGroup, KmsKey, MasterKey, Metadata
from secure_up.sopsfile.config import CreationRule, KeyGroupSpec

_FINGERPRINT: Final = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")

#: (kind, identifier): a master key as people name it.
Recipient = tuple[str, str]
#: Makes a new, not yet wrapped, master key entry for a recipient (keys.registry.new_key).
NewKey = Callable[[str, str], MasterKey]


def parse_fingerprint(text: str, option: str) -> str:
    """A full PGP fingerprint as sops writes it (upper case, no spaces) from ``option``'s value."""
    fingerprint = text.replace(" ", "").upper()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise UsageError(
            f"{option} {text!r} is not a full PGP fingerprint (40 or 64 hex digits)",
            "find it with `gpg --list-keys --with-colons KEY | grep ^fpr`",
        )
    return fingerprint


def _same(key: MasterKey, recipient: Recipient) -> bool:
    kind, identifier = recipient
    if key.kind != kind:
        return False
    if kind == "pgp":  # fingerprints are compared as sops does: case-insensitively
        return key.identifier.upper() == identifier.upper()
    if kind == "age":  # age1 in any case; an SSH key with or without its comment
        from secure_up.keys.age import same_recipient

        return same_recipient(key.identifier, identifier)
    return key.identifier == identifier


def _named_by(key: MasterKey, recipient: Recipient) -> bool:
    """Whether ``--rm-KIND`` names ``key``: a bare KMS ARN[+ROLE] names it whatever its context."""
    kind, identifier = recipient
    if kind == "kms" and key.kind == "kms" and "|" not in identifier:
        return key.identifier.split("|")[0] == identifier
    return _same(key, recipient)


def _describe(recipient: Recipient) -> str:
    kind, identifier = recipient
    return identifier if kind == "pgp" else f"{kind} {identifier}"


def refuse_keys_we_cannot_wrap(metadata: Metadata, path: Path, wrappable: frozenset[str]) -> None:
    """Other key kinds would keep the *old* data key: the file would no longer open for them."""
    others = sorted({key.kind for key in metadata.master_keys if key.kind not in wrappable})
    if others:
        raise SecureUpError(
            f"{path} can also be opened with {', '.join(others)} keys, which secure-up cannot "
            "wrap a new data key for; rotating here would lock those keys out",
            f"rotate it with `sops rotate -i {path}`, or remove those keys first",
        )


def change_recipients(
    metadata: Metadata,
    added: Sequence[Recipient],
    removed: Sequence[Recipient],
    path: Path,
    new_key: NewKey,
) -> None:
    """Apply ``--add-KIND`` (to the first key group, as sops does) and ``--rm-KIND``."""
    present = metadata.master_keys
    missing = [r for r in removed if not any(_named_by(key, r) for key in present)]
    if missing:
        raise UsageError(
            f"{', '.join(map(_describe, missing))} is not a recipient of {path}",
            f"list the recipients with `secure-up filestatus` or in the sops section of {path}",
        )
    for group in metadata.key_groups:
        group.keys = [key for key in group.keys if not any(_named_by(key, r) for r in removed)]
    first = metadata.key_groups[0]
    kept = metadata.master_keys
    first.keys += [new_key(*r) for r in added if not any(_same(key, r) for key in kept)]
    empty = [number for number, group in enumerate(metadata.key_groups, 1) if group.is_empty()]
    if empty:
        raise UsageError(
            f"removing those recipients would leave key group {empty[0]} of {path} empty, "
            "and nobody could open the file",
            "add another recipient (--add-pgp, --add-age, --add-kms) in the same command",
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
        lines += [f"  +{who}" + (f" (key group {g})" if several else "") for g, who in self.added]
        lines += [f"  -{who}" + (f" (key group {g})" if several else "") for g, who in self.removed]
        if self.threshold != self.threshold_before:
            lines.append(f"  shamir_threshold {self.threshold_before} -> {self.threshold}")
        return lines


def rule_recipients(spec: KeyGroupSpec) -> list[Recipient]:
    """The recipients a creation rule's key group names, of the kinds secure-up wraps."""
    return (
        [("pgp", fp) for fp in spec.pgp]
        + [("kms", _kms_recipient(entry)) for entry in spec.other.get("kms", [])]
        + [("age", recipient) for recipient in spec.age]
    )


def _kms_recipient(entry: object) -> str:
    """A ``kms`` entry of ``.sops.yaml`` as sops names the key (``KmsKey.identifier``).

    A string is ``ARN[+ROLE]`` (sops splits off the role); a key group's entry is a
    mapping with ``arn``, ``role``, ``context`` and ``aws_profile``.
    """
    if isinstance(entry, str):
        return entry.replace(" ", "")
    if not isinstance(entry, dict) or not isinstance(entry.get("arn"), str):
        raise ConfigError(
            f"a kms entry of .sops.yaml has no arn: {entry!r}",
            "write each kms entry of a key group as `- arn: arn:aws:kms:...` "
            "(with optional role, context and aws_profile)",
        )
    context = entry.get("context") or {}
    if not isinstance(context, dict):
        raise ConfigError(
            f"the context of the kms entry {entry['arn']} in .sops.yaml is not a mapping",
            "write it as `context: {key: value, ...}`",
        )
    return KmsKey(
        arn=entry["arn"],
        role=str(entry.get("role") or ""),
        context={str(name): str(value) for name, value in context.items()},
        aws_profile=str(entry.get("aws_profile") or ""),
    ).identifier


def plan_recipients(
    metadata: Metadata,
    rule: CreationRule,
    path: Path,
    new_key: NewKey,
    wrappable: frozenset[str],
) -> RecipientChange:
    """The key groups ``rule`` asks for, reusing the file's wrapped keys where they stay valid.

    Master keys of kinds secure-up cannot wrap are kept when the data key is not
    split again, and a split is refused while they exist.
    """
    wanted = [[r for r in rule_recipients(spec) if r[0] in wrappable] for spec in rule.key_groups]
    if not wanted or not all(wanted):
        raise ConfigError(
            f"the creation rule {rule.origin or ''} for {path} has a key group without keys "
            f"secure-up can wrap ({', '.join(sorted(wrappable))})",
            "name such keys in every key group (or use sops updatekeys)",
        )
    old = metadata.key_groups
    resplit = (
        len(wanted) > 1
        or len(old) != len(wanted)
        or (rule.shamir_threshold != metadata.shamir_threshold)
    )
    foreign = [key for group in old for key in group.keys if key.kind not in wrappable]
    if resplit and foreign:
        raise SecureUpError(
            f"{path} has {foreign[0].kind} master keys and its data key would have to be split "
            "again for the new key groups; secure-up cannot wrap the new shares for those keys",
            f"run `sops updatekeys {path}`",
        )
    change = RecipientChange(
        groups=[],
        threshold=rule.shamir_threshold,
        threshold_before=metadata.shamir_threshold,
        resplit=resplit,
    )
    for number, recipients in enumerate(wanted, 1):
        before = old[number - 1] if number <= len(old) else KeyGroup()
        mine = [key for key in before.keys if key.kind in wrappable]
        keys: list[MasterKey] = []
        for recipient in recipients:
            existing = next((key for key in mine if _same(key, recipient)), None)
            keys.append(existing or new_key(*recipient))
            if existing is None:
                change.added.append((number, _describe(recipient)))
        change.removed += [
            (number, _describe((key.kind, key.identifier)))
            for key in mine
            if not any(_same(key, r) for r in recipients)
        ]
        keys += [key for key in before.keys if key.kind not in wrappable]
        change.groups.append(KeyGroup(keys=keys))
    for number, group in enumerate(old[len(wanted) :], len(wanted) + 1):
        change.removed += [(number, _describe((key.kind, key.identifier))) for key in group.keys]
    return change
