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

_MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
#: statfs(2) f_type of the memory filesystems (linux/magic.h): TMPFS_MAGIC, RAMFS_MAGIC.
_MEMORY_MAGICS = frozenset({0x01021994, 0x858458F6})
#: Room for struct statfs on every Linux ABI (120 bytes on x86-64); f_type comes first.
_STATFS_SIZE = 256


def _is_memory_backed(path: Path) -> bool:
    """Whether files in ``path`` live in memory: asked of the filesystem ``path`` is on.

    Mounts stack: a directory bind-mounted over ``/dev/shm`` hides the tmpfs below
    it, so what counts is the topmost mount, which statfs(2) of the path itself
    reports. Where statfs cannot be called, ``/proc/self/mountinfo`` is read the
    same way (the last of the mounts at the deepest mount point wins).
    """
    magic = _filesystem_magic(path)
    if magic is not None:
        return magic in _MEMORY_MAGICS
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return False
    return filesystem_type(mountinfo, path.resolve()) in _MEMORY_FILESYSTEMS


def _filesystem_magic(path: Path) -> int | None:
    """statfs(2)'s f_type for ``path``, or None where it cannot be asked (not Linux)."""
    # os.statvfs has no f_type and no maintained library wraps statfs(2): one libc call.
    try:
        import ctypes

        statfs = ctypes.CDLL(None, use_errno=True).statfs
    except (OSError, AttributeError):
        return None
    buffer = ctypes.create_string_buffer(_STATFS_SIZE)
    if statfs(os.fsencode(path), buffer) != 0:
        return None
    return ctypes.c_ulong.from_buffer(buffer).value & 0xFFFFFFFF


def filesystem_type(mountinfo: str, path: Path) -> str | None:
    """The filesystem type of the mount ``path`` (absolute, resolved) is on, per mountinfo.

    Of the mounts whose mount point is ``path`` or contains it, the deepest wins;
    among mounts at that same point (stacked), the last listed, which is on top.
    """
    best: tuple[int, str] | None = None
    target = str(path)
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        separator = fields.index("-", 6)
        if len(fields) < separator + 2:
            continue
        mount_point = _unescape(fields[4])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), fields[separator + 1])
    return None if best is None else best[1]


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal.group(1), 8)), field)


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
