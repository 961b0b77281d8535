"""Go RE2 patterns in Python: the searches agree, and what differs is refused."""

from __future__ import annotations

import time

import pytest

from secure_up.sops.goregex import compile_go_regex


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"\.yaml$", "a.yaml", True),
        (r"\.yaml$", "a.yaml\n", False),  # Go's $ is the end of the text
        (r"(?m)\.yaml$", "a.yaml\nb", True),
        (r"\.yaml\z", "a.yaml", True),
        (r"(?<env>prod|dev)/", "x/dev/y", True),
        (r"^[[:alpha:]]+/[[:digit:]]+$", "abc/123", True),
        (r"^[[:alpha:]]+$", "ab1", False),
        (r"\d", "٣", False),  # RE2's \d is ASCII only
        (r"a{,2}", "a{,2}", True),  # no {,n} repeat in RE2: literal braces
        (r"a{,2}", "aa", False),
        (r"(?i)PROD", "prod/x", True),
        (r"[]x]", "]", True),
        (r"\pL+$", "é", True),  # what Python's re could not run, RE2 runs as Go does
        (r"^\Q.*\E$", ".*", True),
        (r"\x{41}", "A", True),
        (r"a(?i)b", "aB", True),
        (r"(?U)a+", "a", True),
    ],
)
def test_go_regex_search_agrees_with_re2(pattern: str, text: str, found: bool) -> None:
    assert compile_go_regex(pattern).search(text) is found


@pytest.mark.parametrize(
    "pattern",
    [r"(?=a)", r"(?<!a)b", r"(a)\1", r"a\Z", r"a++", r"\C", r"[\C]", "a\\", "x" * 20_000],
)
def test_go_regex_rejects_what_differs_or_re2_refuses(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        compile_go_regex(pattern)


# -- the same choices as the real sops -------------------------------------------


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    pattern = compile_go_regex("^(a+)+$")
    started = time.monotonic()
    assert pattern.search("a" * 38 + "b") is False
    assert pattern.search("a" * 100_000) is True
    assert time.monotonic() - started < 1


def test_a_pattern_too_big_to_compile_is_refused() -> None:
    with pytest.raises(ValueError, match="MiB"):
        compile_go_regex("\\pL{1000}" * 4)


def test_a_key_that_is_not_utf8_is_still_searched() -> None:
    assert compile_go_regex("^pass").search("pass\udcff") is True
