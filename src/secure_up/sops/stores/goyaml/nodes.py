"""The node model and the composer: events to one node tree per document.

Mirrors go-yaml v3.0.4's ``Node`` type (``yaml.go``) and the part of
``decode.go`` that builds nodes from parser events (its ``parser`` type), with
the comment moves that happen there: a foot comment the parser hung on a key
moves to the key before it when the text dedents, a value's foot comment moves
to its key, and a block mapping's foot comment moves to its last key. Those
moves decide which mapping a comment ends up in (its AAD in sops), which
PyYAML's and ruamel.yaml's composers do not reproduce. The alias-bomb limit of
``decode.go`` lives here too.

Differences from go-yaml: a node keeps only what sops reads; tags are held
short (``!!str``) and a plain scalar's tag is resolved only when asked
(:func:`node_tag`), since most values never need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from secure_up.sops.stores.goyaml.resolve import resolve_tag, short_tag
from secure_up.sops.stores.goyaml.syntax import (
    DOUBLE_QUOTED,
    EV_ALIAS,
    EV_DOCUMENT_END,
    EV_DOCUMENT_START,
    EV_MAPPING_END,
    EV_MAPPING_START,
    EV_SCALAR,
    EV_SEQUENCE_END,
    EV_SEQUENCE_START,
    EV_STREAM_START,
    FLOW_STYLE,
    FOLDED,
    LITERAL,
    SINGLE_QUOTED,
    Event,
    YamlSyntaxError,
)

# Node kinds (go-yaml's Kind).
(
    DOCUMENT_NODE,
    SEQUENCE_NODE,
    MAPPING_NODE,
    SCALAR_NODE,
    ALIAS_NODE,
) = range(1, 6)

# Node style flags (go-yaml's Style bits).
TAGGED, DOUBLE_QUOTED_STYLE, SINGLE_QUOTED_STYLE, LITERAL_STYLE, FOLDED_STYLE, FLOW = (
    1 << bit for bit in range(6)
)

_NODE_STYLE_OF: Final = {
    DOUBLE_QUOTED: DOUBLE_QUOTED_STYLE,
    SINGLE_QUOTED: SINGLE_QUOTED_STYLE,
    LITERAL: LITERAL_STYLE,
    FOLDED: FOLDED_STYLE,
}


@dataclass(slots=True, eq=False)
class YamlNode:
    """go-yaml's Node, reduced to what sops reads."""

    kind: int
    tag: str = ""
    value: str = ""
    style: int = 0
    line: int = 0  # 1-based, for error messages
    head_comment: str = ""
    line_comment: str = ""
    foot_comment: str = ""
    alias: YamlNode | None = None
    content: list[YamlNode] = field(default_factory=list)


def node_tag(node: YamlNode) -> str:
    """The node's tag; plain untagged scalars are resolved only when asked (it is costly)."""
    if node.tag or node.kind != SCALAR_NODE:
        return node.tag
    return resolve_tag(node.value)


class Composer:
    """Builds one node tree per document from an event stream."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.events = events
        self.event: Event | None = None
        self.anchors: dict[str, YamlNode] = {}
        self.expect(EV_STREAM_START)

    def peek(self) -> Event:
        if self.event is None:
            self.event = next(self.events)
        return self.event

    def expect(self, kind: int) -> Event:
        event = self.peek()
        if event.kind != kind:  # go-yaml panics here; the parser never lets it happen
            raise YamlSyntaxError("did not find the expected YAML structure", event.start)
        self.event = None
        return event

    def documents(self) -> Iterator[YamlNode]:
        while self.peek().kind == EV_DOCUMENT_START:
            yield self.document()

    def node(self, kind: int, default_tag: str, tag: str, value: str) -> YamlNode:
        event = self.peek()
        style = 0
        if tag and tag != "!":
            tag = short_tag(tag)
            style = TAGGED
        elif default_tag:
            tag = default_tag
        return YamlNode(
            kind, tag, value, style, event.start.line + 1,
            event.head_comment, event.line_comment, event.foot_comment,
        )  # fmt: skip

    def parse(self) -> YamlNode:
        kind = self.peek().kind
        if kind == EV_SCALAR:
            return self.scalar()
        if kind == EV_ALIAS:
            return self.alias()
        if kind == EV_MAPPING_START:
            return self.mapping()
        if kind == EV_SEQUENCE_START:
            return self.sequence()
        raise YamlSyntaxError("did not find the expected YAML structure", self.peek().start)

    def document(self) -> YamlNode:
        node = self.node(DOCUMENT_NODE, "", "", "")
        self.expect(EV_DOCUMENT_START)
        node.content.append(self.parse())
        node.foot_comment = self.expect(EV_DOCUMENT_END).foot_comment
        return node

    def anchor(self, node: YamlNode, anchor: str) -> None:
        if anchor:
            self.anchors[anchor] = node

    def alias(self) -> YamlNode:
        event = self.peek()
        node = self.node(ALIAS_NODE, "", "", event.anchor)
        node.alias = self.anchors.get(event.anchor)
        if node.alias is None:
            raise YamlSyntaxError("an alias refers to an unknown anchor", event.start)
        self.expect(EV_ALIAS)
        return node

    def scalar(self) -> YamlNode:
        event = self.peek()
        node_style = _NODE_STYLE_OF.get(event.style, 0)
        default_tag = ""
        if node_style:
            default_tag = "!!str"
        elif event.value == "<<":
            default_tag = "!!merge"
        node = self.node(SCALAR_NODE, default_tag, event.tag, event.value)
        node.style |= node_style
        self.anchor(node, event.anchor)
        self.expect(EV_SCALAR)
        return node

    def sequence(self) -> YamlNode:
        event = self.peek()
        node = self.node(SEQUENCE_NODE, "!!seq", event.tag, "")
        if event.style == FLOW_STYLE:
            node.style |= FLOW
        self.anchor(node, event.anchor)
        self.expect(EV_SEQUENCE_START)
        while self.peek().kind != EV_SEQUENCE_END:
            node.content.append(self.parse())
        end = self.expect(EV_SEQUENCE_END)
        node.line_comment = end.line_comment
        node.foot_comment = end.foot_comment
        return node

    def mapping(self) -> YamlNode:
        event = self.peek()
        node = self.node(MAPPING_NODE, "!!map", event.tag, "")
        block = event.style != FLOW_STYLE
        if not block:
            node.style |= FLOW
        self.anchor(node, event.anchor)
        self.expect(EV_MAPPING_START)
        content = node.content
        while self.peek().kind != EV_MAPPING_END:
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
        end = self.expect(EV_MAPPING_END)
        node.line_comment = end.line_comment
        node.foot_comment = end.foot_comment
        if block and node.foot_comment and len(content) > 1:
            content[-2].foot_comment = node.foot_comment
            node.foot_comment = ""
        return node


# go-yaml's guard against alias bombs ("billion laughs"), decode.go's allowedAliasRatio.
_ALIAS_RATIO_LOW: Final = 400_000
_ALIAS_RATIO_HIGH: Final = 4_000_000


def is_excessive_aliasing(decoded: int, from_aliases: int) -> bool:
    """Whether too large a share of the ``decoded`` nodes came from expanding aliases."""
    return (
        from_aliases > 100
        and decoded > 1000
        and from_aliases / decoded > _allowed_alias_ratio(decoded)
    )


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / span
