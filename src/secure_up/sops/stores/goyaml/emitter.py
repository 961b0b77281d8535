"""The emitter: events to text, laid out as sops writes YAML.

A port of go-yaml v3.0.4's ``emitterc.go`` with the settings sops uses (indent
4, unicode, no line wrapping). The layout has to be sops' byte for byte, and
comments must come out where go-yaml writes them, since reading the file back
(by sops or by us) attaches each comment, and so its AAD, by position: a
comment written between two indentation levels can even read back one level
deeper, and sops' files carry that. PyYAML's and ruamel.yaml's emitters
indent, quote and place comments differently, hence the port.

Differences from go-yaml, all about input sops never produces: collections
are written in block style, flow style only for the empty ``[]`` and ``{}``;
there are no line comments (sops writes every comment on its own line), no
indentless sequences and no folded scalars on output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from secure_up.sops.stores.goyaml.syntax import (
    ANY,
    ANY_BREAK,
    BLANK,
    BREAK,
    DEFAULT_TAG_DIRECTIVES,
    DOUBLE_QUOTED,
    EV_DOCUMENT_START,
    EV_MAPPING_END,
    EV_MAPPING_START,
    EV_SCALAR,
    EV_SEQUENCE_END,
    EV_SEQUENCE_START,
    FOLDED,
    LITERAL,
    PLAIN,
    SINGLE_QUOTED,
    Event,
)


@dataclass(slots=True)
class ScalarAnalysis:
    """Which styles can hold a scalar (go-yaml's scalar_analysis, block context only)."""

    multiline: bool
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


_COLON_BLANK: Final = re.compile(":(?:[ \t]|\\Z)")
_HASH_AFTER_BLANK: Final = re.compile("[ \t\r\n\x85\u2028\u2029\0]#")
_SPECIAL_CHARACTER: Final = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_BREAK_SPACE: Final = re.compile("[\r\n\x85\u2028\u2029] ")
_SPACE_BREAK: Final = re.compile(" [\r\n\x85\u2028\u2029]")


def analyze_scalar(value: str) -> ScalarAnalysis:
    """go-yaml's yaml_emitter_analyze_scalar (which styles can hold ``value``), with regexes."""
    if not value:
        return _EMPTY_SCALAR
    first = value[0]
    first_followed_by_blank = len(value) == 1 or value[1] in BLANK
    block_indicators = (
        value.startswith(("---", "..."))
        or first in "#,[]{}&*!|>'\"%@`"
        or (first in "-?:" and first_followed_by_blank)
        or _COLON_BLANK.search(value, 1) is not None
        or _HASH_AFTER_BLANK.search(value) is not None
    )
    line_breaks = ANY_BREAK.search(value) is not None
    special_characters = _SPECIAL_CHARACTER.search(value) is not None
    break_space = line_breaks and _BREAK_SPACE.search(value) is not None
    space_break = line_breaks and _SPACE_BREAK.search(value) is not None
    edge_space_or_break = first == " " or first in BREAK or value[-1] == " " or value[-1] in BREAK
    block_plain = single_quoted = block = True
    if edge_space_or_break or line_breaks or block_indicators:
        block_plain = False
    if value[-1] == " ":
        block = False
    if break_space or space_break or "\t" in value or special_characters:
        block_plain = single_quoted = False
    if space_break or special_characters:
        block = False
    return ScalarAnalysis(line_breaks, block_plain, single_quoted, block)


_EMPTY_SCALAR: Final = ScalarAnalysis(False, True, True, False)


# The emitter's states (go-yaml's yaml_EMIT_*_STATE, the flow ones reduced to "empty").
(
    _EM_STREAM_START,
    _EM_FIRST_DOCUMENT_START,
    _EM_DOCUMENT_START,
    _EM_DOCUMENT_CONTENT,
    _EM_DOCUMENT_END,
    _EM_EMPTY_FLOW_SEQUENCE,
    _EM_EMPTY_FLOW_MAPPING,
    _EM_BLOCK_SEQUENCE_FIRST_ITEM,
    _EM_BLOCK_SEQUENCE_ITEM,
    _EM_BLOCK_MAPPING_FIRST_KEY,
    _EM_BLOCK_MAPPING_KEY,
    _EM_BLOCK_MAPPING_SIMPLE_VALUE,
    _EM_BLOCK_MAPPING_VALUE,
    _EM_END,
) = range(14)

INDENT: Final = 4  # sops' yaml indent default (IndentDefault)
_ESCAPED: Final = {
    "\0": "0", "\x07": "a", "\x08": "b", "\t": "t", "\n": "n", "\x0b": "v", "\x0c": "f",
    "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L",
    "\u2029": "P",
}  # fmt: skip
_LINE_BREAKS: Final = re.compile("([\r\n\x85\u2028\u2029])")
_NEEDS_ESCAPE: Final = re.compile(
    '["\\\\\\r\\n\\x85\\u2028\\u2029]|[^\\n\\x20-\\x7e\\xa0-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd]'
)


class Emitter:
    """Writes events as go-yaml v3 does with sops' settings (indent 4, unicode, no wrapping)."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.head = 0
        self.out: list[str] = []
        self.state = _EM_STREAM_START
        self.states: list[int] = []
        self.indent = -1
        self.indents: list[int] = []
        self.simple_key_context = False
        self.column = 0
        self.whitespace = self.indention = True
        self.foot_indent = -1
        self.head_comment = self.foot_comment = self.tail_comment = ""
        self.tag_handle = self.tag_suffix = ""
        self.scalar_value = ""
        self.analysis = _EMPTY_SCALAR
        self.scalar_style = ANY
        self.handlers: dict[int, Callable[[Event], None]] = {
            _EM_STREAM_START: self.emit_stream_start,
            _EM_FIRST_DOCUMENT_START: lambda event: self.emit_document_start(event, first=True),
            _EM_DOCUMENT_START: lambda event: self.emit_document_start(event, first=False),
            _EM_DOCUMENT_CONTENT: self.emit_document_content,
            _EM_DOCUMENT_END: self.emit_document_end,
            _EM_EMPTY_FLOW_SEQUENCE: self.emit_empty_flow_sequence,
            _EM_EMPTY_FLOW_MAPPING: self.emit_empty_flow_mapping,
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
            if char in BREAK:
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

    def process_foot_comment(self) -> None:
        if self.foot_comment:
            self.write_indent()
            self.write_comment(self.foot_comment)
            self.foot_comment = ""
            self.foot_indent = max(self.indent, 0)

    # -- states ------------------------------------------------------------------------

    def increase_indent(self, flow: bool) -> None:
        """go-yaml's yaml_emitter_increase_indent; sops never asks for indentless sequences."""
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = INDENT if flow else 0
        else:
            if self.states[-1] == _EM_BLOCK_SEQUENCE_ITEM:
                self.indent += 2
            else:
                self.indent = INDENT * ((self.indent + INDENT) // INDENT)

    def pop_indent(self) -> None:
        self.indent = self.indents.pop()

    def pop_state(self) -> None:
        self.state = self.states.pop()

    def emit_stream_start(self, event: Event) -> None:
        del event
        self.state = _EM_FIRST_DOCUMENT_START

    def emit_document_start(self, event: Event, first: bool) -> None:
        if event.kind == EV_DOCUMENT_START:
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

    def emit_document_content(self, event: Event) -> None:
        self.states.append(_EM_DOCUMENT_END)
        self.process_head_comment()
        self.emit_node(event)
        self.process_foot_comment()

    def emit_document_end(self, event: Event) -> None:
        del event
        self.foot_indent = 0
        self.process_foot_comment()
        self.foot_indent = -1
        self.write_indent()
        self.state = _EM_DOCUMENT_START

    def emit_empty_flow_sequence(self, event: Event) -> None:
        """``[]``: sops writes every non-empty collection in block style."""
        del event  # the sequence's end
        self.write_indicator("[", True, True, False)
        self.write_indicator("]", False, False, False)
        self.process_foot_comment()
        self.pop_state()

    def emit_empty_flow_mapping(self, event: Event) -> None:
        """``{}``, with a pending head comment written inside the braces, as go-yaml does."""
        del event  # the mapping's end
        self.write_indicator("{", True, True, False)
        self.increase_indent(flow=True)
        self.process_head_comment()
        self.pop_indent()
        self.write_indicator("}", False, False, False)
        self.process_foot_comment()
        self.pop_state()

    def emit_block_sequence_item(self, event: Event, first: bool) -> None:
        if first:
            self.increase_indent(flow=False)
        if event.kind == EV_SEQUENCE_END:
            self.pop_indent()
            self.pop_state()
            return
        self.process_head_comment()
        self.write_indent()
        self.write_indicator("-", True, False, True)
        self.states.append(_EM_BLOCK_SEQUENCE_ITEM)
        self.emit_node(event)
        self.process_foot_comment()

    def emit_block_mapping_key(self, event: Event, first: bool) -> None:
        if first:
            self.increase_indent(flow=False)
        self.process_head_comment()
        if event.kind == EV_MAPPING_END:
            self.pop_indent()
            self.pop_state()
            return
        self.write_indent()
        if self.check_simple_key():
            self.states.append(_EM_BLOCK_MAPPING_SIMPLE_VALUE)
            self.emit_node(event, simple_key=True)
            return
        self.write_indicator("?", True, False, True)
        self.states.append(_EM_BLOCK_MAPPING_VALUE)
        self.emit_node(event)

    def emit_block_mapping_value(self, event: Event, simple: bool) -> None:
        if simple:
            self.write_indicator(":", False, False, False)
        else:
            self.write_indent()
            self.write_indicator(":", True, False, True)
        self.states.append(_EM_BLOCK_MAPPING_KEY)
        self.emit_node(event)
        self.process_foot_comment()

    def emit_node(self, event: Event, simple_key: bool = False) -> None:
        self.simple_key_context = simple_key
        kind = event.kind
        if kind == EV_SCALAR:
            self.emit_scalar(event)
        elif kind == EV_SEQUENCE_START:
            self.process_tag()
            if self.next_is(EV_SEQUENCE_END):
                self.state = _EM_EMPTY_FLOW_SEQUENCE
            else:
                self.state = _EM_BLOCK_SEQUENCE_FIRST_ITEM
        elif kind == EV_MAPPING_START:
            self.process_tag()
            if self.next_is(EV_MAPPING_END):
                self.state = _EM_EMPTY_FLOW_MAPPING
            else:
                self.state = _EM_BLOCK_MAPPING_FIRST_KEY
        else:
            raise AssertionError("the emitter expected a node")

    def next_is(self, kind: int) -> bool:
        return self.head + 1 < len(self.events) and self.events[self.head + 1].kind == kind

    def check_simple_key(self) -> bool:
        event = self.events[self.head]
        length = len(self.tag_handle) + len(self.tag_suffix)
        if event.kind == EV_SCALAR:
            if self.analysis.multiline:
                return False
            length += len(self.scalar_value.encode("utf-8", "surrogateescape"))
        elif event.kind == EV_SEQUENCE_START:
            if not self.next_is(EV_SEQUENCE_END):
                return False
        elif event.kind == EV_MAPPING_START:
            if not self.next_is(EV_MAPPING_END):
                return False
        else:
            return False
        return length <= 128

    def emit_scalar(self, event: Event) -> None:
        self.select_scalar_style(event)
        self.process_tag()
        self.increase_indent(flow=True)
        self.process_scalar()
        self.pop_indent()
        self.pop_state()

    def select_scalar_style(self, event: Event) -> None:
        no_tag = not self.tag_handle and not self.tag_suffix
        style = event.style or PLAIN
        analysis = self.analysis
        if self.simple_key_context and analysis.multiline:
            style = DOUBLE_QUOTED
        if style == PLAIN:
            if not analysis.block_plain_allowed:
                style = SINGLE_QUOTED
            if not self.scalar_value and self.simple_key_context:
                style = SINGLE_QUOTED
            if no_tag and not event.implicit:
                style = SINGLE_QUOTED
        if style == SINGLE_QUOTED and not analysis.single_quoted_allowed:
            style = DOUBLE_QUOTED
        if style in (LITERAL, FOLDED) and (not analysis.block_allowed or self.simple_key_context):
            style = DOUBLE_QUOTED
        if no_tag and not event.quoted_implicit and style != PLAIN:
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

    def analyze_event(self, event: Event) -> None:
        self.tag_handle = self.tag_suffix = self.scalar_value = ""
        if event.head_comment:
            self.head_comment = event.head_comment
        if event.foot_comment:
            self.foot_comment = event.foot_comment
        if event.tail_comment:
            self.tail_comment = event.tail_comment
        if event.kind in (EV_SCALAR, EV_SEQUENCE_START, EV_MAPPING_START):
            explicit = not event.implicit and not (
                event.kind == EV_SCALAR and event.quoted_implicit
            )
            if event.tag and explicit:
                self.analyze_tag(event.tag)
        if event.kind == EV_SCALAR:
            self.scalar_value = event.value
            self.analysis = analyze_scalar(event.value)

    def analyze_tag(self, tag: str) -> None:
        for handle, prefix in DEFAULT_TAG_DIRECTIVES:
            if tag.startswith(prefix):
                self.tag_handle, self.tag_suffix = handle, tag[len(prefix) :]
                return
        self.tag_suffix = tag

    # -- scalars -----------------------------------------------------------------------

    def process_scalar(self) -> None:
        style, value = self.scalar_style, self.scalar_value
        if style == PLAIN:
            self.write_plain(value)
        elif style == SINGLE_QUOTED:
            self.write_single_quoted(value)
        elif style == DOUBLE_QUOTED:
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
        if not any(char in BREAK for char in value):
            self.put(value.replace("'", "''") if quote else value)
            if value:
                self.indention = False
            return
        breaks = False
        for char in value:
            if char in BREAK:
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
        self.put(double_quoted_body(value))
        self.write_indicator('"', False, False, False)
        self.whitespace = self.indention = False

    def write_literal(self, value: str) -> None:
        self.write_indicator(literal_header(value), True, False, False)
        self.put_break()  # go-yaml writes a line comment here; sops never has one
        self.whitespace = True
        breaks = True
        for piece in _LINE_BREAKS.split(value):
            if not piece:
                continue
            if piece in BREAK:
                self.write_break(piece)
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put(piece)
                self.indention = breaks = False


def double_quoted_body(value: str) -> str:
    escape_all = value.startswith("\ufeff")  # go-yaml's is_bom looks at the start of the value
    if not escape_all and not _NEEDS_ESCAPE.search(value):
        return value
    pieces = []
    for char in value:
        if escape_all or char in '"\\' or char in BREAK or not _is_printable(char):
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


def literal_header(value: str) -> str:
    """The block scalar indicators go-yaml writes: indentation hint and chomping."""
    hint = str(INDENT) if value[0] == " " or value[0] in BREAK else ""
    if value[-1] not in BREAK:
        return f"|{hint}-"
    if len(value) == 1 or value[-2] in BREAK:
        return f"|{hint}+"
    return f"|{hint}"
