"""The ``sops`` metadata block: master keys, MAC, encryption rule, version.

Stores hand us the block as plain nested data (every value a string in dotenv
and INI files); :func:`parse_metadata` turns it into :class:`Metadata` and
:meth:`Metadata.to_raw` back into plain data, with keys in the order the real
sops writes them. Master key types this tool does not open (kms, gcp_kms,
hckms, azure_kv, hc_vault, and age until it lands) are carried through
untouched, so rewriting a file never drops a colleague's way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from secure_up.errors import FormatError
from secure_up.sops.rules import DEFAULT_RULE, RULE_KINDS, EncryptionRule

SOPS_VERSION: Final = "3.11.0"

#: Key types sops knows besides PGP, in the order sops writes them.
OTHER_KEY_TYPES: Final = ("kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
_GROUP_ORDER: Final = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
_ALWAYS_IN_GROUP: Final = ("hc_vault", "age")

_FIX_DAMAGED = "the file's sops metadata is damaged; restore the file from version control"


@dataclass
class PgpKey:
    """One PGP recipient and the data key (or key-group share) wrapped for it."""

    fingerprint: str
    enc: str = ""
    created_at: str = ""

    def to_raw(self) -> dict[str, Any]:
        return {"created_at": self.created_at, "enc": self.enc, "fp": self.fingerprint}


@dataclass
class KeyGroup:
    """Master keys that all wrap the same data key (or the same Shamir share)."""

    pgp: list[PgpKey] = field(default_factory=list)
    #: Other key types, kept as the raw entries the file holds.
    others: dict[str, list[Any]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.pgp and not any(self.others.values())

    def to_raw(self) -> dict[str, Any]:
        """A group of ``key_groups`` as sops writes it (``hc_vault`` and ``age`` always)."""
        raw: dict[str, Any] = {}
        for name in _GROUP_ORDER:
            entries = [key.to_raw() for key in self.pgp] if name == "pgp" else self.others.get(name)
            if entries or name in _ALWAYS_IN_GROUP:
                raw[name] = entries or []
        return raw


@dataclass
class Metadata:
    key_groups: list[KeyGroup]
    lastmodified: str = ""
    mac: str = ""
    #: The rule the file names; None when it names none (then the default applies).
    rule: EncryptionRule | None = None
    mac_only_encrypted: bool = False
    shamir_threshold: int = 0
    version: str = SOPS_VERSION

    @property
    def effective_rule(self) -> EncryptionRule:
        return self.rule or DEFAULT_RULE

    @property
    def pgp_keys(self) -> list[PgpKey]:
        return [key for group in self.key_groups for key in group.pgp]

    def mac_aad(self) -> str:
        """The MAC's additional data: ``lastmodified`` as Go's RFC 3339 (seconds, ``Z``)."""
        return format_rfc3339(parse_time(self.lastmodified))

    def touch(self, now: datetime | None = None) -> None:
        self.lastmodified = format_rfc3339(now or datetime.now(UTC))
        self.version = SOPS_VERSION

    def to_raw(self) -> dict[str, Any]:
        """Plain data in sops' key order, for the stores to write."""
        raw: dict[str, Any] = {}
        if self.shamir_threshold:
            raw["shamir_threshold"] = self.shamir_threshold
        single = self.key_groups[0] if len(self.key_groups) == 1 else None
        if single is None:
            raw["key_groups"] = [group.to_raw() for group in self.key_groups]
        else:
            for name in OTHER_KEY_TYPES:
                if single.others.get(name):
                    raw[name] = single.others[name]
        raw["lastmodified"] = self.lastmodified
        raw["mac"] = self.mac
        if single is not None and single.pgp:
            raw["pgp"] = [key.to_raw() for key in single.pgp]
        if self.rule is not None:
            raw[self.rule.kind] = self.rule.value
        if self.mac_only_encrypted:
            raw["mac_only_encrypted"] = True
        raw["version"] = self.version
        return raw


def format_rfc3339(moment: datetime) -> str:
    """As Go's ``time.RFC3339``: whole seconds, ``Z`` for UTC, else the offset."""
    text = moment.replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def parse_time(text: object) -> datetime:
    """An RFC 3339 time as sops accepts it (``Z`` or an offset, optional fraction)."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if not isinstance(text, str):
        raise FormatError("the sops metadata has no valid lastmodified time", _FIX_DAMAGED)
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise FormatError(
            f"the sops metadata has an invalid lastmodified time {value!r}", _FIX_DAMAGED
        ) from None
    if moment.tzinfo is None:
        raise FormatError(f"the sops metadata time {value!r} has no time zone", _FIX_DAMAGED)
    return moment


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise FormatError(f"the sops metadata field {name} is not a number", _FIX_DAMAGED)
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        raise FormatError(f"the sops metadata field {name} is not a number", _FIX_DAMAGED) from None


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "t", "yes")
    return bool(value)


def _as_str(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if not isinstance(value, str | int | float):
        raise FormatError(f"the sops metadata field {name} is not text", _FIX_DAMAGED)
    return str(value)


def _as_list(value: object, name: str) -> list[Any]:
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise FormatError(f"the sops metadata field {name} is not a list", _FIX_DAMAGED)
    return value


def _parse_group(raw: dict[str, Any]) -> KeyGroup:
    group = KeyGroup()
    for entry in _as_list(raw.get("pgp"), "pgp"):
        if not isinstance(entry, dict) or not entry.get("fp"):
            raise FormatError("a pgp entry of the sops metadata has no fp", _FIX_DAMAGED)
        group.pgp.append(
            PgpKey(
                fingerprint=_as_str(entry.get("fp"), "pgp.fp"),
                enc=_as_str(entry.get("enc"), "pgp.enc"),
                created_at=_as_str(entry.get("created_at"), "pgp.created_at"),
            )
        )
    for name in OTHER_KEY_TYPES:
        entries = _as_list(raw.get(name), name)
        if entries:
            group.others[name] = entries
    return group


def parse_metadata(raw: dict[str, Any]) -> Metadata:
    """The metadata of a file, from the plain data its store read."""
    if not isinstance(raw, dict):
        raise FormatError("the sops metadata is not a mapping", _FIX_DAMAGED)
    rules = [kind for kind in RULE_KINDS if raw.get(kind) not in (None, "")]
    if len(rules) > 1:
        raise FormatError(
            f"the sops metadata names more than one encryption rule ({', '.join(rules)})",
            _FIX_DAMAGED,
        )
    rule = EncryptionRule(rules[0], _as_str(raw[rules[0]], rules[0])) if rules else None

    flat = _parse_group(raw)
    groups_raw = _as_list(raw.get("key_groups"), "key_groups")
    if not flat.is_empty():
        groups = [flat]
    elif groups_raw:
        if not all(isinstance(group, dict) for group in groups_raw):
            raise FormatError("a key group of the sops metadata is not a mapping", _FIX_DAMAGED)
        groups = [_parse_group(group) for group in groups_raw]
    else:
        raise FormatError(
            "the sops metadata lists no master keys, so nothing can open this file",
            _FIX_DAMAGED,
        )

    lastmodified = _as_str(raw.get("lastmodified"), "lastmodified")
    parse_time(lastmodified)  # refuse a damaged time early, with a clear message
    return Metadata(
        key_groups=groups,
        lastmodified=lastmodified,
        mac=_as_str(raw.get("mac"), "mac"),
        rule=rule,
        mac_only_encrypted=_as_bool(raw.get("mac_only_encrypted", False)),
        shamir_threshold=_as_int(raw.get("shamir_threshold") or 0, "shamir_threshold"),
        version=_as_str(raw.get("version"), "version") or SOPS_VERSION,
    )
