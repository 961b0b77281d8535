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

import resource

#: prctl(2) options (linux/prctl.h).
_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4

#: The core limit (soft, hard) we started with, before :func:`harden_process` lowered it.
_original_core_limit: tuple[int, int] | None = None


def harden_process() -> None:
    """Make this process non-dumpable and its soft core limit 0 (idempotent, never raises)."""
    lower_core_limit()
    try:
        from secure_up.system._prctl import set_dumpable
    except ImportError:  # not built (no C compiler at install): through ctypes
        _prctl(_PR_SET_DUMPABLE, 0)
        return
    try:
        set_dumpable(False)
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
    try:
        from secure_up.system._prctl import get_dumpable
    except ImportError:  # not built: through ctypes
        result = _prctl(_PR_GET_DUMPABLE, 0)
    else:
        try:
            result = get_dumpable()
        except OSError:
            result = None
    return None if result is None else result != 0


def _prctl(option: int, argument: int) -> int | None:
    # Where _prctl.c was not built. No maintained library wraps prctl(2)
    # (python-prctl needs a C build against libcap and is unmaintained) and the os
    # module has no binding: one libc call, through ctypes (2.5 ms to import).
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux (or no libc): the core limit above still applies
    result: int = prctl(option, argument, 0, 0, 0)
    return None if result < 0 else result
