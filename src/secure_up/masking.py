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
    tails that start with it (sre's fast literal-prefix scan); a stream remembers
    which anchors are common in its output. That regex also checks, by
    lookbehind, that a whole form ends where the tail does, so a hit is nearly
    always a real occurrence, confirmed with ``bytes.startswith``.
    ``bench/bench_masking.py`` measures it with 100 mixed values (two cores
    shared): ~240 MB/s on output without secrets, ~205 MB/s with one every
    ~4 KiB. Short lowercase words cost the most: they need anchors on common
    letters, each a scan of the chunk.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import TypeAlias

#: Shorter values (and lines) are not masked: too short to tell from ordinary words.
MIN_LENGTH = 4

#: Forms longer than this are masked as overlapping pieces of this length.
_PIECE = 64

#: A trie of byte strings: byte -> subtree; the key -1 marks the end of a string.
_Trie: TypeAlias = "dict[int, _Trie]"

#: A form as its anchor finds it: (bytes before its anchor, the whole form).
_Form: TypeAlias = tuple[int, bytes]

#: An anchor has at least this many bytes from it to the end of its pattern, so that
#: sre rejects most chance occurrences of the anchor at the byte after it. 2 leaves
#: the cover the most freedom (measured: 1 and 3 or 4 pick slower anchor sets).
_MIN_TAIL = 2

#: The anchor choice weighs costs in units of one sre scan of a chunk (it steers
#: speed, never the result). Per unit of an anchor's frequency in the output:
#: occurrences found one by one with ``bytes.find`` (memchr) cost this much...
_FIND_COST = 1400.0
#: ...and occurrences met inside an sre scan this much (a branch into the tails).
_BRANCH_COST = 130.0
#: An anchor met more often than this in a buffer is common: sre's scan (~20 us for
#: 64 KiB) finds its tails faster than ``bytes.find`` and a check each (~0.3 us).
_SPARSE_HITS = 64
#: A stream scans for the anchors common in its last buffer with sre straight away,
#: and counts them again every this many buffers: output changes character.
_RECOUNT_EVERY = 16


class Masker:
    """Replaces every form of the given values in a byte stream, chunk by chunk.

    Feed the child's output through :meth:`feed` and call :meth:`flush` at the
    end; the concatenated results equal masking the whole output at once,
    however it was split. One instance per output stream.
    """

    __slots__ = (
        "_anchors",
        "_buffers_seen",
        "_common",
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
        self._anchors = [
            _Anchor.covering(anchor, covered)
            for anchor, covered in _choose_anchors(patterns).items()
        ]
        self._start_stream()

    def __repr__(self) -> str:
        return f"Masker(anchors={len(self._anchors)}, values=<hidden>)"

    @property
    def active(self) -> bool:
        """False when no value was long enough to mask: the output passes untouched."""
        return self._max_len > 0

    def fresh(self) -> Masker:
        """A masker for another stream: same values, nothing pending, regexes shared."""
        twin = copy.copy(self)
        twin._start_stream()
        return twin

    def _start_stream(self) -> None:
        self._pending = b""
        #: How many leading bytes of ``_pending`` lie inside a replacement already printed.
        self._open_until = 0
        #: Which anchors were common in the last buffer (steers speed, never the result).
        self._common = [False] * len(self._anchors)
        self._buffers_seen = 0

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

    def _occurrences(self, buffer: bytes, limit: int) -> list[tuple[int, int]]:
        """(start, end) of every occurrence of a form starting before ``limit``, sorted.

        Every occurrence holds its anchor with its tail after it, so checking the
        forms a tail hit names finds them all.
        """
        self._buffers_seen += 1
        if self._buffers_seen % _RECOUNT_EVERY == 0:
            self._common = [False] * len(self._anchors)
        found: set[tuple[int, int]] = set()
        for index, anchor in enumerate(self._anchors):
            occurrences, self._common[index] = anchor.occurrences(buffer, self._common[index])
            found.update(occurrence for occurrence in occurrences if occurrence[0] < limit)
        return sorted(found)


class _Anchor:
    """One anchor byte and the forms it covers: how to find them in a buffer.

    Each form is split at its first anchor byte into a head and a tail. The
    tails regex matches, at an anchor, the longest tail after which a whole
    form ends (a lookbehind checks the head), so chance tails cost no Python.
    A hit names the forms that may be there: those whose tail begins the one
    matched; ``bytes.startswith`` tells which are, without any search around.
    """

    __slots__ = ("_byte", "_forms_by_tail", "_tails")

    def __init__(
        self, byte: bytes, tails: re.Pattern[bytes], forms_by_tail: dict[bytes, list[_Form]]
    ) -> None:
        self._byte = byte
        self._tails = tails
        self._forms_by_tail = forms_by_tail

    @classmethod
    def covering(cls, anchor: int, patterns: Iterable[bytes]) -> _Anchor:
        """The anchor ``anchor`` for ``patterns``, each anchored at its first ``anchor`` byte."""
        by_tail: dict[bytes, list[_Form]] = {}
        for pattern in patterns:
            head = pattern.index(anchor)
            by_tail.setdefault(pattern[head:], []).append((head, pattern))
        forms_by_tail = {  # a hit of ``tail`` is also one of each tail that begins it
            tail: [form for end in range(1, len(tail) + 1) for form in by_tail.get(tail[:end], ())]
            for tail in by_tail
        }
        return cls(bytes([anchor]), re.compile(_tails_regex(by_tail)), forms_by_tail)

    def occurrences(self, buffer: bytes, common: bool) -> tuple[list[tuple[int, int]], bool]:
        """(start, end) of each form this anchor covers, wherever it occurs in ``buffer``.

        Also whether the anchor is common in ``buffer``: pass that in for the next one.
        """
        found = []
        hits, common = self._tail_hits(buffer, common)
        for hit in hits:
            anchor_at = hit.start()
            for head, pattern in self._forms_by_tail[hit.group()]:
                start = anchor_at - head
                if start >= 0 and buffer.startswith(pattern, start):
                    found.append((start, start + len(pattern)))
        return found, common

    def _tail_hits(self, buffer: bytes, common: bool) -> tuple[list[re.Match[bytes]], bool]:
        """A hit of the tails regex at every position where it matches, found the cheapest way.

        A rare anchor is found with ``bytes.find`` (memchr, ~100x faster than sre's
        scan) and each occurrence checked on its own; a common one (or one that
        proves common) is left to sre's scan. Hits may overlap: a form's anchor
        may lie inside another form's tail.
        """
        hits: list[re.Match[bytes]] = []
        position = buffer.find(self._byte)
        if not common:
            for _ in range(_SPARSE_HITS):
                if position < 0:
                    return hits, False
                if hit := self._tails.match(buffer, position):
                    hits.append(hit)
                position = buffer.find(self._byte, position + 1)
        if position < 0:
            return hits, False
        while hit := self._tails.search(buffer, position):
            hits.append(hit)
            position = hit.start() + 1
        return hits, True


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


def _tails_regex(forms_by_tail: dict[bytes, list[_Form]]) -> bytes:
    """A regex for the tails of one anchor: the longest whose form is there whole.

    The tails are factored into a trie, which keeps each step of sre's matching
    to one byte comparison per branch instead of one per tail. Where a tail ends,
    a lookbehind asserts that the whole form ends there, so a tail met by chance
    is rejected inside sre instead of costing a Python step.
    """
    root: _Trie = {}
    for tail in forms_by_tail:
        node = root
        for byte in tail:
            node = node.setdefault(byte, {})
        node[-1] = {}
    return _node_regex(root, b"", forms_by_tail)


def _node_regex(node: _Trie, path: bytes, forms_by_tail: dict[bytes, list[_Form]]) -> bytes:
    """The regex for the rest of the tails below ``node``, reached by the bytes ``path``."""
    alternatives = [
        re.escape(bytes([byte])) + _node_regex(child, path + bytes([byte]), forms_by_tail)
        for byte, child in sorted(node.items())
        if byte >= 0
    ]
    if -1 in node:  # longer tails first: they are tried before this one ends
        alternatives += _end_regexes(forms_by_tail[path])
    if len(alternatives) == 1:
        return alternatives[0]
    return b"(?:" + b"|".join(alternatives) + b")"


def _end_regexes(forms: list[_Form]) -> list[bytes]:
    """Ways a tail may end: freely if a form starts at its anchor, else after a whole form."""
    if any(head == 0 for head, _ in forms):
        return [b""]
    return [b"(?<=" + re.escape(pattern) + b")" for _, pattern in forms]


def _choose_anchors(patterns: Iterable[bytes]) -> dict[int, list[bytes]]:
    """Anchor byte -> the patterns it covers.

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
        anchors[anchor] = containing[anchor]
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
