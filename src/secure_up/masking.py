"""A streaming masker: replaces secret values in a child's output before we print it.

Pure (bytes in, bytes out, no I/O), so :mod:`secure_up.process` can wire it to
pipes or a pty and the tests can feed it any split of any output.

What is masked
    Every *form* of a value at least ``min_length`` bytes long (UTF-8):

    - the exact bytes of the value;
    - the value as a JSON string body, as Python writes it (with and without
      ``ensure_ascii``) and as Go writes it (``<``, ``>``, ``&`` as ``\\u003c``...),
      because ``docker compose config --format json`` and JSON loggers print it so;
    - for a multi-line value, the value with ``\\r\\n`` line ends (a pty turns
      ``\\n`` into ``\\r\\n``) and each of its lines on its own (YAML block scalars
      and log prefixes such as ``web-1  | `` split a value into lines). GitHub
      Actions masks multi-line secrets line by line for the same reason.

    Not masked: base64, URL-encoding or any other transformation, and values
    (or lines) shorter than ``min_length``: too short to mask without turning
    ordinary words into stars.

How occurrences are replaced
    The union of all occurrences is masked: overlapping occurrences (of one value
    or of several) become a single replacement, so no piece of either survives.
    Plain leftmost-longest replacement would print ``*****ef`` for ``abcdef``
    when both ``abcd`` and ``cdef`` are secrets; we print ``*****``. Occurrences
    that merely touch stay two replacements. Forms longer than 64 bytes are
    masked as overlapping 64-byte pieces: a full occurrence still merges into one
    replacement, any 64-byte stretch of the value is masked too, and no more
    than 63 bytes are ever held back.

Streaming
    Output is withheld only while it may be the start of a form: after each
    chunk we emit everything except the longest tail that is a proper prefix of
    some form. ``flush()`` releases (masked) whatever is left at the end.

Speed
    One regex alternation of all forms runs at ~10-15 MB/s in CPython, 100
    ``bytes.find`` calls at ~40 MB/s. Instead each form gets an *anchor*: one of
    its bytes, chosen so that few anchors cover all forms and anchors are rare
    in typical output. A chunk is searched per anchor with ``bytes.find``
    (memchr) while its occurrences are few, else with one regex of the form
    tails that start with it (sre's fast literal-prefix scan); the exact regex
    then runs only in small windows around the hits. ``bench/bench_masking.py``
    measures it: ~180-190 MB/s with 100 mixed values (two cores shared), several
    hundred MB/s when no value is a short lowercase word (those need many anchors).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from typing import TypeAlias

#: Shorter values (and lines) are not masked: too short to tell from ordinary words.
MIN_LENGTH = 4

#: Forms longer than this are masked as overlapping pieces of this length.
_PIECE = 64

#: A trie of byte strings: byte -> subtree; the key -1 marks the end of a string.
_Trie: TypeAlias = "dict[int, _Trie]"

#: An anchor has at least this many bytes from it to the end of its pattern, so that
#: its tail (anchor and the bytes after it) rarely occurs in output by chance.
_MIN_TAIL = 4

#: The anchor choice weighs costs in units of one sre scan of a chunk (it steers
#: speed, never the result). Per unit of an anchor's frequency in the output:
#: occurrences found one by one with ``bytes.find`` (memchr) cost this much...
_FIND_COST = 1400.0
#: ...and occurrences met inside an sre scan this much (a branch into the tails).
_BRANCH_COST = 130.0

#: Anchor occurrences checked one by one before the rest is left to one sre scan.
_SPARSE_HITS = 8


class Masker:
    """Replaces every form of the given values in a byte stream, chunk by chunk.

    Feed the child's output through :meth:`feed` and call :meth:`flush` at the
    end; the concatenated results equal masking the whole output at once,
    however it was split. One instance per output stream.
    """

    __slots__ = (
        "_anchors",
        "_exact",
        "_max_len",
        "_open_until",
        "_pending",
        "_proper_prefixes",
        "_replacement",
    )

    def __init__(
        self, values: Iterable[str], replacement: bytes = b"*****", min_length: int = MIN_LENGTH
    ) -> None:
        patterns = _patterns(values, min_length)
        self._replacement = replacement
        self._max_len = max(map(len, patterns), default=0)
        self._proper_prefixes = frozenset(p[:n] for p in patterns for n in range(1, len(p)))
        #: The longest form at the leftmost position where one starts.
        self._exact = re.compile(_trie_regex(patterns))
        #: (anchor byte, regex of the tails, from that byte on, of the forms it covers).
        self._anchors = [
            (bytes([anchor]), re.compile(_trie_regex(tails)))
            for anchor, tails in _choose_anchors(patterns).items()
        ]
        self._pending = b""
        #: How many leading bytes of ``_pending`` lie inside a replacement already printed.
        self._open_until = 0

    def __repr__(self) -> str:
        return f"Masker(anchors={len(self._anchors)}, values=<hidden>)"

    @property
    def active(self) -> bool:
        """False when no value was long enough to mask: the output passes untouched."""
        return self._max_len > 0

    def fresh(self) -> Masker:
        """A masker for another stream: same values, nothing pending, regexes shared."""
        twin = copy.copy(self)
        twin._pending = b""
        twin._open_until = 0
        return twin

    def feed(self, chunk: bytes) -> bytes:
        """Masked output for ``chunk``, less a tail that may be the start of a form."""
        if not self.active:
            return chunk
        self._pending += chunk
        return self._advance(final=False)

    def flush(self) -> bytes:
        """Everything still held back, masked: call once when the stream ends."""
        if not self.active:
            return b""
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> bytes:
        buffer = self._pending
        decided = len(buffer) if final else self._undecided_from(buffer)
        out: list[bytes] = []
        span_end = self._open_until  # bytes before it are inside a printed replacement
        for start, end in self._occurrences(buffer, decided):
            if start >= span_end:
                out.extend((buffer[span_end:start], self._replacement))
            span_end = max(span_end, end)
        if span_end < decided:
            out.append(buffer[span_end:decided])
        self._pending = buffer[decided:]
        self._open_until = max(0, span_end - decided)
        return b"".join(out)

    def _undecided_from(self, buffer: bytes) -> int:
        """Start of the longest tail that could still grow into a form (else the end)."""
        for position in range(max(0, len(buffer) - self._max_len + 1), len(buffer)):
            if buffer[position:] in self._proper_prefixes:
                return position
        return len(buffer)

    def _occurrences(self, buffer: bytes, limit: int) -> Iterator[tuple[int, int]]:
        """(start, end) of the longest form at each start before ``limit``, in order.

        Every occurrence lies inside one merged window, so the exact regex sees it
        whole; starts outside all windows hold no occurrence.
        """
        for window_start, window_end in _merged(self._candidate_windows(buffer)):
            if window_start >= limit:
                return
            position = window_start
            while match := self._exact.search(buffer, position, window_end):
                if match.start() >= limit:
                    return
                yield match.span()
                position = match.start() + 1  # forms may overlap: look again from the next byte

    def _candidate_windows(self, buffer: bytes) -> list[tuple[int, int]]:
        """Stretches of ``buffer`` around each anchored tail: all a form can occupy."""
        reach = self._max_len
        return [
            (max(0, hit.start() - reach), hit.end() + reach)
            for anchor, tails in self._anchors
            for hit in _tail_hits(buffer, anchor, tails)
        ]


def _tail_hits(buffer: bytes, anchor: bytes, tails: re.Pattern[bytes]) -> Iterator[re.Match[bytes]]:
    """Non-overlapping matches of ``tails``, found the cheapest way.

    A rare anchor is found with ``bytes.find`` (memchr, ~100x faster than sre's
    scan) and each occurrence checked on its own; once it proves common, one sre
    scan finds the rest.
    """
    position = buffer.find(anchor)
    for _ in range(_SPARSE_HITS):
        if position < 0:
            return
        hit = tails.match(buffer, position)
        if hit:
            yield hit
            position = buffer.find(anchor, hit.end())
        else:
            position = buffer.find(anchor, position + 1)
    if position >= 0:
        yield from tails.finditer(buffer, position)


def _patterns(values: Iterable[str], min_length: int) -> set[bytes]:
    """The byte strings to mask for ``values``: every form, long ones cut in pieces."""
    found: set[bytes] = set()
    for value in values:
        for form in _forms(value):
            encoded = form.encode("utf-8", "surrogateescape")
            if len(encoded) >= max(1, min_length):
                found.update(_pieces(encoded))
    return found


def _forms(value: str) -> set[str]:
    """How a value may look in output: exact, JSON-escaped, with CRLF, line by line."""
    body = json.dumps(value, ensure_ascii=False)[1:-1]
    go_body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    forms = {value, body, go_body, json.dumps(value)[1:-1]}
    if "\n" in value:
        forms.add(value.replace("\r\n", "\n").replace("\n", "\r\n"))
        forms.update(value_lines(value))
    return forms


def value_lines(value: str) -> list[str]:
    """The lines of a value as a line-based log shows them: split at "\n", less any "\r"."""
    return [line.rstrip("\r") for line in value.split("\n")]


def _pieces(form: bytes) -> list[bytes]:
    """``form`` itself, or overlapping ``_PIECE``-byte pieces covering it end to end."""
    if len(form) <= _PIECE:
        return [form]
    starts = [*range(0, len(form) - _PIECE, _PIECE // 2), len(form) - _PIECE]
    return [form[start : start + _PIECE] for start in starts]


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping windows joined, sorted by start."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _trie_regex(patterns: Iterable[bytes]) -> bytes:
    """A regex matching exactly ``patterns``, longest first, shared prefixes factored.

    Factoring keeps each step of sre's matching to one byte comparison per
    branch instead of one per pattern.
    """
    root: _Trie = {}
    for pattern in patterns:
        node = root
        for byte in pattern:
            node = node.setdefault(byte, {})
        node[-1] = {}
    return _node_regex(root)


def _node_regex(node: _Trie) -> bytes:
    branches = [
        re.escape(bytes([byte])) + _node_regex(child)
        for byte, child in sorted(node.items())
        if byte >= 0
    ]
    if not branches:
        return b""
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    if -1 not in node:
        return body
    return (body if len(branches) > 1 else b"(?:" + body + b")") + b"?"


def _choose_anchors(patterns: Iterable[bytes]) -> dict[int, list[bytes]]:
    """Anchor byte -> the tails (from the anchor on) of the patterns it covers.

    A greedy weighted set cover: each round takes the byte that covers the most
    uncovered patterns per unit of :func:`_anchor_cost`.
    A pattern's anchor is the first occurrence of the byte, early enough in the
    pattern to leave a tail of ``_MIN_TAIL`` bytes.
    """
    uncovered = set(patterns)
    anchors: dict[int, list[bytes]] = {}
    while uncovered:
        containing: dict[int, list[bytes]] = {}
        for pattern in uncovered:
            for byte in set(pattern[: len(pattern) - _MIN_TAIL + 1] or pattern[:1]):
                containing.setdefault(byte, []).append(pattern)
        anchor = max(
            containing,
            key=lambda b: (len(containing[b]) / _anchor_cost(b), -b),
        )
        anchors[anchor] = [pattern[pattern.index(anchor) :] for pattern in containing[anchor]]
        uncovered.difference_update(containing[anchor])
    return anchors


def _anchor_cost(byte: int) -> float:
    """Expected cost of finding ``byte``'s tails in a chunk: the cheaper of the two ways."""
    frequency = _typical_frequency(byte)
    return min(_FIND_COST * frequency, 1.0 + _BRANCH_COST * frequency)


_FREQUENT = frozenset(b" \netaoinsr")
_COMMON = frozenset(b"bcdfghjklmpquvwxyz0123456789.,:;-_/=\"'")
_OCCASIONAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ()[]{}<>|+#@*!?&%$~^`\\\t")


def _typical_frequency(byte: int) -> float:
    """Rough share of ``byte`` in console output (logs, JSON, text). Steers speed only."""
    if byte in _FREQUENT:
        return 0.05
    if byte in _COMMON:
        return 0.015
    if byte in _OCCASIONAL:
        return 0.003
    return 0.0002
