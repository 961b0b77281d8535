"""The YAML store: sops' YAML layout, byte for byte and comment for comment.

sops reads and writes YAML with go-yaml v3 and flattens go-yaml's nodes into its
tree (``stores/yaml/store.go``). Which node go-yaml attaches a comment to (head,
line or foot comment) decides the branch the comment lands in, and so its AAD;
no Python YAML library attaches comments that way. The YAML itself is therefore
read and written by a port of go-yaml v3.0.4 (:mod:`secure_up.sops.stores.goyaml`,
with fast paths for files and trees without comments); this module holds the
sops part: go-yaml nodes to the sops tree and back, where the ``sops`` metadata
goes, and the :class:`YamlStore`.

Behaviour of sops 3.11 that this reproduces (checked against the binary):

* ``2024-01-02`` is a timestamp (``Time("2024-01-02T00:00:00Z")``), while
  ``2001-12-14 21:59:43.10 -5`` is a string; ``017`` is 15; ``1.0`` is a float
  written back as ``1``; ``yes``, ``on`` and ``n`` are strings written quoted, as
  keys too (``"on":``); keys longer than 128 bytes are written ``? key``;
* a key's trailing comment ends up before the key, and so does a list item's;
  sops writes every comment on its own line;
* sops encrypts a comment inside a list into a ``- ENC[...,type:comment]`` item
  (the engine returns it as text there), decrypts it back into a comment and
  leaves it out of the MAC (``Comment("")`` in a list becomes ``""``);
* a key defined twice in one mapping is refused, in plaintext and encrypted
  files alike, and named by its path (sops refuses most such files too);
* sops' output is not always stable: a comment written between two indentation
  levels can read back one level deeper (its AAD moved, so it no longer decrypts:
  sops and the engine keep it in its encrypted form, with a warning), ``-0.0``
  is written ``-0`` and reads back as the int 0, and a multi-line value
  starting with a space or newline gets a ``|4`` hint that is wrong inside
  lists, so the file does not parse again. Such files cannot round trip in
  sops either; this module does what sops would do with them;
* an empty file has no documents; a file of only comments or blank lines is
  refused; ``---`` alone is one empty document, written back as ``{}``.
"""

from __future__ import annotations

import base64
from typing import Final

from secure_up.errors import FormatError, NotEncryptedError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.stores.goyaml.encoder import emit, marshal_scalar
from secure_up.sops.stores.goyaml.fast import NeedsEmitter, compose_with_libyaml, write_directly
from secure_up.sops.stores.goyaml.nodes import (
    ALIAS_NODE,
    DOCUMENT_NODE,
    MAPPING_NODE,
    SCALAR_NODE,
    SEQUENCE_NODE,
    Composer,
    YamlNode,
    is_excessive_aliasing,
    node_tag,
)
from secure_up.sops.stores.goyaml.parser import Parser
from secure_up.sops.stores.goyaml.resolve import BigInt, ResolveError, resolve
from secure_up.sops.stores.goyaml.scanner import DISALLOWED_CHARACTERS
from secure_up.sops.stores.goyaml.syntax import YamlSyntaxError
from secure_up.sops.tree import (
    Branch,
    Comment,
    Documents,
    Node,
    Sequence,
    Time,
    from_bytes,
    from_plain,
)

_METADATA_KEY: Final = "sops"


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
        metadata_tree = from_plain(metadata)
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
        # yaml.Marshal of one value, as `sops decrypt --extract` prints non-strings
        return emit([_tree_to_node(value)]).encode("utf-8", "surrogateescape")


STORE: Final = YamlStore()


# -- reading: text to go-yaml nodes to the sops tree ----------------------------------


def _load_nodes(data: bytes) -> list[YamlNode]:
    """One go-yaml node tree per document of the file."""
    nodes = _compose(_decode_text(data))
    if not nodes and data:
        raise FormatError(
            "the YAML file holds no document (only comments or blank lines)",
            "add at least one `key: value` line",
        )
    return nodes


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
    bad = DISALLOWED_CHARACTERS.search(text)
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


def _compose(text: str) -> list[YamlNode]:
    """The document nodes, by libyaml when the text has no comments, else by the go-yaml port."""
    nodes = compose_with_libyaml(text)
    if nodes is not None:
        return nodes
    try:
        return list(Composer(Parser(text).events()).documents())
    except YamlSyntaxError as error:
        raise FormatError(
            f"invalid YAML at {error.describe()}",
            "fix the YAML syntax at that position (a YAML linter shows the details)",
        ) from None
    except RecursionError:
        raise _nested_too_deeply() from None


def _nested_too_deeply() -> FormatError:
    return FormatError("invalid YAML: the document is nested too deeply", "flatten the structure")


def _format_error(problem: str, line: int, fix: str) -> FormatError:
    return FormatError(f"invalid YAML at line {line}: {problem}", fix)


def _to_documents(nodes: list[YamlNode]) -> Documents:
    """sops' flattening of each document node into a :class:`Branch`."""
    builder = _TreeBuilder()
    try:
        return [builder.document(node) for node in nodes]
    except RecursionError:
        raise _nested_too_deeply() from None


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
        #: The keys above the mapping being read, to name a duplicate key by its path.
        self.path: list[str] = []

    def count(self, node: YamlNode) -> None:
        self.decoded += 1
        if self.alias_depth:
            self.from_aliases += 1
            if is_excessive_aliasing(self.decoded, self.from_aliases):
                raise _format_error(
                    "the document contains excessive aliasing (an alias bomb?)",
                    node.line,
                    "expand the anchors and aliases by hand",
                )

    def document(self, node: YamlNode) -> Branch:
        return self.append_to_branch(node, Branch(), comments_handled=False)

    def enter_alias(self, node: YamlNode) -> YamlNode:
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

    def leave_alias(self, node: YamlNode) -> None:
        self.alias_depth -= 1
        self.expanding.discard(id(node))

    def append_to_branch(self, node: YamlNode, branch: Branch, comments_handled: bool) -> Branch:
        self.count(node)
        if not comments_handled:
            _append_comments(branch, node.head_comment)
            _append_comments(branch, node.line_comment)
        kind = node.kind
        if kind == DOCUMENT_NODE:
            for child in node.content:
                self.append_to_branch(child, branch, comments_handled=False)
        elif kind == MAPPING_NODE:
            self.append_mapping(node, branch)
        elif kind == SEQUENCE_NODE:
            raise FormatError(
                "the YAML document is a list; sops files must be a mapping at the top level",
                "put the list under a key, e.g. `items:`",
            )
        elif kind == SCALAR_NODE:
            if node_tag(node) != "!!null":  # an empty document ("---" alone) is an empty branch
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

    def append_mapping(self, node: YamlNode, branch: Branch) -> None:
        content = node.content
        seen: dict[tuple[int, str], int] = {}
        for index in range(0, len(content), 2):
            key, value = content[index], content[index + 1]
            _append_comments(branch, key.head_comment)
            _append_comments(branch, key.line_comment)
            scalar_value = value.kind in (SCALAR_NODE, ALIAS_NODE)
            if scalar_value:
                _append_comments(branch, value.head_comment)
                _append_comments(branch, value.line_comment)
            if key.kind == SCALAR_NODE and key.tag == "!!merge" and not _is_merge_value(value):
                raise _format_error(
                    "a merge key (<<) needs a mapping or a list of mappings",
                    key.line,
                    "point `<<` at a mapping anchor, or quote the key",
                )
            key_text = self.key_text(key)
            # go-yaml's check (same kind and text) and the tree's (same key once decoded,
            # e.g. `a` and `!!binary YQ==`): the tree must never hold a key twice.
            first = seen.get((key.kind, key.value)) or seen.get((-1, key_text))
            if first is not None:
                raise self.duplicate_key(key_text, key.line, first)
            seen[(key.kind, key.value)] = seen[(-1, key_text)] = key.line
            self.path.append(key_text)
            branch.append((key_text, self.value(value, comments_handled=scalar_value)))
            self.path.pop()
            if scalar_value:
                _append_comments(branch, value.foot_comment)
            _append_comments(branch, key.foot_comment)

    def duplicate_key(self, key_text: str, line: int, first: int) -> FormatError:
        """sops refuses duplicate keys too; a second value under one key would be ambiguous."""
        path = ":".join([*self.path, key_text])
        return _format_error(
            f"the key {path!r} is defined twice (first at line {first}); a duplicate key is "
            "ambiguous, so the file is refused",
            line,
            f"remove or rename one of the two {key_text!r} keys",
        )

    def key_text(self, key: YamlNode) -> str:
        """A key as sops would name it; non-string scalar keys keep their text."""
        self.count(key)
        while key.kind == ALIAS_NODE and key.alias is not None:
            key = key.alias
        if key.kind != SCALAR_NODE:
            raise _format_error(
                "a mapping key is a list or a mapping", key.line, "use plain text keys"
            )
        if key.tag == "!!binary":
            return from_bytes(_decode_binary(key))
        return key.value

    def value(self, node: YamlNode, comments_handled: bool) -> Node:
        kind = node.kind
        if kind == SCALAR_NODE:
            self.count(node)
            return _scalar_value(node)
        if kind == MAPPING_NODE:
            return self.append_to_branch(node, Branch(), comments_handled)
        if kind == SEQUENCE_NODE:
            self.count(node)
            return self.sequence(node, comments_handled)
        self.count(node)
        target = self.enter_alias(node)
        result = self.value(target, comments_handled=False)
        self.leave_alias(node)
        return result

    def sequence(self, node: YamlNode, comments_handled: bool) -> Sequence:
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


def _is_merge_value(node: YamlNode) -> bool:
    """What go-yaml's decoder accepts after ``<<`` (sops decodes the file once that way)."""

    def is_mapping(item: YamlNode) -> bool:
        target = item.alias if item.kind == ALIAS_NODE else item
        return target is not None and target.kind == MAPPING_NODE

    if node.kind == SEQUENCE_NODE:
        return all(is_mapping(item) for item in node.content)
    return is_mapping(node)


def _append_comments(container: Branch | Sequence, comment: str) -> None:
    """sops' appendCommentTo{Map,List}: one entry per non-empty line, without its '#'."""
    if comment:
        container.extend(Comment(line[1:]) for line in comment.split("\n") if line)


def _scalar_value(node: YamlNode) -> Node:
    """The value go-yaml decodes a scalar to, as sops stores it."""
    tag = node.tag  # nodes hold short tags ("!!str")
    if tag == "!!str":
        return node.value
    if tag == "!!binary":
        return from_bytes(_decode_binary(node))
    try:
        _, value = resolve(node.tag, node.value)
    except ResolveError as error:
        raise _format_error(str(error), node.line, "remove the tag or fix the value") from None
    if isinstance(value, BigInt):
        raise _format_error(
            "an integer is too large for sops", node.line, "quote it to keep it as text"
        )
    return value


def _decode_binary(node: YamlNode) -> bytes:
    try:
        return base64.b64decode(node.value.replace("\n", "").replace("\r", ""), validate=True)
    except ValueError:
        raise _format_error(
            "a !!binary value is not valid base64", node.line, "fix the base64 text"
        ) from None


# -- the metadata ----------------------------------------------------------------------


def _metadata_node(document: YamlNode) -> YamlNode | None:
    """The value of the top-level ``sops`` key of a document node, if any."""
    root = document.content[0] if document.content else None
    while root is not None and root.kind == ALIAS_NODE:
        root = root.alias
    if root is None or root.kind != MAPPING_NODE:
        return None
    for index in range(0, len(root.content), 2):
        key = root.content[index]
        if key.kind == SCALAR_NODE and key.value == _METADATA_KEY:
            return root.content[index + 1]
    return None


def _plain_metadata(node: YamlNode) -> object:
    """The metadata as plain Python data; timestamps keep their text, comments are dropped."""
    while node.kind == ALIAS_NODE and node.alias is not None:
        node = node.alias
    if node.kind == MAPPING_NODE:
        content = node.content
        return {
            _TreeBuilder().key_text(content[i]): _plain_metadata(content[i + 1])
            for i in range(0, len(content), 2)
        }
    if node.kind == SEQUENCE_NODE:
        return [_plain_metadata(item) for item in node.content]
    value = _scalar_value(node)
    return node.value if isinstance(value, Time) else value


# -- writing: the sops tree to go-yaml nodes to text ----------------------------------


def _dump(documents: Documents) -> bytes:
    """The file text: written directly when the tree allows it, else by the go-yaml port."""
    try:
        text = write_directly(documents)
    except NeedsEmitter:
        text = emit([_branch_to_node(document) for document in documents])
    return text.encode("utf-8", "surrogateescape")


def _tree_to_node(value: Node) -> YamlNode:
    """sops' treeValueToNode."""
    if isinstance(value, Branch):
        return _branch_to_node(value)
    if isinstance(value, Sequence):
        return _sequence_to_node(value)
    if isinstance(value, dict):  # raw metadata
        return _branch_to_node(Branch((str(key), item) for key, item in value.items()))
    if isinstance(value, list):
        return _sequence_to_node(Sequence(value))
    text, style, tag = marshal_scalar(value)
    return YamlNode(SCALAR_NODE, tag, text, style)


def _branch_to_node(branch: Branch) -> YamlNode:
    """appendTreeBranch: leading comments head the mapping, trailing ones foot the last key."""
    mapping = YamlNode(MAPPING_NODE)
    comments: list[str] = []
    for entry in branch:
        if isinstance(entry, Comment):
            comments.append(entry.text)
            continue
        key, value = entry
        if not mapping.content:
            _add_head(mapping, comments)
        key_text, key_style, key_tag = marshal_scalar(key)
        key_node = YamlNode(SCALAR_NODE, key_tag, key_text, key_style)
        _add_head(key_node, comments)
        mapping.content += (key_node, _tree_to_node(value))
    if comments:
        if mapping.content:
            _add_foot(mapping.content[-2], comments)
        else:
            _add_head(mapping, comments)
    return mapping


def _sequence_to_node(sequence: Sequence) -> YamlNode:
    """sops' appendSequence."""
    node = YamlNode(SEQUENCE_NODE)
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


def _add_head(node: YamlNode, lines: list[str]) -> None:
    if lines:
        comment = _comment_text(lines)
        node.head_comment = f"{comment}\n{node.head_comment}" if node.head_comment else comment
        lines.clear()


def _add_foot(node: YamlNode, lines: list[str]) -> None:
    if lines:
        comment = _comment_text(lines)
        node.foot_comment = f"{node.foot_comment}\n{comment}" if node.foot_comment else comment


def _comment_text(lines: list[str]) -> str:
    return "#" + "\n#".join(lines)
