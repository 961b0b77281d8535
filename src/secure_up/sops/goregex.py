"""Go RE2 patterns, as sops writes them, compiled with Python's ``re``.

sops matches ``path_regex`` and the encryption-rule regexes with Go's RE2.
Python's ``re`` agrees on the common subset; this module translates the few
spellings that differ and refuses what cannot be matched the same way, so a
pattern never silently means something else here.
"""

from __future__ import annotations

import re
from typing import Final

#: RE2's ASCII classes ``[[:name:]]``, which Python's re lacks, as set contents.
_POSIX_CLASSES: Final = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
#: Escapes RE2 accepts but Python's re cannot express, with the reason.
_UNSUPPORTED_ESCAPES: Final = {
    "p": "Unicode classes (\\p{...}) are not supported",
    "P": "Unicode classes (\\P{...}) are not supported",
    "Q": "\\Q...\\E quoting is not supported; escape each special character with \\",
    "C": "\\C (any byte) is not supported",
}


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern (as sops uses them) so that ``search`` agrees with Go.

    Translated: ``$`` outside multi-line mode becomes ``\\Z`` (RE2's ``$`` does not
    match before a final newline), ``\\z`` becomes ``\\Z``, ``(?<name>`` becomes
    ``(?P<name>``, ``[[:alpha:]]``-style classes are spelled out, and ``{,n}``
    stays literal; ``\\d \\w \\s \\b`` are ASCII-only (re.ASCII), as in RE2.
    Rejected (ValueError): what RE2 refuses (lookarounds, backreferences, ``\\Z``,
    flags other than i, m, s) and what Python cannot do (``\\p{..}``, ``\\Q..\\E``,
    ``\\C``, ``\\x{..}``, the U flag, flags after the start of the pattern).
    Known difference: ``(?i)`` folds ASCII letters only (RE2 folds Unicode).
    """
    try:
        return re.compile(_GoRegexTranslator(pattern).translate(), re.ASCII)
    except re.error as error:
        raise ValueError(str(error)) from None


class _GoRegexTranslator:
    """One pass over an RE2 pattern, tracking character classes and the m flag per group."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.position = 0
        self.multiline = [False]  # the m flag of each open group, innermost last

    def translate(self) -> str:
        parts = []
        while self.position < len(self.pattern):
            parts.append(self._token())
        return "".join(parts)

    def _token(self) -> str:
        char = self._take(1)
        if char == "\\":
            return self._escape()
        if char == "[":
            return self._char_class()
        if char == "(":
            return self._group_start()
        if char == ")":
            if len(self.multiline) > 1:
                self.multiline.pop()
            return char
        if char == "$":
            return "$" if self.multiline[-1] else "\\Z"
        if char == "{" and self._peek(1) == ",":
            return "\\{"  # RE2 has no {,n} repeat: the brace is literal
        return char

    def _escape(self) -> str:
        char = self._take(1)
        if not char:
            raise ValueError("the pattern ends in a lone backslash")
        if char == "z":
            return "\\Z"
        if char in _UNSUPPORTED_ESCAPES:
            raise ValueError(_UNSUPPORTED_ESCAPES[char])
        if char == "Z":
            raise ValueError("RE2 has no \\Z; use \\z for the end of the text")
        if char in "123456789":
            raise ValueError(f"RE2 has no backreferences (\\{char})")
        if char == "x" and self._peek(1) == "{":
            raise ValueError("\\x{...} is not supported; write \\xHH or the character")
        return "\\" + char

    def _char_class(self) -> str:
        parts = ["["]
        if self._peek(1) == "^":
            parts.append(self._take(1))
        if self._peek(1) == "]":  # a leading ] is a literal in both dialects
            parts.append("\\" + self._take(1))
        while self.position < len(self.pattern):
            char = self._take(1)
            if char == "]":
                parts.append(char)
                break
            if char == "\\":
                parts.append(self._escape())
            elif char == "[" and self._peek(1) == ":":
                parts.append(self._posix_class())
            elif char in "[&~|":
                parts.append("\\" + char)  # literal in RE2; Python warns of future set syntax
            else:
                parts.append(char)
        return "".join(parts)

    def _posix_class(self) -> str:
        end = self.pattern.find(":]", self.position)
        name = self.pattern[self.position + 1 : end] if end >= 0 else ""
        if name not in _POSIX_CLASSES:
            raise ValueError(f"the class [:{name}:] is not supported here")
        self.position = end + 2
        return _POSIX_CLASSES[name]

    def _group_start(self) -> str:
        at_start = self.position == 1
        if self._peek(1) != "?":
            self.multiline.append(self.multiline[-1])
            return "("
        self._take(1)
        if self._peek(2) == "P<" or self._peek(1) == ":":
            self.multiline.append(self.multiline[-1])
            return "(?" + self._take(2 if self._peek(1) == "P" else 1)
        if self._peek(1) == "<" and self._peek(2) not in ("<=", "<!"):
            self._take(1)
            self.multiline.append(self.multiline[-1])
            return "(?P<"
        flags = re.match(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", self.pattern[self.position :])
        if flags is None:
            construct = self.pattern[self.position - 2 : self.position + 2]
            raise ValueError(f"RE2 does not support {construct!r} (lookarounds and the like)")
        enabled, disabled, end = flags.group(1), flags.group(2) or "", flags.group(3)
        if set(enabled + disabled) - set("ims"):
            raise ValueError("only the flags i, m and s can be used")
        self.position += flags.end()
        multiline = (self.multiline[-1] or "m" in enabled) and "m" not in disabled
        if end == ":":
            self.multiline.append(multiline)
        elif at_start:
            self.multiline[-1] = multiline
        else:
            raise ValueError("flags like (?i) must start the pattern; use a group (?i:...) instead")
        return self.pattern[self.position - flags.end() - 2 : self.position]

    def _peek(self, count: int) -> str:
        return self.pattern[self.position : self.position + count]

    def _take(self, count: int) -> str:
        taken = self._peek(count)
        self.position += count
        return taken
