"""Replacing a file atomically: the old content or the new, never a broken file.

The new content goes to a temporary file beside the target (same filesystem,
so the rename is atomic), is fsynced, then renamed over the target, and the
directory is fsynced so the rename itself survives a power cut. A process
killed with SIGKILL between the first write and the rename leaves the old
file intact plus a temporary ``.NAME.*.tmp`` holding ciphertext only; the next
locked writer removes it (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from pathlib import Path

from secure_up.errors import SecureUpError


def _temporary_affixes(path: Path) -> tuple[str, str]:
    return f".{path.name}.", ".tmp"


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files a killed writer of ``path`` left behind.

    Call it only while holding the file's lock (:mod:`secure_up.system.locking`):
    then no other writer can be filling one of them right now.
    """
    prefix, suffix = _temporary_affixes(path)
    # Exactly mkstemp's 8 random characters: `.a.b.XXXXXXXX.tmp`, a temporary of
    # the file `a.b`, must not pass for one of `a`.
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(suffix))
    directory = path.parent if str(path.parent) else Path(".")
    for leftover in directory.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        if pattern.fullmatch(leftover.name) and not leftover.is_symlink():
            with contextlib.suppress(OSError):
                leftover.unlink()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``.

    The new file keeps the old one's mode (and owner, when we may set it).
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        previous = path.stat()
    except FileNotFoundError:
        previous = None
    try:
        prefix, suffix = _temporary_affixes(path)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    except OSError as error:
        raise SecureUpError(
            f"cannot write beside {path}: {error.strerror}",
            "check that the directory exists and is writable",
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if previous is not None:
            os.chmod(temporary, previous.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(temporary, previous.st_uid, previous.st_gid)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
