"""How commands talk to people: one way to write, for every command.

Results (what the user asked to see: a table, JSON, a generated value with
``--show``) go to stdout; notes, warnings and progress go to stderr, so a
pipeline can capture the result and still show the rest. Tables have one
layout everywhere: columns padded to their widest cell, two spaces apart, the
last column free. Progress is drawn only on a terminal (one line, redrawn),
never into a captured stream. Nothing here ever receives a secret value:
callers pass names, places and counts.

A plain class, not a dataclass: a command imports this on its way to work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO, TextIO

from secure_up.editing.values import Terminal, open_terminal


def table(rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None) -> str:
    """Aligned columns (the last one unpadded), one line per row, each ending in a newline."""
    lines = [list(headers)] if headers is not None else []
    lines += [list(row) for row in rows]
    if not lines:
        return ""
    columns = max(len(line) for line in lines)
    widths = [
        max((len(line[i]) for line in lines if i < len(line)), default=0)
        for i in range(columns - 1)
    ]
    out = []
    for line in lines:
        cells = [
            cell.ljust(widths[i]) if i < len(line) - 1 else cell for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip() + "\n")
    return "".join(out)


class Console:
    """A command's way to the user, injectable for tests.

    ``stdin`` carries a piped value; ``stdout`` only results; ``stderr`` notes,
    warnings and progress; ``terminal`` prompts and confirmations (None without one).
    """

    __slots__ = ("_progress_shown", "stderr", "stdin", "stdout", "terminal")

    def __init__(
        self,
        stdin: BinaryIO | None,
        stdout: TextIO,
        stderr: TextIO,
        terminal: Terminal | None,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
        self._progress_shown = False

    def __repr__(self) -> str:
        return f"Console(terminal={self.terminal is not None})"

    @classmethod
    def system(cls) -> Console:
        stdin = sys.stdin.buffer if sys.stdin is not None else None
        return cls(stdin, sys.stdout, sys.stderr, open_terminal())

    def result(self, text: str) -> None:
        """Part of what the user asked to see, on stdout."""
        self._clear_progress()
        self.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        self.stdout.flush()

    def json(self, data: Any) -> None:
        self.result(json.dumps(data, indent=2, sort_keys=False))

    def table(self, rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None) -> None:
        self.result(table(rows, headers))

    def note(self, message: str) -> None:
        self._clear_progress()
        self.stderr.write(message + "\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        self.note(f"warning: {message}")

    def progress(self, message: str) -> None:
        """One redrawn status line on a terminal; nothing when stderr is captured."""
        if not self.stderr.isatty():
            return
        self.stderr.write("\r\033[K" + message)
        self.stderr.flush()
        self._progress_shown = True

    def end_progress(self) -> None:
        """Remove the status line (before the table that ends the work)."""
        self._clear_progress()
        self.stderr.flush()

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self.stderr.write("\r\033[K")
            self._progress_shown = False
