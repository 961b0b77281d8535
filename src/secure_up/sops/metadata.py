"""The ``sops`` metadata block: master keys, MAC, encryption rule, version.

Stores hand us the block as plain nested data (every value a string in dotenv
and INI files); :func:`parse_metadata` turns it into :class:`Metadata` and
:meth:`Metadata.to_raw` back into plain data, with keys in the order the real
sops writes them. Every master key kind sops writes has a typed entry here
(:class:`MasterKey`); which of them secure-up can open is ``keys/``' business, and
the others are carried through untouched, so rewriting a file never drops a
colleague's way in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from secure_up.errors import FormatError
from secure_up.sops.rules import DEFAULT_RULE, RULE_KINDS, EncryptionRule

SOPS_VERSION: Final = "3.11.0"

#: Master key kinds in the order sops writes them, in a key group and at the top level.
KEY_KINDS: Final = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
#: Kinds sops writes at the top level *after* lastmodified/mac (the rest come before).
_KINDS_AFTER_MAC: Final = ("pgp",)
_ALWAYS_IN_GROUP: Final = ("hc_vault", "age")

_FIX_DAMAGED = "the file's sops metadata is damaged; restore the file from version control"


class _Record:
    """Equality and repr over ``_ATTRIBUTES``, as a dataclass gives them.

    Plain classes with ``__slots__``, not dataclasses: every run decrypts through
    this module, and importing ``dataclasses`` (with ``inspect``) and defining ten
    of them cost about 10 ms of start-up, a sixth of what sops needs for a whole run.
    """

    __slots__ = ()
    #: The fields in a dataclass's order: compared by ``==``, shown by ``repr``.
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable records, unhashable as dataclasses

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._ATTRIBUTES)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._ATTRIBUTES)
        return f"{type(self).__qualname__}({fields})"


class MasterKey(_Record):
    """One master key of a key group and the data key (or Shamir share) wrapped for it.

    One subclass per kind sops writes, each listing its fields in sops' order;
    ``keys/`` opens and wraps them. Fields a newer sops adds are kept in ``extra``
    so that rewriting a file never drops them.
    """

    kind: ClassVar[str]
    #: (attribute, raw field name) in the order sops writes them; ``enc`` and
    #: ``created_at`` are placed where the kind puts them.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    #: Raw fields sops leaves out when empty.
    OMIT_EMPTY: ClassVar[frozenset[str]] = frozenset()

    __slots__ = ("created_at", "enc", "extra", "present")
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = ("enc", "created_at", "extra", "present")

    def __init__(
        self,
        *,
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        self.enc = enc
        self.created_at = created_at
        self.extra: dict[str, Any] = {} if extra is None else extra
        #: The raw fields the file had, so a rewrite keeps its shape; None for a new key.
        self.present = present

    @property
    def identifier(self) -> str:
        """Who this key is, as people name it: a fingerprint, an age recipient, an ARN."""
        return str(getattr(self, self.FIELDS[0][0]))

    def to_raw(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for attribute, name in self.FIELDS:
            value = getattr(self, attribute)
            if self.present is not None and name not in self.present and not value:
                continue
            if value or name not in self.OMIT_EMPTY:
                raw[name] = value
        raw.update(self.extra)
        return raw

    @classmethod
    def from_raw(cls, raw: object) -> MasterKey:
        if not isinstance(raw, dict):
            raise FormatError(
                f"a {cls.kind} entry of the sops metadata is not a mapping", _FIX_DAMAGED
            )
        known = {name for _, name in cls.FIELDS}
        values: dict[str, Any] = {}
        for attribute, name in cls.FIELDS:
            value = raw.get(name)
            values[attribute] = (
                _as_context(value)
                if attribute == "context"
                else _as_str(value, f"{cls.kind}.{name}")
            )
        if not values[cls.FIELDS[0][0]]:
            raise FormatError(
                f"a {cls.kind} entry of the sops metadata has no {cls.FIELDS[0][1]}", _FIX_DAMAGED
            )
        extra = {name: value for name, value in raw.items() if name not in known}
        return cls(**values, extra=extra, present=frozenset(raw) & known)


class PgpKey(MasterKey):
    kind: ClassVar[str] = "pgp"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("fingerprint", "fp"),
        ("created_at", "created_at"),
        ("enc", "enc"),
    )
    __slots__ = ("fingerprint",)
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (*MasterKey._ATTRIBUTES, "fingerprint")

    def __init__(
        self,
        *,
        fingerprint: str,
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.fingerprint = fingerprint

    def to_raw(self) -> dict[str, Any]:  # sops writes pgp entries alphabetically
        return {
            "created_at": self.created_at,
            "enc": self.enc,
            "fp": self.fingerprint,
            **self.extra,
        }


class AgeKey(MasterKey):
    kind: ClassVar[str] = "age"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("recipient", "recipient"), ("enc", "enc"))
    __slots__ = ("recipient",)
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (*MasterKey._ATTRIBUTES, "recipient")

    def __init__(
        self,
        *,
        recipient: str,
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.recipient = recipient


class KmsKey(MasterKey):
    kind: ClassVar[str] = "kms"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("arn", "arn"),
        ("role", "role"),
        ("context", "context"),
        ("created_at", "created_at"),
        ("enc", "enc"),
        ("aws_profile", "aws_profile"),
    )
    OMIT_EMPTY: ClassVar[frozenset[str]] = frozenset({"role", "context"})
    __slots__ = ("arn", "aws_profile", "context", "role")
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        *MasterKey._ATTRIBUTES,
        "arn",
        "role",
        "context",
        "aws_profile",
    )

    def __init__(
        self,
        *,
        arn: str,
        role: str = "",
        context: dict[str, str] | None = None,
        aws_profile: str = "",
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.arn = arn
        self.role = role
        self.context = {} if context is None else context
        self.aws_profile = aws_profile

    @property
    def identifier(self) -> str:
        """As sops' ``ToString``: ``ARN[+ROLE][|CONTEXT][|PROFILE]``, CONTEXT sorted ``k:v,...``."""
        text = f"{self.arn}+{self.role}" if self.role else self.arn
        context = ",".join(f"{name}:{self.context[name]}" for name in sorted(self.context))
        if self.aws_profile:
            return f"{text}|{context}|{self.aws_profile}"
        return f"{text}|{context}" if context else text


class GcpKmsKey(MasterKey):
    kind: ClassVar[str] = "gcp_kms"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("resource_id", "resource_id"),
        ("created_at", "created_at"),
        ("enc", "enc"),
    )
    __slots__ = ("resource_id",)
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (*MasterKey._ATTRIBUTES, "resource_id")

    def __init__(
        self,
        *,
        resource_id: str,
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.resource_id = resource_id


class HckmsKey(MasterKey):
    kind: ClassVar[str] = "hckms"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("key_id", "key_id"),
        ("created_at", "created_at"),
        ("enc", "enc"),
    )
    __slots__ = ("key_id",)
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (*MasterKey._ATTRIBUTES, "key_id")

    def __init__(
        self,
        *,
        key_id: str,
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.key_id = key_id


class AzureKvKey(MasterKey):
    kind: ClassVar[str] = "azure_kv"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("vault_url", "vault_url"),
        ("name", "name"),
        ("version", "version"),
        ("created_at", "created_at"),
        ("enc", "enc"),
    )
    __slots__ = ("name", "vault_url", "version")
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        *MasterKey._ATTRIBUTES,
        "vault_url",
        "name",
        "version",
    )

    def __init__(
        self,
        *,
        vault_url: str,
        name: str = "",
        version: str = "",
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.vault_url = vault_url
        self.name = name
        self.version = version

    @property
    def identifier(self) -> str:
        return f"{self.vault_url}/keys/{self.name}/{self.version}"


class HcVaultKey(MasterKey):
    kind: ClassVar[str] = "hc_vault"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("vault_address", "vault_address"),
        ("engine_path", "engine_path"),
        ("key_name", "key_name"),
        ("created_at", "created_at"),
        ("enc", "enc"),
    )
    __slots__ = ("engine_path", "key_name", "vault_address")
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        *MasterKey._ATTRIBUTES,
        "vault_address",
        "engine_path",
        "key_name",
    )

    def __init__(
        self,
        *,
        vault_address: str,
        engine_path: str = "",
        key_name: str = "",
        enc: str = "",
        created_at: str = "",
        extra: dict[str, Any] | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        super().__init__(enc=enc, created_at=created_at, extra=extra, present=present)
        self.vault_address = vault_address
        self.engine_path = engine_path
        self.key_name = key_name

    @property
    def identifier(self) -> str:
        return f"{self.vault_address}/v1/{self.engine_path}/keys/{self.key_name}"


#: The entry type of each kind sops writes.
KEY_TYPES: Final[dict[str, type[MasterKey]]] = {
    cls.kind: cls for cls in (PgpKey, KmsKey, GcpKmsKey, HckmsKey, AzureKvKey, HcVaultKey, AgeKey)
}


class KeyGroup(_Record):
    """Master keys that all wrap the same data key (or the same Shamir share)."""

    __slots__ = ("keys",)
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = ("keys",)

    def __init__(self, keys: list[MasterKey] | None = None) -> None:
        self.keys: list[MasterKey] = [] if keys is None else keys

    def is_empty(self) -> bool:
        return not self.keys

    def of_kind(self, kind: str) -> list[MasterKey]:
        return [key for key in self.keys if key.kind == kind]

    @property
    def pgp(self) -> list[PgpKey]:
        return [key for key in self.keys if isinstance(key, PgpKey)]

    def kinds(self) -> list[str]:
        return [kind for kind in KEY_KINDS if any(key.kind == kind for key in self.keys)]

    def raw_entries(self, kind: str) -> list[dict[str, Any]]:
        return [key.to_raw() for key in self.keys if key.kind == kind]

    def to_raw(self) -> dict[str, Any]:
        """A group of ``key_groups`` as sops writes it (``hc_vault`` and ``age`` always)."""
        raw: dict[str, Any] = {}
        for kind in KEY_KINDS:
            entries = self.raw_entries(kind)
            if entries or kind in _ALWAYS_IN_GROUP:
                raw[kind] = entries
        return raw


class Metadata(_Record):
    __slots__ = (
        "key_groups",
        "lastmodified",
        "mac",
        "mac_only_encrypted",
        "rule",
        "shamir_threshold",
        "version",
    )
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "key_groups",
        "lastmodified",
        "mac",
        "rule",
        "mac_only_encrypted",
        "shamir_threshold",
        "version",
    )

    def __init__(
        self,
        key_groups: list[KeyGroup],
        lastmodified: str = "",
        mac: str = "",
        rule: EncryptionRule | None = None,
        mac_only_encrypted: bool = False,
        shamir_threshold: int = 0,
        version: str = SOPS_VERSION,
    ) -> None:
        self.key_groups = key_groups
        self.lastmodified = lastmodified
        self.mac = mac
        #: The rule the file names; None when it names none (then the default applies).
        self.rule = rule
        self.mac_only_encrypted = mac_only_encrypted
        self.shamir_threshold = shamir_threshold
        self.version = version

    @property
    def effective_rule(self) -> EncryptionRule:
        return self.rule or DEFAULT_RULE

    @property
    def master_keys(self) -> list[MasterKey]:
        return [key for group in self.key_groups for key in group.keys]

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
            for kind in KEY_KINDS:
                if kind not in _KINDS_AFTER_MAC and (entries := single.raw_entries(kind)):
                    raw[kind] = entries
        raw["lastmodified"] = self.lastmodified
        raw["mac"] = self.mac
        if single is not None:
            for kind in _KINDS_AFTER_MAC:
                if entries := single.raw_entries(kind):
                    raw[kind] = entries
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
    for kind, key_type in KEY_TYPES.items():
        group.keys += [key_type.from_raw(entry) for entry in _as_list(raw.get(kind), kind)]
    return group


def _as_context(value: object) -> dict[str, str]:
    """A KMS encryption context: a mapping of text to text."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise FormatError("a kms context of the sops metadata is not a mapping", _FIX_DAMAGED)
    return {str(name): _as_str(item, "kms.context") for name, item in value.items()}


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
