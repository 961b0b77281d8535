"""The encoder: sops tree values to scalars, and node trees to emitter events.

Mirrors the parts of go-yaml v3.0.4's ``encode.go`` that sops reaches through
``yaml.Marshal`` of the nodes it builds: how a Go value becomes a scalar's
text, style and tag (``Node.Encode``: floats in Go's shortest format, YAML 1.1
booleans quoted, non-UTF-8 bytes as ``!!binary``), and how a node tree becomes
events, a key's foot comment travelling on to be written after its value.
The text must be sops' byte for byte, and which style a value gets decides
whether it reads back as the same type; PyYAML's and ruamel.yaml's
representers choose differently, hence the port.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Final

from secure_up.sops.stores.flat import exponent_notation, fixed_notation, shortest_digits
from secure_up.sops.stores.goyaml.emitter import Emitter, analyze_scalar
from secure_up.sops.stores.goyaml.nodes import MAPPING_NODE, SEQUENCE_NODE, YamlNode
from secure_up.sops.stores.goyaml.resolve import resolve_tag
from secure_up.sops.stores.goyaml.syntax import (
    DOUBLE_QUOTED,
    EV_DOCUMENT_END,
    EV_DOCUMENT_START,
    EV_MAPPING_END,
    EV_MAPPING_START,
    EV_SCALAR,
    EV_SEQUENCE_END,
    EV_SEQUENCE_START,
    EV_STREAM_END,
    EV_STREAM_START,
    LITERAL,
    PLAIN,
    SINGLE_QUOTED,
    ZERO_MARK,
    Event,
)
from secure_up.sops.tree import Node, Time, from_bytes


def _format_go_float(number: float) -> str:
    """Go's ``strconv.FormatFloat(number, 'g', -1, 64)`` as go-yaml writes floats."""
    if math.isnan(number):
        return ".nan"
    if math.isinf(number):
        return ".inf" if number > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    digits, point = shortest_digits(number)
    if digits and not -4 <= point - 1 < 6:
        return sign + exponent_notation(digits, point, "e")
    return sign + fixed_notation(digits, point)


# YAML 1.1 forms that go-yaml v3 reads as strings but quotes on output (isOldBool,
# isBase60Float), so that YAML 1.1 readers do not take them for booleans or numbers.
_OLD_BOOLS: Final = frozenset("y Y yes Yes YES on On ON n N no No NO off Off OFF".split())
_BASE60_FLOAT: Final = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")


def _go_base64(data: bytes) -> str:
    """go-yaml's encodeBase64: 70-column lines, each ending in a newline when there are several."""
    text = base64.b64encode(data).decode("ascii")
    if len(text) < 70:
        return text
    return "".join(text[i : i + 70] + "\n" for i in range(0, len(text), 70))


def marshal_scalar(value: Node) -> tuple[str, int, str]:
    """The text, style and tag go-yaml gives a Go value when it encodes it (Node.Encode)."""
    if value is None:
        return "null", PLAIN, ""
    if value is True or value is False:
        return ("true" if value else "false"), PLAIN, ""
    if isinstance(value, Time):
        return str(value), PLAIN, ""
    if isinstance(value, int):
        return str(value), PLAIN, ""
    if isinstance(value, float):
        return _format_go_float(value), PLAIN, ""
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
            resolve_tag(text) == "!!str"
            and text not in _OLD_BOOLS
            and not (text[:1] in "+-0123456789" and ":" in text and _BASE60_FLOAT.match(text))
        )
    if "\n" in text:
        style = LITERAL
    elif can_use_plain:
        style = PLAIN
    else:
        style = DOUBLE_QUOTED
    analysis = analyze_scalar(text)
    if style == PLAIN and not analysis.block_plain_allowed:
        style = SINGLE_QUOTED
    if style == SINGLE_QUOTED and not analysis.single_quoted_allowed:
        style = DOUBLE_QUOTED
    if style == LITERAL and not analysis.block_allowed:
        style = DOUBLE_QUOTED
    if style == LITERAL and text.startswith("\t"):
        # Where we differ from go-yaml on purpose: its literal block for a value whose
        # first line starts with a tab does not read back (its scanner wants the
        # indentation there: "found a tab character where an indentation space is
        # expected"), and sops then writes null, losing the value. Double quotes keep it.
        style = DOUBLE_QUOTED
    return text, style, tag


def _node_events(node: YamlNode, tail: str, out: list[Event]) -> None:
    """go-yaml's encoder: a node (as sops builds them) to emitter events.

    Line comments are not carried: sops builds no node with one.
    """
    kind = node.kind
    if kind == MAPPING_NODE:
        out.append(
            Event(EV_MAPPING_START, ZERO_MARK, implicit=True, head_comment=node.head_comment,
                   tail_comment=tail)
        )  # fmt: skip
        # A key's foot comment is written after its value: it travels as the next "tail".
        pending_tail = ""
        content = node.content
        for index in range(0, len(content), 2):
            key = content[index]
            foot = key.foot_comment
            if foot:
                key = YamlNode(
                    key.kind, key.tag, key.value, key.style, head_comment=key.head_comment
                )
            _node_events(key, pending_tail, out)
            pending_tail = foot
            _node_events(content[index + 1], "", out)
        out.append(
            Event(
                EV_MAPPING_END, ZERO_MARK, foot_comment=node.foot_comment, tail_comment=pending_tail
            )
        )
    elif kind == SEQUENCE_NODE:
        out.append(
            Event(EV_SEQUENCE_START, ZERO_MARK, implicit=True, head_comment=node.head_comment)
        )
        for item in node.content:
            _node_events(item, "", out)
        out.append(Event(EV_SEQUENCE_END, ZERO_MARK, foot_comment=node.foot_comment))
    else:
        implicit = not node.tag
        out.append(
            Event(
                EV_SCALAR, ZERO_MARK, tag=node.tag, value=node.value, implicit=implicit,
                quoted_implicit=implicit, style=node.style, head_comment=node.head_comment,
                foot_comment=node.foot_comment, tail_comment=tail,
            )
        )  # fmt: skip


def emit(documents: list[YamlNode]) -> str:
    """The YAML text of a stream of document roots, as go-yaml's yaml.Marshal writes it."""
    events = [Event(EV_STREAM_START, ZERO_MARK)]
    for root in documents:
        events.append(Event(EV_DOCUMENT_START, ZERO_MARK, implicit=True))
        _node_events(root, "", events)
        events.append(Event(EV_DOCUMENT_END, ZERO_MARK, implicit=True))
    events.append(Event(EV_STREAM_END, ZERO_MARK))
    return Emitter(events).run()
