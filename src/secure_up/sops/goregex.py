"""Go regexps, as sops writes them, run by RE2: linear time whatever the pattern.

sops matches ``path_regex`` and the encryption-rule regexes with Go's
``regexp``, an RE2 implementation. These patterns come from files and configs
someone else may have written, so a backtracking engine (Python's ``re``) is
not an option: ``^(a+)+$`` against 38 ``a`` and a ``b`` would spin for minutes.
RE2 (PyPI ``google-re2``) is the same algorithm with the same syntax; the one
construct RE2 accepts and Go refuses (``\\C``, any byte) is refused here, so a
pattern never means something else than in sops.
"""

from __future__ import annotations

from typing import Any, Final

# re2 (about 2.5 ms to import) is imported by the first compile: most files use
# the default rule, which has no pattern, and start-up is benchmarked.

#: Memory RE2 may use for one compiled pattern; a larger pattern is refused.
MAX_MEMORY: Final = 8 * 1024 * 1024
#: Longer patterns are refused before RE2 sees them (sops rules are a line or two).
MAX_PATTERN_LENGTH: Final = 16 * 1024


def _options() -> Any:
    import re2

    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # errors are ours to report, not RE2's to print on stderr
    return options


class GoRegex:
    """A compiled Go regexp; :meth:`search` answers whether it matches anywhere, as Go's
    ``MatchString`` does."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled

    def search(self, text: str) -> bool:
        # Bytes, so a key read with surrogateescape (not UTF-8) is still searched, as Go does.
        return self._compiled.search(text.encode("utf-8", "surrogateescape")) is not None

    def __repr__(self) -> str:
        return f"GoRegex({self.pattern!r})"


def compile_go_regex(pattern: str) -> GoRegex:
    """Compile a Go regexp (as sops uses them) with RE2; ValueError says why one is refused.

    Refused: what Go refuses (lookarounds, backreferences, ``\\Z``, possessive
    repeats, ...), which RE2 refuses too; ``\\C``, which only RE2 accepts; and
    patterns longer than :data:`MAX_PATTERN_LENGTH` or needing more than
    :data:`MAX_MEMORY` once compiled.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    _refuse_any_byte(pattern)
    try:
        encoded = pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the pattern is not valid UTF-8 text") from None
    import re2

    try:
        compiled = re2.compile(encoded, _options())
    except re2.error as error:
        raise ValueError(_reason(error)) from None
    return GoRegex(pattern, compiled)


def _refuse_any_byte(pattern: str) -> None:
    position = 0
    while position < len(pattern):
        if pattern[position] == "\\":
            if pattern[position + 1 : position + 2] == "C":
                raise ValueError("\\C (any byte) is not supported by Go's regexp")
            position += 2
        else:
            position += 1


def _reason(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    if "pattern too large" in text:
        return f"the pattern needs more than {MAX_MEMORY // 2**20} MiB once compiled"
    return f"Go's regexp (RE2) refuses it: {text}"
