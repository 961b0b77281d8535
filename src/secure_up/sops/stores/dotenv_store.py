"""The dotenv format (``.env``), line for line as sops reads and writes it.

sops' dotenv is deliberately simple: lines split on ``\\n``, empty lines
skipped, ``#`` lines are comments, ``KEY=value`` splits at the first ``=``,
and a literal ``\\n`` in a value stands for a newline. There is no quoting,
no ``export``, no trimming: a ``\\r`` from CRLF line ends stays in the value,
as it does in sops. Metadata is appended as sorted ``sops_<flat key>`` lines.

This store is on the hot path (a 10,000-key file must load and dump in a few
milliseconds), so it works on one decoded string with plain string methods.
"""

from __future__ import annotations

from typing import Final

from secure_up.errors import FormatError, NotEncryptedError, UsageError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.stores.flat import (
    dump_extracted,
    encode_text,
    flatten_metadata,
    scalar_text,
    unflatten_metadata,
)
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence, from_bytes

METADATA_PREFIX: Final = "sops_"
_NEWLINE: Final = "\n"
_ESCAPED_NEWLINE: Final = "\\n"


class DotenvStore:
    """The :class:`~secure_up.sops.stores.Store` for dotenv files."""

    def load_plain(self, data: bytes) -> Documents:
        return [self._load(data, None)]

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        flat_metadata: list[tuple[str, str]] = []
        content = self._load(data, flat_metadata)
        if not flat_metadata:
            raise NotEncryptedError(
                "the dotenv file has no sops metadata (no sops_... lines): it is not encrypted",
                "encrypt it first: secure-up encrypt FILE",
            )
        return [content], unflatten_metadata(flat_metadata)

    def dump_plain(self, documents: Documents) -> bytes:
        # A string value, the common case, is written here: a call of _line per
        # key is a third of the dump of a 10,000-key file.
        newline, escaped = _NEWLINE, _ESCAPED_NEWLINE
        lines = [
            f"{entry[0]}={entry[1].replace(newline, escaped)}"
            if type(entry) is tuple and type(entry[1]) is str
            else _line(entry)
            for entry in _single_document(documents)
        ]
        lines.append("")
        return encode_text("\n".join(lines))

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        branch = _single_document(documents)
        for key in branch.keys():
            if key.startswith(METADATA_PREFIX):
                raise FormatError(
                    f"key {key} starts with {METADATA_PREFIX!r}, reserved for sops metadata",
                    "rename the key",
                )
        flat = [(METADATA_PREFIX + key, text) for key, text in flatten_metadata(metadata)]
        return self.dump_plain([Branch([*branch, *flat])])

    def dump_value(self, value: Node) -> bytes:
        refusal = UsageError(
            "the dotenv format can only print a string value",
            "extract a string value, or choose another output type",
        )
        return dump_extracted(self.dump_plain, value, refusal)

    @staticmethod
    def _load(data: bytes, metadata: list[tuple[str, str]] | None) -> Branch:
        """The lines of ``data``; ``sops_`` lines go to ``metadata`` unless it is None."""
        text = from_bytes(data)
        branch = _load_whole(text, metadata)
        return _load_line_by_line(text, metadata) if branch is None else branch


def _load_whole(text: str, metadata: list[tuple[str, str]] | None) -> Branch | None:
    """The common file with a few calls over all its lines, or None: read it line by line.

    A file sops wrote has no comment, no escaped newline in a value (an ``ENC[...]``
    value has none) and its ``sops_`` lines last. Such a file is split with calls
    that each go over all lines at once, in C, in about half the time of a Python
    step per line (a 10,000-key file is read on every run that uses it). Anything
    else — a ``#`` in a key (a comment line), an escape in a value, a line without
    ``=``, a ``sops_`` line among the values — goes to :func:`_load_line_by_line`,
    which also names the line of an error. Both give the same tree
    (tests/unit/test_flat_stores.py compares them on generated files).

    The checks search the keys joined, and the text only for one character: a
    two-character search of a whole 1.6 MB file costs a millisecond and a half.
    """
    items = [line.partition("=") for line in text.split("\n") if line]
    if not items:
        return None
    keys, separators, values = zip(*items, strict=True)
    joined_keys = "\n".join(keys)
    if "" in separators or "#" in joined_keys:  # no "=", or maybe a comment
        return None
    content, values_end = len(items), len(text)
    if metadata is not None:
        content -= joined_keys.startswith(METADATA_PREFIX) + joined_keys.count(
            "\n" + METADATA_PREFIX
        )
        if not all(key.startswith(METADATA_PREFIX) for key in keys[content:]):
            return None  # metadata among the values: kept in place line by line
        if content < len(items):  # the values end where the first metadata line starts
            values_end = text.rfind(f"\n{keys[content]}=") if content else 0
    if text.find("\\", 0, values_end) >= 0:
        return None  # maybe an escaped newline in a value (metadata's PGP messages have many)
    if metadata is not None:
        metadata.extend(
            (key[len(METADATA_PREFIX) :], value.replace(_ESCAPED_NEWLINE, _NEWLINE))
            for key, value in zip(keys[content:], values[content:], strict=True)
        )
    return Branch(zip(keys[:content], values[:content], strict=True))


def _load_line_by_line(text: str, metadata: list[tuple[str, str]] | None) -> Branch:
    """Any dotenv text, one Python step per line; metadata sorted out in the same loop."""
    branch = Branch()
    append = branch.append
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line[0] == "#":
            append(Comment(line[1:]))
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise FormatError(
                f"line {number} of the dotenv file is neither KEY=value nor a # comment",
                "write each variable as KEY=value on one line",
            )
        value = value.replace(_ESCAPED_NEWLINE, _NEWLINE)
        if metadata is not None and key.startswith(METADATA_PREFIX):
            metadata.append((key[len(METADATA_PREFIX) :], value))
        else:
            append((key, value))
    return branch


def _single_document(documents: Documents) -> Branch:
    if len(documents) != 1:
        raise FormatError(
            f"a dotenv file holds exactly one document, not {len(documents)}",
            "convert a single-document file",
        )
    return documents[0]


def _line(entry: tuple[str, Node] | Comment) -> str:
    if isinstance(entry, Comment):
        return "#" + entry.text
    key, value = entry
    if isinstance(value, str):
        return f"{key}={value.replace(_NEWLINE, _ESCAPED_NEWLINE)}"
    if isinstance(value, Branch | Sequence):
        raise FormatError(
            f"key {key} holds a nested value, which a dotenv file cannot hold",
            "flatten the value into separate keys, or choose another output type",
        )
    return f"{key}={scalar_text(value)}"


STORE: Final = DotenvStore()
