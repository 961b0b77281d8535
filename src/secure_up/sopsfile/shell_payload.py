"""The ``export KEY=value`` lines of a binary secrets file (``environment.secrets``).

A binary sops file holds one payload; ours is a shell script of assignments.
``set`` and ``unset`` change one statement of it and leave every other line
byte-identical, so a diff of the decrypted file shows that statement only.
Each result is checked by parsing it as the shell would (shellenv.py): the
changed variable must read back as asked and every other one as before, or
nothing is changed. Pure: text in, text out.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from secure_up.errors import FormatError, SecureUpError
from secure_up.launch.shellenv import format_shell_assignment, parse_shell_env
from secure_up.sops import tree
from secure_up.sops.stores.binary_store import DATA_KEY


def change_payload(document: tree.Branch, path: Path, change: Callable[[str], str]) -> None:
    """Replace the payload of a binary file's ``document`` with ``change(payload)``."""
    payload = document.get(DATA_KEY)
    if not isinstance(payload, str):
        raise FormatError(f"{path} has no binary payload", "restore it from version control")
    document.set(DATA_KEY, change(payload))


def set_shell_variable(text: str, key: str, value: str, path: Path) -> str:
    """``text`` with the ``export KEY=...`` statement replaced, or appended when absent.

    Every other line stays byte-identical. The result is checked by parsing it
    as the shell would: ``KEY`` must read back as ``value`` and every other
    variable as before, else nothing is changed and the error says why.
    """
    before = _shell_variables(text, path)
    expected = {**before, key: value}
    line = format_shell_assignment(key, value)
    if key not in before:
        separator = "" if not text or text.endswith("\n") else "\n"
        candidate = f"{text}{separator}{line}\n"
        if _shell_variables(candidate, path) == expected:
            return candidate
        raise _cannot_rewrite(path, key, "appending an assignment changes other variables")
    return _replace_statement(text, key, path, expected, line)


def unset_shell_variable(text: str, key: str, path: Path) -> str:
    """``text`` without the statement that assigns ``key`` (checked as for set)."""
    before = _shell_variables(text, path)
    if key not in before:
        raise SecureUpError(
            f"{path} sets no {key}; nothing was changed",
            f"check the names with `secure-up decrypt {path}` (names are case-sensitive)",
        )
    expected = {name: value for name, value in before.items() if name != key}
    return _replace_statement(text, key, path, expected, None)


def _shell_variables(text: str, path: Path) -> dict[str, str]:
    try:
        return parse_shell_env(text, str(path))
    except FormatError as error:
        raise FormatError(
            f"{error.what}; `set` and `unset` change binary files only when they hold "
            "`export KEY=value` lines",
            "fix the file with `secure-up edit`",
        ) from None


def _replace_statement(
    text: str, key: str, path: Path, expected: dict[str, str], line: str | None
) -> str:
    """Replace (or drop, when ``line`` is None) the one statement assigning ``key``.

    A statement may span lines (a quoted value with newlines): the shortest
    run of lines from the assignment whose replacement parses to ``expected``
    is the statement.
    """
    lines = text.splitlines(keepends=True)
    starts = _assignment_lines(lines, key)
    if len(starts) != 1:
        reason = (
            f"it is assigned {len(starts)} times"
            if starts
            else "it is not assigned on a line of its own"
        )
        raise _cannot_rewrite(path, key, reason)
    start = starts[0]
    for end in range(start + 1, len(lines) + 1):
        old = "".join(lines[start:end])
        new = "" if line is None else line + ("\n" if old.endswith("\n") else "")
        candidate = "".join(lines[:start]) + new + "".join(lines[end:])
        with contextlib.suppress(FormatError):
            if _shell_variables(candidate, path) == expected:
                return candidate
    raise _cannot_rewrite(
        path, key, "its line also sets other variables, or others are built from it"
    )


def _assignment_lines(lines: Sequence[str], key: str) -> list[int]:
    pattern = re.compile(rf"[ \t]*(?:export[ \t]+)?{re.escape(key)}\+?=")
    return [number for number, line in enumerate(lines) if pattern.match(line)]


def _cannot_rewrite(path: Path, key: str, reason: str) -> SecureUpError:
    return SecureUpError(
        f"cannot change {key} in {path} safely: {reason}; nothing was changed",
        f"change it with `secure-up edit {path}`",
    )
