"""One writer at a time per secrets file: an exclusive ``flock`` on the file itself.

Every command that rewrites a file (``set``, ``unset``, ``rotate``,
``updatekeys``, ``edit``) holds this lock from before it reads the file until
after the new file has been renamed into place, so two writers never work from
the same old content (no silent lost update).

The lock is taken on the target file, not on a ``.NAME.lock`` beside it, so no
stray lock files end up in anyone's repository. Because an atomic write
replaces the file (a new inode), a writer that was waiting may wake up holding
a lock on the *old* inode; it then notices that the path now names another
file and locks that one instead. A second writer waits up to a timeout
(``SECURE_UP_LOCK_TIMEOUT`` seconds, default 10), then fails with an error
that names the file and, when Linux tells us, the process holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from secure_up.errors import SecureUpError, UsageError

DEFAULT_TIMEOUT: Final = 10.0
TIMEOUT_VARIABLE: Final = "SECURE_UP_LOCK_TIMEOUT"
_POLL_INTERVAL: Final = 0.05


class LockTimeoutError(SecureUpError):
    """Another process kept the file locked for longer than we were willing to wait."""


def lock_timeout(environ: Mapping[str, str]) -> float:
    """The lock timeout in seconds: ``$SECURE_UP_LOCK_TIMEOUT``, else 10."""
    text = environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds (0 or more)",
            f"set it like {TIMEOUT_VARIABLE}=30, or unset it for the default of "
            f"{DEFAULT_TIMEOUT:g}",
        )
    return seconds


@contextlib.contextmanager
def locked(path: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block.

    Waits up to ``timeout`` seconds for another holder to finish, then raises
    :class:`LockTimeoutError`. ``path`` must exist.
    """
    descriptor = _acquire(path, time.monotonic() + timeout, timeout)
    try:
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the flock


def _acquire(path: Path, deadline: float, timeout: float) -> int:
    while True:
        descriptor = _open(path)
        try:
            if _try_lock(descriptor) and _still_names(path, descriptor):
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        holder = _holder_of(descriptor)
        os.close(descriptor)
        if time.monotonic() >= deadline:
            raise _timeout_error(path, timeout, holder)
        time.sleep(_POLL_INTERVAL)


def _open(path: Path) -> int:
    # Non-blocking and regular files only: a FIFO would block the open forever.
    from secure_up.system.regular_file import open_regular

    return open_regular(
        path,
        flags=os.O_NOFOLLOW,
        fix="check that it is a regular file you may read (symlinks are not followed)",
    )


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_names(path: Path, descriptor: int) -> bool:
    """Whether ``path`` still names the file we locked (a writer may have replaced it)."""
    try:
        current = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    locked_file = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (locked_file.st_dev, locked_file.st_ino)


def _holder_of(descriptor: int) -> int | None:
    """The PID that holds a flock on this file, from ``/proc/locks`` (Linux), if any."""
    status = os.fstat(descriptor)
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234 0 EOF"; waiters are marked "->".
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None


def _timeout_error(path: Path, timeout: float, holder: int | None) -> LockTimeoutError:
    by = f" by process {holder}" if holder else " by another process"
    return LockTimeoutError(
        f"{path} is locked{by} (another secure-up set, rotate, updatekeys or edit is changing "
        f"it); gave up after {timeout:g} s, nothing was written",
        f"wait for that command to finish (an open `secure-up edit` holds the lock until the "
        f"editor closes) and run this one again, or raise {TIMEOUT_VARIABLE}",
    )
