"""Go RE2 patterns in Python: the searches agree, and what differs is refused."""

from __future__ import annotations

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
    ],
)
def test_go_regex_search_agrees_with_re2(pattern: str, text: str, found: bool) -> None:
    assert (compile_go_regex(pattern).search(text) is not None) is found


@pytest.mark.parametrize(
    "pattern",
    [r"(?=a)", r"(?<!a)b", r"(a)\1", r"\pL", r"\Q.\E", r"a(?i)b", r"(?U)a+", r"\x{41}", "a\\"],
)
def test_go_regex_rejects_what_differs_or_re2_refuses(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        compile_go_regex(pattern)


# -- the same choices as the real sops -------------------------------------------
