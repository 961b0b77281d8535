"""Parsing shell environment files as `source` would, and writing lines it reads back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_up.errors import FormatError, UsageError
from secure_up.launch.shellenv import (
    BASH_SPECIAL_VARIABLES,
    format_shell_assignment,
    parse_shell_env,
)

#: Shell text -> the variables `set -a; source FILE` sets. tests/interop runs them through bash.
VALID_CASES: dict[str, tuple[str, dict[str, str]]] = {
    "book": ("export DBPASS=MYPASS\n", {"DBPASS": "MYPASS"}),
    "plain assignment": ("KEY=value", {"KEY": "value"}),
    "empty value": ("export EMPTY=\nE2=''\n", {"EMPTY": "", "E2": ""}),
    "several on a line": (
        "A=1 B=2\nexport C=3 D=4\texport=5",
        {"A": "1", "B": "2", "C": "3", "D": "4", "export": "5"},
    ),
    "semicolons": ("A=1; B=2;\nC=3 ;", {"A": "1", "B": "2", "C": "3"}),
    "comments and blanks": (
        "# header\n\n   \nA=1 # trailing\nB=x#not-a-comment\n  # indented\n",
        {"A": "1", "B": "x#not-a-comment"},
    ),
    "single quotes": ("A='it is $HOME `x` \\n \"q\"'", {"A": 'it is $HOME `x` \\n "q"'}),
    "single quotes across lines": ("A='line1\nline2'\nB=2", {"A": "line1\nline2", "B": "2"}),
    "double quote escapes": (
        'A="q\\" bs\\\\ d\\$ bt\\` other\\n keep"',
        {"A": 'q" bs\\ d$ bt` other\\n keep'},
    ),
    "double quote continuation": ('A="one\\\ntwo"', {"A": "onetwo"}),
    "unquoted escapes": ("A=a\\ b\\$c\\'d\\\\", {"A": "a b$c'd\\"}),
    "line continuation": ("export A=1 \\\n  B=2\nC=x\\\ny", {"A": "1", "B": "2", "C": "xy"}),
    "concatenated quoting": ("A=a'b c'\"d e\"f", {"A": "ab cd ef"}),
    "ansi-c": (
        "A=$'tab\\tnl\\nq\\'bs\\\\e\\E\\a\\b\\f\\v\\r\\?\\\"'",
        {"A": "tab\tnl\nq'bs\\e\x1b\x07\x08\x0c\x0b\r?\""},
    ),
    "ansi-c numbers": (
        "A=$'\\101\\x42\\u00e9\\U0001F600\\x4g\\xz\\q'",
        {"A": "AB\u00e9\U0001f600\x04g\\xz\\q"},
    ),
    "ansi-c raw bytes": ("A=$'\\xff\\xc3\\xa9'", {"A": "\udcff\u00e9"}),
    "locale string": ('A=$"hi there"', {"A": "hi there"}),
    "earlier variables": (
        'H=db.local\nP=5432\nURL="postgres://${H}:$P/x"\nU2=$H$P\nU3=${H}_',
        {
            "H": "db.local",
            "P": "5432",
            "URL": "postgres://db.local:5432/x",
            "U2": "db.local5432",
            "U3": "db.local_",
        },
    ),
    "same line expansion": ("A=1 B=$A", {"A": "1", "B": "1"}),
    "expansion keeps quotes literal": ("A='a b \"c\"' B=$A", {"A": 'a b "c"', "B": 'a b "c"'}),
    "append": ("A=x\nA+=y\nexport A+=z", {"A": "xyz"}),
    "reassign": ("A=1\nA=2", {"A": "2"}),
    "bare export": ("A=1\nexport A\nexport NEVER_SET", {"A": "1"}),
    "literal dollar": (
        'A=$ B="$" C=a$ D=$/ E="$\'x\'" F=$}',
        {"A": "$", "B": "$", "C": "a$", "D": "$/", "E": "$'x'", "F": "$}"},
    ),
    "no globbing or braces": ("A=* B=x{a,b} C=[ab]", {"A": "*", "B": "x{a,b}", "C": "[ab]"}),
    "quoted tilde": ("A='~' B=a~ C=\"~\"", {"A": "~", "B": "a~", "C": "~"}),
    "unicode": (
        "A=h\u00e9llo\u2603 B='\u65e5\u672c'",
        {"A": "h\u00e9llo\u2603", "B": "\u65e5\u672c"},
    ),
    "carriage return kept as bash does": ("A=1\r\n", {"A": "1\r"}),
    "export with tabs": ("export\tA=1", {"A": "1"}),
}

#: Shell text -> (line number, words the message must contain). Each would run code or
#: depend on the environment of whoever sources the file.
INVALID_CASES: dict[str, tuple[str, int, str]] = {
    "command substitution": ("A=1\nB=$(cat /etc/passwd)", 2, "command substitution"),
    "command substitution in quotes": ('A="$(id)"', 1, "command substitution"),
    "backticks": ("A=`id`", 1, "backticks"),
    "backticks in quotes": ('A="`id`"', 1, "backticks"),
    "arithmetic": ("A=$((1+2))", 1, "arithmetic"),
    "old arithmetic": ("A=$[1+2]", 1, "arithmetic"),
    "a command": ("A=1\nrm -rf /tmp/x", 2, "a command"),
    "command after semicolon": ("A=1; touch /tmp/x", 1, "a command"),
    "command after assignment": ("A=1 touch /tmp/x", 1, "command after an assignment"),
    "if": ("if true; then A=1; fi", 1, "shell keyword"),
    "function keyword": ("function f { A=1; }", 1, "shell keyword"),
    "function definition": ("f() { A=1; }", 1, "function definition"),
    "subshell": ("(A=1)", 1, "subshell"),
    "pipe": ("A=1 | cat", 1, "pipe"),
    "and": ("A=1 && B=2", 1, "`&&`"),
    "redirection": ("A=1 > /tmp/x", 1, "redirection"),
    "source": ("source other.env", 1, "shell keyword"),
    "eval": ("eval A=1", 1, "shell keyword"),
    "outer variable": ("A=1\nexport B=$HOME", 2, "expands a variable that is not set"),
    "outer variable braced": ('A="${USER}"', 1, "expands a variable that is not set"),
    "outer variable after export only": ("export X\nA=$X", 2, "expands a variable"),
    "append to outer": ("PATH+=:/x", 1, "`+=` appends"),
    "expansion operator": ("A=${B:-x}", 1, "operator in a `${...}` expansion"),
    "indirect expansion": ("A=${!B}", 1, "special or indirect"),
    "length expansion": ("A=${#B}", 1, "special or indirect"),
    "positional parameter": ("A=$1", 1, "special or positional parameter"),
    "special parameter": ('A="$$"', 1, "special or positional parameter"),
    "tilde": ("A=~/x", 1, "`~`"),
    "tilde after colon": ("A=/a:~/b", 1, "`~`"),
    "array": ("A=(1 2)", 1, "array"),
    "export option": ("export -n A", 1, "option to `export`"),
    "export nothing": ("export\n", 1, "without a name"),
    "unterminated single quote": ("A=1\nB='abc\n\nC=2", 2, "never closed"),
    "unterminated double quote": ('A="abc', 1, "never closed"),
    "unterminated ansi-c": ("A=$'abc", 1, "never closed"),
    "nul in ansi-c": ("A=$'a\\0b'", 1, "NUL"),
    "nul in file": ("A=1\nB=a\0b", 2, "NUL"),
    "control escape": ("A=$'\\cA'", 1, "\\c"),
    "leading semicolon": ("; A=1", 1, "`;`"),
    "double semicolon": ("A=1;;", 1, "`;`"),
    "special variable": ("RANDOM=4", 1, "bash treats specially"),
    "underscore": ("_=4", 1, "bash treats specially"),
    "windows line endings": ("A=1\r\n\r\nB=2\r\n", 2, "carriage return"),
    "backslash at the end": ("A='x'\\", 1, "backslash at the very end"),
    "quoted export": ('"export" A=1', 1, "a command"),
}


@pytest.mark.parametrize(("text", "expected"), VALID_CASES.values(), ids=VALID_CASES.keys())
def test_parses_like_source(text: str, expected: dict[str, str]) -> None:
    assert parse_shell_env(text, "environment.secrets") == expected


@pytest.mark.parametrize(
    ("text", "line", "construct"), INVALID_CASES.values(), ids=INVALID_CASES.keys()
)
def test_refuses_what_would_run_or_depend_on_the_environment(
    text: str, line: int, construct: str
) -> None:
    with pytest.raises(FormatError) as caught:
        parse_shell_env(text, "secrets/environment.secrets")
    message = caught.value.diagnostics()
    assert f"secrets/environment.secrets, line {line}, column " in message
    assert construct in message


@pytest.mark.parametrize(
    "text",
    [
        "export DBPASS=SECRET-VALUE; SECRET-VALUE",
        "export DBPASS=SECRET-VALUE SECRET-VALUE",
        "DBPASS='SECRET-VALUE\nSECRET-VALUE",
        "DBPASS=SECRET-VALUE$(SECRET-VALUE)",
        "DBPASS=SECRET-VALUE${SECRET_VALUE:-SECRET-VALUE}",
        "SECRET-VALUE",
        # A `$` inside a double-quoted password: the "name" after it is the password's tail.
        'export DBPASS="Xy7$SECRET_VALUE"',
        "export DBPASS=Xy7${SECRET_VALUE}",
        "DBPASS=${SECRET_VALUE:-x}",
        # A password typed without quotes: its pieces look like names and keywords.
        "export DBPASS=abc SECRET_VALUE+=x",
        "SECRET_VALUE+=x",
        "SECRET_VALUE=(1 2)",
        "export DBPASS=abc SECRET_VALUE()",
        "A=1\nSECRET_VALUE",
    ],
)
def test_errors_never_quote_the_file(text: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_shell_env(text, "s")
    for piece in ("SECRET", "DBPASS", "Xy7"):
        assert piece not in caught.value.diagnostics()
        assert piece not in repr(caught.value)


@pytest.mark.parametrize(
    ("text", "_line", "_construct"), INVALID_CASES.values(), ids=INVALID_CASES.keys()
)
def test_no_error_quotes_a_name_from_the_file(text: str, _line: int, _construct: str) -> None:
    """Every refusal, with each name of the file made recognisable: none comes back."""

    def mark(name: re.Match[str]) -> str:
        special = name.group() in BASH_SPECIAL_VARIABLES  # fixed vocabulary: keep its refusal
        return name.group() if special else f"{name.group()}Zq9"

    marked = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", mark, text)
    with pytest.raises(FormatError) as caught:
        parse_shell_env(marked, "s")
    assert "Zq9" not in caught.value.diagnostics()


def test_the_position_points_at_the_dollar() -> None:
    with pytest.raises(FormatError, match=r"line 2, column 7: a `\$` expands"):
        parse_shell_env('A=1\nB="Xy7$Sup3r"', "s")


def test_the_order_of_assignment_is_kept() -> None:
    assert list(parse_shell_env("B=1\nA=2\nC=3\nB=4", "s")) == ["B", "A", "C"]


def test_format_writes_an_export_line() -> None:
    assert format_shell_assignment("DBPASS", "MYPASS") == "export DBPASS='MYPASS'"
    assert format_shell_assignment("Q", "it's") == "export Q='it'\\''s'"


def test_format_refuses_a_bad_name_and_a_nul() -> None:
    with pytest.raises(UsageError, match="not a shell variable name"):
        format_shell_assignment("1ABC", "x")
    with pytest.raises(UsageError, match="meaning of its own"):
        format_shell_assignment("RANDOM", "x")
    with pytest.raises(FormatError, match="NUL") as caught:
        format_shell_assignment("K", "SECRET\0VALUE")
    assert "SECRET" not in caught.value.diagnostics()


#: Text with quotes, dollars, backslashes, newlines, unicode and raw (non-UTF-8) bytes.
shell_values = st.one_of(
    st.text(alphabet=st.characters(exclude_characters="\0", codec="utf-8")),
    st.text(alphabet="'\"$`\\\n \t{}()!#;&|~*=:"),
    st.binary().map(lambda raw: raw.replace(b"\0", b"").decode("utf-8", "surrogateescape")),
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name not in BASH_SPECIAL_VARIABLES
)


@given(name=names, value=shell_values)
def test_format_then_parse_gives_the_value_back(name: str, value: str) -> None:
    line = format_shell_assignment(name, value)
    assert parse_shell_env(line, "s") == {name: value}
    assert parse_shell_env(f"# written by secure-up set\n{line}\n", "s") == {name: value}


@given(values=st.dictionaries(names, shell_values, max_size=5))
def test_a_file_of_formatted_lines_gives_every_value_back(values: dict[str, str]) -> None:
    text = "\n".join(format_shell_assignment(name, value) for name, value in values.items())
    assert parse_shell_env(text, "s") == values
