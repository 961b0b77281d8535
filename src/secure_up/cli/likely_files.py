"""The files a command line will most likely open first, found before anything is loaded.

The entry point hands them to :mod:`secure_up.keys.prestart`, which starts gpg on
them while Python loads the rest. A guess costs nothing when wrong (the process
started for it is never taken), so this is a plain scan, not a parse: values of
``-s``/``--secrets``, the file of ``decrypt FILE``; for the commands that start
compose or a program, else ``SECURE_UP_SECRETS`` or ``secrets/environment.secrets``.
Imports nothing but the generated command table (no imports of its own).
"""

from __future__ import annotations

import os

from secure_up.cli.table import COMMAND_NAMES

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_FILE_OPTIONS = ("-s", "--secrets")
_COMPOSE_COMMANDS = ("run", "up", "compose")
DEFAULT_SECRETS_FILE = os.path.join("secrets", "environment.secrets")


def likely_files(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The files the command line names, else the ones a compose command finds by default."""
    named: list[str] = []
    words: list[str] = []
    index = 0
    while index < len(args) and args[index] != "--":
        arg = args[index]
        if arg in _FILE_OPTIONS and index + 1 < len(args):
            named.append(args[index + 1])
            index += 2
            continue
        if arg.startswith("--secrets="):
            named.append(arg.partition("=")[2])
        elif not arg.startswith("-"):
            words.append(arg)
        index += 1
    if named:
        return named
    if words[:1] == ["decrypt"]:
        return words[1:2]
    if words and words[0] in COMMAND_NAMES and words[0] not in _COMPOSE_COMMANDS:
        return []  # another command: it opens its files when it must
    if environ.get("SECURE_UP_SECRETS"):
        return [part for part in environ["SECURE_UP_SECRETS"].split(":") if part]
    return [DEFAULT_SECRETS_FILE]  # `secure-up app` is `up app`
