"""Opening the data keys of the files named on the command line while Python loads the rest.

gpg needs about 20 ms to open a data key (and a CI run first imports its key
into a fresh keyring); loading the modules of a command takes longer. So the
entry point calls :func:`opened_early` with the files the command line names:
we read the PGP messages at the end of each file, set up the keyring, and start
gpg on them in a thread before the command's modules are imported. When the
command then asks for gpg (:func:`adopt`) with the same environment, it gets
that session, and each data key it asks for comes from the gpg started for
exactly that message; anything else runs as it would have.

Only where gpg can never ask for anything (no terminal): a prompt must come
when the command needs it, not before. What is started here but not used ends
when the command's key services end (:func:`discard`), before it starts any program:
the processes are waited for, the keyring and its agent removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final

from secure_up.errors import SecureUpError
from secure_up.keys.pgp import GnuPG

#: sops writes its metadata last: the PGP messages are in the file's tail.
_TAIL: Final = 256 * 1024
#: A file names one or two PGP recipients; a few more are worth starting early.
_MAX_MESSAGES: Final = 4
_MESSAGE: Final = re.compile(r"-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----")

_session: tuple[dict[str, str], bool, contextlib.ExitStack, GnuPG] | None = None


@contextlib.contextmanager
def opened_early(environ: Mapping[str, str], paths: Iterable[str | Path]) -> Iterator[None]:
    """Start opening the data keys of ``paths`` for the block; what is unused ends with it."""
    global _session
    interactive = sys.stdin.isatty()
    messages = [] if interactive else _pgp_messages(paths)
    if not messages:
        yield
        return
    from secure_up.keys.session import gpg_session

    stack = contextlib.ExitStack()
    try:
        gpg = stack.enter_context(gpg_session(environ, interactive=False, defer_import=True))
        gpg.prepare_in_background(messages)
    except (SecureUpError, OSError):  # the command meets the same error where it always did
        stack.close()
        yield
        return
    _session = (dict(environ), interactive, stack, gpg)
    try:
        yield
    finally:
        discard()


def adopt(
    environ: Mapping[str, str], interactive: bool
) -> tuple[contextlib.ExitStack, GnuPG] | None:
    """The session started early, when it was made for this environment; its end is the caller's."""
    global _session
    if _session is None:
        return None
    early_environ, early_interactive, stack, gpg = _session
    _session = None
    if early_interactive != interactive or early_environ != dict(environ):
        stack.close()  # not for this command: it makes its own
        return None
    return stack, gpg


def discard() -> None:
    """End the session started early if no command took it: keys go when the keys' block ends."""
    global _session
    if _session is not None:
        stack, _session = _session[2], None
        stack.close()


def _pgp_messages(paths: Iterable[str | Path]) -> list[str]:
    """The armored PGP messages at the end of each file, as sops' metadata parser yields them.

    A message read wrongly here is never used: the session hands out only the
    output for a message equal to the one the file's parsed metadata holds.
    """
    messages: list[str] = []
    for path in paths:
        tail = _tail(Path(path))
        for match in _MESSAGE.finditer(tail):
            lines = match.group().replace("\\n", "\n").splitlines()
            message = "\n".join(line.strip() for line in lines)
            if message not in messages:
                messages.append(message)
    return messages[:_MAX_MESSAGES]


def _tail(path: Path) -> str:
    """The last bytes of a regular file, as text; empty when it cannot be read so."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return ""
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):  # a FIFO or device: the command says what it is
            return ""
        os.lseek(fd, max(0, status.st_size - _TAIL), os.SEEK_SET)
        return os.read(fd, _TAIL).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)
