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
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from secure_up.errors import SecureUpError
from secure_up.keys import prestart
from secure_up.keys.pgp import GnuPG

_session: tuple[dict[str, str], bool, contextlib.ExitStack, GnuPG] | None = None


@contextlib.contextmanager
def opened_early(environ: Mapping[str, str], paths: Iterable[str | Path]) -> Iterator[None]:
    """Start opening the data keys of ``paths`` for the block; what is unused ends with it."""
    global _session
    if _opened_in_memory(environ):
        yield  # the CI key opens data keys itself (keys/pgp_native.py): no gpg to start
        return
    interactive = sys.stdin.isatty()
    messages = [] if interactive else prestart.pgp_messages(str(path) for path in paths)
    if not messages and not prestart.pending():
        yield
        return
    from secure_up.keys.session import gpg_session

    stack = contextlib.ExitStack()
    try:
        gpg = stack.enter_context(gpg_session(environ, interactive=False, defer_import=True))
        gpg.adopt_prestarted()  # what the entry point started for this very gpg
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
    prestart.discard()


def _opened_in_memory(environ: Mapping[str, str]) -> bool:
    from secure_up.keys import pgp_native
    from secure_up.keys.session import key_variable_set

    return key_variable_set(environ) and pgp_native.enabled(environ)
