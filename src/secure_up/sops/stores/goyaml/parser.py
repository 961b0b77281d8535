"""The parser: tokens to events, with the scanner's comments moved onto the events.

A port of go-yaml v3.0.4's ``parserc.go``. Besides YAML's grammar it carries
go-yaml v3's comment rules: which pending comments become an event's head, line
or foot comment, a "stem" comment above a collection in a list, and the
comments before the first document that belong to the stream rather than to it.
Those rules decide the mapping a comment ends up in, and so the comment's AAD
in sops; PyYAML and ruamel.yaml attach comments by other rules, hence the port.

Differences from go-yaml: errors carry no context mark (go-yaml quotes the
line of the enclosing construct), and events keep their start mark only.
Directives are parsed as go-yaml does (``%YAML`` must say 1.1, ``%TAG`` handles
are applied) because they decide whether a file is accepted at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from secure_up.sops.stores.goyaml.scanner import (
    ALIAS,
    ANCHOR,
    BLOCK_END,
    BLOCK_ENTRY,
    BLOCK_MAPPING_START,
    BLOCK_SEQUENCE_START,
    DOCUMENT_END,
    DOCUMENT_START,
    FLOW_ENTRY,
    FLOW_MAPPING_END,
    FLOW_MAPPING_START,
    FLOW_SEQUENCE_END,
    FLOW_SEQUENCE_START,
    KEY,
    SCALAR,
    STREAM_END,
    TAG,
    TAG_DIRECTIVE,
    VALUE,
    VERSION_DIRECTIVE,
    Scanner,
    Token,
)
from secure_up.sops.stores.goyaml.syntax import (
    DEFAULT_TAG_DIRECTIVES,
    EV_ALIAS,
    EV_DOCUMENT_END,
    EV_DOCUMENT_START,
    EV_MAPPING_END,
    EV_MAPPING_START,
    EV_SCALAR,
    EV_SEQUENCE_END,
    EV_SEQUENCE_START,
    EV_STREAM_END,
    EV_STREAM_START,
    FLOW_STYLE,
    PLAIN,
    Event,
    Mark,
    YamlSyntaxError,
)

# The parser's states (go-yaml's yaml_PARSE_*_STATE).
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


class Parser:
    """Turns tokens into events, moving the scanner's comments onto them."""

    def __init__(self, text: str) -> None:
        self.scanner = Scanner(text)
        self.state = _ST_STREAM_START
        self.states: list[int] = []
        self.tag_directives: list[tuple[str, str]] = []
        self.head_comment = ""
        self.line_comment = ""
        self.foot_comment = ""
        self.stem_comment = ""
        self.done = False
        self.handlers: dict[int, Callable[[], Event]] = {
            _ST_STREAM_START: self.parse_stream_start,
            _ST_IMPLICIT_DOCUMENT_START: lambda: self.parse_document_start(implicit=True),
            _ST_DOCUMENT_START: lambda: self.parse_document_start(implicit=False),
            _ST_DOCUMENT_CONTENT: self.parse_document_content,
            _ST_DOCUMENT_END: self.parse_document_end,
            _ST_BLOCK_NODE: lambda: self.parse_node(block=True, indentless_sequence=False),
            _ST_BLOCK_NODE_OR_INDENTLESS_SEQUENCE: lambda: self.parse_node(
                block=True, indentless_sequence=True
            ),
            _ST_FLOW_NODE: lambda: self.parse_node(block=False, indentless_sequence=False),
            _ST_BLOCK_SEQUENCE_FIRST_ENTRY: self.parse_block_sequence_first_entry,
            _ST_BLOCK_SEQUENCE_ENTRY: self.parse_block_sequence_entry,
            _ST_INDENTLESS_SEQUENCE_ENTRY: self.parse_indentless_sequence_entry,
            _ST_BLOCK_MAPPING_FIRST_KEY: self.parse_block_mapping_first_key,
            _ST_BLOCK_MAPPING_KEY: self.parse_block_mapping_key,
            _ST_BLOCK_MAPPING_VALUE: self.parse_block_mapping_value,
            _ST_FLOW_SEQUENCE_FIRST_ENTRY: lambda: self.parse_flow_sequence_entry(first=True),
            _ST_FLOW_SEQUENCE_ENTRY: lambda: self.parse_flow_sequence_entry(first=False),
            _ST_FLOW_SEQUENCE_ENTRY_MAPPING_KEY: self.parse_flow_sequence_entry_mapping_key,
            _ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE: self.parse_flow_sequence_entry_mapping_value,
            _ST_FLOW_SEQUENCE_ENTRY_MAPPING_END: self.parse_flow_sequence_entry_mapping_end,
            _ST_FLOW_MAPPING_FIRST_KEY: lambda: self.parse_flow_mapping_key(first=True),
            _ST_FLOW_MAPPING_KEY: lambda: self.parse_flow_mapping_key(first=False),
            _ST_FLOW_MAPPING_VALUE: lambda: self.parse_flow_mapping_value(empty=False),
            _ST_FLOW_MAPPING_EMPTY_VALUE: lambda: self.parse_flow_mapping_value(empty=True),
        }

    def events(self) -> Iterator[Event]:
        while not self.done:
            yield self.parse()

    # -- tokens and comments -----------------------------------------------------------

    def peek_token(self) -> Token:
        scanner = self.scanner
        token = scanner.next_token()
        if scanner.comments_head < len(scanner.comments):  # most tokens have no comment
            self.unfold_comments(token)
        return token

    def skip_token(self) -> None:
        self.scanner.consume_token()

    def unfold_comments(self, token: Token) -> None:
        """Join the queued comments that precede ``token`` into the pending comments."""
        scanner = self.scanner
        comments = scanner.comments
        while (
            scanner.comments_head < len(comments)
            and token.start.offset >= comments[scanner.comments_head].token_mark.offset
        ):
            comment = comments[scanner.comments_head]
            if comment.head:
                if token.kind == BLOCK_END:
                    break  # no heads on ends: keep it for a follow-up token
                self.head_comment = _join_comment(self.head_comment, comment.head)
            if comment.foot:
                self.foot_comment = _join_comment(self.foot_comment, comment.foot)
            if comment.line:
                self.line_comment = _join_comment(self.line_comment, comment.line)
            comment.clear()
            scanner.comments_head += 1

    def take_comments(self, event: Event) -> Event:
        event.head_comment = self.head_comment
        event.line_comment = self.line_comment
        event.foot_comment = self.foot_comment
        self.head_comment = self.line_comment = self.foot_comment = self.stem_comment = ""
        return event

    def error(self, problem: str, mark: Mark, context: str = "") -> YamlSyntaxError:
        return YamlSyntaxError(problem, mark, context)

    def pop_state(self) -> None:
        self.state = self.states.pop()

    # -- the state machine -------------------------------------------------------------

    def parse(self) -> Event:
        try:
            handler = self.handlers[self.state]
        except KeyError:
            raise AssertionError("the parser is past the end of the stream") from None
        return handler()

    def parse_stream_start(self) -> Event:
        token = self.peek_token()
        self.state = _ST_IMPLICIT_DOCUMENT_START
        self.skip_token()
        return Event(EV_STREAM_START, token.start)

    def parse_document_start(self, implicit: bool) -> Event:
        token = self.peek_token()
        if not implicit:
            while token.kind == DOCUMENT_END:
                self.skip_token()
                token = self.peek_token()
        if implicit and token.kind not in (
            VERSION_DIRECTIVE, TAG_DIRECTIVE, DOCUMENT_START, STREAM_END
        ):  # fmt: skip
            self.process_directives()
            self.states.append(_ST_DOCUMENT_END)
            self.state = _ST_BLOCK_NODE
            return Event(EV_DOCUMENT_START, token.start, head_comment=self.split_document_head())
        if token.kind != STREAM_END:
            start = token.start
            self.process_directives()
            token = self.peek_token()
            if token.kind != DOCUMENT_START:
                raise self.error("did not find expected <document start>", token.start)
            self.states.append(_ST_DOCUMENT_END)
            self.state = _ST_DOCUMENT_CONTENT
            self.skip_token()
            return Event(EV_DOCUMENT_START, start)
        self.state = _ST_END
        self.done = True
        self.skip_token()
        return Event(EV_STREAM_END, token.start)

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

    def parse_document_content(self) -> Event:
        token = self.peek_token()
        if token.kind in (
            VERSION_DIRECTIVE, TAG_DIRECTIVE, DOCUMENT_START, DOCUMENT_END, STREAM_END
        ):  # fmt: skip
            self.pop_state()
            return self.empty_scalar(token.start)
        return self.parse_node(block=True, indentless_sequence=False)

    def parse_document_end(self) -> Event:
        token = self.peek_token()
        if token.kind == DOCUMENT_END:
            self.skip_token()
        self.tag_directives = []
        self.state = _ST_DOCUMENT_START
        event = self.take_comments(Event(EV_DOCUMENT_END, token.start))
        if event.head_comment and not event.foot_comment:
            event.foot_comment = event.head_comment
            event.head_comment = ""
        return event

    def parse_node(self, block: bool, indentless_sequence: bool) -> Event:
        token = self.peek_token()
        if token.kind == ALIAS:
            self.pop_state()
            event = self.take_comments(Event(EV_ALIAS, token.start, anchor=token.value))
            self.skip_token()
            return event
        start = tag_mark = token.start
        anchor = tag_handle = tag_suffix = ""
        tag_token = False
        if token.kind == ANCHOR:
            anchor = token.value
            self.skip_token()
            token = self.peek_token()
            if token.kind == TAG:
                tag_token = True
                tag_handle, tag_suffix, tag_mark = token.value, token.suffix, token.start
                self.skip_token()
                token = self.peek_token()
        elif token.kind == TAG:
            tag_token = True
            tag_handle, tag_suffix, tag_mark = token.value, token.suffix, token.start
            self.skip_token()
            token = self.peek_token()
            if token.kind == ANCHOR:
                anchor = token.value
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
        if indentless_sequence and token.kind == BLOCK_ENTRY:
            self.state = _ST_INDENTLESS_SEQUENCE_ENTRY
            return Event(EV_SEQUENCE_START, start, anchor, tag, implicit=implicit)
        if token.kind == SCALAR:
            plain_implicit = quoted_implicit = False
            if (not tag and token.style == PLAIN) or tag == "!":
                plain_implicit = True
            elif not tag:
                quoted_implicit = True
            self.pop_state()
            event = self.take_comments(
                Event(
                    EV_SCALAR,
                    start,
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
        if token.kind == FLOW_SEQUENCE_START:
            self.state = _ST_FLOW_SEQUENCE_FIRST_ENTRY
            return self.take_comments(
                Event(
                    EV_SEQUENCE_START,
                    start,
                    anchor,
                    tag,
                    implicit=implicit,
                    style=FLOW_STYLE,
                )
            )
        if token.kind == FLOW_MAPPING_START:
            self.state = _ST_FLOW_MAPPING_FIRST_KEY
            return self.take_comments(
                Event(
                    EV_MAPPING_START,
                    start,
                    anchor,
                    tag,
                    implicit=implicit,
                    style=FLOW_STYLE,
                )
            )
        if block and token.kind in (BLOCK_SEQUENCE_START, BLOCK_MAPPING_START):
            sequence = token.kind == BLOCK_SEQUENCE_START
            self.state = _ST_BLOCK_SEQUENCE_FIRST_ENTRY if sequence else _ST_BLOCK_MAPPING_FIRST_KEY
            event = Event(
                EV_SEQUENCE_START if sequence else EV_MAPPING_START,
                start, anchor, tag, implicit=implicit,
            )  # fmt: skip
            if self.stem_comment:
                event.head_comment = self.stem_comment
                self.stem_comment = ""
            return event
        if anchor or tag:
            self.pop_state()
            return Event(EV_SCALAR, start, anchor=anchor, tag=tag, implicit=implicit, style=PLAIN)
        context = "while parsing a block node" if block else "while parsing a flow node"
        raise self.error("did not find expected node content", token.start, context)

    def parse_block_sequence_first_entry(self) -> Event:
        self.skip_collection_start()
        return self.parse_block_sequence_entry()

    def parse_block_sequence_entry(self) -> Event:
        token = self.peek_token()
        if token.kind == BLOCK_ENTRY:
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            stops = (BLOCK_ENTRY, BLOCK_END)
            return self.block_node_or_empty(token.end, stops, _ST_BLOCK_SEQUENCE_ENTRY, False)
        if token.kind == BLOCK_END:
            self.pop_state()
            event = Event(EV_SEQUENCE_END, token.start)
            self.skip_token()
            return event
        raise self.error(
            "did not find expected '-' indicator", token.start, "while parsing a block collection"
        )

    def parse_indentless_sequence_entry(self) -> Event:
        token = self.peek_token()
        if token.kind == BLOCK_ENTRY:
            prior_head_len = len(self.head_comment)
            self.skip_token()
            self.split_stem_comment(prior_head_len)
            stops = (BLOCK_ENTRY, KEY, VALUE, BLOCK_END)
            return self.block_node_or_empty(token.end, stops, _ST_INDENTLESS_SEQUENCE_ENTRY, False)
        self.pop_state()
        return Event(EV_SEQUENCE_END, token.start)

    def split_stem_comment(self, stem_len: int) -> None:
        """A collection under a sequence entry: the prior head comment becomes its stem."""
        if stem_len == 0:
            return
        token = self.peek_token()
        if token.kind not in (BLOCK_SEQUENCE_START, BLOCK_MAPPING_START):
            return
        self.stem_comment = self.head_comment[:stem_len]
        self.head_comment = self.head_comment[stem_len + 1 :]

    def parse_block_mapping_first_key(self) -> Event:
        self.skip_collection_start()
        return self.parse_block_mapping_key()

    def parse_block_mapping_key(self) -> Event:
        token = self.peek_token()
        if token.kind == KEY:
            self.skip_token()
            stops = (KEY, VALUE, BLOCK_END)
            return self.block_node_or_empty(token.end, stops, _ST_BLOCK_MAPPING_VALUE, True)
        if token.kind == BLOCK_END:
            return self.end_collection(EV_MAPPING_END, token)
        raise self.error("did not find expected key", token.start, "while parsing a block mapping")

    def parse_block_mapping_value(self) -> Event:
        token = self.peek_token()
        if token.kind == VALUE:
            self.skip_token()
            stops = (KEY, VALUE, BLOCK_END)
            return self.block_node_or_empty(token.end, stops, _ST_BLOCK_MAPPING_KEY, True)
        self.state = _ST_BLOCK_MAPPING_KEY
        return self.empty_scalar(token.start)

    def parse_flow_sequence_entry(self, first: bool) -> Event:
        if first:
            self.skip_collection_start()
        token = self.next_flow_entry(first, FLOW_SEQUENCE_END, "]", "while parsing a flow sequence")
        if token.kind == KEY:
            self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_KEY
            event = Event(EV_MAPPING_START, token.start, implicit=True, style=FLOW_STYLE)
            self.skip_token()
            return event
        if token.kind != FLOW_SEQUENCE_END:
            self.states.append(_ST_FLOW_SEQUENCE_ENTRY)
            return self.parse_node(block=False, indentless_sequence=False)
        return self.end_collection(EV_SEQUENCE_END, token)

    def parse_flow_sequence_entry_mapping_key(self) -> Event:
        token = self.peek_token()
        if token.kind not in (VALUE, FLOW_ENTRY, FLOW_SEQUENCE_END):
            self.states.append(_ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE)
            return self.parse_node(block=False, indentless_sequence=False)
        mark = token.end
        self.skip_token()
        self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_VALUE
        return self.empty_scalar(mark)

    def parse_flow_sequence_entry_mapping_value(self) -> Event:
        token = self.peek_token()
        if token.kind == VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (FLOW_ENTRY, FLOW_SEQUENCE_END):
                self.states.append(_ST_FLOW_SEQUENCE_ENTRY_MAPPING_END)
                return self.parse_node(block=False, indentless_sequence=False)
        self.state = _ST_FLOW_SEQUENCE_ENTRY_MAPPING_END
        return self.empty_scalar(token.start)

    def parse_flow_sequence_entry_mapping_end(self) -> Event:
        token = self.peek_token()
        self.state = _ST_FLOW_SEQUENCE_ENTRY
        return Event(EV_MAPPING_END, token.start)

    def parse_flow_mapping_key(self, first: bool) -> Event:
        if first:
            self.skip_collection_start()
        token = self.next_flow_entry(first, FLOW_MAPPING_END, "}", "while parsing a flow mapping")
        if token.kind == KEY:
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (VALUE, FLOW_ENTRY, FLOW_MAPPING_END):
                self.states.append(_ST_FLOW_MAPPING_VALUE)
                return self.parse_node(block=False, indentless_sequence=False)
            self.state = _ST_FLOW_MAPPING_VALUE
            return self.empty_scalar(token.start)
        if token.kind != FLOW_MAPPING_END:
            self.states.append(_ST_FLOW_MAPPING_EMPTY_VALUE)
            return self.parse_node(block=False, indentless_sequence=False)
        return self.end_collection(EV_MAPPING_END, token)

    def parse_flow_mapping_value(self, empty: bool) -> Event:
        token = self.peek_token()
        if empty:
            self.state = _ST_FLOW_MAPPING_KEY
            return self.empty_scalar(token.start)
        if token.kind == VALUE:
            self.skip_token()
            token = self.peek_token()
            if token.kind not in (FLOW_ENTRY, FLOW_MAPPING_END):
                self.states.append(_ST_FLOW_MAPPING_KEY)
                return self.parse_node(block=False, indentless_sequence=False)
        self.state = _ST_FLOW_MAPPING_KEY
        return self.empty_scalar(token.start)

    def block_node_or_empty(
        self, mark: Mark, stops: tuple[int, ...], state: int, indentless_sequence: bool
    ) -> Event:
        """After a block indicator ('-', '?', ':') ending at ``mark``: the node that follows,
        or an empty scalar when a token of ``stops`` comes first; then on to ``state``."""
        if self.peek_token().kind not in stops:
            self.states.append(state)
            return self.parse_node(block=True, indentless_sequence=indentless_sequence)
        self.state = state
        return self.empty_scalar(mark)

    def skip_collection_start(self) -> None:
        """Step over the token that opens a collection (peeking first unfolds its comments)."""
        self.peek_token()
        self.skip_token()

    def next_flow_entry(self, first: bool, end: int, closing: str, context: str) -> Token:
        """The token that starts a flow collection's next entry, past the ',' before it."""
        token = self.peek_token()
        if first or token.kind == end:
            return token
        if token.kind != FLOW_ENTRY:
            raise self.error(f"did not find expected ',' or '{closing}'", token.start, context)
        self.skip_token()
        return self.peek_token()

    def end_collection(self, kind: int, token: Token) -> Event:
        """The end event at ``token``, with the comments pending before it."""
        self.pop_state()
        event = self.take_comments(Event(kind, token.start))
        self.skip_token()
        return event

    def empty_scalar(self, mark: Mark) -> Event:
        return Event(EV_SCALAR, mark, implicit=True, style=PLAIN)

    def process_directives(self) -> None:
        token = self.peek_token()
        seen_version = False
        while token.kind in (VERSION_DIRECTIVE, TAG_DIRECTIVE):
            if token.kind == VERSION_DIRECTIVE:
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
        for handle, prefix in DEFAULT_TAG_DIRECTIVES:
            if not any(existing == handle for existing, _ in self.tag_directives):
                self.tag_directives.append((handle, prefix))


def _join_comment(pending: str, comment: str) -> str:
    return f"{pending}\n{comment}" if pending else comment
