"""Start-up without Typer for the commands that run in loops.

Importing Typer and click costs about 40 ms, a third of what sops needs for a
whole decrypt, and parsing through them as much again. ``secure-up decrypt FILE``,
``secure-up run -- CMD``, ``secure-up app`` and ``secure-up compose -- ARGS`` run in
CI loops and are benchmarked against sops and the book's recipe, so when argv has
one of their plain forms we call the very function the Typer command would call. Anything else —
help, an unknown or abbreviated option, a malformed value — goes to Typer,
which stays the only place that documents options and reports usage errors.
The commands and options come from ``cli/table.py``, generated from the Typer
app (``python -m secure_up.cli.gen_table``); ``tests/unit/test_fastpath.py``
fails while that table is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from secure_up.cli import table
from secure_up.cli.fastpath_targets import FAST_COMMANDS


class FastCommand:
    """The plain form of one command: its options and where its arguments go.

    A plain class: a frozen dataclass costs about 1 ms to define, on the start-up
    this module exists to keep short.
    """

    __slots__ = (
        "flags",
        "multi_options",
        "options",
        "positional",
        "positionals",
        "remainder",
        "target",
    )

    def __init__(
        self,
        target: str,
        *,
        flags: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        multi_options: dict[str, str] | None = None,
        positional: str | None = None,
        positionals: str | None = None,
        remainder: str | None = None,
    ) -> None:
        self.target = target  # "module:function" called with the parsed keyword arguments
        self.flags = flags or {}  # option -> parameter (True if given)
        self.options = options or {}  # option -> parameter (takes a value)
        self.multi_options = multi_options or {}  # repeatable -> list parameter
        self.positional = positional  # one required positional argument (a Path)
        self.positionals = positionals  # any number of positional arguments (a list of str)
        self.remainder = remainder  # everything after "--" (required, non-empty)

    def call(self, arguments: dict[str, Any]) -> int | None:
        module, _, name = self.target.partition(":")
        __import__(module)  # importlib's own import costs its warnings module (1 ms)
        function: Callable[..., int | None] = getattr(sys.modules[module], name)
        return function(**arguments)


#: Every command of the CLI; ``secure-up NAME`` with any other NAME means ``secure-up up NAME``.
COMMAND_NAMES = table.COMMAND_NAMES

#: Options of the fast commands that take a value as the next argument (``-s FILE``).
_OPTIONS_WITH_VALUES = frozenset(
    option
    for options in table.OPTIONS.values()
    for option, (_, kind) in options.items()
    if kind != "flag"
)


def route(args: list[str]) -> list[str]:
    """The argv with the command first.

    ``secure-up app`` is ``secure-up up app``: ``up`` goes before a non-command.
    Options written before the command belong to it: ``secure-up -v up app`` is
    ``secure-up up -v app`` (not ``up`` of the services ``up`` and ``app``).
    """
    if not args or args[0] in ("-h", "--help", "--version"):
        return args
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] not in ("-", "--"):
        index += 2 if args[index] in _OPTIONS_WITH_VALUES else 1
    if index < len(args) and args[index] in COMMAND_NAMES:
        return [args[index], *args[:index], *args[index + 1 :]]
    return ["up", *args]


def _fast_command(name: str) -> FastCommand:
    target, style, parameter = FAST_COMMANDS[name]
    options = table.OPTIONS[name]
    return FastCommand(
        target,
        flags={o: p for o, (p, kind) in options.items() if kind == "flag"},
        options={o: p for o, (p, kind) in options.items() if kind == "value"},
        multi_options={o: p for o, (p, kind) in options.items() if kind == "multi"},
        **{style: parameter},
    )


#: The plain forms of the commands that run in loops: options from the generated table.
COMMANDS: dict[str, FastCommand] = {name: _fast_command(name) for name in FAST_COMMANDS}


def parse(args: Sequence[str]) -> tuple[FastCommand, dict[str, Any]] | None:
    """The command and its arguments when ``args`` is a plain form, else None."""
    if not args or args[0] not in COMMANDS:
        return None
    command = COMMANDS[args[0]]
    arguments: dict[str, Any] = {name: [] for name in command.multi_options.values()}
    positionals: list[str] = []
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            if command.remainder is None or not rest:
                return None
            arguments[command.remainder] = rest
            break
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        name, has_value, value = arg.partition("=")
        if name in command.flags and not has_value:
            arguments[command.flags[name]] = True
        elif name in command.options or name in command.multi_options:
            if not has_value:
                if not rest:
                    return None
                value = rest.pop(0)
            if name in command.options:
                arguments[command.options[name]] = value
            else:
                arguments[command.multi_options[name]].append(value)
        else:
            return None  # help, an unknown option: Typer's job
    if command.positional is not None:
        if len(positionals) != 1:
            return None
        arguments[command.positional] = Path(positionals[0])
    elif command.positionals is not None:
        arguments[command.positionals] = positionals
    elif positionals:
        return None
    if command.remainder is not None and command.remainder not in arguments:
        return None
    return command, arguments
