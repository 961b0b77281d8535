"""Two fast paths around the go-yaml port, for files and trees without comments.

The port (scanner, parser, composer; encoder, emitter) is exact but slow in
pure Python. Without comments there is nothing whose placement could differ,
so:

* reading: libyaml (PyYAML's C parser, from which go-yaml's parser was ported)
  parses the text, and nodes are built as go-yaml's composer (``decode.go``)
  builds them. Any text with a comment, a directive, or an escape the two
  parsers judge differently goes to the port instead;
* writing: a tree without comments, complex keys or tags is written directly,
  in the layout go-yaml's emitter (``emitterc.go``) gives it with sops'
  settings; anything else raises :class:`NeedsEmitter`.

PyYAML is used only as a parser here: its composer, resolver and emitter
follow other rules than go-yaml's. Tests check both paths against the port.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Any, Final

import yaml as pyyaml

from secure_up.sops.stores.goyaml.emitter import INDENT, double_quoted_body, literal_header
from secure_up.sops.stores.goyaml.encoder import marshal_scalar
from secure_up.sops.stores.goyaml.nodes import (
    ALIAS_NODE,
    DOCUMENT_NODE,
    DOUBLE_QUOTED_STYLE,
    FLOW,
    FOLDED_STYLE,
    LITERAL_STYLE,
    MAPPING_NODE,
    SCALAR_NODE,
    SEQUENCE_NODE,
    SINGLE_QUOTED_STYLE,
    TAGGED,
    YamlNode,
)
from secure_up.sops.stores.goyaml.resolve import short_tag
from secure_up.sops.stores.goyaml.syntax import ANY_BREAK, LITERAL, PLAIN, SINGLE_QUOTED
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence

# -- reading: libyaml for texts without comments ---------------------------------------

_LOADER: Final = getattr(pyyaml, "CBaseLoader", pyyaml.BaseLoader)
_COMMENT_LINE: Final = re.compile("^[ \t]*#", re.MULTILINE)
_LIBYAML_NODE_STYLES: Final = {
    None: 0, "": 0, "'": SINGLE_QUOTED_STYLE, '"': DOUBLE_QUOTED_STYLE, "|": LITERAL_STYLE,
    ">": FOLDED_STYLE,
}  # fmt: skip


def compose_with_libyaml(text: str) -> list[YamlNode] | None:
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


def _libyaml_documents(text: str, scalar_spans: list[tuple[int, int]]) -> list[YamlNode] | None:
    documents: list[YamlNode] = []
    open_nodes: list[YamlNode] = []
    anchors: dict[str, YamlNode] = {}
    scalar_event, alias_event = pyyaml.ScalarEvent, pyyaml.AliasEvent
    events: Iterator[Any] = pyyaml.parse(text, Loader=_LOADER)
    for event in events:
        event_type = type(event)
        line = event.start_mark.line + 1
        if event_type is scalar_event:
            scalar_spans.append((event.start_mark.index, event.end_mark.index))
            node = YamlNode(SCALAR_NODE, "", event.value, _LIBYAML_NODE_STYLES[event.style], line)
            if event.tag and event.tag != "!":
                node.tag, node.style = short_tag(event.tag), node.style | TAGGED
            elif node.style:
                node.tag = "!!str"
            elif node.value == "<<":
                node.tag = "!!merge"
        elif event_type is alias_event:
            node = YamlNode(ALIAS_NODE, "", event.anchor, 0, line, alias=anchors.get(event.anchor))
            if node.alias is None:
                return None  # the port reports the unknown anchor
        elif event_type in (pyyaml.MappingStartEvent, pyyaml.SequenceStartEvent):
            mapping = event_type is pyyaml.MappingStartEvent
            node = YamlNode(MAPPING_NODE if mapping else SEQUENCE_NODE, "", "", 0, line)
            node.tag = short_tag(event.tag) if event.tag and event.tag != "!" else ""
            if event.flow_style:
                node.style = FLOW
        elif event_type in (pyyaml.MappingEndEvent, pyyaml.SequenceEndEvent):
            open_nodes.pop()
            continue
        elif event_type is pyyaml.DocumentStartEvent:
            open_nodes.append(YamlNode(DOCUMENT_NODE, line=line))
            continue
        elif event_type is pyyaml.DocumentEndEvent:
            documents.append(open_nodes.pop())
            continue
        else:
            continue  # stream start and end
        if event.anchor:
            anchors[event.anchor] = node
        open_nodes[-1].content.append(node)
        if node.kind in (MAPPING_NODE, SEQUENCE_NODE):
            open_nodes.append(node)
    return documents


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


# -- writing: a direct writer for trees without comments -------------------------------


class NeedsEmitter(Exception):
    """The tree has something only the full emitter writes (comments, complex keys, tags)."""


def write_directly(documents: Documents) -> str:
    """The text the emitter would write for ``documents``, or :class:`NeedsEmitter`."""
    out: list[str] = []
    for index, document in enumerate(documents):
        if index:
            out.append("---\n")
        if document:
            _write_mapping(document, 0, out, inline=False)
        else:
            out.append("{}\n")
    return "".join(out)


_COLLECTIONS: Final = (Branch, Sequence)


def _child_indent(indent: int) -> int:
    """go-yaml's increase_indent for what a mapping holds."""
    return INDENT * ((indent + INDENT) // INDENT)


def _write_mapping(branch: Branch, indent: int, out: list[str], inline: bool) -> None:
    """A block mapping; ``inline``: its first key goes on the current line (after ``- ``)."""
    pad = " " * indent
    child = _child_indent(indent)
    for entry in branch:
        if isinstance(entry, Comment):
            raise NeedsEmitter
        key, value = entry
        out.append(_simple_key(key) + ":" if inline else pad + _simple_key(key) + ":")
        inline = False
        if isinstance(value, _COLLECTIONS):
            _write_collection(value, child, out, beside=False)
        else:
            _write_scalar(value, child, out)


def _write_sequence(sequence: Sequence, indent: int, out: list[str], inline: bool) -> None:
    """A block sequence; ``inline``: its first item goes on the current line (after ``- ``)."""
    pad = " " * indent
    child = indent + 2
    for item in sequence:
        if isinstance(item, Comment):
            raise NeedsEmitter
        out.append("-" if inline else pad + "-")
        inline = False
        if isinstance(item, _COLLECTIONS):
            _write_collection(item, child, out, beside=True)
        else:
            _write_scalar(item, child, out)


def _write_collection(value: Branch | Sequence, indent: int, out: list[str], beside: bool) -> None:
    """What follows ``key:`` or ``-``: ``{}`` or ``[]`` on the same line, or a collection
    starting on the next line (a mapping's value) or ``beside`` it (a list item)."""
    if not value:
        out.append(" {}\n" if isinstance(value, Branch) else " []\n")
    else:
        out.append(" " if beside else "\n")
        if isinstance(value, Branch):
            _write_mapping(value, indent, out, inline=beside)
        else:
            _write_sequence(value, indent, out, inline=beside)


def _quoted(text: str, style: int) -> str:
    if style == PLAIN:
        return text
    if style == SINGLE_QUOTED:
        if ANY_BREAK.search(text):  # U+2028 and U+2029 are printable to go-yaml
            raise NeedsEmitter
        return "'" + text.replace("'", "''") + "'"
    return '"' + double_quoted_body(text) + '"'


def _simple_key(key: str) -> str:
    text, style, tag = marshal_scalar(key)
    if tag or style == LITERAL or ANY_BREAK.search(text) or len(text.encode("utf-8")) > 128:
        raise NeedsEmitter
    return _quoted(text, style)


def _write_scalar(value: Node, content_indent: int, out: list[str]) -> None:
    text, style, tag = marshal_scalar(value)
    if tag:
        raise NeedsEmitter
    if style != LITERAL:
        out.append(" " + _quoted(text, style) + "\n")
        return
    pad = " " * content_indent
    body = "\n".join(pad + line if line else line for line in text.split("\n"))
    out.append(" " + literal_header(text) + "\n" + body + ("" if text.endswith("\n") else "\n"))
