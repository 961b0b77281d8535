"""parse_shell_env against the real bash: `set -a; source FILE` must set the same variables.

The values here are test data, so printing them from bash is fine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_up.errors import FormatError
from secure_up.launch.shellenv import format_shell_assignment, parse_shell_env
from tests.conftest import require
from tests.unit.test_shellenv import VALID_CASES, names, shell_values

#: Variables bash sets by itself in an empty environment.
BASH_OWN = frozenset({"PWD", "SHLVL", "_", "OLDPWD", "LC_ALL"})
COPY = "COPY_OF_FIRST"
test_names = names.filter(lambda name: name not in BASH_OWN and name != COPY)


def sourced_by_bash(text: str, directory: Path) -> dict[str, str]:
    """What `set -a; source FILE` exports, read back NUL-separated with `env -0`."""
    bash = shutil.which("bash")
    if bash is None:
        require("bash", "install the Debian package bash")
    assert bash is not None
    path = directory / "environment.secrets"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    script = 'set -a; source "$1" || exit 99; env -0'
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script, "bash", str(path)],
        env={"LC_ALL": "C.UTF-8"},
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert result.stderr == b""
    pairs = (entry.split(b"=", 1) for entry in result.stdout.split(b"\0") if entry)
    exported = {key.decode(): value.decode("utf-8", "surrogateescape") for key, value in pairs}
    return {key: value for key, value in exported.items() if key not in BASH_OWN}


@pytest.mark.parametrize(("text", "expected"), VALID_CASES.values(), ids=VALID_CASES.keys())
def test_the_unit_cases_are_what_bash_does(
    text: str, expected: dict[str, str], tmp_path: Path
) -> None:
    assert sourced_by_bash(text, tmp_path) == expected
    assert parse_shell_env(text, "s") == expected


def double_quoted(value: str) -> str:
    escaped = "".join("\\" + char if char in '$`"\\' else char for char in value)
    return f'"{escaped}"'


def ansi_c_quoted(value: str) -> str:
    """Printable ASCII as is, every other byte as a \\xHH escape."""
    escaped = (
        chr(byte) if 0x20 <= byte <= 0x7E and byte not in b"'\\" else f"\\x{byte:02x}"
        for byte in value.encode("utf-8", "surrogateescape")
    )
    return "$'" + "".join(escaped) + "'"


def backslashed(value: str) -> str:
    return "".join("'\n'" if char == "\n" else "\\" + char for char in value)


QUOTINGS = {
    "single": lambda value: format_shell_assignment("X", value).removeprefix("export X="),
    "double": double_quoted,
    "ansi-c": ansi_c_quoted,
    "backslash": backslashed,
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(
        st.tuples(test_names, shell_values, st.sampled_from(sorted(QUOTINGS)), st.booleans()),
        min_size=1,
        max_size=6,
        unique_by=lambda entry: entry[0],
    )
)
def test_random_values_in_every_quoting_read_like_bash(
    entries: list[tuple[str, str, str, bool]], tmp_path: Path
) -> None:
    lines = [
        f"{'export ' if exported else ''}{name}={QUOTINGS[quoting](value)}"
        for name, value, quoting, exported in entries
    ]
    # An expansion of an earlier variable must carry its value unchanged.
    lines.append(f'{COPY}="${{{entries[0][0]}}}"')
    text = "\n".join(lines) + "\n"
    assert parse_shell_env(text, "s") == sourced_by_bash(text, tmp_path)


#: Raw pieces of shell words; joined at random they make odd but mostly valid assignments.
word_pieces = st.sampled_from(
    ["x", "é", " ", "'", '"', "\\", "$", "{", "}", "#", ";", ":", "~", "=", "\n", "\t", "$A",
     "${A}", "$B", "$'", "\\n", "\\x41", "\\101", "\\u263a", "\\'", '\\"', "\\$", "\\`", "*", "("]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statements=st.lists(
        st.tuples(
            st.sampled_from(["", "export ", "  ", "A=1 "]),
            st.sampled_from(["A", "B", "C"]),
            st.lists(word_pieces, max_size=8).map("".join),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_whatever_we_accept_bash_reads_the_same(
    statements: list[tuple[str, str, str]], tmp_path: Path
) -> None:
    text = "\n".join(f"{prefix}{name}={word}" for prefix, name, word in statements)
    try:
        parsed = parse_shell_env(text, "s")
    except FormatError:
        return  # refused: never handed to bash, which might run it
    assert parsed == sourced_by_bash(text, tmp_path)
