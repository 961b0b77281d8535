"""Which values of a file are encrypted: the six sops rules.

A file names at most one rule. Key rules (suffix, regex) test every key of a
value's path, so a matching parent covers all its children. Comment rules test
the comment lines gathered above the value at each nesting level. A file that
names no rule is read as ``unencrypted_suffix: _unencrypted``.

Regexes are Go RE2 searches, run by RE2 (:mod:`secure_up.sops.goregex`) so that
they match here exactly where they match in sops, in linear time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, TypeAlias

from secure_up.errors import FormatError
from secure_up.sops.goregex import GoRegex, compile_go_regex

RuleKind: TypeAlias = Literal[
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
]
RULE_KINDS: Final[tuple[RuleKind, ...]] = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)
DEFAULT_UNENCRYPTED_SUFFIX: Final = "_unencrypted"

#: Comments seen above the current value, one list per nesting level.
CommentStack: TypeAlias = list[list[str]]


class EncryptionRule:
    """Which values of a file are encrypted: a rule kind and its suffix or pattern.

    Immutable and compared by value, as a frozen dataclass; a plain class because
    every run decrypts through it and ``dataclasses`` costs about 8 ms to import.
    """

    __slots__ = ("_pattern", "kind", "value")
    kind: RuleKind
    value: str

    def __init__(self, kind: RuleKind, value: str) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "value", value)
        if self.kind.endswith("regex"):
            try:
                object.__setattr__(self, "_pattern", compile_go_regex(self.value))
            except ValueError as error:
                raise FormatError(
                    f"the {self.kind} {self.value!r} is not a valid regular expression: {error}",
                    "fix the pattern in .sops.yaml or on the command line",
                ) from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")  # frozen, as it was

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EncryptionRule) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self) -> int:
        return hash((self.kind, self.value))

    def __repr__(self) -> str:
        return f"EncryptionRule(kind={self.kind!r}, value={self.value!r})"

    def _search(self, text: str) -> bool:
        pattern: GoRegex = object.__getattribute__(self, "_pattern")
        return pattern.search(text)

    def for_keys_under(
        self, path: list[str], comments: CommentStack
    ) -> Callable[[str], bool] | None:
        """``key -> should_encrypt([*path, key], comments, False)`` for the keys of one map.

        Decided once for the map's own path, so each key costs one test of itself
        (10,000 keys in a large file). None for the comment rules, whose answer
        changes with the comments met along the map: ask :meth:`should_encrypt`.
        """
        kind, value = self.kind, self.value
        if kind.endswith("comment_regex"):
            return None
        matches: Callable[[str], bool] = (
            self._search if kind.endswith("regex") else (lambda key: key.endswith(value))
        )
        if kind.startswith("unencrypted"):
            if any(matches(key) for key in path):
                return _never
            if kind == "unencrypted_suffix":  # sops' default rule: one call per key, not two
                return lambda key: not key.endswith(value)
            return lambda key: not matches(key)
        if any(matches(key) for key in path):
            return _always
        return matches

    def should_encrypt(self, path: list[str], comments: CommentStack, is_comment: bool) -> bool:
        """Whether the value (or comment) at ``path`` is encrypted, as sops decides it."""
        kind = self.kind
        if kind == "unencrypted_suffix":
            suffix = self.value
            for key in path:
                if key.endswith(suffix):
                    return False
            return True
        if kind == "encrypted_suffix":
            return any(key.endswith(self.value) for key in path)
        if kind == "unencrypted_regex":
            return not any(self._search(key) for key in path)
        if kind == "encrypted_regex":
            return any(self._search(key) for key in path)
        if kind == "unencrypted_comment_regex":
            return not any(self._search(line) for level in comments for line in level)
        # encrypted_comment_regex: the matching comment line itself stays in clear.
        last_level = len(comments) - 1
        for level_index, level in enumerate(comments):
            for line_index, line in enumerate(level):
                if is_comment and level_index == last_level and line_index == len(level) - 1:
                    continue
                if self._search(line):
                    return True
        return False


def _never(_key: str) -> bool:
    return False


def _always(_key: str) -> bool:
    return True


DEFAULT_RULE: Final = EncryptionRule("unencrypted_suffix", DEFAULT_UNENCRYPTED_SUFFIX)
