"""Helpers shared by the stores: metadata flattening, scalar text, Go number formatting.

Dotenv and INI files cannot nest, so sops writes its metadata block as flat
keys: nested maps become ``__map_<key>`` and list elements ``__list_<index>``
(``pgp__list_0__map_fp``). :func:`flatten_metadata` and
:func:`unflatten_metadata` convert between the nested block and those keys.

Both formats also hold every value as text; :func:`scalar_text` renders a
non-string scalar the way sops' ``ValToString`` does, so a tree converted
from JSON or YAML prints exactly as ``sops decrypt --output-type dotenv`` prints it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from secure_up.errors import FormatError, UsageError
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence

MAP_SEPARATOR: Final = "__map_"
LIST_SEPARATOR: Final = "__list_"

_SEPARATORS: Final = re.compile(f"({MAP_SEPARATOR}|{LIST_SEPARATOR})")
_FIX_DAMAGED: Final = "the file's sops metadata is damaged; restore the file from version control"


def flatten_metadata(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The metadata block as ``(flat key, text)`` pairs, sorted by key as sops 3.11 writes them.

    Nulls and empty maps or lists produce no key (sops skips them too);
    booleans and numbers become their text (``true``, ``3``).
    """
    flat: dict[str, str] = {}
    for key, value in metadata.items():
        _flatten_into(flat, key, value)
    return sorted(flat.items())


def _flatten_into(flat: dict[str, str], path: str, value: object) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _flatten_into(flat, f"{path}{MAP_SEPARATOR}{key}", child)
    elif isinstance(value, list):
        elements = [element for element in value if not isinstance(element, Comment)]
        for index, element in enumerate(elements):
            _flatten_into(flat, f"{path}{LIST_SEPARATOR}{index}", element)
    elif value is not None:
        if path in flat:
            raise FormatError(
                f"metadata key {path!r} occurs twice once flattened", "report this as a bug"
            )
        flat[path] = scalar_text(value)


def unflatten_metadata(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The nested metadata block from flat ``(key, text)`` pairs; values stay strings.

    Raises :class:`~secure_up.errors.FormatError` when the keys contradict each
    other (a key that is both a value and a map, a list with a gap, a key twice).
    """
    root: dict[str, Any] = {}
    for flat_key, value in items:
        _place(root, flat_key, value)
    return {key: _freeze(child, key) for key, child in root.items()}


def _tokens(flat_key: str) -> list[str | int]:
    """``pgp__list_0__map_fp`` -> ``["pgp", 0, "fp"]``: map keys as str, list indexes as int."""
    parts = _SEPARATORS.split(flat_key)
    tokens: list[str | int] = [parts[0]]
    for separator, name in zip(parts[1::2], parts[2::2], strict=True):
        if separator == MAP_SEPARATOR:
            tokens.append(name)
        elif name.isascii() and name.isdigit():
            tokens.append(int(name))
        else:
            raise FormatError(f"metadata key {flat_key!r} has a bad list index", _FIX_DAMAGED)
    return tokens


#: While placing, lists are built as {index: value} dicts tagged by this wrapper type.
class _ListSlots(dict[int, Any]):
    __slots__ = ()


def _place(root: dict[str, Any], flat_key: str, value: str) -> None:
    tokens = _tokens(flat_key)
    node: dict[Any, Any] = root
    for token, following in itertools.pairwise(tokens):
        wanted = _ListSlots if isinstance(following, int) else dict
        child = node.setdefault(token, wanted())
        if type(child) is not wanted:
            raise FormatError(f"metadata key {flat_key!r} contradicts another key", _FIX_DAMAGED)
        node = child
    if tokens[-1] in node:
        raise FormatError(f"metadata key {flat_key!r} occurs twice", _FIX_DAMAGED)
    node[tokens[-1]] = value


def _freeze(node: object, name: str) -> object:
    """Turn the placing structure into plain dicts and lists (checking lists have no gaps)."""
    if isinstance(node, _ListSlots):
        if sorted(node) != list(range(len(node))):
            raise FormatError(f"metadata list {name!r} has a gap", _FIX_DAMAGED)
        return [_freeze(node[index], name) for index in range(len(node))]
    if isinstance(node, dict):
        return {key: _freeze(child, key) for key, child in node.items()}
    return node


def scalar_text(value: object) -> str:
    """A scalar as sops' ``ValToString`` writes it into a dotenv or INI file.

    Floats use Go's ``%G`` with at least one decimal (``3.0``, ``1.5``,
    ``1E+21``), booleans ``true``/``false``, null ``<nil>`` (sops' own
    rendering: a null converted from JSON prints so).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_general_float(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bytes):
        return "[" + " ".join(str(byte) for byte in value) + "]"
    if isinstance(value, Branch | Sequence | Mapping | list):
        raise FormatError("a nested value cannot be written as flat text")
    raise FormatError(f"cannot write a {type(value).__name__} value as text")


def shortest_digits(value: float) -> tuple[str, int]:
    """The shortest decimal digits that read back as ``abs(value)``, and the decimal point.

    ``(digits, point)`` stands for ``0.<digits> * 10**point``, like Go's
    ``decimal`` (``1.5 -> ("15", 1)``, ``0.001 -> ("1", -2)``, ``0.0 -> ("", 0)``).
    Python's ``repr`` and Go both print the shortest round-tripping digits.
    """
    if value == 0:
        return "", 0
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point


def fixed_notation(digits: str, point: int) -> str:
    """Digits placed around the decimal point, without an exponent (Go's ``%f`` shortest)."""
    if not digits:
        return "0"
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def exponent_notation(digits: str, point: int, letter: str) -> str:
    """``d.ddd<letter>±XX`` with at least two exponent digits (Go's ``%e`` shortest)."""
    exponent = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exponent < 0 else "+"
    return f"{mantissa}{letter}{sign}{abs(exponent):02d}"


def _go_general_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'G', -1, 64)``, plus ``.0`` when it looks like an integer."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = shortest_digits(value)
    exponent = point - 1
    if digits and (exponent < -4 or exponent >= 6):
        return sign + exponent_notation(digits, point, "E")
    text = fixed_notation(digits, point)
    return sign + (text if "." in text else text + ".0")


def encode_text(text: str) -> bytes:
    """The bytes of ``text`` (see :func:`~secure_up.sops.tree.to_bytes`), as a FormatError
    rather than an encoder error that would quote the offending character."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as error:
        raise FormatError(
            f"text at character {error.start} cannot be written as UTF-8",
            "remove unpaired surrogate characters from the value",
        ) from None


def dump_extracted(
    dump_plain: Callable[[Documents], bytes], value: Node, refusal: UsageError
) -> bytes:
    """What ``sops decrypt --extract`` prints from a flat format.

    A map is printed as a whole file, a string as its raw bytes; anything else
    cannot be written in the format and raises ``refusal``.
    """
    if isinstance(value, Branch):
        return dump_plain([value])
    if isinstance(value, str):
        return encode_text(value)
    raise refusal
