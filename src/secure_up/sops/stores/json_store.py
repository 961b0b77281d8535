"""The JSON format, laid out byte for byte as sops writes it.

sops (Go) writes JSON with ``encoding/json`` and re-indents it with tabs:
``"key": value``, empty maps and lists as ``{}``/``[]``, the ``sops`` block as
the last key, a trailing newline. Strings are escaped as Go escapes them:
``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes, other non-ASCII
text as is, bytes that are not UTF-8 as ``\\ufffd``. Numbers follow Go's
float formatting (``1``, ``1.5``, ``1e+21``, ``1e-7``).

Reading keeps duplicate keys and key order, as sops' token decoder does.
Integers within the int64 range become ``int``, every other number ``float``
(sops 3.13; 3.11 made every number a float, which corrupted integers
above 2**53 — the MAC bytes of int64-range integers are the same either way).
"""

from __future__ import annotations

import base64
import codecs
import json
import math
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, Final, cast

from secure_up.errors import FormatError, NotEncryptedError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.stores.flat import (
    encode_text,
    exponent_notation,
    fixed_notation,
    shortest_digits,
)
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence, to_plain

METADATA_KEY: Final = "sops"
_INDENT: Final = "\t"
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_INT_DIGITS: Final = 20

#: Characters Go's encoder escapes beyond what Python's does; surrogates stand for
#: bytes that were not UTF-8 (or unpaired escapes), which Go writes as U+FFFD.
_GO_ONLY_ESCAPES: Final = re.compile("[<>&\u2028\u2029\ud800-\udfff]")
_UNPAIRED_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_UNPAIRED_SURROGATE: Final = re.compile("[\ud800-\udfff]")

_GO_REPLACE_ERRORS: Final = "secure_up.go_json_replace"


def _replace_each_byte(error: UnicodeError) -> tuple[str, int]:
    """Go's decoder turns each byte that is not UTF-8 into one U+FFFD."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error(_GO_REPLACE_ERRORS, _replace_each_byte)


class _BadNumber(Exception):
    """A number Go refuses: too large for a float64, or NaN/Infinity."""


class JsonStore:
    """The :class:`~secure_up.sops.stores.Store` for JSON files."""

    def load_plain(self, data: bytes) -> Documents:
        return [parse_object(data)]

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        branch = parse_object(data)
        positions = [
            index
            for index, entry in enumerate(branch)
            if not isinstance(entry, Comment) and entry[0] == METADATA_KEY
        ]
        if not positions or cast(tuple[str, Node], branch[positions[0]])[1] is None:
            raise NotEncryptedError(
                'the file has no sops metadata (no top-level "sops" key): it is not encrypted',
                "encrypt it first: secure-up encrypt FILE",
            )
        if len(positions) > 1:
            raise FormatError(
                'the file has more than one top-level "sops" key',
                "restore the file from version control",
            )
        _, metadata = cast(tuple[str, Node], branch.pop(positions[0]))
        if not isinstance(metadata, Branch):
            raise FormatError(
                'the top-level "sops" key does not hold a map',
                "restore the file from version control",
            )
        return [branch], cast(RawMetadata, to_plain(metadata))

    def dump_plain(self, documents: Documents) -> bytes:
        return dump_object(_single_document(documents))

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        branch = _single_document(documents)
        if METADATA_KEY in branch.keys():
            raise FormatError(
                'the data has a top-level "sops" key, which sops reserves for its metadata',
                "rename the key",
            )
        return dump_object(Branch([*branch, (METADATA_KEY, cast(Node, metadata))]))

    def dump_value(self, value: Node) -> bytes:
        if isinstance(value, Branch):
            return self.dump_plain([value])
        if isinstance(value, str):
            return encode_text(value)
        parts: list[str] = []
        _write_value(value, 0, parts)
        return "".join(parts).encode("utf-8")


def parse_object(data: bytes) -> Branch:
    """The top-level JSON object of ``data`` as a tree (also used by the binary store)."""
    text = _decode(data)
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise FormatError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            "fix the JSON syntax there",
        ) from None
    except _BadNumber:
        raise FormatError(
            "the JSON file has a number that is infinite, NaN or too large for a 64-bit float",
            "quote the number to keep it as a string",
        ) from None
    except RecursionError:
        raise FormatError("the JSON file is nested too deeply", "flatten its structure") from None
    if not isinstance(document, Branch):
        raise FormatError(
            "the top level of the JSON file is not an object",
            'wrap the content in an object: {"key": ...}',
        )
    if _UNPAIRED_ESCAPE.search(text):
        _replace_unpaired_surrogates(document)
    return document


def dump_object(branch: Branch) -> bytes:
    """``branch`` as sops writes a JSON file: tab-indented, with a trailing newline."""
    parts: list[str] = []
    _write_value(branch, 0, parts)
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def _single_document(documents: Documents) -> Branch:
    if len(documents) != 1:
        raise FormatError(
            f"a JSON file holds exactly one document, not {len(documents)}",
            "convert a single-document file",
        )
    return documents[0]


# --- reading -------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", _GO_REPLACE_ERRORS)


def _adopt(value: Any) -> Any:
    """Python's decoder makes lists; the tree wants :class:`Sequence`."""
    if type(value) is list:
        return Sequence([_adopt(element) for element in value])
    return value


def _branch_from_pairs(pairs: list[tuple[str, Any]]) -> Branch:
    return Branch([(key, _adopt(value)) for key, value in pairs])


def _number_from_int_literal(literal: str) -> int | float:
    """An int when it fits in int64 (as sops 3.13 reads it), else the nearest float."""
    if len(literal) <= _MAX_INT_DIGITS:
        number = int(literal)
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
    return _number_from_float_literal(literal)


def _number_from_float_literal(literal: str) -> float:
    number = float(literal)
    if math.isinf(number):
        raise _BadNumber
    return number


def _refuse_constant(_name: str) -> None:
    raise _BadNumber


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_branch_from_pairs,
    parse_int=_number_from_int_literal,
    parse_float=_number_from_float_literal,
    parse_constant=_refuse_constant,
)


def _replace_unpaired_surrogates(branch: Branch) -> None:
    """Go reads an unpaired ``\\ud800`` escape as U+FFFD; Python keeps the surrogate."""
    for index, entry in enumerate(branch):
        if isinstance(entry, tuple):
            key, value = entry
            branch[index] = (_UNPAIRED_SURROGATE.sub("\ufffd", key), _fixed_value(value))


def _fixed_value(value: Node) -> Node:
    if isinstance(value, str):
        return _UNPAIRED_SURROGATE.sub("\ufffd", value)
    if isinstance(value, Branch):
        _replace_unpaired_surrogates(value)
    elif isinstance(value, Sequence):
        value[:] = [
            element if isinstance(element, Comment) else _fixed_value(element) for element in value
        ]
    return value


# --- writing -------------------------------------------------------------------------


def _write_value(value: object, depth: int, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(_quote(value))
    elif value is None:
        parts.append("null")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, float):
        parts.append(_go_float(value))
    elif isinstance(value, Branch):
        _write_object(list(value.items_only()), depth, parts)
    elif isinstance(value, Mapping):
        _write_object(list(value.items()), depth, parts)
    elif isinstance(value, list):
        elements = [element for element in value if not isinstance(element, Comment)]
        _write_array(elements, depth, parts)
    elif isinstance(value, bytes):
        parts.append(_quote(base64.b64encode(value).decode("ascii")))
    else:
        raise FormatError(f"cannot write a {type(value).__name__} value as JSON")


def _write_object(pairs: list[tuple[str, object]], depth: int, parts: list[str]) -> None:
    if not pairs:
        parts.append("{}")
        return
    newline = "\n" + _INDENT * (depth + 1)
    separator = "{"
    for key, value in pairs:
        parts.append(f"{separator}{newline}{_quote(key)}: ")
        _write_value(value, depth + 1, parts)
        separator = ","
    parts.append("\n" + _INDENT * depth + "}")


def _write_array(elements: list[object], depth: int, parts: list[str]) -> None:
    if not elements:
        parts.append("[]")
        return
    newline = "\n" + _INDENT * (depth + 1)
    separator = "["
    for element in elements:
        parts.append(separator + newline)
        _write_value(element, depth + 1, parts)
        separator = ","
    parts.append("\n" + _INDENT * depth + "]")


def _quote(text: str) -> str:
    """A JSON string literal as Go's ``json.Marshal`` writes it."""
    quoted: str = encode_basestring(text)
    if _GO_ONLY_ESCAPES.search(quoted):
        quoted = _GO_ONLY_ESCAPES.sub(_go_escape, quoted)
    return quoted


def _go_escape(match: re.Match[str]) -> str:
    character = match.group()
    if "\ud800" <= character <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(character):04x}"


def _go_float(value: float) -> str:
    """Go's ``json.Marshal`` of a float64: shortest digits, an exponent only when tiny or huge."""
    if not math.isfinite(value):
        raise FormatError("NaN and Infinity cannot be written as JSON", "store them as strings")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = shortest_digits(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = exponent_notation(digits, point, "e")
        if text[-4:-1] == "e-0":
            text = text[:-2] + text[-1]
        return sign + text
    return sign + fixed_notation(digits, point)


STORE: Final = JsonStore()
