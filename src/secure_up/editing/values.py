"""Where a new secret value comes from: a pipe, a no-echo prompt, or a random generator.

Never from an argv: a value given as a command-line argument is visible to
every user of the machine in ``/proc/PID/cmdline`` and lands in shell history.
The order is:

1. ``--generate``: a random value from :mod:`secrets` (``--length``, ``--charset``);
2. stdin, when it is not a terminal (``printf %s "$V" | secure-up set ...``); one
   trailing newline is dropped, as ``$(...)`` would, so ``echo`` works too. An
   empty pipe or file sets an empty value (sops stores "" too); an empty
   ``/dev/null`` does not, since it is what a CI job's stdin is when nobody piped;
3. the terminal (``/dev/tty``): asked twice without echo, and compared; an empty
   entry is confirmed with a question.

A value with a NUL character is refused: no environment variable can carry it.

Anything else is refused with an error saying how to give the value.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import stat
import string
import warnings
from collections.abc import Iterator
from typing import BinaryIO, Final, Protocol

from secure_up.errors import SecureUpError, UsageError

DEFAULT_LENGTH: Final = 32
MAX_LENGTH: Final = 4096
DEFAULT_CHARSET: Final = "alnum"
#: Character sets for generated values. ``ascii`` is printable ASCII without space.
CHARSETS: Final = {
    "alnum": string.ascii_letters + string.digits,
    "ascii": string.ascii_letters + string.digits + string.punctuation,
    "hex": "0123456789abcdef",
}
#: A value is a password or a key, not a file: refuse more than this from stdin.
MAX_STDIN_VALUE: Final = 1024 * 1024
_PROMPT_ATTEMPTS: Final = 3


class MissingValueError(SecureUpError):
    """No usable value could be read."""


class Terminal(Protocol):
    """The user's terminal, for questions that must not go through stdin or stdout."""

    def read_secret(self, prompt: str) -> str:
        """One line typed without echo (EOFError on Ctrl-D)."""

    def confirm(self, question: str) -> bool:
        """True when the user answers yes; anything else is no."""

    def tell(self, message: str) -> None:
        """Show a line to the user."""


class TtyTerminal:
    """The controlling terminal, ``/dev/tty``: works even when stdin and stdout are pipes."""

    def read_secret(self, prompt: str) -> str:
        with warnings.catch_warnings():
            # getpass falls back to an echoing read of stdin when it cannot
            # use the terminal: make that an error, never a visible value.
            warnings.simplefilter("error", getpass.GetPassWarning)
            try:
                return getpass.getpass(prompt)
            except getpass.GetPassWarning:
                raise MissingValueError(
                    "cannot read the value from the terminal without echo", _HOW_TO_GIVE
                ) from None

    def confirm(self, question: str) -> bool:
        with _tty() as tty:
            tty.write(f"{question} [y/N] ".encode())
            answer = tty.readline().decode("utf-8", "replace")
        return answer.strip().lower() in ("y", "yes")

    def tell(self, message: str) -> None:
        with _tty() as tty:
            tty.write(message.encode() + b"\n")


@contextlib.contextmanager
def _tty() -> Iterator[BinaryIO]:
    # Unbuffered bytes: a terminal cannot seek, which a buffered text "r+" needs.
    with open("/dev/tty", "r+b", buffering=0) as tty:
        yield tty


def open_terminal() -> TtyTerminal | None:
    """The controlling terminal, or None when there is none (CI, cron, a pipe from ssh)."""
    try:
        descriptor = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(descriptor)
    return TtyTerminal()


_HOW_TO_GIVE = (
    'pipe it on stdin (`printf %s "$VALUE" | secure-up set FILE KEY`, or `< file`), '
    "type it at the prompt on a terminal, or use --generate"
)


def generate_value(length: int | None = None, charset: str | None = None) -> str:
    """A value of ``length`` characters drawn uniformly from ``charset`` with :mod:`secrets`."""
    length = DEFAULT_LENGTH if length is None else length
    charset = charset or DEFAULT_CHARSET
    if charset not in CHARSETS:
        raise UsageError(f"unknown --charset {charset!r}", f"use one of: {', '.join(CHARSETS)}")
    if not 1 <= length <= MAX_LENGTH:
        raise UsageError(
            f"--length must be from 1 to {MAX_LENGTH}, not {length}",
            f"the default, {DEFAULT_LENGTH}, suits passwords and tokens",
        )
    alphabet = CHARSETS[charset]
    return "".join(secrets.choice(alphabet) for _ in range(length))


def read_value(
    key: str,
    *,
    stdin: BinaryIO | None,
    terminal: Terminal | None,
    generate: bool = False,
    length: int | None = None,
    charset: str | None = None,
) -> str:
    """The new value for ``key``: generated, piped on stdin, or typed twice on the terminal.

    ``key`` only labels the prompt. ``stdin`` is None when the process has none.
    """
    if generate:
        return generate_value(length, charset)
    if length is not None or charset is not None:
        raise UsageError("--length and --charset only apply to --generate", "add --generate")
    if stdin is not None and not stdin.isatty():
        return _from_stream(stdin)
    if terminal is not None:
        return _from_prompt(key, terminal)
    raise MissingValueError(
        f"no value for {key}: stdin is not a pipe and there is no terminal", _HOW_TO_GIVE
    )


def _from_stream(stream: BinaryIO) -> str:
    data = stream.read(MAX_STDIN_VALUE + 1)
    if len(data) > MAX_STDIN_VALUE:
        raise MissingValueError(
            f"the value on stdin is longer than {MAX_STDIN_VALUE // 1024} KiB",
            "check what is piped in; a secret value is a line, not a file",
        )
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data and not _is_pipe_or_file(stream):
        raise MissingValueError(
            "stdin is empty and is not a pipe or a file (e.g. /dev/null), so it gives no value",
            "to store an empty value, pipe it: `printf '' | secure-up set FILE KEY`; else "
            + _HOW_TO_GIVE,
        )
    try:
        return _checked(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MissingValueError(
            "the value on stdin is not UTF-8 text", "give the value as UTF-8 text"
        ) from None


def _is_pipe_or_file(stream: BinaryIO) -> bool:
    """Whether ``stream`` is a pipe or a regular file: someone chose to give it as input."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _checked(value: str) -> str:
    """``value``, unless it holds what no environment variable can carry (never shown)."""
    if "\0" in value:
        raise MissingValueError(
            "the value contains a NUL character, which no environment variable can carry "
            "(`run` and compose could never use it)",
            "give the value without NUL characters; for binary data, store it base64-encoded",
        )
    return value


def _from_prompt(key: str, terminal: Terminal) -> str:
    for _attempt in range(_PROMPT_ATTEMPTS):
        try:
            first = terminal.read_secret(f"New value for {key}: ")
            if not first:
                if terminal.confirm(f"Set {key} to an empty value?"):
                    return ""
                continue
            second = terminal.read_secret(f"Again, to confirm {key}: ")
        except EOFError:
            raise MissingValueError(f"no value entered for {key}", _HOW_TO_GIVE) from None
        if first == second:
            return _checked(first)
        terminal.tell("The two entries differ; try again.")
    raise MissingValueError(
        f"no value for {key}: no value was confirmed in {_PROMPT_ATTEMPTS} attempts",
        "run the command again and type the same value twice",
    )
