"""A streaming masker: replaces secret values in a child's output before we print it.

Pure (bytes in, bytes out, no I/O), so :mod:`secure_up.system.process` can wire it to
pipes or a pty and the tests can feed it any split of any output.

What is masked
    Every *form* of a value whose bytes are at least ``min_length`` long:

    - the exact bytes (UTF-8) of the value;
    - JSON string bodies, as Python writes them (with and without ``ensure_ascii``)
      and as Go writes them (``<``, ``>``, ``&`` as ``\\u003c``...): JSON loggers,
      ``docker compose config --format json``;
    - ``$`` doubled to ``$$`` (``docker compose config``);
    - shell quoting as ``bash -x`` prints it (``'\\''`` for a quote, ``$'...'``
      for control characters);
    - percent-encoding (upper- and lower-case hex, ``+`` or ``%20`` for a space,
      with and without ``/`` kept) as URLs carry it;
    - base64 (standard and URL-safe alphabets) at each of the three byte offsets
      a value may have inside a longer base64 stream (``Authorization: Basic``
      holds ``user:password``), as GitHub's runner masks it;
    - HTML/XML escapes (``&amp;``, ``&lt;``, ``&quot;``, ``&#x27;``, ``&#39;``, ``&apos;``);
    - for a multi-line value, the value with ``\\r\\n`` line ends (a pty turns
      ``\\n`` into ``\\r\\n``) and each of its lines on its own (YAML block
      scalars and log prefixes such as ``web-1  | `` split a value into lines).

    Not masked: values (or lines, or encoded forms) shorter than ``min_length``:
    too short to mask without turning ordinary words into stars.

How occurrences are replaced
    The union of all occurrences is masked: overlapping occurrences (of one value
    or of several) become a single replacement, so no piece of either survives.
    Occurrences that merely touch stay two replacements.

Long forms
    A form longer than 64 bytes is looked for by 64-byte *pieces* of it (every
    64th byte, at most 256 pieces, so a 4 MB value costs 16 KiB of automaton).
    A piece found is masked, and the mask grows over the rest of the form, back
    and forth, as far as the output goes on matching it (compared block by block,
    at memcmp speed), also across reads. A whole occurrence is one replacement; a
    truncated one is masked as far as it goes. Each stretch of output that lines up
    with the form is grown on its own: a value with one byte altered in the middle
    of its occurrence is masked on both sides of that byte.

Streaming
    Output is withheld only while it may be the start of a piece or form: at most
    63 bytes. ``release()`` prints them (masked) when the child has gone quiet,
    ``flush()`` at the end of the stream.

Speed
    A native routine (``_masknative.c``, built by the install) runs one DFA of all
    keys (whole forms and pieces) over a buffer and writes the masked output itself:
    no Python step per occurrence or per replacement, so output dense with values
    costs about what any output costs (hundreds of MB/s; ``bench/bench_masking.py``).
    Once a stream has passed 1 MiB, hyperscan (SIMD, GB/s) first tells whether a
    buffer holds any key at all; most output holds none. Long forms are grown in the
    same routine, once per stretch, and only from the pieces whose form could reach
    out of the mask the pieces already make (near its edges): output dense with the
    pieces of a long value (one letter, repeated) costs no growth in the middle.
    Where the routine is not built, or for keys too many for its table (values of
    many kilobytes), the pure-Python path does the same work with an Aho-Corasick
    automaton (``ahocorasick-rs``) that reports each occurrence to Python: the same
    output, the tests compare the two, but about 1 MB/s on output where every byte
    starts an occurrence.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from secure_up.launch._masknative import Automaton

#: Shorter values (and lines, and encoded forms) are not masked: too short to
#: tell from ordinary words.
MIN_LENGTH = 4

#: Forms longer than this are looked for by pieces of this length.
_PIECE = 64
#: A long form is looked for by at most this many pieces (spread evenly over it).
_MAX_PIECES = 256
#: Up to this many bytes of pieces, the automaton is a DFA (fastest, ~1 KiB of
#: table per piece byte at worst); beyond, the library's compact NFA.
_DFA_LIMIT = 1 << 18

#: Where a long form continues from a piece: (the whole form, offset of the piece in it).
_Extension = tuple[bytes, int]


class Masker:
    """Replaces every form of the given values in a byte stream, chunk by chunk.

    Feed the child's output through :meth:`feed` and call :meth:`flush` at the
    end; the concatenated results equal masking the whole output at once,
    however it was split. One instance per output stream (see :meth:`fresh`).
    """

    __slots__ = (
        "_automaton",
        "_extending",
        "_extensions",
        "_first_bytes",
        "_form_index",
        "_forms",
        "_loaded",
        "_max_len",
        "_native",
        "_open_until",
        "_pending",
        "_position",
        "_prefilter",
        "_prefixes",
        "_replacement",
        "_scratch",
        "_seen",
        "_source",
    )

    def __init__(
        self, values: Iterable[str], replacement: bytes = b"*****", min_length: int = MIN_LENGTH
    ) -> None:
        self._source = _Source(values, min_length)
        self._replacement = replacement
        self._loaded = False  # the automaton is built on the first output (_load)
        self._start_stream()

    def _load(self) -> None:
        """Take the forms' automaton, built on the first output of any twin stream.

        Built on demand, not here: a child that prints nothing (``run -- true``)
        costs neither the automaton nor the modules it needs, and for one that
        does, the build overlaps the child's own start.
        """
        compiled = self._source.compiled()
        self._loaded = True
        self._native: Automaton | None = compiled.native
        self._forms = compiled.forms
        self._form_index = compiled.form_index
        self._automaton = compiled.automaton
        self._extensions = compiled.extensions
        self._max_len = compiled.max_len
        self._prefixes = compiled.prefixes
        self._first_bytes = compiled.first_bytes
        self._prefilter = compiled.prefilter

    def __repr__(self) -> str:
        return f"Masker(values=<{self._source.count} hidden>)"

    @property
    def active(self) -> bool:
        """False when no value was long enough to mask: the output passes untouched."""
        return self._source.active

    @property
    def holding(self) -> bool:
        """Whether bytes are held back, waiting to see if they start a value."""
        return len(self._pending) > self._open_until

    def fresh(self) -> Masker:
        """A masker for another stream: same values and automaton, nothing pending."""
        twin = Masker.__new__(Masker)
        twin._source = self._source
        twin._replacement = self._replacement
        twin._loaded = False
        twin._start_stream()
        return twin

    def _start_stream(self) -> None:
        self._pending = b""
        #: Stream offset of ``_pending[0]``.
        self._position = 0
        #: How many leading bytes of ``_pending`` lie inside a replacement already printed.
        self._open_until = 0
        #: Long forms matched up to the end of the output so far: (form, stream offset
        #: where it starts, stream offset it is matched up to).
        self._extending: list[tuple[bytes, int, int]] = []
        #: Bytes of output seen; past _PREFILTER_AFTER the prefilter is worth its set-up.
        self._seen = 0
        #: This stream's hyperscan scratch space (not shared between threads).
        self._scratch: Any = None

    def feed(self, chunk: bytes) -> bytes:
        """Masked output for ``chunk``, less a tail that may be the start of a form."""
        if not self.active:
            return chunk
        if not self._loaded:
            self._load()
        self._pending += chunk
        self._seen += len(chunk)
        return self._advance(final=False)

    def release(self) -> bytes:
        """Everything held back, masked, as if the output ended here; the stream goes on.

        For a child that has gone quiet after a prompt or a progress bar: its
        partial line is printed now rather than when more output comes.
        """
        if not self.active or not self._pending:
            return b""
        return self._advance(final=True)

    def flush(self) -> bytes:
        """Everything still held back, masked: call once when the stream ends."""
        out = self.release()
        self._extending = []
        return out

    def _advance(self, *, final: bool) -> bytes:
        if self._native is not None:
            return self._advance_natively(self._native, final=final)
        buffer = self._pending
        base = self._position
        spans, extending = self._spans(buffer, base)
        decided = len(buffer) if final else self._undecided_from(buffer)
        out: list[bytes] = []
        span_end = self._open_until  # bytes before it are inside a printed replacement
        for start, end in sorted(spans):
            if start >= decided:
                break  # found again, whole, with the next chunk
            if start >= span_end:
                out.extend((buffer[span_end:start], self._replacement))
            span_end = max(span_end, end)
        if span_end < decided:
            out.append(buffer[span_end:decided])
        self._pending = buffer[decided:]
        self._position = base + decided
        self._open_until = max(0, span_end - decided)
        self._extending = [item for item in extending if item[1] < base + decided]
        return b"".join(out)

    def _advance_natively(self, native: Automaton, *, final: bool) -> bytes:
        """:meth:`_advance` by the native routine: the same output, whatever the density."""
        from secure_up.launch._masknative import render

        buffer = self._pending
        base = self._position
        index = self._form_index
        carried = [(index[form], start - base, at - base) for form, start, at in self._extending]
        if self._seen > _PREFILTER_AFTER and self._scratch is None:
            self._scratch = self._prefilter.scratch()
        if (
            self._scratch is not None
            and self._scratch is not False
            and not self._prefilter.found(buffer, self._scratch)
        ):
            # Nothing of any key in the buffer (hyperscan, at GB/s): the long forms
            # carried over, and the tail's state, decided by the last bytes alone.
            components, still_open, _ = native.scan(buffer, carried) if carried else (b"", [], 0)
            tail = native.scan(buffer[-self._max_len + 1 :] if self._max_len > 1 else b"", [])[2]
        else:
            components, still_open, tail = native.scan(buffer, carried)
        forms = self._forms
        extending = [(forms[form], base + start, base + at) for form, start, at in still_open]
        decided = len(buffer) if final else len(buffer) - tail
        out, span_end = render(buffer, components, [], decided, self._open_until, self._replacement)
        self._pending = buffer[decided:]
        self._position = base + decided
        self._open_until = max(0, span_end - decided)
        self._extending = [item for item in extending if item[1] < base + decided]
        return out

    def _spans(
        self, buffer: bytes, base: int
    ) -> tuple[list[tuple[int, int]], list[tuple[bytes, int, int]]]:
        """(start, end) in ``buffer`` of every occurrence, and the long forms still open."""
        assert self._automaton is not None  # noqa: S101 -- only called when active
        if self._seen > _PREFILTER_AFTER and self._scratch is None:
            self._scratch = self._prefilter.scratch()
        if self._scratch is not None and self._scratch is not False:
            matches = self._prefilter.matches(buffer, self._scratch)  # SIMD: the long-stream case
        else:
            matches = self._automaton.find_matches_as_indexes(buffer, overlapping=True)
        spans, extending = self._extended(buffer, base, matches)
        spans.extend((start, end) for _, start, end in matches)
        return spans, extending

    def _extended(
        self, buffer: bytes, base: int, matches: Iterable[tuple[int, int, int]]
    ) -> tuple[list[tuple[int, int]], list[tuple[bytes, int, int]]]:
        """Long forms: spans grown from the pieces in ``matches``, and those still open.

        ``matches`` are (key index, start, end); keys that are no piece of a long
        form grow nothing. Long forms open at the end of the last buffer go on first.
        """
        spans, grown, extending = self._carried(buffer, base)
        size = len(buffer)
        for index, start, end in matches:
            for form, offset in self._extensions[index]:
                form_start = base + start - offset
                if start < grown.get((form, form_start), -1):
                    continue  # in the stretch grown already for this alignment
                low = start - _common_suffix(buffer, start, form, offset)
                high = end + _common_prefix(buffer, end, form, offset + _PIECE)
                grown[(form, form_start)] = high
                spans.append((low, high))
                if high == size and high - start + offset < len(form):
                    extending.append((form, form_start, base + high))
        return spans, extending

    def _carried(
        self, buffer: bytes, base: int
    ) -> tuple[list[tuple[int, int]], dict[tuple[bytes, int], int], list[tuple[bytes, int, int]]]:
        """Long forms open at the end of the last buffer, grown on into this one.

        Their spans; the alignments grown so far, (form, stream offset where it would
        start) -> end of the span in this buffer (a piece of that alignment starting
        before it is in that span); and those still open at this buffer's end.
        """
        spans: list[tuple[int, int]] = []
        grown: dict[tuple[bytes, int], int] = {}
        extending: list[tuple[bytes, int, int]] = []
        size = len(buffer)
        for form, form_start, matched_to in self._extending:
            at = matched_to - base  # where it goes on in this buffer
            end = at + _common_prefix(buffer, at, form, matched_to - form_start)
            grown[(form, form_start)] = end
            if end > 0:  # the form goes on in this buffer (else the span would be empty)
                spans.append((0, end))
            if end == size and end + base - form_start < len(form):
                extending.append((form, form_start, end + base))
        return spans, grown, extending

    def _undecided_from(self, buffer: bytes) -> int:
        """Start of the longest tail that could still grow into a piece (else the end)."""
        tail_start = max(0, len(buffer) - self._max_len + 1)
        tail = buffer[tail_start:]
        prefixes = self._prefixes
        # Only positions holding a piece's first byte can start one (one C-level scan each).
        for first in self._first_bytes.intersection(tail):
            position = tail.find(first)
            while position >= 0:
                if tail[position:] in prefixes:
                    return self._longest_tail(tail, tail_start, position)
                position = tail.find(first, position + 1)
        return len(buffer)

    def _longest_tail(self, tail: bytes, tail_start: int, found: int) -> int:
        """The earliest position at or before ``found`` whose tail is a prefix of a piece."""
        for position in range(found):
            if tail[position:] in self._prefixes:
                return tail_start + position
        return tail_start + found


class _Compiled:
    """The automaton of every form's pieces, and what the streams need around it."""

    __slots__ = (
        "automaton",
        "extensions",
        "first_bytes",
        "form_index",
        "forms",
        "max_len",
        "native",
        "prefilter",
        "prefixes",
    )

    def __init__(self, values: Iterable[str], min_length: int) -> None:
        pieces: dict[bytes, list[_Extension]] = {}
        for form in _patterns(values, min_length):
            if len(form) <= _PIECE:
                pieces.setdefault(form, [])
                continue
            for offset in _piece_offsets(len(form)):
                pieces.setdefault(form[offset : offset + _PIECE], []).append((form, offset))
        keys = list(pieces)
        self.extensions = [tuple(pieces[key]) for key in keys]
        self.max_len = max(map(len, keys), default=0)
        self.forms = tuple({form: None for key in keys for form, _ in pieces[key]})
        self.form_index = {form: index for index, form in enumerate(self.forms)}
        self.native: Automaton | None = _native_automaton(
            keys,
            self.forms,
            [[(self.form_index[form], offset) for form, offset in pieces[key]] for key in keys],
        )
        self.automaton: Any = None
        self.prefilter = _Prefilter(keys)
        self.prefixes: frozenset[bytes] = frozenset()
        self.first_bytes: frozenset[int] = frozenset()
        if self.native is not None:
            return  # the native routine does all of what follows
        from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind

        # A tail of the output that is one of these may still grow into a piece.
        self.prefixes = frozenset(key[:n] for key in keys for n in range(1, len(key)))
        self.first_bytes = frozenset(key[0] for key in keys)
        total = sum(map(len, keys))
        self.automaton = BytesAhoCorasick(
            keys,
            matchkind=MatchKind.Standard,
            implementation=Implementation.DFA if total <= _DFA_LIMIT else None,
        )


class _Source:
    """The values of a masker and its twins, compiled once, on the first need of any."""

    __slots__ = ("_compiled", "_min_length", "_values", "active", "count")

    def __init__(self, values: Iterable[str], min_length: int) -> None:
        self._values = tuple(values)
        self._min_length = min_length
        self._compiled: _Compiled | None = None
        self.count = len(self._values)
        # A value that is long enough is a form long enough (its own bytes): then there
        # is an automaton to build; else the output passes untouched.
        self.active = any(
            len(value.encode("utf-8", "surrogateescape")) >= max(1, min_length)
            for value in self._values
        )

    def __repr__(self) -> str:
        return f"_Source(values=<{self.count} hidden>)"

    def compiled(self) -> _Compiled:
        if self._compiled is None:
            self._compiled = _Compiled(self._values, self._min_length)
            self._values = ()  # the forms hold what is needed now
        return self._compiled


#: Output volume after which a stream turns the prefilter on (its import and compile
#: cost a few ms: worth it for a stream of logs, not for ``run -- true``).
_PREFILTER_AFTER = 1 << 20


class _Prefilter:
    """Hyperscan (SIMD, GB/s) finds the pieces in long streams, in place of the automaton.

    Most output holds no secret, and there the Rust automaton's byte-at-a-time DFA
    (~200 MB/s here) is the cost; hyperscan's literal matcher runs at GB/s and reports
    the same occurrences (overlapping ones included). Where its wheel does not exist
    (it needs x86-64 with SSSE3), or it fails to build, the automaton does the work:
    same results, slower.
    Compiled once per set of values, on first need; shared by the streams' maskers.
    """

    __slots__ = ("_database", "_keys", "_tried")

    def __init__(self, keys: list[bytes]) -> None:
        self._keys = keys
        self._database: Any = None
        self._tried = False

    def scratch(self) -> Any:
        """A scratch space for one stream, or False when hyperscan is not available."""
        if not self._tried:
            self._tried = True
            self._database = _compile_hyperscan(self._keys)
        if self._database is None:
            return False
        import hyperscan

        return hyperscan.Scratch(self._database)

    def found(self, buffer: bytes, scratch: Any) -> bool:
        """Whether any piece occurs in ``buffer`` (the scan stops at the first)."""
        import hyperscan

        def stop(_index: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
            return True

        try:
            self._database.scan(buffer, match_event_handler=stop, scratch=scratch)
        except hyperscan.ScanTerminated:
            return True
        return False

    def matches(self, buffer: bytes, scratch: Any) -> list[tuple[int, int, int]]:
        """(piece index, start, end) of every occurrence, overlapping ones included."""
        found: list[tuple[int, int, int]] = []
        keys = self._keys

        def take(index: int, _start: int, end: int, _flags: int, _context: object) -> None:
            found.append((index, end - len(keys[index]), end))  # literals: start from length

        self._database.scan(buffer, match_event_handler=take, scratch=scratch)
        return found


#: Set to False to mask with the pure-Python path (the tests compare the two).
NATIVE = True


def _native_automaton(
    keys: list[bytes], forms: tuple[bytes, ...], entries: list[list[tuple[int, int]]]
) -> Automaton | None:
    """The native routine's automaton over ``keys``, or None (then the Python path runs).

    None where the extension was not built (it is optional, see setup.py) and for
    key sets too large for its table (64 MiB; values of many kilobytes).
    """
    if not NATIVE:
        return None
    try:
        from secure_up.launch._masknative import Automaton
    except ImportError:
        return None
    try:
        return Automaton(keys, forms, entries)
    except OverflowError:
        return None


def _compile_hyperscan(keys: list[bytes]) -> Any:
    try:
        import hyperscan
    except ImportError:
        return None
    # Every byte as \xHH: the expressions are regexes, the pieces arbitrary bytes.
    expressions = [b"".join(b"\\x%02x" % byte for byte in key) for key in keys]
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        database.compile(
            expressions=expressions,
            ids=list(range(len(keys))),
            elements=len(keys),
            flags=[0] * len(keys),
        )
    except hyperscan.error:
        return None
    return database


def _common_prefix(buffer: bytes, at: int, form: bytes, offset: int) -> int:
    """How many bytes of ``buffer`` from ``at`` equal ``form`` from ``offset``.

    Compared in blocks (a memcmp each), then bytes in the block that differs:
    linear, and no Python step per byte.
    """
    limit = min(len(buffer) - at, len(form) - offset)
    length = 0
    for block in (4096, 64, 1):
        while length + block <= limit and buffer.startswith(
            form[offset + length : offset + length + block], at + length
        ):
            length += block
    return length


def _common_suffix(buffer: bytes, end: int, form: bytes, offset: int) -> int:
    """How many bytes of ``buffer`` before ``end`` equal ``form`` before ``offset``."""
    limit = min(end, offset)
    length = 0
    for block in (4096, 64, 1):
        while length + block <= limit and buffer.endswith(
            form[offset - length - block : offset - length], 0, end - length
        ):
            length += block
    return length


def _piece_offsets(length: int) -> list[int]:
    """Where the pieces of a form of ``length`` bytes start: the first, every 64th, the last."""
    stride = max(_PIECE, -(-(length - _PIECE) // (_MAX_PIECES - 1)))
    return sorted({*range(0, length - _PIECE, stride), length - _PIECE})


def _patterns(values: Iterable[str], min_length: int) -> set[bytes]:
    """Every form of every value, as bytes, of at least ``min_length`` bytes."""
    found: set[bytes] = set()
    for value in values:
        if len(value.encode("utf-8", "surrogateescape")) < min_length:
            continue  # nor any of its forms: a short value is short in any encoding
        for form in _forms(value):
            if len(form) >= max(1, min_length):
                found.add(form)
    return found


def _forms(value: str) -> set[bytes]:
    """How a value may look in output (see the module docstring)."""
    texts = {value, *_text_encodings(value)}
    if "\n" in value:
        texts.add(value.replace("\r\n", "\n").replace("\n", "\r\n"))
        texts.update(value_lines(value))
    forms = {text.encode("utf-8", "surrogateescape") for text in texts}
    forms.update(_base64_forms(value.encode("utf-8", "surrogateescape")))
    return forms


def _text_encodings(value: str) -> list[str]:
    import html
    import json

    body = json.dumps(value, ensure_ascii=False)[1:-1]
    go_body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    escaped = html.escape(value)  # & < > " and ' as &#x27;
    raw = value.encode("utf-8", "surrogateescape")
    encodings = [
        body,
        go_body,
        json.dumps(value)[1:-1],
        value.replace("$", "$$"),  # docker compose config
        value.replace("'", "'\\''"),  # bash -x: 'it'\''s'
        escaped,
        html.escape(value, quote=False),
        escaped.replace("&#x27;", "&#39;"),
        escaped.replace("&#x27;", "&apos;"),
        quote(raw, safe=""),
        quote(raw),  # keeps "/"
        quote_plus(raw, safe=""),
    ]
    encodings += [_lower_hex(text) for text in encodings[-3:]]
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        encodings.append(_bash_ansi_c(value))
    return encodings


def _lower_hex(url_encoded: str) -> str:
    """Percent-encoding with lower-case hex digits, as some clients write it."""
    parts = url_encoded.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


def _bash_ansi_c(value: str) -> str:
    """The body of bash's ``$'...'`` quoting, which ``bash -x`` uses for control characters."""
    named = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\E"}
    return "".join(
        named.get(char) or (f"\\{ord(char):03o}" if ord(char) < 32 or ord(char) == 127 else char)
        for char in value
    )


def _base64_forms(raw: bytes) -> set[bytes]:
    """The base64 characters that encode only ``raw``, at each offset modulo 3 in a stream."""
    forms: set[bytes] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw)
        first = -(-offset * 8 // 6)  # first character made of raw's bits only
        last = (offset + len(raw)) * 8 // 6  # past the last one
        form = encoded[first:last]
        forms.update((form, form.translate(_URLSAFE)))
    return forms


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def value_lines(value: str) -> list[str]:
    """The lines of a value as a line-based log shows them: split at "\n", less any "\r"."""
    return [line.rstrip("\r") for line in value.split("\n")]
