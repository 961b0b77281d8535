"""Private, memory-backed directories for the few things that must be files.

An ephemeral GNUPGHOME and the plaintext an editor works on live in a 0700
directory under ``/dev/shm`` or ``$XDG_RUNTIME_DIR`` (both tmpfs on Linux), so
they never reach a disk, and are removed on every exit path of the ``with``
block. Where no memory-backed place exists we fall back to the system temp
directory and say so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

_MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")


def _is_memory_backed(path: Path) -> bool:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    best = ("", "")
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best[0]):
            best = (mount_point, fs_type)
    return best[1] in _MEMORY_FILESYSTEMS


def memory_backed_base(environ: Mapping[str, str]) -> Path | None:
    """The first writable memory-backed directory: ``/dev/shm``, then ``$XDG_RUNTIME_DIR``."""
    candidates = [Path("/dev/shm")]  # noqa: S108 - the point: tmpfs, then a private 0700 dir
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]))
    for candidate in candidates:
        if candidate.is_dir() and os.access(candidate, os.W_OK) and _is_memory_backed(candidate):
            return candidate
    return None


@contextlib.contextmanager
def private_directory(
    environ: Mapping[str, str], prefix: str = "secure-up-", *, warn: bool = True
) -> Iterator[Path]:
    """A fresh 0700 directory, memory-backed when possible, removed when the block ends."""
    base = memory_backed_base(environ)
    if base is None and warn:
        sys.stderr.write(
            "warning: no memory-backed directory (/dev/shm, $XDG_RUNTIME_DIR) is writable; "
            "using the system temp directory, which may be on disk\n"
        )
    # Our PID in the name lets a later run tell a directory left by a killed
    # process (SIGKILL leaves no chance to clean up) from one in use.
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    path.chmod(0o700)
    try:
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Remove ``path``, overwriting regular files first (cheap on tmpfs, useful on disk)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            with contextlib.suppress(OSError):
                if file.is_file() and not file.is_symlink():
                    size = file.stat().st_size
                    with file.open("r+b") as handle:
                        handle.write(b"\0" * size)
    shutil.rmtree(path, ignore_errors=True)


def remove_orphans(
    environ: Mapping[str, str],
    prefix: str,
    before_removal: Callable[[Path], None] | None = None,
) -> None:
    """Remove our directories named ``prefix`` whose creating process no longer exists.

    A process killed with SIGKILL cannot remove its private directory (with a
    throw-away keyring or an editor's plaintext in it); the next run does.
    """
    temp = Path(tempfile.gettempdir())  # where private_directory falls back to
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)-")
    for base in {memory_backed_base(environ) or temp, temp}:
        with contextlib.suppress(OSError):
            for entry in base.iterdir():
                match = pattern.match(entry.name)
                if match and _owned_by_us(entry) and not _alive(int(match.group(1))):
                    if before_removal is not None:
                        before_removal(entry)
                    remove_tree(entry)


def _owned_by_us(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
