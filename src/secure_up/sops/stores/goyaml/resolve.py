"""The resolver: which tag and value a scalar's text stands for, as go-yaml decides it.

A port of go-yaml v3.0.4's ``resolve.go`` together with the Go syntax it leans
on (``strconv.ParseInt``/``ParseUint`` with base prefixes, ``time.Parse`` of
go-yaml's timestamp formats). PyYAML resolves by YAML 1.1 rules (``yes`` and
``on`` are booleans, ``0o17`` is a string) and ruamel.yaml by YAML 1.2 rules;
go-yaml v3 mixes the two, and the type it picks is what sops encrypts (``int``,
``bool``, ...) and hashes into the MAC, so its rules are ported as they are.

Differences from go-yaml: a timestamp becomes a :class:`~secure_up.sops.tree.Time`
holding its RFC 3339 text (as sops writes ``time.Time``), and an integer that only
fits Go's ``uint64`` becomes a :class:`BigInt` for the caller to refuse.
"""

from __future__ import annotations

import math
import re
from typing import Final

from secure_up.sops.stores.goyaml.syntax import LONG_TAG_PREFIX
from secure_up.sops.tree import Scalar, Time


def short_tag(tag: str) -> str:
    """go-yaml's shortTag: ``tag:yaml.org,2002:str`` is held as ``!!str``."""
    return "!!" + tag[len(LONG_TAG_PREFIX) :] if tag.startswith(LONG_TAG_PREFIX) else tag


class ResolveError(Exception):
    """A tagged scalar does not fit its tag (``!!int 1.5``); the message names no value."""


_HINTS: Final = {
    **dict.fromkeys("+-", "S"),
    **dict.fromkeys("0123456789", "D"),
    **dict.fromkeys("yYnNtTfFoO~", "M"),
    ".": ".",
}
_RESOLVE_MAP: Final[dict[str, tuple[str, Scalar]]] = {
    **dict.fromkeys(("true", "True", "TRUE"), ("!!bool", True)),
    **dict.fromkeys(("false", "False", "FALSE"), ("!!bool", False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), ("!!null", None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), ("!!float", math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), ("!!float", math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), ("!!float", -math.inf)),
    "<<": ("!!merge", "<<"),
}
_RESOLVABLE_TAGS: Final = frozenset(
    ("", "!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp")
)
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_YAML_STYLE_FLOAT: Final = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z"
)
_INT64: Final = range(-(2**63), 2**63)
_UINT64_MAX: Final = 2**64 - 1


class BigInt(int):
    """An integer above int64 that Go would hold as uint64 (sops cannot encrypt it)."""


def resolve_tag(text: str) -> str:
    """The tag of a plain, untagged scalar's text."""
    return resolve("", text)[0]


def resolve(tag: str, text: str) -> tuple[str, Scalar]:
    """go-yaml's ``resolve``: the tag and value of a scalar's text under ``tag``."""
    if tag:
        tag = short_tag(tag)
    if tag not in _RESOLVABLE_TAGS:
        return tag, text
    resolved_tag, value = _resolve_plain(tag, text)
    if tag in ("", resolved_tag, "!!str"):
        return resolved_tag, value
    if tag == "!!float" and resolved_tag == "!!int" and isinstance(value, int):
        return "!!float", float(value)
    raise ResolveError(f"cannot decode a {resolved_tag} value as a {tag}")


def _resolve_plain(tag: str, text: str) -> tuple[str, Scalar]:
    hint = _HINTS.get(text[0]) if text else "N"
    if hint is None or tag in ("!!str", "!!binary"):
        return "!!str", text
    known = _RESOLVE_MAP.get(text)
    if known is not None:
        return known
    if hint == "." and _DOT_FLOAT.match(text):
        number = float(text)
        if not math.isinf(number):
            return "!!float", number
    elif hint in "DS":
        if tag in ("", "!!timestamp"):
            timestamp = _parse_timestamp(text)
            if timestamp is not None:
                return "!!timestamp", timestamp
        plain = text.replace("_", "")
        integer = _parse_go_int(plain)
        if integer is not None:
            return "!!int", integer
        if _YAML_STYLE_FLOAT.match(plain):
            number = float(plain)
            if not math.isinf(number):
                return "!!float", number
    return "!!str", text


def _parse_go_int(text: str) -> int | None:
    """Go's ``ParseInt(text, 0, 64)``, falling back to ``ParseUint`` as go-yaml does."""
    sign = 1
    digits = text
    if digits[:1] in ("+", "-"):
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    base = 10
    if digits[:1] == "0" and len(digits) > 1:
        prefix = digits[1].lower()
        base, digits = {"x": (16, digits[2:]), "o": (8, digits[2:]), "b": (2, digits[2:])}.get(
            prefix, (8, digits[1:])
        )
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    if value in _INT64:
        return value
    if text[:1] not in ("+", "-") and value <= _UINT64_MAX:
        return BigInt(value)
    return None


_TIMESTAMP: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2}+)-(?P<day>[0-9]{1,2}+)"
    r"(?:(?P<sep>[Tt]| +)(?P<hour>[0-9]{1,2}+):(?P<minute>[0-9]{1,2}+):(?P<second>[0-9]{1,2}+)"
    r"(?:[.,](?P<fraction>[0-9]+))?(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})?)?\Z"
)
_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _parse_timestamp(text: str) -> Time | None:
    """go-yaml's timestamp formats, as Go's ``time.Parse`` reads them, in RFC 3339 (nano)."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    sep, zone = match["sep"], match["zone"]
    if sep is not None and (zone is None) != (sep[0] == " "):
        return None  # "T" needs a zone, a space forbids one
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if sep is None:
        return Time(f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z")
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction = (match["fraction"] or "")[:9].rstrip("0")
    offset = "Z"
    if zone not in (None, "Z"):
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
        if zone_hours > 24 or zone_minutes > 60:
            return None
        total = zone_hours * 60 + zone_minutes
        if total:
            offset = f"{zone[0]}{total // 60:02d}:{total % 60:02d}"
    return Time(
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
        f"{'.' + fraction if fraction else ''}{offset}"
    )


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]
