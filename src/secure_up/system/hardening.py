"""Keep our memory out of core dumps and away from other processes of the same user.

secure-up's memory holds decrypted values, a CI passphrase and the armored
private key from ``SECURE_UP_GPG_KEY``. With ``ulimit -c unlimited`` a crash
(SIGSEGV, SIGABRT, SIGQUIT) would write all of it into a ``core`` file on disk,
and any process of the same user could read it through ``/proc/PID/mem`` or a
debugger. At start-up we therefore

- make the process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core dump
  (with the default ``fs.suid_dumpable=0``), no ``ptrace`` attach and no
  ``/proc/PID/mem``, ``environ`` or ``fd`` for other processes of the user;
- lower the soft core-size limit to 0, for kernels set to dump anyway
  (``fs.suid_dumpable`` 1 or 2 with a file ``core_pattern``).

Both concern this process only: ``execve`` makes the new program dumpable
again, and the hard limit is kept so that the programs we run for the user
(compose, ``run -- CMD``) can get the user's own core limit back with
:func:`restore_core_limit` just before they start. The editor and gpg keep
the limit of 0: they hold the plaintext and the key.
"""

from __future__ import annotations

import os
import resource

TYPE_CHECKING = False  # typing and collections cost start-up time; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable

#: prctl(2) options (linux/prctl.h).
_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4

#: The core limit (soft, hard) we started with, before :func:`harden_process` lowered it.
_original_core_limit: tuple[int, int] | None = None


def harden_process() -> None:
    """Make this process non-dumpable and its soft core limit 0 (idempotent, never raises)."""
    lower_core_limit()
    prctl = prctl_call()
    if prctl is not None:  # else not Linux: the core limit above still applies
        try:
            prctl(_PR_SET_DUMPABLE, 0)
        except OSError:
            pass  # refused (a seccomp filter): the core limit above still applies


def lower_core_limit() -> None:
    """Our soft core limit 0, the user's remembered: the first half of :func:`harden_process`.

    On its own for the gpg started before the rest of secure-up loads
    (:mod:`secure_up.keys.prestart`): the limit is inherited, dumpability is not.
    This module imports nothing slow (no contextlib): it runs that early.
    """
    global _original_core_limit  # one process-wide fact, set at start-up
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        if _original_core_limit is None:
            _original_core_limit = (soft, hard)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (OSError, ValueError):
        pass


def original_core_limit() -> tuple[int, int] | None:
    """The (soft, hard) core limit before :func:`harden_process`, or None if it never ran."""
    return _original_core_limit


def restore_core_limit() -> None:
    """Give the user's soft core limit back, in a child about to exec the user's program.

    Safe in a ``preexec_fn`` or just before ``execve``: one system call, no allocation
    worth naming, and no error can escape.
    """
    if _original_core_limit is not None:
        try:
            resource.setrlimit(resource.RLIMIT_CORE, _original_core_limit)
        except (OSError, ValueError):
            pass


def is_dumpable() -> bool | None:
    """Whether this process may dump core (None where prctl is unavailable)."""
    prctl = prctl_call()
    try:
        return None if prctl is None else prctl(_PR_GET_DUMPABLE, 0) != 0
    except OSError:
        return None


def prctl_call() -> Callable[[int, int], int] | None:
    """``prctl(option, argument)`` (its last three arguments 0), OSError if refused; None
    where there is no prctl (not Linux).

    system/_prctl.c, built by the install: ctypes, the standard library's one way to
    call it, costs 2.5 ms to import, at every start. Where the extension was not built
    (no C compiler), through ctypes. No maintained library wraps prctl(2) (python-prctl
    needs a C build against libcap and is unmaintained) and the os module has no binding.
    Resolved before a fork: the call itself imports nothing.
    """
    try:
        from secure_up.system._prctl import prctl
    except ImportError:
        pass
    else:
        return prctl
    try:
        import ctypes

        libc_prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def call(option: int, argument: int) -> int:
        result: int = libc_prctl(option, argument, 0, 0, 0)
        if result < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return result

    return call
