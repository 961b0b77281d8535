"""Counting the words of a web page: pure functions, no I/O."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)


class _TextExtractor(HTMLParser):
    """Collects the text a reader sees: everything outside scripts, styles and templates."""

    SKIPPED = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def visible_text(html: str) -> str:
    """The text of an HTML page without its markup, scripts and styles."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join(extractor.chunks)


def words(text: str) -> list[str]:
    """The words of a text, lower-cased; an apostrophe inside a word keeps it whole."""
    return WORD.findall(text.lower())


def top_words(all_words: list[str], limit: int) -> list[tuple[str, int]]:
    """The most frequent words that are not stop words, most frequent first."""
    counts = Counter(word for word in all_words if word not in STOP_WORDS)
    return counts.most_common(limit)
