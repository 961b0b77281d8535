"""The in-memory document model shared by every store, the engine and the commands.

A document is a :class:`Branch`: an ordered list of ``(key, value)`` items and
:class:`Comment` entries, as sops keeps it (key order and comments survive a
round trip). Values are other branches, :class:`Sequence` lists, or scalars:
``str``, ``int``, ``float``, ``bool``, ``None``, :class:`Time` or ``bytes``.

Plaintext trees hold secrets, so none of these containers ever shows its
contents in a ``repr``; they print as ``Branch(<3 items hidden>)``.

Strings may carry arbitrary bytes (a binary sops file wraps raw file bytes
in a ``str`` value): they are decoded with ``surrogateescape`` and encoded
back with :func:`to_bytes`, so every byte survives.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias, Union


class Time(str):
    """A timestamp scalar, kept as its RFC 3339 text (sops type ``time``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Time(<hidden>)"


class Comment:
    """A comment line (its text without the leading ``#``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Comment) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Comment", self.text))

    def __repr__(self) -> str:
        return "Comment(<hidden>)"


Scalar: TypeAlias = str | int | float | bool | bytes | None
Node: TypeAlias = Union["Branch", "Sequence", Scalar]
Item: TypeAlias = tuple[str, Node]


class Branch(list[Item | Comment]):
    """An ordered mapping: ``(key, value)`` items and comments, in document order."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Branch(<{len(self)} items hidden>)"

    __str__ = __repr__

    def items_only(self) -> Iterator[Item]:
        """The ``(key, value)`` items, skipping comments."""
        for entry in self:
            if not isinstance(entry, Comment):
                yield entry

    def keys(self) -> list[str]:
        return [key for key, _ in self.items_only()]

    def get(self, key: str, default: Node = None) -> Node:
        for item_key, value in self.items_only():
            if item_key == key:
                return value
        return default

    def index_of(self, key: str) -> int:
        """Position of ``key`` in the list, or -1."""
        for index, entry in enumerate(self):
            if not isinstance(entry, Comment) and entry[0] == key:
                return index
        return -1

    def set(self, key: str, value: Node) -> None:
        """Replace the value of ``key`` in place, or append a new item."""
        index = self.index_of(key)
        if index >= 0:
            self[index] = (key, value)
        else:
            self.append((key, value))

    def remove_key(self, key: str) -> bool:
        index = self.index_of(key)
        if index < 0:
            return False
        del self[index]
        return True


class Sequence(list[Union[Node, Comment]]):  # noqa: UP007
    """A list value; it may hold comments between its elements."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Sequence(<{len(self)} items hidden>)"

    __str__ = __repr__


Documents: TypeAlias = list[Branch]


def to_bytes(text: str) -> bytes:
    """The exact bytes a string value stands for (see the module docstring)."""
    return text.encode("utf-8", "surrogateescape")


def from_bytes(data: bytes) -> str:
    """The string value for raw bytes; :func:`to_bytes` gives them back unchanged."""
    return data.decode("utf-8", "surrogateescape")


def to_plain(node: Node) -> object:
    """Plain Python data (dicts, lists, scalars) without comments, for comparisons and JSON."""
    if isinstance(node, Branch):
        return {key: to_plain(value) for key, value in node.items_only()}
    if isinstance(node, Sequence):
        return [to_plain(value) for value in node if not isinstance(value, Comment)]
    if isinstance(node, Time):
        return str(node)
    return node


def from_plain(data: object) -> Node:
    """The inverse of :func:`to_plain`, for tests and for values built in code."""
    if isinstance(data, dict):
        return Branch((str(key), from_plain(value)) for key, value in data.items())
    if isinstance(data, list | tuple):
        return Sequence(from_plain(value) for value in data)
    if data is None or isinstance(data, str | int | float | bool | bytes):
        return data
    raise TypeError(f"cannot hold a {type(data).__name__} in a sops tree")
