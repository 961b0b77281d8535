"""Which commands have a fast path, and the function each one calls (no Typer here).

Their options come from ``cli/table.py``, generated from the Typer app.
"""

from __future__ import annotations

from typing import Final

#: command -> (target "module:function", how its arguments are taken)
#: ``positional``: one required argument, passed as a Path under that name;
#: ``positionals``: any number, as a list under that name; ``remainder``: all after ``--``.
FAST_COMMANDS: Final[dict[str, tuple[str, str, str]]] = {
    "decrypt": ("secure_up.commands.crypt:decrypt", "positional", "path"),
    "run": ("secure_up.commands.run:run_from_cli", "remainder", "command"),
    # `secure-up app` (routed to `up app`) and `compose -- ...` start compose: benchmarked
    # against the book's `source <(sops -d ...); docker compose up -d app`.
    "up": ("secure_up.commands.run:up_from_cli", "positionals", "services"),
    "compose": ("secure_up.commands.run:compose_from_cli", "remainder", "args"),
}
