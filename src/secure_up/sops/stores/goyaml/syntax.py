"""What go-yaml's scanner, parser and emitter share: marks, errors, styles, events.

Mirrors go-yaml v3.0.4's ``yamlh.go`` (token, event and style constants, the
event type) and ``yamlprivateh.go`` (character classes). The whole
:mod:`~secure_up.sops.stores.goyaml` package is a port because sops' comment
placement, and so each comment's AAD, depends on go-yaml's exact behaviour (see
the package docstring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NamedTuple


class Mark(NamedTuple):
    """A position in the text: character index, 0-based line and column (go-yaml's order)."""

    offset: int
    line: int
    column: int


ZERO_MARK: Final = Mark(0, 0, 0)


class YamlSyntaxError(Exception):
    """Malformed YAML, as go-yaml reports it; never carries text from the document."""

    def __init__(self, problem: str, mark: Mark, context: str = "") -> None:
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
BLANK: Final = " \t"
BREAK: Final = "\r\n\x85\u2028\u2029"
BREAKZ: Final = BREAK + "\0"
BLANKZ: Final = BLANK + BREAKZ

# Scalar styles (go-yaml's yaml_*_SCALAR_STYLE).
ANY, PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED, LITERAL, FOLDED = range(6)

#: The prefix of YAML's core tags; nodes hold them short ("!!str").
LONG_TAG_PREFIX: Final = "tag:yaml.org,2002:"
#: Any line break (go-yaml's is_break).
ANY_BREAK: Final = re.compile("[\r\n\x85\u2028\u2029]")

# Event kinds (go-yaml's yaml_*_EVENT).
(
    EV_STREAM_START,
    EV_STREAM_END,
    EV_DOCUMENT_START,
    EV_DOCUMENT_END,
    EV_ALIAS,
    EV_SCALAR,
    EV_SEQUENCE_START,
    EV_SEQUENCE_END,
    EV_MAPPING_START,
    EV_MAPPING_END,
) = range(10)

FLOW_STYLE: Final = 1  # sequence/mapping style flag on events
#: The tag handles every document knows without a %TAG directive.
DEFAULT_TAG_DIRECTIVES: Final = (("!", "!"), ("!!", LONG_TAG_PREFIX))


@dataclass(slots=True)
class Event:
    """What the parser produces and the emitter consumes (go-yaml's yaml_event_t, comments too)."""

    kind: int
    start: Mark  # go-yaml also keeps an end mark; nothing here reads one
    anchor: str = ""
    tag: str = ""
    value: str = ""
    implicit: bool = False
    quoted_implicit: bool = False
    style: int = ANY
    head_comment: str = ""
    line_comment: str = ""
    foot_comment: str = ""
    tail_comment: str = ""
