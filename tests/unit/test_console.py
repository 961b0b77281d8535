"""The one way commands write: results on stdout, notes on stderr, one table layout."""

from __future__ import annotations

import io

from secure_up.console import Console, table


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_pads_every_column_but_the_last() -> None:
    rows = [("db", "postgres", "ok"), ("application", "x", "not running (not recreated)")]
    assert table(rows, ("SERVICE", "KIND", "STATE")) == (
        "SERVICE      KIND      STATE\n"
        "db           postgres  ok\n"
        "application  x         not running (not recreated)\n"
    )
    assert table([]) == ""


def test_results_go_to_stdout_and_notes_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(None, out, err, None)
    console.result("done")
    console.json({"ok": True})
    console.warn("careful")
    assert out.getvalue() == 'done\n{\n  "ok": true\n}\n'
    assert err.getvalue() == "warning: careful\n"


def test_progress_is_drawn_on_a_terminal_only_and_cleared_before_output() -> None:
    captured = io.StringIO()
    Console(None, io.StringIO(), captured, None).progress("rolling out: 1/3")
    assert captured.getvalue() == ""

    terminal = _Tty()
    console = Console(None, io.StringIO(), terminal, None)
    console.progress("rolling out: 1/3")
    console.note("converged")
    assert terminal.getvalue() == "\r\x1b[Krolling out: 1/3\r\x1b[Kconverged\n"
