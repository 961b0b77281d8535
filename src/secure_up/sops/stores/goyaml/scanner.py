"""The scanner: text to tokens, with each comment queued beside the token it belongs to.

A port of go-yaml v3.0.4's ``scannerc.go``, comment logic included. go-yaml v3
decides here whether a comment is a head, line or foot comment and which token
it follows; the parser and composer then hang it on a node. sops turns a
comment into an entry of the mapping that holds that node, and the mapping's
path is the comment's AAD, so a comment must land exactly where go-yaml puts
it. Neither PyYAML nor ruamel.yaml attaches comments that way, hence the port.

Differences from go-yaml: the input is a ``str`` (decoded and checked by the
caller against :data:`DISALLOWED_CHARACTERS`) padded with NULs instead of a byte
buffer; errors carry the problem's position only, never document text; runs of
plain characters are read with regular expressions, and consumed tokens are
dropped from the queue, so large files stay fast.
"""

from __future__ import annotations

import re
from typing import Final

from secure_up.sops.stores.goyaml.syntax import (
    ANY,
    BLANK,
    BLANKZ,
    BREAK,
    BREAKZ,
    DOUBLE_QUOTED,
    FOLDED,
    LITERAL,
    PLAIN,
    SINGLE_QUOTED,
    ZERO_MARK,
    Mark,
    YamlSyntaxError,
)

_PADDING: Final = "\0" * 8  # the end of the input, as NULs stand for it in go-yaml's buffer
#: What go-yaml's reader refuses (readerc.go): control characters, lone surrogates, U+FFFE/FFFF.
DISALLOWED_CHARACTERS: Final = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _is_alpha(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-")


def _is_hex(char: str) -> bool:
    return len(char) == 1 and char in "0123456789abcdefABCDEF"


# Token kinds (go-yaml's yaml_*_TOKEN).
(
    STREAM_START,
    STREAM_END,
    VERSION_DIRECTIVE,
    TAG_DIRECTIVE,
    DOCUMENT_START,
    DOCUMENT_END,
    BLOCK_SEQUENCE_START,
    BLOCK_MAPPING_START,
    BLOCK_END,
    FLOW_SEQUENCE_START,
    FLOW_SEQUENCE_END,
    FLOW_MAPPING_START,
    FLOW_MAPPING_END,
    BLOCK_ENTRY,
    FLOW_ENTRY,
    KEY,
    VALUE,
    ALIAS,
    ANCHOR,
    TAG,
    SCALAR,
) = range(21)


class Token:
    """go-yaml's yaml_token_t (directive fields included: %YAML and %TAG are checked)."""

    __slots__ = ("end", "kind", "major", "minor", "prefix", "start", "style", "suffix", "value")

    def __init__(
        self, kind: int, start: Mark, end: Mark, value: str = "", style: int = ANY
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
        scan_mark: Mark,
        token_mark: Mark,
        start_mark: Mark,
        end_mark: Mark,
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
        self.scan_mark = self.token_mark = self.start_mark = self.end_mark = ZERO_MARK
        self.head = self.line = self.foot = ""


class _SimpleKey:
    __slots__ = ("mark", "possible", "required", "token_number")

    def __init__(self, possible: bool, required: bool, token_number: int, mark: Mark) -> None:
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


class Scanner:
    """Turns text into tokens and queues comments with the token they belong to."""

    def __init__(self, text: str) -> None:
        self.buf = text + _PADDING
        self.pos = 0
        self.line = 0
        self.column = 0
        self.newlines = 0
        self.stream_start_produced = False
        self.tokens: list[Token] = []
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

    def mark(self) -> Mark:
        # tuple.__new__ skips NamedTuple's Python-level constructor: this is called per token
        return tuple.__new__(Mark, (self.pos, self.line, self.column))

    def error(self, context: str, context_mark: Mark, problem: str) -> YamlSyntaxError:
        del context_mark  # go-yaml reports the context line; the problem position is enough
        return YamlSyntaxError(problem, self.mark(), context)

    def skip(self) -> None:
        if self.buf[self.pos] not in BLANK:
            self.newlines = 0
        self.pos += 1
        self.column += 1

    def skip_line(self) -> None:
        buf, pos = self.buf, self.pos
        if buf[pos] == "\r" and buf[pos + 1] == "\n":
            self.pos += 2
        elif buf[pos] in BREAK:
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1
        self.newlines += 1

    def line_end(self) -> int:
        """Where the text of the current line ends (before its line break)."""
        match = _LINE_REST.match(self.buf, self.pos)
        return match.end() if match else self.pos  # the pattern also matches ""

    def read(self, out: list[str]) -> None:
        char = self.buf[self.pos]
        if char not in BLANK:
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

    def insert_token(self, position: int, token: Token) -> None:
        if position < 0:
            self.tokens.append(token)
        else:
            self.tokens.insert(self.tokens_head + position, token)

    def next_token(self) -> Token:
        """The token at the head of the queue, fetching more as needed."""
        if not self.token_available:
            self.fetch_more_tokens()
        return self.tokens[self.tokens_head]

    def consume_token(self) -> None:
        self.token_available = False
        self.tokens_parsed += 1
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
            if buf[pos + 3] in BLANKZ and buf.startswith(("---", "..."), pos):
                self.fetch_document_indicator(DOCUMENT_START if char == "-" else DOCUMENT_END)
                return
        comment_mark = self.mark()
        if self.tokens and (
            (self.flow_level == 0 and char == ":") or (self.flow_level > 0 and char == ",")
        ):
            comment_mark = self.tokens[-1].start
        self.fetch_token_at(char, buf[pos + 1])
        if self.tokens and self.tokens[-1].kind == BLOCK_ENTRY:
            return  # a sequence indicator alone has no line comment: it heads what follows
        self.scan_line_comment(comment_mark)

    def fetch_token_at(self, char: str, following: str) -> None:
        flow = self.flow_level > 0
        if char == "[":
            self.fetch_flow_collection_start(FLOW_SEQUENCE_START)
        elif char == "{":
            self.fetch_flow_collection_start(FLOW_MAPPING_START)
        elif char == "]":
            self.fetch_flow_collection_end(FLOW_SEQUENCE_END)
        elif char == "}":
            self.fetch_flow_collection_end(FLOW_MAPPING_END)
        elif char == ",":
            self.fetch_flow_entry()
        elif char == "-" and following in BLANKZ:
            self.fetch_block_entry()
        elif char == "?" and (flow or following in BLANKZ):
            self.fetch_key()
        elif char == ":" and (flow or following in BLANKZ):
            self.fetch_value()
        elif char == "*":
            self.fetch_anchor(ALIAS)
        elif char == "&":
            self.fetch_anchor(ANCHOR)
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
            not (char in BLANKZ or char in "-?:,[]{}#&*!|>'\"%@`")
            or (char == "-" and following not in BLANK)
            or (not flow and char in "?:" and following not in BLANKZ)
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

    def roll_indent(self, column: int, number: int, kind: int, mark: Mark) -> None:
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
            self.insert_token(number, Token(kind, mark, mark))

    def unroll_indent(self, column: int, scan_mark: Mark) -> None:
        if self.flow_level > 0:
            return
        block_mark = Mark(scan_mark.offset - 1, scan_mark.line, scan_mark.column)
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
            self.insert_token(-1, Token(BLOCK_END, block_mark, block_mark))
            self.indent = self.indents.pop()

    # -- fetchers ----------------------------------------------------------------------

    def fetch_stream_start(self) -> None:
        self.indent = -1
        self.simple_keys.append(_SimpleKey(False, False, 0, ZERO_MARK))
        self.simple_key_allowed = True
        self.stream_start_produced = True
        mark = self.mark()
        self.insert_token(-1, Token(STREAM_START, mark, mark))

    def fetch_stream_end(self) -> None:
        if self.column != 0:
            self.column = 0
            self.line += 1
        self.unroll_indent(-1, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = False
        mark = self.mark()
        self.insert_token(-1, Token(STREAM_END, mark, mark))

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
        self.insert_token(-1, Token(kind, start, self.mark()))

    def fetch_flow_collection_start(self, kind: int) -> None:
        self.save_simple_key()
        self.increase_flow_level()
        self.simple_key_allowed = True
        self.fetch_indicator(kind)

    def fetch_flow_collection_end(self, kind: int) -> None:
        self.remove_simple_key()
        self.decrease_flow_level()
        self.simple_key_allowed = False
        self.fetch_indicator(kind)

    def fetch_flow_entry(self) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.fetch_indicator(FLOW_ENTRY)

    def fetch_block_entry(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error(
                    "", self.mark(), "block sequence entries are not allowed in this context"
                )
            self.roll_indent(self.column, -1, BLOCK_SEQUENCE_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.fetch_indicator(BLOCK_ENTRY)

    def fetch_key(self) -> None:
        if self.flow_level == 0:
            if not self.simple_key_allowed:
                raise self.error("", self.mark(), "mapping keys are not allowed in this context")
            self.roll_indent(self.column, -1, BLOCK_MAPPING_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = self.flow_level == 0
        self.fetch_indicator(KEY)

    def fetch_value(self) -> None:
        key = self.simple_keys[-1]
        if self.simple_key_is_valid(key):
            self.insert_token(key.token_number - self.tokens_parsed, Token(KEY, key.mark, key.mark))
            self.roll_indent(key.mark.column, key.token_number, BLOCK_MAPPING_START, key.mark)
            key.possible = False
            self.simple_keys_by_tok.pop(key.token_number, None)
            self.simple_key_allowed = False
        else:
            if self.flow_level == 0:
                if not self.simple_key_allowed:
                    raise self.error(
                        "", self.mark(), "mapping values are not allowed in this context"
                    )
                self.roll_indent(self.column, -1, BLOCK_MAPPING_START, self.mark())
            self.simple_key_allowed = self.flow_level == 0
        self.fetch_indicator(VALUE)

    def fetch_indicator(self, kind: int) -> None:
        """Queue the one-character indicator at the current position."""
        start = self.mark()
        self.skip()
        self.insert_token(-1, Token(kind, start, self.mark()))

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
                    token_a.kind == BLOCK_SEQUENCE_START
                    and token_b.kind == BLOCK_ENTRY
                    and comment.line
                    and buf[self.pos] not in BREAK
                ):
                    comment.head = comment.line
                    comment.line = ""
                    if comment.start_mark.line == self.line - 1:
                        comment.token_mark = self.mark()
            if buf[self.pos] == "#":
                self.scan_comments(scan_mark)
            if buf[self.pos] in BREAK:
                self.skip_line()
                if self.flow_level == 0:
                    self.simple_key_allowed = True
            else:
                return

    def scan_line_comment(self, token_mark: Mark) -> None:
        if self.newlines > 0:
            return
        buf = self.buf
        peek = 0
        while peek < 512 and buf[self.pos + peek] in BLANK:
            peek += 1
        if peek >= 512 or buf[self.pos + peek] != "#":
            return
        for _ in range(peek):
            self.skip()
        start_mark = self.mark()
        text: list[str] = []
        end = self.line_end()
        self.read_run(text, end)
        self.comments.append(
            _CommentRecord(ZERO_MARK, token_mark, start_mark, ZERO_MARK, line="".join(text))
        )

    def scan_comments(self, scan_mark: Mark) -> None:
        """Scan a run of comment lines, splitting it into foot and head comments."""
        token = self.tokens[-1]
        if token.kind == FLOW_ENTRY and len(self.tokens) > 1:
            token = self.tokens[-2]
        token_mark = token.start
        start_mark = ZERO_MARK
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
            if char in BLANK:
                peek += 1
                continue
            close_flow = self.flow_level > 0 and char in "]}"
            if close_flow or char in BREAKZ:
                if close_flow or not recent_empty:
                    if close_flow or (
                        first_empty
                        and (
                            (start_mark.line == foot_line and token.kind != VALUE)
                            or start_mark.column - 1 < next_indent
                        )
                    ):
                        if text:
                            if start_mark.column - 1 < next_indent:
                                token_mark = start_mark
                            end_mark = Mark(self.pos + peek, line, column)
                            self.comments.append(
                                _CommentRecord(
                                    scan_mark, token_mark, start_mark, end_mark, foot=text
                                )
                            )
                            scan_mark = token_mark = end_mark
                            text = ""
                    elif text and char != "\0":
                        text += "\n"
                if char not in BREAK:
                    break
                first_empty = False
                recent_empty = True
                column = 0
                line += 1
                peek += 1
                continue
            if text and (close_flow or (column - 1 < next_indent and column != start_mark.column)):
                end_mark = Mark(self.pos + peek, line, column)
                self.comments.append(
                    _CommentRecord(scan_mark, token_mark, start_mark, end_mark, foot=text)
                )
                scan_mark = token_mark = end_mark
                text = ""
            if char != "#":
                break
            if not text:
                start_mark = Mark(self.pos + peek, line, column)
            else:
                text += "\n"
            recent_empty = False
            seen = self.pos + peek
            while self.pos < seen:  # the blank lines and blanks before the '#'
                self.skip_or_break()
            end = self.line_end()
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
            end_mark = Mark(self.pos + peek - 1, line, column)
            self.comments.append(
                _CommentRecord(scan_mark, start_mark, start_mark, end_mark, head=text)
            )

    def skip_or_break(self) -> None:
        if self.buf[self.pos] in BREAK:
            self.skip_line()
        else:
            self.skip()

    # -- directives, anchors, tags -----------------------------------------------------

    def skip_blanks(self) -> None:
        while self.buf[self.pos] in BLANK:
            self.skip()

    def scan_directive(self) -> Token:
        start = self.mark()
        self.skip()
        name = self.scan_directive_name(start)
        if name == "YAML":
            major, minor = self.scan_version_directive_value(start)
            token = Token(VERSION_DIRECTIVE, start, self.mark())
            token.major, token.minor = major, minor
        elif name == "TAG":
            handle, prefix = self.scan_tag_directive_value(start)
            token = Token(TAG_DIRECTIVE, start, self.mark(), handle)
            token.prefix = prefix
        else:
            raise self.error("while scanning a directive", start, "found unknown directive name")
        self.skip_blanks()
        if self.buf[self.pos] == "#":
            while self.buf[self.pos] not in BREAKZ:
                self.skip()
        if self.buf[self.pos] not in BREAKZ:
            raise self.error(
                "while scanning a directive", start, "did not find expected comment or line break"
            )
        self.skip_line()
        return token

    def scan_directive_name(self, start: Mark) -> str:
        out: list[str] = []
        while _is_alpha(self.buf[self.pos]):
            self.read(out)
        if not out:
            raise self.error(
                "while scanning a directive", start, "could not find expected directive name"
            )
        if self.buf[self.pos] not in BLANKZ:
            raise self.error(
                "while scanning a directive", start, "found unexpected non-alphabetical character"
            )
        return "".join(out)

    def scan_version_directive_value(self, start: Mark) -> tuple[int, int]:
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

    def scan_version_directive_number(self, start: Mark) -> int:
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

    def scan_tag_directive_value(self, start: Mark) -> tuple[str, str]:
        self.skip_blanks()
        handle = self.scan_tag_handle(True, start)
        if self.buf[self.pos] not in BLANK:
            raise self.error(
                "while scanning a %TAG directive", start, "did not find expected whitespace"
            )
        self.skip_blanks()
        prefix = self.scan_tag_uri(True, "", start)
        if self.buf[self.pos] not in BLANKZ:
            raise self.error(
                "while scanning a %TAG directive",
                start,
                "did not find expected whitespace or line break",
            )
        return handle, prefix

    def scan_anchor(self, kind: int) -> Token:
        start = self.mark()
        self.skip()
        out: list[str] = []
        while _is_alpha(self.buf[self.pos]):
            self.read(out)
        end = self.mark()
        if not out or not (self.buf[self.pos] in BLANKZ or self.buf[self.pos] in "?:,]}%@`"):
            context = "while scanning an anchor" if kind == ANCHOR else "while scanning an alias"
            raise self.error(
                context, start, "did not find expected alphabetic or numeric character"
            )
        return Token(kind, start, end, "".join(out))

    def scan_tag(self) -> Token:
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
        if self.buf[self.pos] not in BLANKZ:
            raise self.error(
                "while scanning a tag", start, "did not find expected whitespace or line break"
            )
        token = Token(TAG, start, self.mark(), handle)
        token.suffix = suffix
        return token

    def scan_tag_handle(self, directive: bool, start: Mark) -> str:
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

    def scan_tag_uri(self, directive: bool, head: str, start: Mark) -> str:
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

    def scan_uri_escapes(self, context: str, start: Mark) -> str:
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

    def scan_block_scalar(self, literal: bool) -> Token:
        start = self.mark()
        self.skip()
        buf = self.buf
        chomping, increment = self.scan_block_scalar_indicators(start)
        self.skip_blanks()
        if buf[self.pos] == "#":
            self.scan_line_comment(start)
            while buf[self.pos] not in BREAKZ:
                self.skip()
        if buf[self.pos] not in BREAKZ:
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
            trailing_blank = buf[self.pos] in BLANK
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
            leading_blank = buf[self.pos] in BLANK
            line_end = self.line_end()
            if line_end > self.pos:
                self.read_text(out, line_end)
            self.read_line(leading_break)
            indent, end = self.scan_block_scalar_breaks(indent, trailing_breaks, start, end)
        if chomping != -1:
            out.extend(leading_break)
        if chomping == 1:
            out.extend(trailing_breaks)
        return Token(SCALAR, start, end, "".join(out), LITERAL if literal else FOLDED)

    def scan_block_scalar_indicators(self, start: Mark) -> tuple[int, int]:
        """Chomping (+1 keep, -1 strip, 0 clip) and indentation indicator, in either order."""
        chomping = increment = 0
        for _ in range(2):
            char = self.buf[self.pos]
            if char in "+-" and not chomping:
                chomping = 1 if char == "+" else -1
            elif char in "0123456789" and not increment:
                if char == "0":
                    raise self.error(
                        "while scanning a block scalar",
                        start,
                        "found an indentation indicator equal to 0",
                    )
                increment = int(char)
            else:
                break
            self.skip()
        return chomping, increment

    def read_text(self, out: list[str], end: int) -> None:
        """Read everything up to ``end`` (no line breaks), tracking ``newlines`` as go-yaml."""
        chunk = self.buf[self.pos : end]
        out.append(chunk)
        if chunk.strip(BLANK):
            self.newlines = 0
        self.column += end - self.pos
        self.pos = end

    def scan_block_scalar_breaks(
        self, indent: int, breaks: list[str], start: Mark, end: Mark
    ) -> tuple[int, Mark]:
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
            if buf[self.pos] not in BREAK:
                break
            self.read_line(breaks)
            end = self.mark()
        if indent == 0:
            indent = max(max_indent, self.indent + 1, 1)
        return indent, end

    def scan_flow_scalar(self, single: bool) -> Token:
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
            if self.column == 0 and buf.startswith(("---", "..."), pos) and buf[pos + 3] in BLANKZ:
                raise self.error(
                    "while scanning a quoted scalar", start, "found unexpected document indicator"
                )
            if buf[pos] == "\0":
                raise self.error(
                    "while scanning a quoted scalar", start, "found unexpected end of stream"
                )
            leading_blanks = False
            while buf[self.pos] not in BLANKZ:
                pos = self.pos
                char = buf[pos]
                if single and char == "'" and buf[pos + 1] == "'":
                    out.append("'")
                    self.skip()
                    self.skip()
                elif char == ("'" if single else '"'):
                    break
                elif not single and char == "\\" and buf[pos + 1] in BREAK:
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
            leading_blanks = self.scan_scalar_gap(
                leading_blanks, whitespaces, leading_break, trailing_breaks, start, tab_column=0
            )
            if leading_blanks:
                _fold(out, leading_break, trailing_breaks)
            else:
                out.extend(whitespaces)
                whitespaces.clear()
        self.skip()
        return Token(
            SCALAR, start, self.mark(), "".join(out), SINGLE_QUOTED if single else DOUBLE_QUOTED
        )

    def scan_scalar_gap(
        self,
        leading_blanks: bool,
        whitespaces: list[str],
        leading_break: list[str],
        trailing_breaks: list[str],
        start: Mark,
        tab_column: int,
    ) -> bool:
        """The blanks and line breaks between two runs of a flow or plain scalar, kept for
        folding; whether a line break was met. A tab left of ``tab_column`` on a
        continuation line is an error (plain scalars only: quoted ones pass 0)."""
        buf = self.buf
        while buf[self.pos] in BLANK or buf[self.pos] in BREAK:
            if buf[self.pos] in BLANK:
                if leading_blanks and self.column < tab_column and buf[self.pos] == "\t":
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
                whitespaces.clear()
                self.read_line(leading_break)
                leading_blanks = True
            else:
                self.read_line(trailing_breaks)
        return leading_blanks

    def scan_escape(self, out: list[str], start: Mark) -> None:
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

    def scan_plain_scalar(self) -> Token:
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
            if self.column == 0 and buf.startswith(("---", "..."), pos) and buf[pos + 3] in BLANKZ:
                break
            if buf[pos] == "#":
                break
            match = run.match(buf, pos)
            if match is not None:
                if leading_blanks:
                    _fold(out, leading_break, trailing_breaks)
                    leading_blanks = False
                elif whitespaces:
                    out.extend(whitespaces)
                    whitespaces.clear()
                self.read_run(out, match.end())
                end = self.mark()
            if not (buf[self.pos] in BLANK or buf[self.pos] in BREAK):
                break
            leading_blanks = self.scan_scalar_gap(
                leading_blanks, whitespaces, leading_break, trailing_breaks, start, indent
            )
            if self.flow_level == 0 and self.column < indent:
                break
        if leading_blanks:
            self.simple_key_allowed = True
        return Token(SCALAR, start, end, "".join(out), PLAIN)


def _fold(out: list[str], leading_break: list[str], trailing_breaks: list[str]) -> None:
    """Line folding: a single line break becomes a space, further ones are kept."""
    if leading_break[:1] == ["\n"]:
        out.extend(trailing_breaks if trailing_breaks else [" "])
    else:
        out.extend(leading_break)
        out.extend(trailing_breaks)
    leading_break.clear()
    trailing_breaks.clear()


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
