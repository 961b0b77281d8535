"""Writes ``cli/table.py``, the fast path's copy of the Typer app's commands and options.

    python -m secure_up.cli.gen_table          # after changing a command or an option

The fast path (``cli/fastpath.py``) must not import Typer (40 ms), yet it must
know the same commands and options as the Typer app. The app stays the one source
of truth; this script derives the table from it, and
``tests/unit/test_fastpath.py`` fails while the committed table differs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from secure_up.cli.app import app
from secure_up.cli.fastpath_targets import FAST_COMMANDS

TABLE = Path(__file__).with_name("table.py")


def render() -> str:
    root: Any = typer.main.get_command(app)  # a click group (Typer may bundle its own click)
    lines = [
        '"""The Typer app\'s commands and the fast commands\' options: generated, do not edit.',
        "",
        "Made by ``python -m secure_up.cli.gen_table`` from ``cli/app.py``;",
        "``tests/unit/test_fastpath.py`` checks that it is current.",
        '"""',
        "",
        "COMMAND_NAMES = frozenset(",
        "    {",
        *(f'        "{name}",' for name in sorted(root.commands)),
        "    }",
        ")",
        "",
        "#: For each fast command: option -> (parameter, kind), kind one of flag, value, multi.",
        "OPTIONS: dict[str, dict[str, tuple[str, str]]] = {",
    ]
    for name in sorted(FAST_COMMANDS):
        command = root.commands[name]
        lines.append(f'    "{name}": {{')
        for param in command.params:
            if param.param_type_name != "option":
                continue
            kind = "flag" if param.is_flag else "multi" if param.multiple else "value"
            lines += [f'        "{o}": ("{param.name}", "{kind}"),' for o in sorted(param.opts)]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    TABLE.write_text(render())
    sys.stderr.write(f"wrote {TABLE}\n")


if __name__ == "__main__":
    main()
