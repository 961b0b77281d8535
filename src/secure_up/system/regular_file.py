"""Reading a file the user named: only if it is a regular file, and only so much of it.

A FIFO, a terminal or a device named where a file is expected would block a
plain ``open()`` forever (a FIFO waits for a writer) or never end (``/dev/zero``).
So every user-controlled file is opened here with ``O_NONBLOCK`` (opening a
FIFO returns at once) and ``O_NOCTTY``, checked with ``fstat`` to be a regular
file, and read up to a limit. The standard library has no such "open only if
regular" call, hence this module.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from secure_up.errors import InputFileError, UnreadableFileError

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NOT_REGULAR_FIX = "name a regular file (secure-up does not read pipes, directories or devices)"


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a person: "a FIFO (named pipe)", "a directory", ..."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular_error(
    path: Path | str, mode: int, what: str = "", fix: str = ""
) -> UnreadableFileError:
    subject = _subject(path, what)
    return UnreadableFileError(
        f"{subject} is {kind_of(mode)}, not a regular file", fix or _NOT_REGULAR_FIX
    )


def check_regular(path: Path, *, what: str = "", fix: str = "") -> None:
    """Raise :class:`InputFileError` unless ``path`` (symlinks followed) is a regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(
            f"{_subject(path, what)} does not exist",
            "check the path (it is relative to the current directory)",
        ) from None
    except OSError as error:
        raise _os_error(path, error, what) from None
    if not stat.S_ISREG(mode):
        raise not_regular_error(path, mode, what, fix)


def open_regular(path: Path, *, what: str = "", fix: str = "", flags: int = 0) -> int:
    """A descriptor of ``path``, opened without blocking, refused unless it is a regular file.

    ``flags`` are added to ``O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC``. The
    caller closes the descriptor.
    """
    try:
        descriptor = os.open(path, _OPEN_FLAGS | flags)
    except FileNotFoundError:
        raise InputFileError(
            f"{_subject(path, what)} does not exist",
            "check the path (it is relative to the current directory)",
        ) from None
    except OSError as error:
        raise _os_error(path, error, what, fix) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise not_regular_error(path, mode, what, fix)
    return descriptor


def read_regular(
    path: Path, *, max_size: int, what: str = "", fix: str = "", too_big: str = ""
) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_size`` of them (else an error)."""
    descriptor = open_regular(path, what=what, fix=fix)
    try:
        size = os.fstat(descriptor).st_size
        if size > max_size:
            raise _too_big(path, size, max_size, what, too_big)
        chunks: list[bytes] = []
        total = 0
        while total <= max_size:  # the size may have grown since fstat
            chunk = os.read(descriptor, max_size + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise _os_error(path, error, what) from None
    finally:
        os.close(descriptor)
    if total > max_size:
        raise _too_big(path, total, max_size, what, too_big)
    return b"".join(chunks)


def _too_big(path: Path, size: int, limit: int, what: str, fix: str) -> InputFileError:
    subject = _subject(path, what)
    if limit >= 2**20:
        amount, unit = f"{size / 2**20:.0f} MiB", f"{limit / 2**20:.0f} MiB"
    else:
        amount, unit = f"{size} bytes", f"{limit} bytes"
    return InputFileError(
        f"{subject} is {amount}; secure-up reads such files of at most {unit}",
        fix or "check that this is the right file (secrets files are small)",
    )


def _os_error(path: Path, error: OSError, what: str, fix: str = "") -> UnreadableFileError:
    subject = _subject(path, what)
    if isinstance(error, PermissionError):
        return UnreadableFileError(
            f"{subject} cannot be read: permission denied",
            "run as a user who may read it, or fix its mode (chmod u+r)",
        )
    if isinstance(error, IsADirectoryError):
        return UnreadableFileError(
            f"{subject} is a directory, not a regular file", _NOT_REGULAR_FIX
        )
    return UnreadableFileError(
        f"{subject} cannot be read: {error.strerror}", fix or "check the path"
    )


def _subject(path: Path | str, what: str) -> str:
    return f"{path} ({what})" if what else str(path)
