"""The YAML store: sops' YAML layout, byte for byte and comment for comment.

sops reads and writes YAML with go-yaml v3 and flattens go-yaml's nodes into its
tree (``stores/yaml/store.go``). Which node go-yaml attaches a comment to (head,
line or foot comment) decides the branch the comment lands in, and so its AAD;
no Python YAML library attaches comments that way. This module therefore
carries a port of what sops uses of go-yaml v3.0.4 (scanner and parser with
their comment logic, composer, resolver, emitter) and of sops' flattening.

Two fast paths keep big files quick; tests check both against the port:

* a text without comments is parsed by libyaml (PyYAML's C parser, which
  go-yaml's parser was ported from) and composed as go-yaml composes;
* a tree without comments is written directly instead of by the emitter.

Behaviour of sops 3.11 that this reproduces (checked against the binary):

* ``2024-01-02`` is a timestamp (``Time("2024-01-02T00:00:00Z")``), while
  ``2001-12-14 21:59:43.10 -5`` is a string; ``017`` is 15; ``1.0`` is a float
  written back as ``1``; ``yes``, ``on`` and ``n`` are strings written quoted, as
  keys too (``"on":``); keys longer than 128 bytes are written ``? key``;
* a key's trailing comment ends up before the key, and so does a list item's;
  sops writes every comment on its own line;
* sops encrypts a comment inside a list into a ``- ENC[...,type:comment]`` item,
  and decrypts it back into a comment (``Comment("")`` in a list becomes ``""``);
* sops' output is not always stable: a comment written between two indentation
  levels can read back one level deeper (sops then cannot decrypt it: its AAD
  moved), ``-0.0`` is written ``-0`` and reads back as the int 0, and a
  multi-line value starting with a space or newline gets a ``|4`` hint that is
  wrong inside lists, so the file does not parse again. Such files cannot round
  trip in sops either; this module does what sops would do with them;
* an empty file has no documents; a file of only comments or blank lines is
  refused; ``---`` alone is one empty document, written back as ``{}``.
"""

from __future__ import annotations

import base64
import bisect
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import yaml as pyyaml

from secure_up.errors import FormatError, NotEncryptedError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence, Time, from_bytes

# --------------------------------------------------------------------------------------
# Errors and positions
# --------------------------------------------------------------------------------------


class _Mark(NamedTuple):
    """A position in the text: character index, 0-based line and column (go-yaml's order)."""

    offset: int
    line: int
    column: int


_ZERO_MARK: Final = _Mark(0, 0, 0)


class _YamlSyntaxError(Exception):
    """Malformed YAML, as go-yaml reports it; never carries text from the document."""

    def __init__(self, problem: str, mark: _Mark, context: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.mark = mark
        self.context = context

    def describe(self) -> str:
        where = f"line {self.mark.line + 1}, column {self.mark.column + 1}"
        context = f" {self.context}" if self.context else ""
        return f"{where}:{context} {self.problem}"


# Character classes of go-yaml's yamlprivateh.go. The text is padded with NULs,
# which stand for the end of the input as they do in go-yaml's buffer.
_BLANK: Final = " \t"
_BREAK: Final = "\r\n\x85\u2028\u2029"
_BREAKZ: Final = _BREAK + "\0"
_BLANKZ: Final = _BLANK + _BREAKZ
_PADDING: Final = "\0" * 8
_DISALLOWED_CHARACTERS: Final = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _is_alpha(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-")


def _is_hex(char: str) -> bool:
    return len(char) == 1 and char in "0123456789abcdefABCDEF"


# --------------------------------------------------------------------------------------
# Scanner: a port of go-yaml v3.0.4 scannerc.go, comment logic included
# --------------------------------------------------------------------------------------

(
    _STREAM_START,
    _STREAM_END,
    _VERSION_DIRECTIVE,
    _TAG_DIRECTIVE,
    _DOCUMENT_START,
    _DOCUMENT_END,
    _BLOCK_SEQUENCE_START,
    _BLOCK_MAPPING_START,
    _BLOCK_END,
    _FLOW_SEQUENCE_START,
    _FLOW_SEQUENCE_END,
    _FLOW_MAPPING_START,
    _FLOW_MAPPING_END,
    _BLOCK_ENTRY,
    _FLOW_ENTRY,
    _KEY,
    _VALUE,
    _ALIAS,
    _ANCHOR,
    _TAG,
    _SCALAR,
) = range(21)

# Scalar styles (go-yaml's yaml_*_SCALAR_STYLE).
_ANY, _PLAIN, _SINGLE_QUOTED, _DOUBLE_QUOTED, _LITERAL, _FOLDED = range(6)


class _Token:
    __slots__ = ("end", "kind", "major", "minor", "prefix", "start", "style", "suffix", "value")

    def __init__(
        self, kind: int, start: _Mark, end: _Mark, value: str = "", style: int = _ANY
    ) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.value = value
        self.style = style
        self.suffix = ""
        self.prefix = ""
        self.major = 0
        self.minor = 0


class _CommentRecord:
    """A comment as the scanner queues it (go-yaml's yaml_comment_t)."""

    __slots__ = ("end_mark", "foot", "head", "line", "scan_mark", "start_mark", "token_mark")

    def __init__(
        self,
        scan_mark: _Mark,
        token_mark: _Mark,
        start_mark: _Mark,
        end_mark: _Mark,
        head: str = "",
        line: str = "",
        foot: str = "",
    ) -> None:
        self.scan_mark = scan_mark
        self.token_mark = token_mark
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.head = head
        self.line = line
        self.foot = foot

    def clear(self) -> None:
        self.scan_mark = self.token_mark = self.start_mark = self.end_mark = _ZERO_MARK
        self.head = self.line = self.foot = ""


class _SimpleKey:
    __slots__ = ("mark", "possible", "required", "token_number")

    def __init__(self, possible: bool, required: bool, token_number: int, mark: _Mark) -> None:
        self.possible = possible
        self.required = required
        self.token_number = token_number
        self.mark = mark


_MAX_FLOW_LEVEL: Final = 10000
_MAX_INDENTS: Final = 10000
_PLAIN_RUN_BLOCK: Final = re.compile(
    "(?:[^ \t\r\n\x85\u2028\u2029\0:]|:(?![ \t\r\n\x85\u2028\u2029\0]))+"
)
_PLAIN_RUN_FLOW: Final = re.compile(
    "(?:[^ \t\r\n\x85\u2028\u2029\0:,?\\[\\]{}]|:(?![ \t\r\n\x85\u2028\u2029\0]))+"
)
_SINGLE_RUN: Final = re.compile("[^ \t\r\n\x85\u2028\u2029\0']+")
_DOUBLE_RUN: Final = re.compile('[^ \t\r\n\x85\u2028\u2029\0"\\\\]+')
_LINE_REST: Final = re.compile("[^\r\n\x85\u2028\u2029\0]*")
_ESCAPES: Final = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b",
    "f": "\x0c", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "'": "'", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_ESCAPE_LENGTHS: Final = {"x": 2, "u": 4, "U": 8}
_URI_CHARACTERS: Final = ";/?:@&=+$,.!~*'()[]%"


class _Scanner:
    """Turns text into tokens and queues comments with the token they belong to."""

    def __init__(self, text: str) -> None:
        self.buf = text + _PADDING
        self.pos = 0
        self.line = 0
        self.column = 0
        self.newlines = 0
        self.stream_start_produced = False
        self.stream_end_produced = False
        self.tokens: list[_Token] = []
        self.tokens_head = 0
        self.tokens_parsed = 0
        self.token_available = False
        self.indent = -1
        self.indents: list[int] = []
        self.simple_key_allowed = False
        self.simple_keys: list[_SimpleKey] = []
        self.simple_keys_by_tok: dict[int, int] = {}
        self.flow_level = 0
        self.comments: list[_CommentRecord] = []
        self.comments_head = 0

    # -- positions ---------------------------------------------------------------------

    def mark(self) -> _Mark:
        # tuple.__new__ skips NamedTuple's Python-level constructor: this is called per token
        return tuple.__new__(_Mark, (self.pos, self.line, self.column))

    def error(self, context: str, context_mark: _Mark, problem: str) -> _YamlSyntaxError:
        del context_mark  # go-yaml reports the context line; the problem position is enough
        return _YamlSyntaxError(problem, self.mark(), context)

    def skip(self) -> None:
        if self.buf[self.pos] not in _BLANK:
            self.newlines = 0
        self.pos += 1
        self.column += 1

    def skip_line(self) -> None:
        buf, pos = self.buf, self.pos
        if buf[pos] == "\r" and buf[pos + 1] == "\n":
            self.pos += 2
        elif buf[pos] in _BREAK:
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1
        self.newlines += 1

    def read(self, out: list[str]) -> None:
        char = self.buf[self.pos]
        if char not in _BLANK:
            self.newlines = 0
        out.append(char)
        self.pos += 1
        self.column += 1

    def read_run(self, out: list[str], end: int) -> None:
        """Read the non-blank characters up to ``end`` (a fast ``read`` loop)."""
        out.append(self.buf[self.pos : end])
        self.newlines = 0
        self.column += end - self.pos
        self.pos = end

    def read_line(self, out: list[str]) -> None:
        buf, pos = self.buf, self.pos
        char = buf[pos]
        if char == "\r" and buf[pos + 1] == "\n":
            out.append("\n")
            self.pos += 2
        elif char in "\r\n\x85":
            out.append("\n")
            self.pos += 1
        elif char in "\u2028\u2029":
            out.append(char)
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1
        self.newlines += 1

    # -- the token queue ---------------------------------------------------------------

    def insert_token(self, position: int, token: _Token) -> None:
        if position < 0:
            self.tokens.append(token)
        else:
            self.tokens.insert(self.tokens_head + position, token)

    def next_token(self) -> _Token:
        """The token at the head of the queue, fetching more as needed."""
        if not self.token_available:
            self.fetch_more_tokens()
        return self.tokens[self.tokens_head]

    def consume_token(self) -> None:
        self.token_available = False
        self.tokens_parsed += 1
        self.stream_end_produced = self.tokens[self.tokens_head].kind == _STREAM_END
        self.tokens_head += 1
        if self.tokens_head > 4096:  # keep the queue short; only its tail is ever inspected
            del self.tokens[: self.tokens_head]
            self.tokens_head = 0

    def fetch_more_tokens(self) -> None:
        # go-yaml keeps a lookahead of two tokens so that foot comments can be
        # associated with the tokens before them.
        while True:
            if self.tokens_head < len(self.tokens) - 2:
                index = self.simple_keys_by_tok.get(self.tokens_parsed)
                if index is None or not self.simple_key_is_valid(self.simple_keys[index]):
                    break
            self.fetch_next_token()
        self.token_available = True

    def fetch_next_token(self) -> None:
        if not self.stream_start_produced:
            self.fetch_stream_start()
            return
        scan_mark = self.mark()
        self.scan_to_next_token()
        self.unroll_indent(self.column, scan_mark)
        buf, pos = self.buf, self.pos
        char = buf[pos]
        if char == "\0":
            self.fetch_stream_end()
            return
        if self.column == 0:
            if char == "%":
                self.fetch_directive()
                return
            if buf[pos + 3] in _BLANKZ and buf.startswith(("---", "..."), pos):
                self.fetch_document_indicator(_DOCUMENT_START if char == "-" else _DOCUMENT_END)
                return
        comment_mark = self.mark()
        if self.tokens and (
            (self.flow_level == 0 and char == ":") or (self.flow_level > 0 and char == ",")
        ):
            comment_mark = self.tokens[-1].start
        self.fetch_token_at(char, buf[pos + 1])
        if self.tokens and self.tokens[-1].kind == _BLOCK_ENTRY:
            return  # a sequence indicator alone has no line comment: it heads what follows
        self.scan_line_comment(comment_mark)

    def fetch_token_at(self, char: str, following: str) -> None:
        flow = self.flow_level > 0
        if char == "[":
            self.fetch_flow_collection_start(_FLOW_SEQUENCE_START)
        elif char == "{":
            self.fetch_flow_collection_start(_FLOW_MAPPING_START)
        elif char == "]":
            self.fetch_flow_collection_end(_FLOW_SEQUENCE_END)
        elif char == "}":
            self.fetch_flow_collection_end(_FLOW_MAPPING_END)
        elif char == ",":
            self.fetch_flow_entry()
        elif char == "-" and following in _BLANKZ:
            self.fetch_block_entry()
        elif char == "?" and (flow or following in _BLANKZ):
            self.fetch_key()
        elif char == ":" and (flow or following in _BLANKZ):
            self.fetch_value()
        elif char == "*":
            self.fetch_anchor(_ALIAS)
        elif char == "&":
            self.fetch_anchor(_ANCHOR)
        elif char == "!":
            self.fetch_tag()
        elif char == "|" and not flow:
            self.fetch_block_scalar(literal=True)
        elif char == ">" and not flow:
            self.fetch_block_scalar(literal=False)
        elif char == "'":
            self.fetch_flow_scalar(single=True)
        elif char == '"':
            self.fetch_flow_scalar(single=False)
        elif (
            not (char in _BLANKZ or char in "-?:,[]{}#&*!|>'\"%@`")
            or (char == "-" and following not in _BLANK)
            or (not flow and char in "?:" and following not in _BLANKZ)
        ):
            self.fetch_plain_scalar()
        else:
            raise self.error(
                "while scanning for the next token",
                self.mark(),
                "found character that cannot start any token",
            )

    # -- simple keys and indentation ---------------------------------------------------

    def simple_key_is_valid(self, key: _SimpleKey) -> bool:
        if not key.possible:
            return False
        if key.mark.line < self.line or key.mark.offset + 1024 < self.pos:
            if key.required:
                raise self.error(
                    "while scanning a simple key", key.mark, "could not find expected ':'"
                )
            key.possible = False
            return False
        return True

    def save_simple_key(self) -> None:
        required = self.flow_level == 0 and self.indent == self.column
        if self.simple_key_allowed:
            key = _SimpleKey(
                True,
                required,
                self.tokens_parsed + len(self.tokens) - self.tokens_head,
                self.mark(),
            )
            self.remove_simple_key()
            self.simple_keys[-1] = key
            self.simple_keys_by_tok[key.token_number] = len(self.simple_keys) - 1

    def remove_simple_key(self) -> None:
        key = self.simple_keys[-1]
        if key.possible:
            if key.required:
                raise self.error(
                    "while scanning a simple key", key.mark, "could not find expected ':'"
                )
            key.possible = False
            self.simple_keys_by_tok.pop(key.token_number, None)

    def increase_flow_level(self) -> None:
        self.simple_keys.append(
            _SimpleKey(
                False, False, self.tokens_parsed + len(self.tokens) - self.tokens_head, self.mark()
            )
        )
        self.flow_level += 1
        if self.flow_level > _MAX_FLOW_LEVEL:
            raise self.error(
                "while increasing flow level",
                self.mark(),
                f"exceeded max depth of {_MAX_FLOW_LEVEL}",
            )

    def decrease_flow_level(self) -> None:
        if self.flow_level > 0:
            self.flow_level -= 1
            key = self.simple_keys.pop()
            self.simple_keys_by_tok.pop(key.token_number, None)

    def roll_indent(self, column: int, number: int, kind: int, mark: _Mark) -> None:
        if self.flow_level > 0:
            return
        if self.indent < column:
            self.indents.append(self.indent)
            self.indent = column
            if len(self.indents) > _MAX_INDENTS:
                raise self.error(
                    "while increasing indent level", mark, f"exceeded max depth of {_MAX_INDENTS}"
                )
            if number > -1:
                number -= self.tokens_parsed
            self.insert_token(number, _Token(kind, mark, mark))

    def unroll_indent(self, column: int, scan_mark: _Mark) -> None:
        if self.flow_level > 0:
            return
        block_mark = _Mark(scan_mark.offset - 1, scan_mark.line, scan_mark.column)
        while self.indent > column:
            # go-yaml repositions the end token before following foot comments of
            # parent blocks: search back for recent comments at the ending block's indent.
            stop_index = block_mark.offset
            for comment in reversed(self.comments):
                if comment.end_mark.offset < stop_index:
                    break
                if comment.start_mark.column == self.indent + 1:
                    block_mark = comment.start_mark
                stop_index = comment.scan_mark.offset
            self.insert_token(-1, _Token(_BLOCK_END, block_mark, block_mark))
            self.indent = self.indents.pop()

    # -- fetchers ----------------------------------------------------------------------

    def fetch_stream_start(self) -> None:
        self.indent = -1
        self.simple_keys.append(_SimpleKey(False, False, 0, _ZERO_MARK))
        self.simple_key_allowed = True
        self.stream_start_produced = True
        mark = self.mark()
        self.insert_token(-1, _Token(_STREAM_START, mark, mark))

    def fetch_stream_end(self) -> None:
        if self.column != 0:
            self.column = 0
            self.line += 1
        self.unroll_indent(-1, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = False
        mark = self.mark()
        self.insert_token(-1, _Token(_STREAM_END, mark, mark))

    def fetch_directive(self) -> None:
        self.unroll_indent(-1, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_directive())

    def fetch_document_indicator(self, kind: int) -> None:
        self.unroll_indent(-1, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = False
        start = self.mark()
        self.skip()
        self.skip()
        self.skip()
        self.insert_token(-1, _Token(kind, start, self.mark()))

    def fetch_flow_collection_start(self, kind: int) -> None:
        self.save_simple_key()
        self.increase_flow_level()
        self.simple_key_allowed = True
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(kind, start, self.mark()))

    def fetch_flow_collection_end(self, kind: int) -> None:
        self.remove_simple_key()
        self.decrease_flow_level()
        self.simple_key_allowed = False
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(kind, start, self.mark()))

    def fetch_flow_entry(self) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(_FLOW_ENTRY, start, self.mark()))

    def fetch_block_entry(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error(
                    "", self.mark(), "block sequence entries are not allowed in this context"
                )
            self.roll_indent(self.column, -1, _BLOCK_SEQUENCE_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = True
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(_BLOCK_ENTRY, start, self.mark()))

    def fetch_key(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error("", self.mark(), "mapping keys are not allowed in this context")
            self.roll_indent(self.column, -1, _BLOCK_MAPPING_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = self.flow_level == 0
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(_KEY, start, self.mark()))

    def fetch_value(self) -> None:
        key = self.simple_keys[-1]
        if self.simple_key_is_valid(key):
            self.insert_token(
                key.token_number - self.tokens_parsed, _Token(_KEY, key.mark, key.mark)
            )
            self.roll_indent(key.mark.column, key.token_number, _BLOCK_MAPPING_START, key.mark)
            key.possible = False
            self.simple_keys_by_tok.pop(key.token_number, None)
            self.simple_key_allowed = False
        else:
            if self.flow_level == 0:
                if not self.simple_key_allowed:
                    raise self.error(
                        "", self.mark(), "mapping values are not allowed in this context"
                    )
                self.roll_indent(self.column, -1, _BLOCK_MAPPING_START, self.mark())
            self.simple_key_allowed = self.flow_level == 0
        start = self.mark()
        self.skip()
        self.insert_token(-1, _Token(_VALUE, start, self.mark()))

    def fetch_anchor(self, kind: int) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_anchor(kind))

    def fetch_tag(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_tag())

    def fetch_block_scalar(self, literal: bool) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.insert_token(-1, self.scan_block_scalar(literal))

    def fetch_flow_scalar(self, single: bool) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_flow_scalar(single))

    def fetch_plain_scalar(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.insert_token(-1, self.scan_plain_scalar())

    # -- whitespace and comments -------------------------------------------------------

    def scan_to_next_token(self) -> None:
        scan_mark = self.mark()
        buf = self.buf
        while True:
            while buf[self.pos] == " " or (
                buf[self.pos] == "\t" and (self.flow_level > 0 or not self.simple_key_allowed)
            ):
                self.skip()
            # A line comment under a sequence entry that looks more like a header to
            # the following content ("- # c" then "  - data") becomes a head comment.
            if self.comments and len(self.tokens) > 1:
                token_a, token_b = self.tokens[-2], self.tokens[-1]
                comment = self.comments[-1]
                if (
                    token_a.kind == _BLOCK_SEQUENCE_START
                    and token_b.kind == _BLOCK_ENTRY
                    and comment.line
                    and buf[self.pos] not in _BREAK
                ):
                    comment.head = comment.line
                    comment.line = ""
                    if comment.start_mark.line == self.line - 1:
                        comment.token_mark = self.mark()
            if buf[self.pos] == "#":
                self.scan_comments(scan_mark)
            if buf[self.pos] in _BREAK:
                self.skip_line()
                if self.flow_level == 0:
                    self.simple_key_allowed = True
            else:
                return

    def scan_line_comment(self, token_mark: _Mark) -> None:
        if self.newlines > 0:
            return
        buf = self.buf
        peek = 0
        while peek < 512 and buf[self.pos + peek] in _BLANK:
            peek += 1
        if peek >= 512 or buf[self.pos + peek] != "#":
            return
        for _ in range(peek):
            self.skip()
        start_mark = self.mark()
        text: list[str] = []
        end = _LINE_REST.match(buf, self.pos).end()  # type: ignore[union-attr]
        self.read_run(text, end)
        self.comments.append(
            _CommentRecord(_ZERO_MARK, token_mark, start_mark, _ZERO_MARK, line="".join(text))
        )

    def scan_comments(self, scan_mark: _Mark) -> None:
        """Scan a run of comment lines, splitting it into foot and head comments."""
        token = self.tokens[-1]
        if token.kind == _FLOW_ENTRY and len(self.tokens) > 1:
            token = self.tokens[-2]
        token_mark = token.start
        start_mark = _ZERO_MARK
        next_indent = max(self.indent, 0)
        recent_empty = False
        first_empty = self.newlines <= 1
        line = self.line
        column = self.column
        text = ""
        foot_line = -1
        if scan_mark.line > 0:
            foot_line = self.line - self.newlines + 1
            if self.newlines == 0 and self.column > 1:
                foot_line += 1
        buf = self.buf
        peek = 0
        while peek < 512:
            column += 1
            char = buf[self.pos + peek]
            if char in _BLANK:
                peek += 1
                continue
            close_flow = self.flow_level > 0 and char in "]}"
            if close_flow or char in _BREAKZ:
                if close_flow or not recent_empty:
                    if close_flow or (
                        first_empty
                        and (
                            (start_mark.line == foot_line and token.kind != _VALUE)
                            or start_mark.column - 1 < next_indent
                        )
                    ):
                        if text:
                            if start_mark.column - 1 < next_indent:
                                token_mark = start_mark
                            end_mark = _Mark(self.pos + peek, line, column)
                            self.comments.append(
                                _CommentRecord(
                                    scan_mark, token_mark, start_mark, end_mark, foot=text
                                )
                            )
                            scan_mark = token_mark = end_mark
                            text = ""
                    elif text and char != "\0":
                        text += "\n"
                if char not in _BREAK:
                    break
                first_empty = False
                recent_empty = True
                column = 0
                line += 1
                peek += 1
                continue
            if text and (close_flow or (column - 1 < next_indent and column != start_mark.column)):
                end_mark = _Mark(self.pos + peek, line, column)
                self.comments.append(
                    _CommentRecord(scan_mark, token_mark, start_mark, end_mark, foot=text)
                )
                scan_mark = token_mark = end_mark
                text = ""
            if char != "#":
                break
            if not text:
                start_mark = _Mark(self.pos + peek, line, column)
            else:
                text += "\n"
            recent_empty = False
            seen = self.pos + peek
            while self.pos < seen:  # the blank lines and blanks before the '#'
                self.skip_or_break()
            end = _LINE_REST.match(buf, self.pos).end()  # type: ignore[union-attr]
            pieces: list[str] = []
            self.read_run(pieces, end)
            text += "".join(pieces)
            # go-yaml resets peek to 0 and its loop increments it: the line break
            # after the comment is stepped over without being consumed.
            peek = 1
            column = 0
            line = self.line
            next_indent = max(self.indent, 0)
            continue
        if text:
            end_mark = _Mark(self.pos + peek - 1, line, column)
            self.comments.append(
                _CommentRecord(scan_mark, start_mark, start_mark, end_mark, head=text)
            )

    def skip_or_break(self) -> None:
        if self.buf[self.pos] in _BREAK:
            self.skip_line()
        else:
            self.skip()

    # -- directives, anchors, tags -----------------------------------------------------

    def skip_blanks(self) -> None:
        while self.buf[self.pos] in _BLANK:
            self.skip()

    def scan_directive(self) -> _Token:
        start = self.mark()
        self.skip()
        name = self.scan_directive_name(start)
        if name == "YAML":
            major, minor = self.scan_version_directive_value(start)
            token = _Token(_VERSION_DIRECTIVE, start, self.mark())
            token.major, token.minor = major, minor
        elif name == "TAG":
            handle, prefix = self.scan_tag_directive_value(start)
            token = _Token(_TAG_DIRECTIVE, start, self.mark(), handle)
            token.prefix = prefix
        else:
            raise self.error("while scanning a directive", start, "found unknown directive name")
        self.skip_blanks()
        if self.buf[self.pos] == "#":
            while self.buf[self.pos] not in _BREAKZ:
                self.skip()
        if self.buf[self.pos] not in _BREAKZ:
            raise self.error(
                "while scanning a directive", start, "did not find expected comment or line break"
            )
        self.skip_line()
        return token

    def scan_directive_name(self, start: _Mark) -> str:
        out: list[str] = []
        while _is_alpha(self.buf[self.pos]):
            self.read(out)
        if not out:
            raise self.error(
                "while scanning a directive", start, "could not find expected directive name"
            )
        if self.buf[self.pos] not in _BLANKZ:
            raise self.error(
                "while scanning a directive", start, "found unexpected non-alphabetical character"
            )
        return "".join(out)

    def scan_version_directive_value(self, start: _Mark) -> tuple[int, int]:
        self.skip_blanks()
        major = self.scan_version_directive_number(start)
        if self.buf[self.pos] != ".":
            raise self.error(
                "while scanning a %YAML directive",
                start,
                "did not find expected digit or '.' character",
            )
        self.skip()
        return major, self.scan_version_directive_number(start)

    def scan_version_directive_number(self, start: _Mark) -> int:
        value = length = 0
        while self.buf[self.pos].isascii() and self.buf[self.pos].isdigit():
            length += 1
            if length > 2:
                raise self.error(
                    "while scanning a %YAML directive", start, "found extremely long version number"
                )
            value = value * 10 + int(self.buf[self.pos])
            self.skip()
        if length == 0:
            raise self.error(
                "while scanning a %YAML directive", start, "did not find expected version number"
            )
        return value

    def scan_tag_directive_value(self, start: _Mark) -> tuple[str, str]:
        self.skip_blanks()
        handle = self.scan_tag_handle(True, start)
        if self.buf[self.pos] not in _BLANK:
            raise self.error(
                "while scanning a %TAG directive", start, "did not find expected whitespace"
            )
        self.skip_blanks()
        prefix = self.scan_tag_uri(True, "", start)
        if self.buf[self.pos] not in _BLANKZ:
            raise self.error(
                "while scanning a %TAG directive",
                start,
                "did not find expected whitespace or line break",
            )
        return handle, prefix

    def scan_anchor(self, kind: int) -> _Token:
        start = self.mark()
        self.skip()
        out: list[str] = []
        while _is_alpha(self.buf[self.pos]):
            self.read(out)
        end = self.mark()
        if not out or not (self.buf[self.pos] in _BLANKZ or self.buf[self.pos] in "?:,]}%@`"):
            context = "while scanning an anchor" if kind == _ANCHOR else "while scanning an alias"
            raise self.error(
                context, start, "did not find expected alphabetic or numeric character"
            )
        return _Token(kind, start, end, "".join(out))

    def scan_tag(self) -> _Token:
        start = self.mark()
        if self.buf[self.pos + 1] == "<":
            handle = ""
            self.skip()
            self.skip()
            suffix = self.scan_tag_uri(False, "", start)
            if self.buf[self.pos] != ">":
                raise self.error("while scanning a tag", start, "did not find the expected '>'")
            self.skip()
        else:
            handle = self.scan_tag_handle(False, start)
            if len(handle) > 1 and handle[0] == "!" and handle[-1] == "!":
                suffix = self.scan_tag_uri(False, "", start)
            else:
                suffix = self.scan_tag_uri(False, handle, start)
                handle = "!"
                if not suffix:
                    handle, suffix = suffix, handle
        if self.buf[self.pos] not in _BLANKZ:
            raise self.error(
                "while scanning a tag", start, "did not find expected whitespace or line break"
            )
        token = _Token(_TAG, start, self.mark(), handle)
        token.suffix = suffix
        return token

    def scan_tag_handle(self, directive: bool, start: _Mark) -> str:
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        if self.buf[self.pos] != "!":
            raise self.error(context, start, "did not find expected '!'")
        out: list[str] = []
        self.read(out)
        while _is_alpha(self.buf[self.pos]):
            self.read(out)
        if self.buf[self.pos] == "!":
            self.read(out)
        elif directive and out != ["!"]:
            raise self.error(context, start, "did not find expected '!'")
        return "".join(out)

    def scan_tag_uri(self, directive: bool, head: str, start: _Mark) -> str:
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        out: list[str] = [head[1:]] if len(head) > 1 else []
        has_tag = bool(head)
        while _is_alpha(self.buf[self.pos]) or self.buf[self.pos] in _URI_CHARACTERS:
            if self.buf[self.pos] == "%":
                out.append(self.scan_uri_escapes(context, start))
            else:
                self.read(out)
            has_tag = True
        if not has_tag:
            raise self.error(context, start, "did not find expected tag URI")
        return "".join(out)

    def scan_uri_escapes(self, context: str, start: _Mark) -> str:
        octets = bytearray()
        width = 1024
        while width > 0:
            buf, pos = self.buf, self.pos
            if not (buf[pos] == "%" and _is_hex(buf[pos + 1]) and _is_hex(buf[pos + 2])):
                raise self.error(context, start, "did not find URI escaped octet")
            octet = int(buf[pos + 1 : pos + 3], 16)
            if width == 1024:
                width = _utf8_width(octet)
                if width == 0:
                    raise self.error(context, start, "found an incorrect leading UTF-8 octet")
            elif octet & 0xC0 != 0x80:
                raise self.error(context, start, "found an incorrect trailing UTF-8 octet")
            octets.append(octet)
            self.skip()
            self.skip()
            self.skip()
            width -= 1
        return octets.decode("utf-8", "surrogateescape")

    # -- scalars -----------------------------------------------------------------------

    def scan_block_scalar(self, literal: bool) -> _Token:
        start = self.mark()
        self.skip()
        buf = self.buf
        chomping = increment = 0
        if buf[self.pos] in "+-":
            chomping = 1 if buf[self.pos] == "+" else -1
            self.skip()
            if buf[self.pos] in "0123456789":
                if buf[self.pos] == "0":
                    raise self.error(
                        "while scanning a block scalar",
                        start,
                        "found an indentation indicator equal to 0",
                    )
                increment = int(buf[self.pos])
                self.skip()
        elif buf[self.pos] in "0123456789":
            if buf[self.pos] == "0":
                raise self.error(
                    "while scanning a block scalar",
                    start,
                    "found an indentation indicator equal to 0",
                )
            increment = int(buf[self.pos])
            self.skip()
            if buf[self.pos] in "+-":
                chomping = 1 if buf[self.pos] == "+" else -1
                self.skip()
        self.skip_blanks()
        if buf[self.pos] == "#":
            self.scan_line_comment(start)
            while buf[self.pos] not in _BREAKZ:
                self.skip()
        if buf[self.pos] not in _BREAKZ:
            raise self.error(
                "while scanning a block scalar",
                start,
                "did not find expected comment or line break",
            )
        self.skip_line()
        end = self.mark()
        indent = 0
        if increment > 0:
            indent = self.indent + increment if self.indent >= 0 else increment
        out: list[str] = []
        leading_break: list[str] = []
        trailing_breaks: list[str] = []
        indent, end = self.scan_block_scalar_breaks(indent, trailing_breaks, start, end)
        leading_blank = trailing_blank = False
        while self.column == indent and buf[self.pos] != "\0":
            trailing_blank = buf[self.pos] in _BLANK
            if (
                not literal
                and not leading_blank
                and not trailing_blank
                and leading_break[:1] == ["\n"]
            ):
                if not trailing_breaks:
                    out.append(" ")
            else:
                out.extend(leading_break)
            leading_break = []
            out.extend(trailing_breaks)
            trailing_breaks = []
            leading_blank = buf[self.pos] in _BLANK
            line_end = _LINE_REST.match(buf, self.pos).end()  # type: ignore[union-attr]
            if line_end > self.pos:
                self.read_text(out, line_end)
            self.read_line(leading_break)
            indent, end = self.scan_block_scalar_breaks(indent, trailing_breaks, start, end)
        if chomping != -1:
            out.extend(leading_break)
        if chomping == 1:
            out.extend(trailing_breaks)
        return _Token(_SCALAR, start, end, "".join(out), _LITERAL if literal else _FOLDED)

    def read_text(self, out: list[str], end: int) -> None:
        """Read everything up to ``end`` (no line breaks), tracking ``newlines`` as go-yaml."""
        chunk = self.buf[self.pos : end]
        out.append(chunk)
        if chunk.strip(_BLANK):
            self.newlines = 0
        self.column += end - self.pos
        self.pos = end

    def scan_block_scalar_breaks(
        self, indent: int, breaks: list[str], start: _Mark, end: _Mark
    ) -> tuple[int, _Mark]:
        end = self.mark()
        buf = self.buf
        max_indent = 0
        while True:
            while (indent == 0 or self.column < indent) and buf[self.pos] == " ":
                self.skip()
            max_indent = max(max_indent, self.column)
            if (indent == 0 or self.column < indent) and buf[self.pos] == "\t":
                raise self.error(
                    "while scanning a block scalar",
                    start,
                    "found a tab character where an indentation space is expected",
                )
            if buf[self.pos] not in _BREAK:
                break
            self.read_line(breaks)
            end = self.mark()
        if indent == 0:
            indent = max(max_indent, self.indent + 1, 1)
        return indent, end

    def scan_flow_scalar(self, single: bool) -> _Token:
        start = self.mark()
        self.skip()
        buf = self.buf
        run = _SINGLE_RUN if single else _DOUBLE_RUN
        out: list[str] = []
        leading_break: list[str] = []
        trailing_breaks: list[str] = []
        whitespaces: list[str] = []
        while True:
            pos = self.pos
            if self.column == 0 and buf.startswith(("---", "..."), pos) and buf[pos + 3] in _BLANKZ:
                raise self.error(
                    "while scanning a quoted scalar", start, "found unexpected document indicator"
                )
            if buf[pos] == "\0":
                raise self.error(
                    "while scanning a quoted scalar", start, "found unexpected end of stream"
                )
            leading_blanks = False
            while buf[self.pos] not in _BLANKZ:
                pos = self.pos
                char = buf[pos]
                if single and char == "'" and buf[pos + 1] == "'":
                    out.append("'")
                    self.skip()
                    self.skip()
                elif char == ("'" if single else '"'):
                    break
                elif not single and char == "\\" and buf[pos + 1] in _BREAK:
                    self.skip()
                    self.skip_line()
                    leading_blanks = True
                    break
                elif not single and char == "\\":
                    self.scan_escape(out, start)
                else:
                    match = run.match(buf, pos)
                    if match is None:
                        self.read(out)
                    else:
                        self.read_run(out, match.end())
            if buf[self.pos] == ("'" if single else '"'):
                break
            while buf[self.pos] in _BLANK or buf[self.pos] in _BREAK:
                if buf[self.pos] in _BLANK:
                    if not leading_blanks:
                        self.read(whitespaces)
                    else:
                        self.skip()
                elif not leading_blanks:
                    whitespaces = []
                    self.read_line(leading_break)
                    leading_blanks = True
                else:
                    self.read_line(trailing_breaks)
            if leading_blanks:
                if leading_break[:1] == ["\n"]:
                    out.extend(trailing_breaks if trailing_breaks else [" "])
                else:
                    out.extend(leading_break)
                    out.extend(trailing_breaks)
                trailing_breaks = []
                leading_break = []
            else:
                out.extend(whitespaces)
                whitespaces = []
        self.skip()
        return _Token(
            _SCALAR, start, self.mark(), "".join(out), _SINGLE_QUOTED if single else _DOUBLE_QUOTED
        )

    def scan_escape(self, out: list[str], start: _Mark) -> None:
        buf = self.buf
        code = buf[self.pos + 1]
        length = _ESCAPE_LENGTHS.get(code, 0)
        if length == 0:
            if code not in _ESCAPES:
                raise self.error(
                    "while parsing a quoted scalar", start, "found unknown escape character"
                )
            out.append(_ESCAPES[code])
        self.skip()
        self.skip()
        if length:
            digits = buf[self.pos : self.pos + length]
            if len(digits) != length or not all(_is_hex(digit) for digit in digits):
                raise self.error(
                    "while parsing a quoted scalar",
                    start,
                    "did not find expected hexdecimal number",
                )
            value = int(digits, 16)
            if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                raise self.error(
                    "while parsing a quoted scalar",
                    start,
                    "found invalid Unicode character escape code",
                )
            out.append(chr(value))
            for _ in range(length):
                self.skip()

    def scan_plain_scalar(self) -> _Token:
        buf = self.buf
        run = _PLAIN_RUN_FLOW if self.flow_level > 0 else _PLAIN_RUN_BLOCK
        out: list[str] = []
        leading_break: list[str] = []
        trailing_breaks: list[str] = []
        whitespaces: list[str] = []
        leading_blanks = False
        indent = self.indent + 1
        start = end = self.mark()
        while True:
            pos = self.pos
            if self.column == 0 and buf.startswith(("---", "..."), pos) and buf[pos + 3] in _BLANKZ:
                break
            if buf[pos] == "#":
                break
            match = run.match(buf, pos)
            if match is not None:
                if leading_blanks or whitespaces:
                    if leading_blanks:
                        if leading_break[0] == "\n":
                            out.extend(trailing_breaks if trailing_breaks else [" "])
                        else:
                            out.extend(leading_break)
                            out.extend(trailing_breaks)
                        trailing_breaks = []
                        leading_break = []
                        leading_blanks = False
                    else:
                        out.extend(whitespaces)
                        whitespaces = []
                self.read_run(out, match.end())
                end = self.mark()
            if not (buf[self.pos] in _BLANK or buf[self.pos] in _BREAK):
                break
            while buf[self.pos] in _BLANK or buf[self.pos] in _BREAK:
                if buf[self.pos] in _BLANK:
                    if leading_blanks and self.column < indent and buf[self.pos] == "\t":
                        raise self.error(
                            "while scanning a plain scalar",
                            start,
                            "found a tab character that violates indentation",
                        )
                    if not leading_blanks:
                        self.read(whitespaces)
                    else:
                        self.skip()
                elif not leading_blanks:
                    whitespaces = []
                    self.read_line(leading_break)
                    leading_blanks = True
                else:
                    self.read_line(trailing_breaks)
            if self.flow_level == 0 and self.column < indent:
                break
        if leading_blanks:
            self.simple_key_allowed = True
        return _Token(_SCALAR, start, end, "".join(out), _PLAIN)


def _utf8_width(octet: int) -> int:
    if octet & 0x80 == 0x00:
        return 1
    if octet & 0xE0 == 0xC0:
        return 2
    if octet & 0xF0 == 0xE0:
        return 3
    if octet & 0xF8 == 0xF0:
        return 4
    return 0


# --------------------------------------------------------------------------------------
# Parser: a port of go-yaml v3.0.4 parserc.go (tokens to events, comments attached)
# --------------------------------------------------------------------------------------

(
    _EV_STREAM_START,
    _EV_STREAM_END,
    _EV_DOCUMENT_START,
    _EV_DOCUMENT_END,
    _EV_ALIAS,
    _EV_SCALAR,
    _EV_SEQUENCE_START,
    _EV_SEQUENCE_END,
    _EV_MAPPING_START,
    _EV_MAPPING_END,
) = range(10)

_FLOW_STYLE: Final = 1  # sequence/mapping style flag on events
_DEFAULT_TAG_DIRECTIVES: Final = (("!", "!"), ("!!", "tag:yaml.org,2002:"))


@dataclass(slots=True)
class _Event:
    kind: int
    start: _Mark
    end: _Mark = _ZERO_MARK
    anchor: str = ""
    tag: str = ""
    value: str = ""
    implicit: bool = False
    quoted_implicit: bool = False
    style: int = _ANY
    head_comment: str = ""
    line_comment: str = ""
    foot_comment: str = ""
    tail_comment: str = ""


(
    _ST_STREAM_START,
    _ST_IMPLICIT_DOCUMENT_START,
    _ST_DOCUMENT_START,
    _ST_DOCUMENT_CONTENT,
    _ST_DOCUMENT_END,
    _ST_BLOCK_NODE,
    _ST_BLOCK_NODE_OR_INDENTLESS_SEQUENCE,
    _ST_FLOW_NODE,
    _ST_BLOCK_SEQUENCE_FIRST_ENTRY,
    _ST_BLOCK_SEQUENCE_ENTRY,
    _ST_INDENTLESS_SEQUENCE_ENTRY,
    _ST_BLOCK_MAPPING_FIRST_KEY,
    _ST_BLOCK_MAPPING_KEY,
    _ST_BLOCK_MAPPING_VALUE,
    _ST_FLOW_SEQUENCE_FIRST_ENTRY,
    _ST_FLOW_SEQUENCE_ENTRY,
    _ST_FLOW_SEQUENCE_ENTRY_MAPPING_KEY,
    _ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE,
    _ST_FLOW_SEQUENCE_ENTRY_MAPPING_END,
    _ST_FLOW_MAPPING_FIRST_KEY,
    _ST_FLOW_MAPPING_KEY,
    _ST_FLOW_MAPPING_VALUE,
    _ST_FLOW_MAPPING_EMPTY_VALUE,
    _ST_END,
) = range(24)


class _Parser:
    """Turns tokens into events, moving the scanner's comments onto them."""

    def __init__(self, text: str) -> None:
        self.scanner = _Scanner(text)
        self.state = _ST_STREAM_START
        self.states: list[int] = []
        self.marks: list[_Mark] = []
        self.tag_directives: list[tuple[str, str]] = []
        self.head_comment = ""
        self.line_comment = ""
        self.foot_comment = ""
        self.stem_comment = ""
        self.done = False

    def events(self) -> Iterator[_Event]:
        while not self.done:
            yield self.parse()

    # -- tokens and comments -----------------------------------------------------------

    def peek_token(self) -> _Token:
        token = self.scanner.next_token()
        self.unfold_comments(token)
        return token

    def skip_token(self) -> None:
        self.scanner.consume_token()

    def unfold_comments(self, token: _Token) -> None:
        """Join the queued comments that precede ``token`` into the pending comments."""
        scanner = self.scanner
        comments = scanner.comments
        while (
            scanner.comments_head < len(comments)
            and token.start.offset >= comments[scanner.comments_head].token_mark.offset
        ):
            comment = comments[scanner.comments_head]
            if comment.head:
                if token.kind == _BLOCK_END:
                    break  # no heads on ends: keep it for a follow-up token
                self.head_comment = _join_comment(self.head_comment, comment.head)
            if comment.foot:
                self.foot_comment = _join_comment(self.foot_comment, comment.foot)
            if comment.line:
                self.line_comment = _join_comment(self.line_comment, comment.line)
            comment.clear()
            scanner.comments_head += 1

    def take_comments(self, event: _Event) -> _Event:
        event.head_comment = self.head_comment
        event.line_comment = self.line_comment
        event.foot_comment = self.foot_comment
        self.head_comment = self.line_comment = self.foot_comment = self.stem_comment = ""
        return event

    def error(self, problem: str, mark: _Mark, context: str = "") -> _YamlSyntaxError:
        return _YamlSyntaxError(problem, mark, context)

    def pop_state(self) -> None:
        self.state = self.states.pop()

    # -- the state machine -------------------------------------------------------------

    def parse(self) -> _Event:
        state = self.state
        if state == _ST_STREAM_START:
            return self.parse_stream_start()
        if state in (_ST_IMPLICIT_DOCUMENT_START, _ST_DOCUMENT_START):
            return self.parse_document_start(implicit=state == _ST_IMPLICIT_DOCUMENT_START)
        if state == _ST_DOCUMENT_CONTENT:
            return self.parse_document_content()
        if state == _ST_DOCUMENT_END:
            return self.parse_document_end()
        if state == _ST_BLOCK_NODE:
            return self.parse_node(block=True, indentless_sequence=False)
        if state == _ST_BLOCK_NODE_OR_INDENTLESS_SEQUENCE:
            return self.parse_node(block=True, indentless_sequence=True)
        if state == _ST_FLOW_NODE:
            return self.parse_node(block=False, indentless_sequence=False)
        if state in (_ST_BLOCK_SEQUENCE_FIRST_ENTRY, _ST_BLOCK_SEQUENCE_ENTRY):
            return self.parse_block_sequence_entry(first=state == _ST_BLOCK_SEQUENCE_FIRST_ENTRY)
        if state == _ST_INDENTLESS_SEQUENCE_ENTRY:
            return self.parse_indentless_sequence_entry()
        if state in (_ST_BLOCK_MAPPING_FIRST_KEY, _ST_BLOCK_MAPPING_KEY):
            return self.parse_block_mapping_key(first=state == _ST_BLOCK_MAPPING_FIRST_KEY)
        if state == _ST_BLOCK_MAPPING_VALUE:
            return self.parse_block_mapping_value()
        if state in (_ST_FLOW_SEQUENCE_FIRST_ENTRY, _ST_FLOW_SEQUENCE_ENTRY):
            return self.parse_flow_sequence_entry(first=state == _ST_FLOW_SEQUENCE_FIRST_ENTRY)
        if state == _ST_FLOW_SEQUENCE_ENTRY_MAPPING_KEY:
            return self.parse_flow_sequence_entry_mapping_key()
        if state == _ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE:
            return self.parse_flow_sequence_entry_mapping_value()
        if state == _ST_FLOW_SEQUENCE_ENTRY_MAPPING_END:
            return self.parse_flow_sequence_entry_mapping_end()
        if state in (_ST_FLOW_MAPPING_FIRST_KEY, _ST_FLOW_MAPPING_KEY):
            return self.parse_flow_mapping_key(first=state == _ST_FLOW_MAPPING_FIRST_KEY)
        if state in (_ST_FLOW_MAPPING_VALUE, _ST_FLOW_MAPPING_EMPTY_VALUE):
            return self.parse_flow_mapping_value(empty=state == _ST_FLOW_MAPPING_EMPTY_VALUE)
        raise AssertionError("the parser is past the end of the stream")

    def parse_stream_start(self) -> _Event:
        token = self.peek_token()
        self.state = _ST_IMPLICIT_DOCUMENT_START
        self.skip_token()
        return _Event(_EV_STREAM_START, token.start, token.end)

    def parse_document_start(self, implicit: bool) -> _Event:
        token = self.peek_token()
        if not implicit:
            while token.kind == _DOCUMENT_END:
                self.skip_token()
                token = self.peek_token()
        if implicit and token.kind not in (
            _VERSION_DIRECTIVE, _TAG_DIRECTIVE, _DOCUMENT_START, _STREAM_END
        ):  # fmt: skip
            self.process_directives()
            self.states.append(_ST_DOCUMENT_END)
            self.state = _ST_BLOCK_NODE
            return _Event(
                _EV_DOCUMENT_START, token.start, token.end, head_comment=self.split_document_head()
            )
        if token.kind != _STREAM_END:
            start = token.start
            self.process_directives()
            token = self.peek_token()
            if token.kind != _DOCUMENT_START:
                raise self.error("did not find expected <document start>", token.start)
            self.states.append(_ST_DOCUMENT_END)
            self.state = _ST_DOCUMENT_CONTENT
            end = token.end
            self.skip_token()
            return _Event(_EV_DOCUMENT_START, start, end)
        self.state = _ST_END
        self.done = True
        self.skip_token()
        return _Event(_EV_STREAM_END, token.start, token.end)

    def split_document_head(self) -> str:
        """The comments before an implicit document that are separated from it by a blank line."""
        head = self.head_comment
        for i in range(len(head) - 1, 0, -1):
            if head[i] == "\n":
                if i == len(head) - 1:
                    self.head_comment = head[i + 1 :]
                    return head[:i]
                if head[i - 1] == "\n":
                    self.head_comment = head[i + 1 :]
                    return head[: i - 1]
        return ""

    def parse_document_content(self) -> _Event:
        token = self.peek_token()
        if token.kind in (
            _VERSION_DIRECTIVE, _TAG_DIRECTIVE, _DOCUMENT_START, _DOCUMENT_END, _STREAM_END
        ):  # fmt: skip
            self.pop_state()
            return self.empty_scalar(token.start)
        return self.parse_node(block=True, indentless_sequence=False)

    def parse_document_end(self) -> _Event:
        token = self.peek_token()
        start = end = token.start
        if token.kind == _DOCUMENT_END:
            end = token.end
            self.skip_token()
        self.tag_directives = []
        self.state = _ST_DOCUMENT_START
        event = self.take_comments(_Event(_EV_DOCUMENT_END, start, end))
        if event.head_comment and not event.foot_comment:
            event.foot_comment = event.head_comment
            event.head_comment = ""
        return event

    def parse_node(self, block: bool, indentless_sequence: bool) -> _Event:
        token = self.peek_token()
        if token.kind == _ALIAS:
            self.pop_state()
            event = self.take_comments(
                _Event(_EV_ALIAS, token.start, token.end, anchor=token.value)
            )
            self.skip_token()
            return event
        start = end = token.start
        anchor = ""
        tag_handle = tag_suffix = ""
        tag_token = False
        tag_mark = start
        if token.kind == _ANCHOR:
            anchor, end = token.value, token.end
            self.skip_token()
            token = self.peek_token()
            if token.kind == _TAG:
                tag_token = True
                tag_handle, tag_suffix, tag_mark, end = (
                    token.value,
                    token.suffix,
                    token.start,
                    token.end,
                )
                self.skip_token()
                token = self.peek_token()
        elif token.kind == _TAG:
            tag_token = True
            tag_handle, tag_suffix, tag_mark, end = (
                token.value,
                token.suffix,
                token.start,
                token.end,
            )
            self.skip_token()
            token = self.peek_token()
            if token.kind == _ANCHOR:
                anchor, end = token.value, token.end
                self.skip_token()
                token = self.peek_token()
        tag = ""
        if tag_token:
            if not tag_handle:
                tag = tag_suffix
            else:
                prefix = next((p for h, p in self.tag_directives if h == tag_handle), None)
                if prefix is None:
                    raise self.error("found undefined tag handle", tag_mark, "while parsing a node")
                tag = prefix + tag_suffix
        implicit = not tag
        if indentless_sequence and token.kind == _BLOCK_ENTRY:
            self.state = _ST_INDENTLESS_SEQUENCE_ENTRY
            return _Event(_EV_SEQUENCE_START, start, token.end, anchor, tag, implicit=implicit)
        if token.kind == _SCALAR:
            plain_implicit = quoted_implicit = False
            if (not tag and token.style == _PLAIN) or tag == "!":
                plain_implicit = True
            elif not tag:
                quoted_implicit = True
            self.pop_state()
            event = self.take_comments(
                _Event(
                    _EV_SCALAR,
                    start,
                    token.end,
                    anchor,
                    tag,
                    token.value,
                    plain_implicit,
                    quoted_implicit,
                    token.style,
                )
            )
            self.skip_token()
            return event
        if token.kind == _FLOW_SEQUENCE_START:
            self.state = _ST_FLOW_SEQUENCE_FIRST_ENTRY
            return self.take_comments(
                _Event(
                    _EV_SEQUENCE_START,
                    start,
                    token.end,
                    anchor,
                    tag,
                    implicit=implicit,
                    style=_FLOW_STYLE,
                )
            )
        if token.kind == _FLOW_MAPPING_START:
            self.state = _ST_FLOW_MAPPING_FIRST_KEY
            return self.take_comments(
                _Event(
                    _EV_MAPPING_START,
                    start,
                    token.end,
                    anchor,
                    tag,
                    implicit=implicit,
                    style=_FLOW_STYLE,
                )
            )
        if block and token.kind in (_BLOCK_SEQUENCE_START, _BLOCK_MAPPING_START):
            sequence = token.kind == _BLOCK_SEQUENCE_START
            self.state = _ST_BLOCK_SEQUENCE_FIRST_ENTRY if sequence else _ST_BLOCK_MAPPING_FIRST_KEY
            event = _Event(
                _EV_SEQUENCE_START if sequence else _EV_MAPPING_START,
                start, token.end, anchor, tag, implicit=implicit,
            )  # fmt: skip
            if self.stem_comment:
                event.head_comment = self.stem_comment
                self.stem_comment = ""
            return event
        if anchor or tag:
            self.pop_state()
            return _Event(_EV_SCALAR, start, end, anchor, tag, implicit=implicit, style=_PLAIN)
        context = "while parsing a block node" if block else "while parsing a flow node"
        raise self.error("did not find expected node content", token.start, context)

    def parse_block_sequence_entry(self, first: bool) -> _Event:
        if first:
            token = self.peek_token()
            self.marks.append(token.start)
            self.skip_token()
        token = self.peek_token()
        if token.kind == _BLOCK_ENTRY:
            mark = token.end
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            token = self.peek_token()
            if token.kind not in (_BLOCK_ENTRY, _BLOCK_END):
                self.states.append(_ST_BLOCK_SEQUENCE_ENTRY)
                return self.parse_node(block=True, indentless_sequence=False)
            self.state = _ST_BLOCK_SEQUENCE_ENTRY
            return self.empty_scalar(mark)
        if token.kind == _BLOCK_END:
            self.pop_state()
            self.marks.pop()
            event = _Event(_EV_SEQUENCE_END, token.start, token.end)
            self.skip_token()
            return event
        raise self.error(
            "did not find expected '-' indicator", token.start, "while parsing a block collection"
        )

    def parse_indentless_sequence_entry(self) -> _Event:
        token = self.peek_token()
        if token.kind == _BLOCK_ENTRY:
            mark = token.end
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            token = self.peek_token()
            if token.kind not in (_BLOCK_ENTRY, _KEY, _VALUE, _BLOCK_END):
                self.states.append(_ST_INDENTLESS_SEQUENCE_ENTRY)
                return self.parse_node(block=True, indentless_sequence=False)
            self.state = _ST_INDENTLESS_SEQUENCE_ENTRY
            return self.empty_scalar(mark)
        self.pop_state()
        return _Event(_EV_SEQUENCE_END, token.start, token.start)

    def split_stem_comment(self, stem_len: int) -> None:
        """A collection under a sequence entry: the prior head comment becomes its stem."""
        if stem_len == 0:
            return
        token = self.peek_token()
        if token.kind not in (_BLOCK_SEQUENCE_START, _BLOCK_MAPPING_START):
            return
        self.stem_comment = self.head_comment[:stem_len]
        self.head_comment = self.head_comment[stem_len + 1 :]

    def parse_block_mapping_key(self, first: bool) -> _Event:
        if first:
            token = self.peek_token()
            self.marks.append(token.start)
            self.skip_token()
        token = self.peek_token()
        if token.kind == _KEY:
            mark = token.end
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (_KEY, _VALUE, _BLOCK_END):
                self.states.append(_ST_BLOCK_MAPPING_VALUE)
                return self.parse_node(block=True, indentless_sequence=True)
            self.state = _ST_BLOCK_MAPPING_VALUE
            return self.empty_scalar(mark)
        if token.kind == _BLOCK_END:
            self.pop_state()
            self.marks.pop()
            event = self.take_comments(_Event(_EV_MAPPING_END, token.start, token.end))
            self.skip_token()
            return event
        raise self.error("did not find expected key", token.start, "while parsing a block mapping")

    def parse_block_mapping_value(self) -> _Event:
        token = self.peek_token()
        if token.kind == _VALUE:
            mark = token.end
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (_KEY, _VALUE, _BLOCK_END):
                self.states.append(_ST_BLOCK_MAPPING_KEY)
                return self.parse_node(block=True, indentless_sequence=True)
            self.state = _ST_BLOCK_MAPPING_KEY
            return self.empty_scalar(mark)
        self.state = _ST_BLOCK_MAPPING_KEY
        return self.empty_scalar(token.start)

    def parse_flow_sequence_entry(self, first: bool) -> _Event:
        if first:
            token = self.peek_token()
            self.marks.append(token.start)
            self.skip_token()
        token = self.peek_token()
        if token.kind != _FLOW_SEQUENCE_END:
            if not first:
                if token.kind != _FLOW_ENTRY:
                    raise self.error(
                        "did not find expected ',' or ']'",
                        token.start,
                        "while parsing a flow sequence",
                    )
                self.skip_token()
                token = self.peek_token()
            if token.kind == _KEY:
                self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_KEY
                event = _Event(
                    _EV_MAPPING_START, token.start, token.end, implicit=True, style=_FLOW_STYLE
                )
                self.skip_token()
                return event
            if token.kind != _FLOW_SEQUENCE_END:
                self.states.append(_ST_FLOW_SEQUENCE_ENTRY)
                return self.parse_node(block=False, indentless_sequence=False)
        self.pop_state()
        self.marks.pop()
        event = self.take_comments(_Event(_EV_SEQUENCE_END, token.start, token.end))
        self.skip_token()
        return event

    def parse_flow_sequence_entry_mapping_key(self) -> _Event:
        token = self.peek_token()
        if token.kind not in (_VALUE, _FLOW_ENTRY, _FLOW_SEQUENCE_END):
            self.states.append(_ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE)
            return self.parse_node(block=False, indentless_sequence=False)
        mark = token.end
        self.skip_token()
        self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE
        return self.empty_scalar(mark)

    def parse_flow_sequence_entry_mapping_value(self) -> _Event:
        token = self.peek_token()
        if token.kind == _VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (_FLOW_ENTRY, _FLOW_SEQUENCE_END):
                self.states.append(_ST_FLOW_SEQUENCE_ENTRY_MAPPING_END)
                return self.parse_node(block=False, indentless_sequence=False)
        self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_END
        return self.empty_scalar(token.start)

    def parse_flow_sequence_entry_mapping_end(self) -> _Event:
        token = self.peek_token()
        self.state = _ST_FLOW_SEQUENCE_ENTRY
        return _Event(_EV_MAPPING_END, token.start, token.start)

    def parse_flow_mapping_key(self, first: bool) -> _Event:
        if first:
            token = self.peek_token()
            self.marks.append(token.start)
            self.skip_token()
        token = self.peek_token()
        if token.kind != _FLOW_MAPPING_END:
            if not first:
                if token.kind != _FLOW_ENTRY:
                    raise self.error(
                        "did not find expected ',' or '}'",
                        token.start,
                        "while parsing a flow mapping",
                    )
                self.skip_token()
                token = self.peek_token()
            if token.kind == _KEY:
                self.skip_token()
                token = self.peek_token()
                if token.kind not in (_VALUE, _FLOW_ENTRY, _FLOW_MAPPING_END):
                    self.states.append(_ST_FLOW_MAPPING_VALUE)
                    return self.parse_node(block=False, indentless_sequence=False)
                self.state = _ST_FLOW_MAPPING_VALUE
                return self.empty_scalar(token.start)
            if token.kind != _FLOW_MAPPING_END:
                self.states.append(_ST_FLOW_MAPPING_EMPTY_VALUE)
                return self.parse_node(block=False, indentless_sequence=False)
        self.pop_state()
        self.marks.pop()
        event = self.take_comments(_Event(_EV_MAPPING_END, token.start, token.end))
        self.skip_token()
        return event

    def parse_flow_mapping_value(self, empty: bool) -> _Event:
        token = self.peek_token()
        if empty:
            self.state = _ST_FLOW_MAPPING_KEY
            return self.empty_scalar(token.start)
        if token.kind == _VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (_FLOW_ENTRY, _FLOW_MAPPING_END):
                self.states.append(_ST_FLOW_MAPPING_KEY)
                return self.parse_node(block=False, indentless_sequence=False)
        self.state = _ST_FLOW_MAPPING_KEY
        return self.empty_scalar(token.start)

    def empty_scalar(self, mark: _Mark) -> _Event:
        return _Event(_EV_SCALAR, mark, mark, implicit=True, style=_PLAIN)

    def process_directives(self) -> None:
        token = self.peek_token()
        seen_version = False
        while token.kind in (_VERSION_DIRECTIVE, _TAG_DIRECTIVE):
            if token.kind == _VERSION_DIRECTIVE:
                if seen_version:
                    raise self.error("found duplicate %YAML directive", token.start)
                if token.major != 1 or token.minor != 1:
                    raise self.error("found incompatible YAML document", token.start)
                seen_version = True
            else:
                if any(handle == token.value for handle, _ in self.tag_directives):
                    raise self.error("found duplicate %TAG directive", token.start)
                self.tag_directives.append((token.value, token.prefix))
            self.skip_token()
            token = self.peek_token()
        for handle, prefix in _DEFAULT_TAG_DIRECTIVES:
            if not any(existing == handle for existing, _ in self.tag_directives):
                self.tag_directives.append((handle, prefix))


def _join_comment(pending: str, comment: str) -> str:
    return f"{pending}\n{comment}" if pending else comment


# --------------------------------------------------------------------------------------
# Composer: events to nodes, as go-yaml's decode.go parser does it
# --------------------------------------------------------------------------------------

(
    _DOCUMENT_NODE,
    _SEQUENCE_NODE,
    _MAPPING_NODE,
    _SCALAR_NODE,
    _ALIAS_NODE,
) = range(1, 6)

_TAGGED, _DOUBLE_QUOTED_STYLE, _SINGLE_QUOTED_STYLE, _LITERAL_STYLE, _FOLDED_STYLE, _FLOW = (
    1 << bit for bit in range(6)
)
_QUOTED_STYLES: Final = _DOUBLE_QUOTED_STYLE | _SINGLE_QUOTED_STYLE | _LITERAL_STYLE | _FOLDED_STYLE
_NODE_STYLE_OF: Final = {
    _DOUBLE_QUOTED: _DOUBLE_QUOTED_STYLE,
    _SINGLE_QUOTED: _SINGLE_QUOTED_STYLE,
    _LITERAL: _LITERAL_STYLE,
    _FOLDED: _FOLDED_STYLE,
}
_LONG_TAG_PREFIX: Final = "tag:yaml.org,2002:"


@dataclass(slots=True, eq=False)
class _YamlNode:
    """go-yaml's Node, reduced to what sops reads."""

    kind: int
    tag: str = ""
    value: str = ""
    style: int = 0
    line: int = 0
    column: int = 0
    head_comment: str = ""
    line_comment: str = ""
    foot_comment: str = ""
    alias: _YamlNode | None = None
    content: list[_YamlNode] = field(default_factory=list)


def _node_tag(node: _YamlNode) -> str:
    """The node's tag; plain untagged scalars are resolved only when asked (it is costly)."""
    if node.tag or node.kind != _SCALAR_NODE:
        return node.tag
    return _resolve_tag(node.value)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_LONG_TAG_PREFIX) :] if tag.startswith(_LONG_TAG_PREFIX) else tag


class _Composer:
    """Builds one node tree per document from an event stream."""

    def __init__(self, events: Iterator[_Event]) -> None:
        self.events = events
        self.event: _Event | None = None
        self.anchors: dict[str, _YamlNode] = {}
        self.expect(_EV_STREAM_START)

    def peek(self) -> _Event:
        if self.event is None:
            self.event = next(self.events)
        return self.event

    def expect(self, kind: int) -> _Event:
        event = self.peek()
        if event.kind != kind:  # go-yaml panics here; the parser never lets it happen
            raise _YamlSyntaxError("did not find the expected YAML structure", event.start)
        self.event = None
        return event

    def documents(self) -> Iterator[_YamlNode]:
        while self.peek().kind == _EV_DOCUMENT_START:
            yield self.document()

    def node(self, kind: int, default_tag: str, tag: str, value: str) -> _YamlNode:
        event = self.peek()
        style = 0
        if tag and tag != "!":
            tag = _short_tag(tag)
            style = _TAGGED
        elif default_tag:
            tag = default_tag
        return _YamlNode(
            kind, tag, value, style, event.start.line + 1, event.start.column + 1,
            event.head_comment, event.line_comment, event.foot_comment,
        )  # fmt: skip

    def parse(self) -> _YamlNode:
        kind = self.peek().kind
        if kind == _EV_SCALAR:
            return self.scalar()
        if kind == _EV_ALIAS:
            return self.alias()
        if kind == _EV_MAPPING_START:
            return self.mapping()
        if kind == _EV_SEQUENCE_START:
            return self.sequence()
        raise _YamlSyntaxError("did not find the expected YAML structure", self.peek().start)

    def document(self) -> _YamlNode:
        node = self.node(_DOCUMENT_NODE, "", "", "")
        self.expect(_EV_DOCUMENT_START)
        node.content.append(self.parse())
        node.foot_comment = self.expect(_EV_DOCUMENT_END).foot_comment
        return node

    def anchor(self, node: _YamlNode, anchor: str) -> None:
        if anchor:
            self.anchors[anchor] = node

    def alias(self) -> _YamlNode:
        event = self.peek()
        node = self.node(_ALIAS_NODE, "", "", event.anchor)
        node.alias = self.anchors.get(event.anchor)
        if node.alias is None:
            raise _YamlSyntaxError("an alias refers to an unknown anchor", event.start)
        self.expect(_EV_ALIAS)
        return node

    def scalar(self) -> _YamlNode:
        event = self.peek()
        node_style = _NODE_STYLE_OF.get(event.style, 0)
        default_tag = ""
        if node_style:
            default_tag = "!!str"
        elif event.value == "<<":
            default_tag = "!!merge"
        node = self.node(_SCALAR_NODE, default_tag, event.tag, event.value)
        node.style |= node_style
        self.anchor(node, event.anchor)
        self.expect(_EV_SCALAR)
        return node

    def sequence(self) -> _YamlNode:
        event = self.peek()
        node = self.node(_SEQUENCE_NODE, "!!seq", event.tag, "")
        if event.style == _FLOW_STYLE:
            node.style |= _FLOW
        self.anchor(node, event.anchor)
        self.expect(_EV_SEQUENCE_START)
        while self.peek().kind != _EV_SEQUENCE_END:
            node.content.append(self.parse())
        end = self.expect(_EV_SEQUENCE_END)
        node.line_comment = end.line_comment
        node.foot_comment = end.foot_comment
        return node

    def mapping(self) -> _YamlNode:
        event = self.peek()
        node = self.node(_MAPPING_NODE, "!!map", event.tag, "")
        block = event.style != _FLOW_STYLE
        if not block:
            node.style |= _FLOW
        self.anchor(node, event.anchor)
        self.expect(_EV_MAPPING_START)
        content = node.content
        while self.peek().kind != _EV_MAPPING_END:
            key = self.parse()
            content.append(key)
            if block and key.foot_comment and len(content) > 2:
                # must be a foot comment for the prior value when being dedented
                content[-3].foot_comment = key.foot_comment
                key.foot_comment = ""
            value = self.parse()
            content.append(value)
            if not key.foot_comment and value.foot_comment:
                key.foot_comment = value.foot_comment
                value.foot_comment = ""
        end = self.expect(_EV_MAPPING_END)
        node.line_comment = end.line_comment
        node.foot_comment = end.foot_comment
        if block and node.foot_comment and len(content) > 1:
            content[-2].foot_comment = node.foot_comment
            node.foot_comment = ""
        return node


# --------------------------------------------------------------------------------------
# Scalars: go-yaml's resolver and Go's number and time syntax
# --------------------------------------------------------------------------------------


class _ResolveError(Exception):
    """A tagged scalar does not fit its tag (``!!int 1.5``); the message names no value."""


_HINTS: Final = {
    **dict.fromkeys("+-", "S"),
    **dict.fromkeys("0123456789", "D"),
    **dict.fromkeys("yYnNtTfFoO~", "M"),
    ".": ".",
}
_RESOLVE_MAP: Final[dict[str, tuple[str, object]]] = {
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
_OLD_BOOLS: Final = frozenset(
    (
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "on",
        "On",
        "ON",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "off",
        "Off",
        "OFF",
    )
)
_BASE60_FLOAT: Final = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")


class _BigInt(int):
    """An integer above int64 that Go would hold as uint64 (sops cannot encrypt it)."""


def _resolve_tag(text: str) -> str:
    return _resolve("", text)[0]


def _resolve(tag: str, text: str) -> tuple[str, object]:
    """go-yaml's ``resolve``: the tag and value of a scalar's text under ``tag``."""
    if tag:
        tag = _short_tag(tag)
    if tag not in _RESOLVABLE_TAGS:
        return tag, text
    resolved_tag, value = _resolve_plain(tag, text)
    if tag in ("", resolved_tag, "!!str"):
        return resolved_tag, value
    if tag == "!!float" and resolved_tag == "!!int":
        return "!!float", float(value)  # type: ignore[arg-type]
    raise _ResolveError(f"cannot decode a {resolved_tag} value as a {tag}")


def _resolve_plain(tag: str, text: str) -> tuple[str, object]:
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
        return _BigInt(value)
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


def _format_go_float(number: float) -> str:
    """Go's ``strconv.FormatFloat(number, 'g', -1, 64)`` as go-yaml writes floats."""
    if math.isnan(number):
        return ".nan"
    if math.isinf(number):
        return ".inf" if number > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    # repr gives the shortest digits that round-trip, as Go's shortest formatting does.
    mantissa, _, exponent_text = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    significant = all_digits.lstrip("0")
    point = len(whole) + int(exponent_text or 0) - (len(all_digits) - len(significant))
    digits = significant.rstrip("0")
    if not digits:
        return sign + "0"
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        rest = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{rest}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


# --------------------------------------------------------------------------------------
# From go-yaml nodes to the sops tree, as sops' stores/yaml/store.go flattens them
# --------------------------------------------------------------------------------------

_ALIAS_RATIO_LOW: Final = 400_000
_ALIAS_RATIO_HIGH: Final = 4_000_000


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's guard against alias bombs ("billion laughs")."""
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / span


def _format_error(problem: str, line: int, fix: str) -> FormatError:
    return FormatError(f"invalid YAML at line {line}: {problem}", fix)


class _TreeBuilder:
    """Flattens a document node into a :class:`Branch`, expanding aliases like sops.

    Comments become :class:`Comment` entries of the branch or sequence that sops
    puts them in; aliases are expanded (comments included, as sops does) with
    go-yaml's limit on the share of nodes that come from aliases.
    """

    def __init__(self) -> None:
        self.decoded = 0
        self.from_aliases = 0
        self.alias_depth = 0
        self.expanding: set[int] = set()

    def count(self, node: _YamlNode) -> None:
        self.decoded += 1
        if self.alias_depth:
            self.from_aliases += 1
            if (
                self.from_aliases > 100
                and self.decoded > 1000
                and self.from_aliases / self.decoded > _allowed_alias_ratio(self.decoded)
            ):
                raise _format_error(
                    "the document contains excessive aliasing (an alias bomb?)",
                    node.line,
                    "expand the anchors and aliases by hand",
                )

    def document(self, node: _YamlNode) -> Branch:
        return self.append_to_branch(node, Branch(), comments_handled=False)

    def enter_alias(self, node: _YamlNode) -> _YamlNode:
        target = node.alias
        if target is None or id(node) in self.expanding:
            raise _format_error(
                "an alias refers to a node that contains it",
                node.line,
                "remove the recursive alias",
            )
        self.expanding.add(id(node))
        self.alias_depth += 1
        return target

    def leave_alias(self, node: _YamlNode) -> None:
        self.alias_depth -= 1
        self.expanding.discard(id(node))

    def append_to_branch(self, node: _YamlNode, branch: Branch, comments_handled: bool) -> Branch:
        self.count(node)
        if not comments_handled:
            _append_comments(branch, node.head_comment)
            _append_comments(branch, node.line_comment)
        kind = node.kind
        if kind == _DOCUMENT_NODE:
            for child in node.content:
                self.append_to_branch(child, branch, comments_handled=False)
        elif kind == _MAPPING_NODE:
            self.append_mapping(node, branch)
        elif kind == _SEQUENCE_NODE:
            raise FormatError(
                "the YAML document is a list; sops files must be a mapping at the top level",
                "put the list under a key, e.g. `items:`",
            )
        elif kind == _SCALAR_NODE:
            if _node_tag(node) != "!!null":  # an empty document ("---" alone) is an empty branch
                raise FormatError(
                    "the YAML document is a single value; sops files must be a mapping "
                    "at the top level",
                    "put the value under a key, e.g. `value: ...`",
                )
        else:
            self.append_to_branch(self.enter_alias(node), branch, comments_handled=False)
            self.leave_alias(node)
        if not comments_handled:
            _append_comments(branch, node.foot_comment)
        return branch

    def append_mapping(self, node: _YamlNode, branch: Branch) -> None:
        content = node.content
        seen: dict[tuple[int, str], int] = {}
        for index in range(0, len(content), 2):
            key, value = content[index], content[index + 1]
            _append_comments(branch, key.head_comment)
            _append_comments(branch, key.line_comment)
            scalar_value = value.kind in (_SCALAR_NODE, _ALIAS_NODE)
            if scalar_value:
                _append_comments(branch, value.head_comment)
                _append_comments(branch, value.line_comment)
            if key.kind == _SCALAR_NODE and key.tag == "!!merge" and not _is_merge_value(value):
                raise _format_error(
                    "a merge key (<<) needs a mapping or a list of mappings",
                    key.line,
                    "point `<<` at a mapping anchor, or quote the key",
                )
            key_text = self.key_text(key)
            identity = (key.kind, key.value)
            if identity in seen:
                raise _format_error(
                    f"mapping key {key_text!r} already defined at line {seen[identity]}",
                    key.line,
                    "remove or rename one of the two keys",
                )
            seen[identity] = key.line
            branch.append((key_text, self.value(value, comments_handled=scalar_value)))
            if scalar_value:
                _append_comments(branch, value.foot_comment)
            _append_comments(branch, key.foot_comment)

    def key_text(self, key: _YamlNode) -> str:
        """A key as sops would name it; non-string scalar keys keep their text."""
        self.count(key)
        while key.kind == _ALIAS_NODE and key.alias is not None:
            key = key.alias
        if key.kind != _SCALAR_NODE:
            raise _format_error(
                "a mapping key is a list or a mapping", key.line, "use plain text keys"
            )
        if key.tag == "!!binary":
            return from_bytes(_decode_binary(key))
        return key.value

    def value(self, node: _YamlNode, comments_handled: bool) -> Node:
        kind = node.kind
        if kind == _SCALAR_NODE:
            self.count(node)
            return _scalar_value(node)
        if kind == _MAPPING_NODE:
            return self.append_to_branch(node, Branch(), comments_handled)
        if kind == _SEQUENCE_NODE:
            self.count(node)
            return self.sequence(node, comments_handled)
        self.count(node)
        target = self.enter_alias(node)
        result = self.value(target, comments_handled=False)
        self.leave_alias(node)
        return result

    def sequence(self, node: _YamlNode, comments_handled: bool) -> Sequence:
        result = Sequence()
        if not comments_handled:
            _append_comments(result, node.head_comment)
            _append_comments(result, node.line_comment)
        for item in node.content:
            _append_comments(result, item.head_comment)
            _append_comments(result, item.line_comment)
            result.append(self.value(item, comments_handled=True))
            _append_comments(result, item.foot_comment)
        if not comments_handled:
            _append_comments(result, node.foot_comment)
        return result


def _is_merge_value(node: _YamlNode) -> bool:
    """What go-yaml's decoder accepts after ``<<`` (sops decodes the file once that way)."""

    def is_mapping(item: _YamlNode) -> bool:
        target = item.alias if item.kind == _ALIAS_NODE else item
        return target is not None and target.kind == _MAPPING_NODE

    if node.kind == _SEQUENCE_NODE:
        return all(is_mapping(item) for item in node.content)
    return is_mapping(node)


def _append_comments(container: Branch | Sequence, comment: str) -> None:
    """sops' appendCommentTo{Map,List}: one entry per non-empty line, without its '#'."""
    if comment:
        container.extend(Comment(line[1:]) for line in comment.split("\n") if line)


def _scalar_value(node: _YamlNode) -> Node:
    """The value go-yaml decodes a scalar to, as sops stores it."""
    tag = node.tag  # nodes hold short tags ("!!str")
    if tag == "!!str":
        return node.value
    if tag == "!!binary":
        return from_bytes(_decode_binary(node))
    try:
        _, value = _resolve(node.tag, node.value)
    except _ResolveError as error:
        raise _format_error(str(error), node.line, "remove the tag or fix the value") from None
    if isinstance(value, _BigInt):
        raise _format_error(
            "an integer is too large for sops", node.line, "quote it to keep it as text"
        )
    return value  # type: ignore[return-value]


def _decode_binary(node: _YamlNode) -> bytes:
    try:
        return base64.b64decode(node.value.replace("\n", "").replace("\r", ""), validate=True)
    except ValueError:
        raise _format_error(
            "a !!binary value is not valid base64", node.line, "fix the base64 text"
        ) from None


# --------------------------------------------------------------------------------------
# From the sops tree to events, as sops' appendTreeBranch and go-yaml's encoder do it
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ScalarAnalysis:
    multiline: bool
    flow_plain_allowed: bool
    block_plain_allowed: bool
    single_quoted_allowed: bool
    block_allowed: bool


def _is_printable(char: str) -> bool:
    code = ord(char)
    return (
        code == 0x0A
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


_LATER_FLOW_INDICATOR: Final = re.compile(r"[,?\[\]{}:]")
_COLON_BLANK: Final = re.compile(":(?:[ \t]|\\Z)")
_HASH_AFTER_BLANK: Final = re.compile("[ \t\r\n\x85\u2028\u2029\0]#")
_SPECIAL_CHARACTER: Final = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_ANY_BREAK: Final = re.compile("[\r\n\x85\u2028\u2029]")
_BREAK_SPACE: Final = re.compile("[\r\n\x85\u2028\u2029] ")
_SPACE_BREAK: Final = re.compile(" [\r\n\x85\u2028\u2029]")


def _analyze_scalar(value: str) -> _ScalarAnalysis:
    """go-yaml's yaml_emitter_analyze_scalar (which styles can hold ``value``), with regexes."""
    if not value:
        return _ScalarAnalysis(False, False, True, True, False)
    first = value[0]
    first_followed_by_blank = len(value) == 1 or value[1] in _BLANK
    flow_indicators = block_indicators = value.startswith(("---", "..."))
    if first in "#,[]{}&*!|>'\"%@`" or (first == "-" and first_followed_by_blank):
        flow_indicators = block_indicators = True
    elif first in "?:":
        flow_indicators = True
        block_indicators = block_indicators or first_followed_by_blank
    if _LATER_FLOW_INDICATOR.search(value, 1):
        flow_indicators = True
        block_indicators = block_indicators or _COLON_BLANK.search(value, 1) is not None
    if _HASH_AFTER_BLANK.search(value):
        flow_indicators = block_indicators = True
    line_breaks = _ANY_BREAK.search(value) is not None
    special_characters = _SPECIAL_CHARACTER.search(value) is not None
    break_space = line_breaks and _BREAK_SPACE.search(value) is not None
    space_break = line_breaks and _SPACE_BREAK.search(value) is not None
    edge_space_or_break = first == " " or first in _BREAK or value[-1] == " " or value[-1] in _BREAK
    flow_plain = block_plain = single_quoted = block = True
    if edge_space_or_break or line_breaks:
        flow_plain = block_plain = False
    if value[-1] == " ":
        block = False
    if break_space or space_break or "\t" in value or special_characters:
        flow_plain = block_plain = single_quoted = False
    if space_break or special_characters:
        block = False
    if flow_indicators:
        flow_plain = False
    if block_indicators:
        block_plain = False
    return _ScalarAnalysis(line_breaks, flow_plain, block_plain, single_quoted, block)


def _go_base64(data: bytes) -> str:
    """go-yaml's encodeBase64: 70-column lines, each ending in a newline when there are several."""
    text = base64.b64encode(data).decode("ascii")
    if len(text) < 70:
        return text
    return "".join(text[i : i + 70] + "\n" for i in range(0, len(text), 70))


def _marshal_scalar(value: Node) -> tuple[str, int, str]:
    """The text, style and tag go-yaml gives a Go value when it encodes it (Node.Encode)."""
    if value is None:
        return "null", _PLAIN, ""
    if value is True or value is False:
        return ("true" if value else "false"), _PLAIN, ""
    if isinstance(value, Time):
        return str(value), _PLAIN, ""
    if isinstance(value, int):
        return str(value), _PLAIN, ""
    if isinstance(value, float):
        return _format_go_float(value), _PLAIN, ""
    text = from_bytes(value) if isinstance(value, bytes) else value
    if not isinstance(text, str):
        raise TypeError(f"cannot write a {type(value).__name__} as a YAML scalar")
    tag = ""
    can_use_plain = True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8: go-yaml writes them as !!binary
        tag = "tag:yaml.org,2002:binary"
        text = _go_base64(text.encode("utf-8", "surrogateescape"))
    else:
        can_use_plain = (
            _resolve_tag(text) == "!!str"
            and text not in _OLD_BOOLS
            and not (text[:1] in "+-0123456789" and ":" in text and _BASE60_FLOAT.match(text))
        )
    if "\n" in text:
        style = _LITERAL
    elif can_use_plain:
        style = _PLAIN
    else:
        style = _DOUBLE_QUOTED
    analysis = _analyze_scalar(text)
    if style == _PLAIN and not analysis.block_plain_allowed:
        style = _SINGLE_QUOTED
    if style == _SINGLE_QUOTED and not analysis.single_quoted_allowed:
        style = _DOUBLE_QUOTED
    if style == _LITERAL and not analysis.block_allowed:
        style = _DOUBLE_QUOTED
    return text, style, tag


def _comment_text(lines: list[str]) -> str:
    return "#" + "\n#".join(lines)


def _add_head(node: _YamlNode, lines: list[str]) -> None:
    if lines:
        comment = _comment_text(lines)
        node.head_comment = f"{comment}\n{node.head_comment}" if node.head_comment else comment
        lines.clear()


def _add_foot(node: _YamlNode, lines: list[str]) -> None:
    if lines:
        comment = _comment_text(lines)
        node.foot_comment = f"{node.foot_comment}\n{comment}" if node.foot_comment else comment


def _tree_to_node(value: Node) -> _YamlNode:
    """sops' treeValueToNode."""
    if isinstance(value, Branch):
        return _branch_to_node(value)
    if isinstance(value, Sequence):
        return _sequence_to_node(value)
    if isinstance(value, dict):  # raw metadata
        return _branch_to_node(Branch((str(key), item) for key, item in value.items()))
    if isinstance(value, list):
        return _sequence_to_node(Sequence(value))
    text, style, tag = _marshal_scalar(value)
    return _YamlNode(_SCALAR_NODE, tag, text, style)


def _branch_to_node(branch: Branch) -> _YamlNode:
    """appendTreeBranch: leading comments head the mapping, trailing ones foot the last key."""
    mapping = _YamlNode(_MAPPING_NODE)
    comments: list[str] = []
    for entry in branch:
        if isinstance(entry, Comment):
            comments.append(entry.text)
            continue
        key, value = entry
        if not mapping.content:
            _add_head(mapping, comments)
        key_text, key_style, key_tag = _marshal_scalar(key)
        key_node = _YamlNode(_SCALAR_NODE, key_tag, key_text, key_style)
        _add_head(key_node, comments)
        mapping.content += (key_node, _tree_to_node(value))
    if comments:
        if mapping.content:
            _add_foot(mapping.content[-2], comments)
        else:
            _add_head(mapping, comments)
    return mapping


def _sequence_to_node(sequence: Sequence) -> _YamlNode:
    """sops' appendSequence."""
    node = _YamlNode(_SEQUENCE_NODE)
    comments: list[str] = []
    for item in sequence:
        if isinstance(item, Comment):
            comments.append(item.text)
            continue
        if not node.content:
            _add_head(node, comments)
        item_node = _tree_to_node(item)
        _add_head(item_node, comments)
        node.content.append(item_node)
    if comments:
        if node.content:
            _add_foot(node.content[-1], comments)
        else:
            _add_head(node, comments)
    return node


def _node_events(node: _YamlNode, tail: str, out: list[_Event]) -> None:
    """go-yaml's encoder: a node (as sops builds them) to emitter events."""
    kind = node.kind
    if kind == _MAPPING_NODE:
        out.append(
            _Event(_EV_MAPPING_START, _ZERO_MARK, implicit=True, head_comment=node.head_comment,
                   tail_comment=tail)
        )  # fmt: skip
        # A key's foot comment is written after its value: it travels as the next "tail".
        pending_tail = ""
        content = node.content
        for index in range(0, len(content), 2):
            key = content[index]
            foot = key.foot_comment
            if foot:
                key = _YamlNode(
                    key.kind,
                    key.tag,
                    key.value,
                    key.style,
                    head_comment=key.head_comment,
                    line_comment=key.line_comment,
                )
            _node_events(key, pending_tail, out)
            pending_tail = foot
            _node_events(content[index + 1], "", out)
        out.append(
            _Event(_EV_MAPPING_END, _ZERO_MARK, line_comment=node.line_comment,
                   foot_comment=node.foot_comment, tail_comment=pending_tail)
        )  # fmt: skip
    elif kind == _SEQUENCE_NODE:
        out.append(
            _Event(_EV_SEQUENCE_START, _ZERO_MARK, implicit=True, head_comment=node.head_comment)
        )
        for item in node.content:
            _node_events(item, "", out)
        out.append(
            _Event(_EV_SEQUENCE_END, _ZERO_MARK, line_comment=node.line_comment,
                   foot_comment=node.foot_comment)
        )  # fmt: skip
    else:
        implicit = not node.tag
        out.append(
            _Event(
                _EV_SCALAR, _ZERO_MARK, tag=node.tag, value=node.value, implicit=implicit,
                quoted_implicit=implicit, style=node.style, head_comment=node.head_comment,
                line_comment=node.line_comment, foot_comment=node.foot_comment, tail_comment=tail,
            )
        )  # fmt: skip


def _document_events(documents: list[_YamlNode]) -> list[_Event]:
    events = [_Event(_EV_STREAM_START, _ZERO_MARK)]
    for root in documents:
        events.append(_Event(_EV_DOCUMENT_START, _ZERO_MARK, implicit=True))
        _node_events(root, "", events)
        events.append(_Event(_EV_DOCUMENT_END, _ZERO_MARK, implicit=True))
    events.append(_Event(_EV_STREAM_END, _ZERO_MARK))
    return events


# --------------------------------------------------------------------------------------
# Emitter: a port of go-yaml v3.0.4 emitterc.go (block style, 4-space indent, no wrapping)
# --------------------------------------------------------------------------------------

(
    _EM_STREAM_START,
    _EM_FIRST_DOCUMENT_START,
    _EM_DOCUMENT_START,
    _EM_DOCUMENT_CONTENT,
    _EM_DOCUMENT_END,
    _EM_FLOW_SEQUENCE_FIRST_ITEM,
    _EM_FLOW_SEQUENCE_TRAIL_ITEM,
    _EM_FLOW_SEQUENCE_ITEM,
    _EM_FLOW_MAPPING_FIRST_KEY,
    _EM_FLOW_MAPPING_TRAIL_KEY,
    _EM_FLOW_MAPPING_KEY,
    _EM_FLOW_MAPPING_SIMPLE_VALUE,
    _EM_FLOW_MAPPING_VALUE,
    _EM_BLOCK_SEQUENCE_FIRST_ITEM,
    _EM_BLOCK_SEQUENCE_ITEM,
    _EM_BLOCK_MAPPING_FIRST_KEY,
    _EM_BLOCK_MAPPING_KEY,
    _EM_BLOCK_MAPPING_SIMPLE_VALUE,
    _EM_BLOCK_MAPPING_VALUE,
    _EM_END,
) = range(20)

_INDENT: Final = 4  # sops' yaml indent default (IndentDefault)
_ESCAPED: Final = {
    "\0": "0", "\x07": "a", "\x08": "b", "\t": "t", "\n": "n", "\x0b": "v", "\x0c": "f",
    "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L",
    "\u2029": "P",
}  # fmt: skip
_DEFAULT_TAG_PREFIXES: Final = (("!", "!"), ("!!", _LONG_TAG_PREFIX))
_LINE_BREAKS: Final = re.compile("([\r\n\x85\u2028\u2029])")
_NEEDS_ESCAPE: Final = re.compile(
    '["\\\\\\r\\n\\x85\\u2028\\u2029]|[^\\n\\x20-\\x7e\\xa0-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd]'
)


class _Emitter:
    """Writes events as go-yaml v3 does with sops' settings (indent 4, unicode, no wrapping)."""

    def __init__(self, events: list[_Event]) -> None:
        self.events = events
        self.head = 0
        self.out: list[str] = []
        self.state = _EM_STREAM_START
        self.states: list[int] = []
        self.indent = -1
        self.indents: list[int] = []
        self.flow_level = 0
        self.simple_key_context = False
        self.column = 0
        self.whitespace = self.indention = True
        self.foot_indent = -1
        self.head_comment = self.line_comment = self.foot_comment = ""
        self.tail_comment = self.key_line_comment = ""
        self.tag_handle = self.tag_suffix = ""
        self.scalar_value = ""
        self.analysis = _ScalarAnalysis(False, False, True, True, False)
        self.scalar_style = _ANY
        self.handlers: dict[int, Callable[[_Event], None]] = {
            _EM_STREAM_START: self.emit_stream_start,
            _EM_FIRST_DOCUMENT_START: lambda event: self.emit_document_start(event, first=True),
            _EM_DOCUMENT_START: lambda event: self.emit_document_start(event, first=False),
            _EM_DOCUMENT_CONTENT: self.emit_document_content,
            _EM_DOCUMENT_END: self.emit_document_end,
            _EM_FLOW_SEQUENCE_FIRST_ITEM: lambda event: self.emit_flow_sequence_item(
                event, True, False
            ),
            _EM_FLOW_SEQUENCE_TRAIL_ITEM: lambda event: self.emit_flow_sequence_item(
                event, False, True
            ),
            _EM_FLOW_SEQUENCE_ITEM: lambda event: self.emit_flow_sequence_item(event, False, False),
            _EM_FLOW_MAPPING_FIRST_KEY: lambda event: self.emit_flow_mapping_key(
                event, True, False
            ),
            _EM_FLOW_MAPPING_TRAIL_KEY: lambda event: self.emit_flow_mapping_key(
                event, False, True
            ),
            _EM_FLOW_MAPPING_KEY: lambda event: self.emit_flow_mapping_key(event, False, False),
            _EM_FLOW_MAPPING_SIMPLE_VALUE: lambda event: self.emit_flow_mapping_value(event, True),
            _EM_FLOW_MAPPING_VALUE: lambda event: self.emit_flow_mapping_value(event, False),
            _EM_BLOCK_SEQUENCE_FIRST_ITEM: lambda event: self.emit_block_sequence_item(event, True),
            _EM_BLOCK_SEQUENCE_ITEM: lambda event: self.emit_block_sequence_item(event, False),
            _EM_BLOCK_MAPPING_FIRST_KEY: lambda event: self.emit_block_mapping_key(event, True),
            _EM_BLOCK_MAPPING_KEY: lambda event: self.emit_block_mapping_key(event, False),
            _EM_BLOCK_MAPPING_SIMPLE_VALUE: lambda event: self.emit_block_mapping_value(
                event, True
            ),
            _EM_BLOCK_MAPPING_VALUE: lambda event: self.emit_block_mapping_value(event, False),
        }

    def run(self) -> str:
        for head, event in enumerate(self.events):
            self.head = head
            self.analyze_event(event)
            self.handlers[self.state](event)
        return "".join(self.out)

    # -- low-level writing -------------------------------------------------------------

    def put(self, text: str) -> None:
        """Write characters that are not line breaks."""
        self.out.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.out.append("\n")
        self.column = 0
        self.indention = True

    def write_break(self, char: str) -> None:
        if char == "\n":
            self.put_break()
            return
        self.put(char)
        self.column = 0
        self.indention = True

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if (
            not self.indention
            or self.column > indent
            or (self.column == indent and not self.whitespace)
        ):
            self.put_break()
        if self.foot_indent == indent:
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True
        self.foot_indent = -1

    def write_indicator(
        self, indicator: str, need_whitespace: bool, is_whitespace: bool, is_indention: bool
    ) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(indicator)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def write_comment(self, comment: str) -> None:
        breaks = pound = False
        for char in comment:
            if char in _BREAK:
                self.write_break(char)
                breaks, pound = True, False
            else:
                if breaks:
                    self.write_indent()
                if not pound:
                    if char != "#":
                        self.put("# ")
                    pound = True
                self.put(char)
                self.indention = breaks = False
        if not breaks:
            self.put_break()
        self.whitespace = True

    # -- comments ----------------------------------------------------------------------

    def process_head_comment(self) -> None:
        if self.tail_comment:
            self.write_indent()
            self.write_comment(self.tail_comment)
            self.tail_comment = ""
            self.foot_indent = max(self.indent, 0)
        if self.head_comment:
            self.write_indent()
            self.write_comment(self.head_comment)
            self.head_comment = ""

    def process_line_comment(self, linebreak: bool = False) -> None:
        if not self.line_comment:
            if linebreak:
                self.put_break()
            return
        if not self.whitespace:
            self.put(" ")
        self.write_comment(self.line_comment)
        self.line_comment = ""

    def process_foot_comment(self) -> None:
        if self.foot_comment:
            self.write_indent()
            self.write_comment(self.foot_comment)
            self.foot_comment = ""
            self.foot_indent = max(self.indent, 0)

    # -- states ------------------------------------------------------------------------

    def increase_indent(self, flow: bool, indentless: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = _INDENT if flow else 0
        elif not indentless:
            if self.states[-1] == _EM_BLOCK_SEQUENCE_ITEM:
                self.indent += 2
            else:
                self.indent = _INDENT * ((self.indent + _INDENT) // _INDENT)

    def pop_indent(self) -> None:
        self.indent = self.indents.pop()

    def pop_state(self) -> None:
        self.state = self.states.pop()

    def emit_stream_start(self, event: _Event) -> None:
        del event
        self.state = _EM_FIRST_DOCUMENT_START

    def emit_document_start(self, event: _Event, first: bool) -> None:
        if event.kind == _EV_DOCUMENT_START:
            if not first:
                self.write_indent()
                self.write_indicator("---", True, False, False)
                self.write_indent()
            if self.head_comment:
                self.process_head_comment()
                self.put_break()
            self.state = _EM_DOCUMENT_CONTENT
            return
        self.state = _EM_END  # STREAM-END

    def emit_document_content(self, event: _Event) -> None:
        self.states.append(_EM_DOCUMENT_END)
        self.process_head_comment()
        self.emit_node(event)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_document_end(self, event: _Event) -> None:
        del event
        self.foot_indent = 0
        self.process_foot_comment()
        self.foot_indent = -1
        self.write_indent()
        self.state = _EM_DOCUMENT_START

    def emit_flow_sequence_item(self, event: _Event, first: bool, trail: bool) -> None:
        if first:
            self.write_indicator("[", True, True, False)
            self.increase_indent(flow=True, indentless=False)
            self.flow_level += 1
        if event.kind == _EV_SEQUENCE_END:
            self.flow_level -= 1
            self.pop_indent()
            if self.column == 0:
                self.write_indent()
            self.write_indicator("]", False, False, False)
            self.process_line_comment()
            self.process_foot_comment()
            self.pop_state()
            return
        if not first and not trail:
            self.write_indicator(",", False, False, False)
        self.process_head_comment()
        if self.column == 0:
            self.write_indent()
        commented = bool(self.line_comment or self.foot_comment or self.tail_comment)
        self.states.append(_EM_FLOW_SEQUENCE_TRAIL_ITEM if commented else _EM_FLOW_SEQUENCE_ITEM)
        self.emit_node(event)
        if self.line_comment or self.foot_comment or self.tail_comment:
            self.write_indicator(",", False, False, False)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_flow_mapping_key(self, event: _Event, first: bool, trail: bool) -> None:
        if first:
            self.write_indicator("{", True, True, False)
            self.increase_indent(flow=True, indentless=False)
            self.flow_level += 1
        if event.kind == _EV_MAPPING_END:
            if (
                (self.head_comment or self.foot_comment or self.tail_comment)
                and not first
                and not trail
            ):
                self.write_indicator(",", False, False, False)
            self.process_head_comment()
            self.flow_level -= 1
            self.pop_indent()
            self.write_indicator("}", False, False, False)
            self.process_line_comment()
            self.process_foot_comment()
            self.pop_state()
            return
        if not first and not trail:
            self.write_indicator(",", False, False, False)
        self.process_head_comment()
        if self.column == 0:
            self.write_indent()
        if self.check_simple_key():
            self.states.append(_EM_FLOW_MAPPING_SIMPLE_VALUE)
            self.emit_node(event, simple_key=True)
            return
        self.write_indicator("?", True, False, False)
        self.states.append(_EM_FLOW_MAPPING_VALUE)
        self.emit_node(event)

    def emit_flow_mapping_value(self, event: _Event, simple: bool) -> None:
        self.write_indicator(":", not simple, False, False)
        commented = bool(self.line_comment or self.foot_comment or self.tail_comment)
        self.states.append(_EM_FLOW_MAPPING_TRAIL_KEY if commented else _EM_FLOW_MAPPING_KEY)
        self.emit_node(event)
        if self.line_comment or self.foot_comment or self.tail_comment:
            self.write_indicator(",", False, False, False)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_block_sequence_item(self, event: _Event, first: bool) -> None:
        if first:
            self.increase_indent(flow=False, indentless=False)
        if event.kind == _EV_SEQUENCE_END:
            self.pop_indent()
            self.pop_state()
            return
        self.process_head_comment()
        self.write_indent()
        self.write_indicator("-", True, False, True)
        self.states.append(_EM_BLOCK_SEQUENCE_ITEM)
        self.emit_node(event)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_block_mapping_key(self, event: _Event, first: bool) -> None:
        if first:
            self.increase_indent(flow=False, indentless=False)
        self.process_head_comment()
        if event.kind == _EV_MAPPING_END:
            self.pop_indent()
            self.pop_state()
            return
        self.write_indent()
        if self.line_comment:
            self.key_line_comment = self.line_comment
            self.line_comment = ""
        if self.check_simple_key():
            self.states.append(_EM_BLOCK_MAPPING_SIMPLE_VALUE)
            self.emit_node(event, simple_key=True)
            return
        self.write_indicator("?", True, False, True)
        self.states.append(_EM_BLOCK_MAPPING_VALUE)
        self.emit_node(event)

    def emit_block_mapping_value(self, event: _Event, simple: bool) -> None:
        if simple:
            self.write_indicator(":", False, False, False)
        else:
            self.write_indent()
            self.write_indicator(":", True, False, True)
        if self.key_line_comment:
            if event.kind == _EV_SCALAR:
                if not self.line_comment:
                    self.line_comment, self.key_line_comment = self.key_line_comment, ""
            elif (
                event.kind in (_EV_MAPPING_START, _EV_SEQUENCE_START) and event.style != _FLOW_STYLE
            ):
                self.line_comment, self.key_line_comment = self.key_line_comment, self.line_comment
                self.process_line_comment()
                self.line_comment, self.key_line_comment = self.key_line_comment, self.line_comment
        self.states.append(_EM_BLOCK_MAPPING_KEY)
        self.emit_node(event)
        self.process_line_comment()
        self.process_foot_comment()

    def emit_node(self, event: _Event, simple_key: bool = False) -> None:
        self.simple_key_context = simple_key
        kind = event.kind
        if kind == _EV_SCALAR:
            self.emit_scalar(event)
        elif kind == _EV_SEQUENCE_START:
            self.process_tag()
            if self.flow_level > 0 or event.style == _FLOW_STYLE or self.next_is(_EV_SEQUENCE_END):
                self.state = _EM_FLOW_SEQUENCE_FIRST_ITEM
            else:
                self.state = _EM_BLOCK_SEQUENCE_FIRST_ITEM
        elif kind == _EV_MAPPING_START:
            self.process_tag()
            if self.flow_level > 0 or event.style == _FLOW_STYLE or self.next_is(_EV_MAPPING_END):
                self.state = _EM_FLOW_MAPPING_FIRST_KEY
            else:
                self.state = _EM_BLOCK_MAPPING_FIRST_KEY
        else:
            raise AssertionError("the emitter expected a node")

    def next_is(self, kind: int) -> bool:
        return self.head + 1 < len(self.events) and self.events[self.head + 1].kind == kind

    def check_simple_key(self) -> bool:
        event = self.events[self.head]
        length = len(self.tag_handle) + len(self.tag_suffix)
        if event.kind == _EV_SCALAR:
            if self.analysis.multiline:
                return False
            length += len(self.scalar_value.encode("utf-8", "surrogateescape"))
        elif event.kind == _EV_SEQUENCE_START:
            if not self.next_is(_EV_SEQUENCE_END):
                return False
        elif event.kind == _EV_MAPPING_START:
            if not self.next_is(_EV_MAPPING_END):
                return False
        else:
            return False
        return length <= 128

    def emit_scalar(self, event: _Event) -> None:
        self.select_scalar_style(event)
        self.process_tag()
        self.increase_indent(flow=True, indentless=False)
        self.process_scalar()
        self.pop_indent()
        self.pop_state()

    def select_scalar_style(self, event: _Event) -> None:
        no_tag = not self.tag_handle and not self.tag_suffix
        style = event.style or _PLAIN
        analysis = self.analysis
        if self.simple_key_context and analysis.multiline:
            style = _DOUBLE_QUOTED
        if style == _PLAIN:
            if (self.flow_level > 0 and not analysis.flow_plain_allowed) or (
                self.flow_level == 0 and not analysis.block_plain_allowed
            ):
                style = _SINGLE_QUOTED
            if not self.scalar_value and (self.flow_level > 0 or self.simple_key_context):
                style = _SINGLE_QUOTED
            if no_tag and not event.implicit:
                style = _SINGLE_QUOTED
        if style == _SINGLE_QUOTED and not analysis.single_quoted_allowed:
            style = _DOUBLE_QUOTED
        if style in (_LITERAL, _FOLDED) and (
            not analysis.block_allowed or self.flow_level > 0 or self.simple_key_context
        ):
            style = _DOUBLE_QUOTED
        if no_tag and not event.quoted_implicit and style != _PLAIN:
            self.tag_handle = "!"
        self.scalar_style = style

    def process_tag(self) -> None:
        if not self.tag_handle and not self.tag_suffix:
            return
        if self.tag_handle:
            if not self.whitespace:
                self.put(" ")
            self.put(self.tag_handle + self.tag_suffix)
        else:
            self.write_indicator(f"!<{self.tag_suffix}>", True, False, False)
        self.whitespace = self.indention = False

    def analyze_event(self, event: _Event) -> None:
        self.tag_handle = self.tag_suffix = self.scalar_value = ""
        if event.head_comment:
            self.head_comment = event.head_comment
        if event.line_comment:
            self.line_comment = event.line_comment
        if event.foot_comment:
            self.foot_comment = event.foot_comment
        if event.tail_comment:
            self.tail_comment = event.tail_comment
        if event.kind in (_EV_SCALAR, _EV_SEQUENCE_START, _EV_MAPPING_START):
            explicit = not event.implicit and not (
                event.kind == _EV_SCALAR and event.quoted_implicit
            )
            if event.tag and explicit:
                self.analyze_tag(event.tag)
        if event.kind == _EV_SCALAR:
            self.scalar_value = event.value
            self.analysis = _analyze_scalar(event.value)

    def analyze_tag(self, tag: str) -> None:
        for handle, prefix in _DEFAULT_TAG_PREFIXES:
            if tag.startswith(prefix):
                self.tag_handle, self.tag_suffix = handle, tag[len(prefix) :]
                return
        self.tag_suffix = tag

    # -- scalars -----------------------------------------------------------------------

    def process_scalar(self) -> None:
        style, value = self.scalar_style, self.scalar_value
        if style == _PLAIN:
            self.write_plain(value)
        elif style == _SINGLE_QUOTED:
            self.write_single_quoted(value)
        elif style == _DOUBLE_QUOTED:
            self.write_double_quoted(value)
        else:
            self.write_literal(value)

    def write_plain(self, value: str) -> None:
        if value and not self.whitespace:
            self.put(" ")
        self.write_lines(value, quote="")
        if value:
            self.whitespace = False
        self.indention = False

    def write_lines(self, value: str, quote: str) -> None:
        """The body of a plain or single-quoted scalar (go-yaml never wraps with sops' width)."""
        if not any(char in _BREAK for char in value):
            self.put(value.replace("'", "''") if quote else value)
            if value:
                self.indention = False
            return
        breaks = False
        for char in value:
            if char in _BREAK:
                if not breaks and char == "\n":
                    self.put_break()
                self.write_break(char)
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put(char * 2 if char == quote else char)
                self.indention = breaks = False

    def write_single_quoted(self, value: str) -> None:
        self.write_indicator("'", True, False, False)
        self.write_lines(value, quote="'")
        self.write_indicator("'", False, False, False)
        self.whitespace = self.indention = False

    def write_double_quoted(self, value: str) -> None:
        self.write_indicator('"', True, False, False)
        self.put(_double_quoted_body(value))
        self.write_indicator('"', False, False, False)
        self.whitespace = self.indention = False

    def write_literal(self, value: str) -> None:
        self.write_indicator(_literal_header(value), True, False, False)
        self.process_line_comment(linebreak=True)
        self.whitespace = True
        breaks = True
        for piece in _LINE_BREAKS.split(value):
            if not piece:
                continue
            if piece in _BREAK:
                self.write_break(piece)
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put(piece)
                self.indention = breaks = False


def _double_quoted_body(value: str) -> str:
    escape_all = value.startswith("\ufeff")  # go-yaml's is_bom looks at the start of the value
    if not escape_all and not _NEEDS_ESCAPE.search(value):
        return value
    pieces = []
    for char in value:
        if escape_all or char in '"\\' or char in _BREAK or not _is_printable(char):
            short = _ESCAPED.get(char)
            code = ord(char)
            if short is not None:
                pieces.append("\\" + short)
            elif code <= 0xFF:
                pieces.append(f"\\x{code:02X}")
            elif code <= 0xFFFF:
                pieces.append(f"\\u{code:04X}")
            else:
                pieces.append(f"\\U{code:08X}")
        else:
            pieces.append(char)
    return "".join(pieces)


def _literal_header(value: str) -> str:
    """The block scalar indicators go-yaml writes: indentation hint and chomping."""
    hint = str(_INDENT) if value[0] == " " or value[0] in _BREAK else ""
    if value[-1] not in _BREAK:
        return f"|{hint}-"
    if len(value) == 1 or value[-2] in _BREAK:
        return f"|{hint}+"
    return f"|{hint}"


def _emit(documents: list[_YamlNode]) -> str:
    return _Emitter(_document_events(documents)).run()


# --------------------------------------------------------------------------------------
# A direct writer for trees without comments: the emitter's output, much faster
# --------------------------------------------------------------------------------------


class _NeedsEmitter(Exception):
    """The tree has something only the full emitter writes (comments, complex keys, tags)."""


def _fast_write(documents: Documents) -> str:
    out: list[str] = []
    for index, document in enumerate(documents):
        if index:
            out.append("---\n")
        if document:
            _write_mapping(document, 0, out, inline=False)
        else:
            out.append("{}\n")
    return "".join(out)


def _child_indent(indent: int) -> int:
    """go-yaml's increase_indent for what a mapping holds."""
    return _INDENT * ((indent + _INDENT) // _INDENT)


def _write_mapping(branch: Branch, indent: int, out: list[str], inline: bool) -> None:
    pad = " " * indent
    child = _child_indent(indent)
    for entry in branch:
        if isinstance(entry, Comment):
            raise _NeedsEmitter
        key, value = entry
        out.append(_simple_key(key) + ":" if inline else pad + _simple_key(key) + ":")
        inline = False
        if isinstance(value, Branch):
            if value:
                out.append("\n")
                _write_mapping(value, child, out, inline=False)
            else:
                out.append(" {}\n")
        elif isinstance(value, Sequence):
            if value:
                out.append("\n")
                _write_sequence(value, child, out, inline=False)
            else:
                out.append(" []\n")
        else:
            _write_scalar(value, child, out)


def _write_sequence(sequence: Sequence, indent: int, out: list[str], inline: bool) -> None:
    pad = " " * indent
    child = indent + 2
    for item in sequence:
        if isinstance(item, Comment):
            raise _NeedsEmitter
        out.append("-" if inline else pad + "-")
        inline = False
        if isinstance(item, Branch):
            if item:
                out.append(" ")
                _write_mapping(item, child, out, inline=True)
            else:
                out.append(" {}\n")
        elif isinstance(item, Sequence):
            if item:
                out.append(" ")
                _write_sequence(item, child, out, inline=True)
            else:
                out.append(" []\n")
        else:
            _write_scalar(item, child, out)


def _quoted(text: str, style: int) -> str:
    if style == _PLAIN:
        return text
    if style == _SINGLE_QUOTED:
        if _ANY_BREAK.search(text):  # U+2028 and U+2029 are printable to go-yaml
            raise _NeedsEmitter
        return "'" + text.replace("'", "''") + "'"
    return '"' + _double_quoted_body(text) + '"'


def _simple_key(key: str) -> str:
    text, style, tag = _marshal_scalar(key)
    if tag or style == _LITERAL or _ANY_BREAK.search(text) or len(text.encode("utf-8")) > 128:
        raise _NeedsEmitter
    return _quoted(text, style)


def _write_scalar(value: Node, content_indent: int, out: list[str]) -> None:
    text, style, tag = _marshal_scalar(value)
    if tag:
        raise _NeedsEmitter
    if style != _LITERAL:
        out.append(" " + _quoted(text, style) + "\n")
        return
    pad = " " * content_indent
    body = "\n".join(pad + line if line else line for line in text.split("\n"))
    out.append(" " + _literal_header(text) + "\n" + body + ("" if text.endswith("\n") else "\n"))


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------

_METADATA_KEY: Final = "sops"


def _decode_text(data: bytes) -> str:
    """The document text; malformed UTF-8 or control characters are reported by position only."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _position(data[: error.start].decode("utf-8", "replace"))
        raise FormatError(
            f"invalid YAML at line {line}, column {column}: the file is not valid UTF-8",
            "save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _DISALLOWED_CHARACTERS.search(text)
    if bad is not None:
        line, column = _position(text[: bad.start()])
        raise FormatError(
            f"invalid YAML at line {line}, column {column}: control characters are not allowed",
            "remove the control character or write it as an escape in a double-quoted string",
        )
    return text


def _position(before: str) -> tuple[int, int]:
    """1-based line and column just after ``before``."""
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def _compose(text: str) -> list[_YamlNode]:
    """The document nodes, by libyaml when the text has no comments, else by the go-yaml port."""
    nodes = _compose_with_libyaml(text)
    if nodes is not None:
        return nodes
    try:
        return list(_Composer(_Parser(text).events()).documents())
    except _YamlSyntaxError as error:
        raise FormatError(
            f"invalid YAML at {error.describe()}",
            "fix the YAML syntax at that position (a YAML linter shows the details)",
        ) from None
    except RecursionError:
        raise FormatError(
            "invalid YAML: the document is nested too deeply", "flatten the structure"
        ) from None


_LIBYAML_NODE_STYLES: Final = {
    None: 0, "": 0, "'": _SINGLE_QUOTED_STYLE, '"': _DOUBLE_QUOTED_STYLE, "|": _LITERAL_STYLE,
    ">": _FOLDED_STYLE,
}  # fmt: skip


def _compose_with_libyaml(text: str) -> list[_YamlNode] | None:
    """The fast path: libyaml (C) parses, and nodes are built as go-yaml's composer builds them.

    go-yaml's parser is a port of libyaml, so for a text without comments both
    see the same events. None when the text has a comment, when libyaml rejects
    it (the port then reports the error as go-yaml does), or when it has
    directives or an escape that the two judge differently.
    """
    if "\\/" in text or text.startswith("%") or "\n%" in text:
        return None  # libyaml-only escape, or directives (go-yaml accepts only %YAML 1.1)
    if _COMMENT_LINE.search(text):
        return None  # most likely a comment: do not parse twice
    scalar_spans: list[tuple[int, int]] = []
    try:
        documents = _libyaml_documents(text, scalar_spans)
    except pyyaml.YAMLError:
        return None
    if documents is None or _has_comment(text, scalar_spans):
        return None
    return documents


def _libyaml_documents(text: str, scalar_spans: list[tuple[int, int]]) -> list[_YamlNode] | None:
    documents: list[_YamlNode] = []
    open_nodes: list[_YamlNode] = []
    anchors: dict[str, _YamlNode] = {}
    scalar_event, alias_event = pyyaml.ScalarEvent, pyyaml.AliasEvent
    events: Iterator[Any] = pyyaml.parse(text, Loader=_LOADER)
    for event in events:
        event_type = type(event)
        line = event.start_mark.line + 1
        if event_type is scalar_event:
            scalar_spans.append((event.start_mark.index, event.end_mark.index))
            node = _YamlNode(_SCALAR_NODE, "", event.value, _LIBYAML_NODE_STYLES[event.style], line)
            if event.tag and event.tag != "!":
                node.tag, node.style = _short_tag(event.tag), node.style | _TAGGED
            elif node.style:
                node.tag = "!!str"
            elif node.value == "<<":
                node.tag = "!!merge"
        elif event_type is alias_event:
            node = _YamlNode(
                _ALIAS_NODE, "", event.anchor, 0, line, alias=anchors.get(event.anchor)
            )
            if node.alias is None:
                return None  # the port reports the unknown anchor
        elif event_type in (pyyaml.MappingStartEvent, pyyaml.SequenceStartEvent):
            mapping = event_type is pyyaml.MappingStartEvent
            node = _YamlNode(_MAPPING_NODE if mapping else _SEQUENCE_NODE, "", "", 0, line)
            node.tag = _short_tag(event.tag) if event.tag and event.tag != "!" else ""
            if event.flow_style:
                node.style = _FLOW
        elif event_type in (pyyaml.MappingEndEvent, pyyaml.SequenceEndEvent):
            open_nodes.pop()
            continue
        elif event_type is pyyaml.DocumentStartEvent:
            open_nodes.append(_YamlNode(_DOCUMENT_NODE, line=line))
            continue
        elif event_type is pyyaml.DocumentEndEvent:
            documents.append(open_nodes.pop())
            continue
        else:
            continue  # stream start and end
        if event.anchor:
            anchors[event.anchor] = node
        open_nodes[-1].content.append(node)
        if node.kind in (_MAPPING_NODE, _SEQUENCE_NODE):
            open_nodes.append(node)
    return documents


_COMMENT_LINE: Final = re.compile("^[ \t]*#", re.MULTILINE)


def _has_comment(text: str, scalar_spans: list[tuple[int, int]]) -> bool:
    """Whether a '#' of the text lies outside every scalar, i.e. starts a comment."""
    starts = [start for start, _ in scalar_spans]
    position = text.find("#")
    while position >= 0:
        index = bisect.bisect_right(starts, position) - 1
        if index < 0 or scalar_spans[index][1] <= position:
            return True
        position = text.find("#", scalar_spans[index][1])
    return False


_LOADER: Final = getattr(pyyaml, "CBaseLoader", pyyaml.BaseLoader)


def _load_nodes(data: bytes) -> list[_YamlNode]:
    nodes = _compose(_decode_text(data))
    if not nodes and data:
        raise FormatError(
            "the YAML file holds no document (only comments or blank lines)",
            "add at least one `key: value` line",
        )
    return nodes


def _to_documents(nodes: list[_YamlNode]) -> Documents:
    builder = _TreeBuilder()
    try:
        return [builder.document(node) for node in nodes]
    except RecursionError:
        raise FormatError(
            "invalid YAML: the document is nested too deeply", "flatten the structure"
        ) from None


def _metadata_node(document: _YamlNode) -> _YamlNode | None:
    """The value of the top-level ``sops`` key of a document node, if any."""
    root = document.content[0] if document.content else None
    while root is not None and root.kind == _ALIAS_NODE:
        root = root.alias
    if root is None or root.kind != _MAPPING_NODE:
        return None
    for index in range(0, len(root.content), 2):
        key = root.content[index]
        if key.kind == _SCALAR_NODE and key.value == _METADATA_KEY:
            return root.content[index + 1]
    return None


def _plain_metadata(node: _YamlNode) -> object:
    """The metadata as plain Python data; timestamps keep their text, comments are dropped."""
    while node.kind == _ALIAS_NODE and node.alias is not None:
        node = node.alias
    if node.kind == _MAPPING_NODE:
        content = node.content
        return {
            _TreeBuilder().key_text(content[i]): _plain_metadata(content[i + 1])
            for i in range(0, len(content), 2)
        }
    if node.kind == _SEQUENCE_NODE:
        return [_plain_metadata(item) for item in node.content]
    value = _scalar_value(node)
    return node.value if isinstance(value, Time) else value


def _metadata_to_tree(metadata: object) -> Node:
    if isinstance(metadata, dict):
        return Branch((str(key), _metadata_to_tree(value)) for key, value in metadata.items())
    if isinstance(metadata, list | tuple):
        return Sequence(_metadata_to_tree(value) for value in metadata)
    if metadata is None or isinstance(metadata, str | int | float | bool | bytes):
        return metadata
    raise TypeError(f"cannot write a {type(metadata).__name__} in the sops metadata")


def _dump(documents: Documents) -> bytes:
    try:
        text = _fast_write(documents)
    except _NeedsEmitter:
        text = _emit([_branch_to_node(document) for document in documents])
    return text.encode("utf-8", "surrogateescape")


class YamlStore:
    """The YAML format of sops (see the module docstring)."""

    def load_plain(self, data: bytes) -> Documents:
        return _to_documents(_load_nodes(data))

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        nodes = _load_nodes(data)
        metadata_node = _metadata_node(nodes[0]) if nodes else None
        if metadata_node is None:
            raise NotEncryptedError(
                "no sops metadata: the YAML file has no top-level `sops` key, so it is not "
                "encrypted",
                "encrypt it with `secure-up encrypt FILE`",
            )
        metadata = _plain_metadata(metadata_node)
        if not isinstance(metadata, dict):
            raise FormatError(
                "the sops metadata (the top-level `sops` key) is not a mapping",
                "restore the file from version control or re-encrypt it from plaintext",
            )
        documents = _to_documents(nodes)
        for document in documents:
            document.remove_key(_METADATA_KEY)
        return documents, metadata

    def dump_plain(self, documents: Documents) -> bytes:
        return _dump(documents)

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        metadata_tree = _metadata_to_tree(metadata)
        return _dump(
            [Branch([*document, (_METADATA_KEY, metadata_tree)]) for document in documents]
        )

    def dump_value(self, value: Node) -> bytes:
        if isinstance(value, Branch):
            return _dump([value])
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and not isinstance(value, Time):
            return value.encode("utf-8", "surrogateescape")
        return _emit_value(value).encode("utf-8", "surrogateescape")


def _emit_value(value: Node) -> str:
    """yaml.Marshal of one value, as ``sops decrypt --extract`` prints non-strings."""
    events = [
        _Event(_EV_STREAM_START, _ZERO_MARK),
        _Event(_EV_DOCUMENT_START, _ZERO_MARK, implicit=True),
    ]
    _node_events(_tree_to_node(value), "", events)
    events += [
        _Event(_EV_DOCUMENT_END, _ZERO_MARK, implicit=True),
        _Event(_EV_STREAM_END, _ZERO_MARK),
    ]
    return _Emitter(events).run()


STORE: Final = YamlStore()
