"""The INI format, read and written as sops does it through go-ini (gopkg.in/ini.v1 v1.67).

The tree is one Branch of sections, each a Branch of string values. Keys
before any section header live in section ``DEFAULT``, which is always the
first section (empty when the file has no such keys) and is written without
a header. go-ini's rules are reproduced because sops' output depends on them:

- reading: ``=`` or ``:`` ends a key; values are trimmed; an unquoted value
  ends at the first ``#`` or ``;`` (the rest is an inline comment); a value
  wrapped in one pair of ``"`` or ``'`` loses them; backtick and triple-quote
  values are taken literally and may span lines; a trailing ``\\`` continues
  the value on the next line.
- comments: the ``#``/``;`` lines above a key (and its inline comment) become
  one Comment placed *after* that key, with the first comment marker
  stripped; lines above a section header become the section's first entry.
  That is where sops puts them, so values' paths and the MAC match sops'.
- writing: ``=`` aligned per section, a blank line between sections; values
  holding a newline or backtick are written in triple quotes, values holding
  ``#`` or ``;`` in backticks, values with outer spaces in double quotes.

Metadata lives in a ``[sops]`` section as flat keys, newlines written as
``\\n``; it is written sorted (sops 3.11 writes it in random order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from secure_up.errors import FormatError, IntegrityError, NotEncryptedError, UsageError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.stores.flat import (
    dump_extracted,
    encode_text,
    flatten_metadata,
    scalar_text,
    unflatten_metadata,
)
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence, from_bytes

METADATA_SECTION: Final = "sops"
DEFAULT_SECTION: Final = "DEFAULT"

#: Go's unicode.IsSpace (Python's str.isspace also counts \x1c-\x1f).
_GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_KEY_DELIMITER: Final = re.compile("[=:]")
_COMMENT_START: Final = re.compile("[#;]")
_BOMS: Final = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
_FIX_SYNTAX: Final = "fix the INI syntax on that line"


@dataclass
class _Key:
    name: str
    value: str
    comment: str = ""


@dataclass
class _Section:
    name: str
    comment: str = ""
    keys: dict[str, _Key] = field(default_factory=dict)


class IniStore:
    """The :class:`~secure_up.sops.stores.Store` for INI files."""

    def load_plain(self, data: bytes) -> Documents:
        return [_tree_from_sections(_IniParser(data).parse())]

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        parser = _IniParser(data)
        sections = parser.parse()
        if parser.duplicates:  # go-ini keeps the last; the MAC cannot tell (sopsfile refuses)
            raise IntegrityError(
                f"the key {parser.duplicates[0]} occurs twice: sops' MAC does not cover keys, "
                "so a second entry (even an empty one) may have been added by someone without "
                "the key",
                "remove the duplicate (restore the file from version control), then check who "
                "changed the file",
            )
        branch = _tree_from_sections(sections)
        content = Branch()
        metadata_sections: list[Branch] = []
        for entry in branch:
            if isinstance(entry, tuple) and entry[0] == METADATA_SECTION:
                metadata_sections.append(_as_branch(entry[1]))
            else:
                content.append(entry)
        if not metadata_sections:
            raise NotEncryptedError(
                "the INI file has no [sops] section: it is not encrypted",
                "encrypt it first: secure-up encrypt FILE",
            )
        if len(metadata_sections) > 1:
            raise FormatError(
                "the INI file has more than one [sops] section",
                "restore the file from version control",
            )
        flat = [
            (key, value.replace("\\n", "\n"))
            for key, value in metadata_sections[0].items_only()
            if isinstance(value, str)
        ]
        return [content], unflatten_metadata(flat)

    def dump_plain(self, documents: Documents) -> bytes:
        sections = [_section_to_write(entry) for document in documents for entry in document]
        return encode_text(_write(section for section in sections if section is not None))

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        if any(METADATA_SECTION in document.keys() for document in documents):
            raise FormatError(
                "the data has a [sops] section, which sops reserves for its metadata",
                "rename the section",
            )
        flat = Branch((key, text.replace("\n", "\\n")) for key, text in flatten_metadata(metadata))
        return self.dump_plain([*documents, Branch([(METADATA_SECTION, flat)])])

    def dump_value(self, value: Node) -> bytes:
        refusal = UsageError(
            "an INI file holds only strings; this value is not one",
            "extract a string value, or choose another output type",
        )
        return dump_extracted(self.dump_plain, value, refusal)


def _as_branch(value: Node) -> Branch:
    if not isinstance(value, Branch):
        raise FormatError("an INI section is not a map")  # cannot happen for parsed files
    return value


# --- reading -------------------------------------------------------------------------


class _IniParser:
    """go-ini's parser (parser.go) with sops' options: non-unique sections, nothing else."""

    def __init__(self, data: bytes) -> None:
        for bom in _BOMS:
            if data.startswith(bom):
                data = data[len(bom) :]
                break
        chunks = from_bytes(data).split("\n")
        self._lines = [chunk + "\n" for chunk in chunks[:-1]]
        self._lines.append(chunks[-1])
        self._next = 0
        self._comment: list[str] = []
        #: "KEY in section [NAME]" for each key seen again in its section.
        self.duplicates: list[str] = []

    @property
    def _at_end(self) -> bool:
        return self._next >= len(self._lines)

    def _read_line(self) -> str:
        """The next line with its newline; "" past the end, like bufio at EOF."""
        if self._at_end:
            return ""
        line = self._lines[self._next]
        self._next += 1
        return line

    def _error(self, line_number: int, what: str) -> FormatError:
        return FormatError(f"line {line_number} of the INI file: {what}", _FIX_SYNTAX)

    def parse(self) -> list[_Section]:
        section = _Section(DEFAULT_SECTION)
        sections = [section]
        auto_number = 1
        while not self._at_end:
            line = self._read_line().lstrip(_GO_SPACE)
            number = self._next
            if not line:
                continue
            if line[0] in "#;":
                self._comment.append(line)
                continue
            if line[0] == "[":
                section = self._section(line, number)
                sections.append(section)
                auto_number = 1
                continue
            name, offset = self._key_name(line, number)
            if name == "-":
                name = f"#{auto_number}"
                auto_number += 1
            value = self._value(line[offset:], number)
            if not name:
                raise self._error(number, "a key has an empty name")
            key = section.keys.get(name)
            if key is None:
                key = section.keys[name] = _Key(name, value)
            else:
                self.duplicates.append(f"{name} in section [{section.name}]")
                key.value = value
            key.comment = self._take_comment()
        return sections

    def _take_comment(self) -> str:
        comment = "".join(self._comment).strip(_GO_SPACE)
        self._comment.clear()
        return comment

    def _section(self, line: str, number: int) -> _Section:
        close = line.rfind("]")
        if close == -1:
            raise self._error(number, "a section header has no closing ]")
        name = line[1:close]
        if not name:
            raise self._error(number, "a section header has an empty name")
        trailing = _COMMENT_START.search(line, close + 1)
        if trailing:
            self._comment.append(line[trailing.start() :])
        return _Section(name, comment=self._take_comment())

    def _key_name(self, line: str, number: int) -> tuple[str, int]:
        """The key name and where its value starts (go-ini's readKeyName)."""
        quote = ""
        if line.startswith('"'):
            quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
        elif line.startswith("`"):
            quote = "`"
        if quote:
            start = len(quote)
            close = line.find(quote, start)
            if close == -1:
                raise self._error(number, "a quoted key has no closing quote")
            delimiter = _KEY_DELIMITER.search(line, close + start)
            if delimiter is None:
                raise self._error(number, "a key has no = or : after it")
            return line[start:close].strip(_GO_SPACE), delimiter.start() + 1
        delimiter = _KEY_DELIMITER.search(line)
        if delimiter is None:
            raise self._error(number, "the line is neither a section, a comment nor key = value")
        if delimiter.start() == 0:
            raise self._error(number, "a key has an empty name")
        return line[: delimiter.start()].strip(_GO_SPACE), delimiter.start() + 1

    def _value(self, text: str, number: int) -> str:
        """The value after the delimiter (go-ini's readValue)."""
        line = text.lstrip(_GO_SPACE)
        if not line:
            return ""
        quote = ""
        if len(line) > 3 and line.startswith('"""'):
            quote = '"""'
        elif line[0] == "`":
            quote = "`"
        if quote:
            start = len(quote)
            close = line.rfind(quote, start)
            if close == -1:
                return self._multiline_value(line[start:], quote, number)
            return line[start:close]
        line = line.strip(_GO_SPACE)
        if line[-1] == "\\":
            return self._continued_value(line[:-1])
        inline_comment = _COMMENT_START.search(line)
        if inline_comment:
            self._comment.append(line[inline_comment.start() :])
            line = line[: inline_comment.start()].strip(_GO_SPACE)
        if _is_wrapped_in(line, "'") or _is_wrapped_in(line, '"'):
            line = line[1:-1]
        return line

    def _multiline_value(self, value: str, quote: str, number: int) -> str:
        while True:
            line = self._read_line()
            close = line.rfind(quote)
            if close > -1:
                trailing = _COMMENT_START.search(line, close)
                if trailing:
                    self._comment.append(line[trailing.start() :].strip(_GO_SPACE))
                return value + line[:close]
            value += line
            if self._at_end:
                raise self._error(number, "a quoted value is never closed")

    def _continued_value(self, value: str) -> str:
        while True:
            line = self._read_line().strip(_GO_SPACE)
            if not line:
                return value
            value += line
            if value[-1] != "\\":
                return value
            value = value[:-1]


def _is_wrapped_in(text: str, quote: str) -> bool:
    """go-ini's hasSurroundedQuote: the quote opens, closes, and appears nowhere else."""
    return len(text) >= 2 and text[0] == quote == text[-1] and text.find(quote, 1) == len(text) - 1


def _strip_comment_marker(comment: str) -> str:
    """sops' stripCommentChar: drop the leading run of the first line's marker and spaces."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def _tree_from_sections(sections: list[_Section]) -> Branch:
    tree = Branch()
    for section in sections:
        entries = Branch()
        if section.comment:
            entries.append(Comment(_strip_comment_marker(section.comment)))
        for key in section.keys.values():
            entries.append((key.name, key.value))
            if key.comment:
                entries.append(Comment(_strip_comment_marker(key.comment)))
        tree.append((section.name, entries))
    return tree


# --- writing -------------------------------------------------------------------------


def _section_to_write(entry: tuple[str, Node] | Comment) -> _Section | None:
    """One top-level tree entry as go-ini's section, as sops' encodeTree builds it."""
    if isinstance(entry, Comment):
        return None
    name, body = entry
    if not isinstance(body, Branch):
        raise FormatError(
            f"top-level key {name} is not a section: an INI file holds key = value "
            "lines only inside [sections]",
            "put the value in a section, or choose another output type",
        )
    if not name:
        raise FormatError("a section has an empty name", "name the section")
    section = _Section(name)
    entries = list(body)
    first = entries[0] if entries else None
    if isinstance(first, Comment):
        section.comment = first.text
        entries = entries[1:]
    last: _Key | None = None
    for item in entries:
        if isinstance(item, Comment):
            if last is not None:
                last.comment = item.text
            continue
        key, value = item
        if not key:
            raise FormatError(f"section {name} has a key with an empty name", "name the key")
        if isinstance(value, Branch | Sequence):
            raise FormatError(
                f"key {key} in section {name} holds a nested value, which INI cannot hold",
                "flatten the value into separate keys, or choose another output type",
            )
        last = section.keys.get(key)
        if last is None:
            last = section.keys[key] = _Key(key, scalar_text(value))
        else:
            last.value = scalar_text(value)
    return section


def _write(sections: Iterable[_Section]) -> str:
    """go-ini's writeToBuffer with its defaults (PrettyFormat, PrettySection)."""
    written = list(sections)
    lines: list[str] = []
    for index, section in enumerate(written):
        lines.extend(_comment_line(line, trim=False) for line in _comment_lines(section.comment))
        if index > 0 or section.name.upper() != DEFAULT_SECTION:
            lines.append(f"[{section.name}]\n")
        elif not section.keys:
            continue
        names = [_quoted_key(name) for name in section.keys]
        width = max((_byte_length(name) for name in names), default=0)
        for name, key in zip(names, section.keys.values(), strict=True):
            lines.extend(_comment_line(line, trim=True) for line in _comment_lines(key.comment))
            padding = " " * (width - _byte_length(name))
            lines.append(f"{name}{padding} = {_quoted_value(key.value)}\n")
        if index < len(written) - 1:
            lines.append("\n")
    return "".join(lines)


def _comment_lines(comment: str) -> list[str]:
    return comment.split("\n") if comment else []


def _comment_line(line: str, *, trim: bool) -> str:
    """A comment line with its marker (go-ini adds ``; `` when there is none).

    go-ini panics on an empty line inside a comment; we write a bare marker.
    """
    if line[:1] in ("#", ";"):
        return f"{line[0]} {line[1:].strip(_GO_SPACE)}\n"
    return f"; {line.strip(_GO_SPACE) if trim else line}\n"


def _quoted_key(name: str) -> str:
    if '"' in name or "=" in name or ":" in name:
        return f"`{name}`"
    if "`" in name:
        return f'"""{name}"""'
    return name


def _quoted_value(value: str) -> str:
    if "\n" in value or "`" in value:
        return f'"""{value}"""'
    if "#" in value or ";" in value:
        return f"`{value}`"
    if value.strip(_GO_SPACE) != value:
        return f'"{value}"'
    return value


def _byte_length(text: str) -> int:
    """Go measures the alignment in bytes, not characters."""
    return len(text) if text.isascii() else len(encode_text(text))


STORE: Final = IniStore()
