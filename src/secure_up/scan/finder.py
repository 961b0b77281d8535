"""Search bytes for every secret value at once, with their common encodings.

Aho-Corasick (ahocorasick-rs, as the masker) finds all patterns in one pass, linear in the
input. Input is hostile: it is read in chunks with an overlap as long as the
longest pattern, so memory stays bounded whatever the size of a file.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Shorter values match everywhere ("true", "1234" are already borderline).
MIN_VALUE_LENGTH = 4
#: Bytes searched at a time.
CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Match:
    """A hit: which variable, in which encoding, on which line (1-based). Never the value."""

    variable: str
    encoding: str
    line: int


def _base64_cores(value: bytes, alphabet: str) -> Iterator[tuple[str, bytes]]:
    """The part of base64(value) that is the same wherever the value starts (three offsets).

    Preceding bytes shift the value by 0, 1 or 2 positions inside a 3-byte group;
    only the characters that depend on the value alone are kept.
    """
    encode = base64.b64encode if alphabet == "base64" else base64.urlsafe_b64encode
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        total = offset + len(value)
        end = (total // 3) * 4 + total % 3
        core = encode(b"\0" * offset + value)[skip:end]
        if len(core) >= MIN_VALUE_LENGTH:
            yield f"{alphabet}", core


def encodings_of(value: str) -> dict[bytes, str]:
    """Pattern -> encoding name for one value: raw, base64 (3 offsets), URL, JSON-escaped."""
    raw = value.encode()
    patterns: dict[bytes, str] = {raw: "plain"}
    for alphabet in ("base64", "base64url"):
        for name, core in _base64_cores(raw, alphabet):
            patterns.setdefault(core, name)
    for name, encoded in (
        ("url-encoded", urllib.parse.quote(value, safe="")),
        ("url-encoded", urllib.parse.quote_plus(value, safe="")),
        ("json-escaped", json.dumps(value)[1:-1]),
        ("json-escaped", json.dumps(value, ensure_ascii=False)[1:-1]),
    ):
        patterns.setdefault(encoded.encode(), name)
    return patterns


class Finder:
    """All patterns of all values in one automaton. Its repr names variables only."""

    def __init__(self, values: Mapping[str, str]) -> None:
        from ahocorasick_rs import BytesAhoCorasick, Implementation

        self.variables = sorted(name for name, v in values.items() if len(v) >= MIN_VALUE_LENGTH)
        owners: dict[bytes, set[tuple[str, str]]] = {}
        for name in self.variables:
            for pattern, encoding in encodings_of(values[name]).items():
                owners.setdefault(pattern, set()).add((name, encoding))
        self._patterns = list(owners)
        self._owners = [sorted(owners[pattern]) for pattern in self._patterns]
        self.longest = max(map(len, self._patterns), default=0)
        # The same automaton library as the masker (a DFA in Rust): linear-time search.
        self._automaton: Any = (
            BytesAhoCorasick(self._patterns, implementation=Implementation.DFA)
            if self._patterns
            else None
        )

    def __repr__(self) -> str:
        return f"Finder(variables={self.variables!r}, values=<hidden>)"

    def __bool__(self) -> bool:
        return self.longest > 0

    def search(self, chunks: Iterable[bytes]) -> list[Match]:
        """Every distinct (variable, encoding, line) in a stream of chunks."""
        if not self:
            return []
        found: dict[tuple[str, str, int], None] = {}
        keep = self.longest - 1
        tail = b""
        lines_before = 0  # newlines before the start of ``tail``
        for chunk in chunks:
            if not chunk:
                continue
            text = tail + chunk
            # Matches come in order of their end: count newlines incrementally, so a file
            # full of matches stays linear.
            counted, line = 0, lines_before + 1
            for index, start, end in self._automaton.find_matches_as_indexes(
                text, overlapping=True
            ):
                if end <= len(tail):  # seen with the previous chunk already
                    continue
                if start >= counted:
                    line += text.count(b"\n", counted, start)
                    counted = start
                    at = line
                else:  # a longer match that began before the last one (at most a pattern back)
                    at = line - text.count(b"\n", start, counted)
                for name, encoding in self._owners[index]:
                    found[(name, encoding, at)] = None
            cut = max(len(text) - keep, 0)
            lines_before += text.count(b"\n", 0, cut)
            tail = text[cut:]
        return [Match(*key) for key in found]

    def search_text(self, text: str) -> list[Match]:
        return self.search([text.encode()])


def strings_in(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(JSON path, text) of every string (keys too) in parsed JSON, e.g. ``Config.Env[2]``."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            yield where + " (key)", str(key)
            yield from strings_in(value, where)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from strings_in(value, f"{path}[{index}]")
    elif isinstance(data, str):
        yield path, data


def described(path: str, text: str) -> str:
    """A JSON path with the variable name of an ``NAME=value`` entry (Env), never the value."""
    name, equals, _ = text.partition("=")
    if equals and name and len(name) < 200 and name.replace("_", "").isalnum():
        return f"{path} ({name}=)"
    return path
