"""Private directories: memory-backed, 0700, removed at the end, and reclaimed after SIGKILL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from secure_up.system.private_dir import filesystem_type, private_directory, remove_orphans

PREFIX = "secure-up-test-"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_private_directory_is_0700_names_its_owner_and_is_removed() -> None:
    with private_directory(os.environ, PREFIX) as path:
        (path / "plaintext").write_text("secret")
        assert path.stat().st_mode & 0o777 == 0o700
        assert path.name.startswith(f"{PREFIX}{os.getpid()}-")
    assert not path.exists()


def test_orphans_of_dead_processes_are_removed_and_live_ones_kept() -> None:
    with private_directory(os.environ, PREFIX) as ours:
        base = ours.parent
        orphan = base / f"{PREFIX}{_dead_pid()}-left"
        orphan.mkdir(mode=0o700)
        (orphan / "plaintext").write_text("secret")
        seen: list[Path] = []
        remove_orphans(os.environ, PREFIX, seen.append)
        assert not orphan.exists()
        assert seen == [orphan]
        assert ours.exists()  # its process (us) is alive


#: /dev/shm is a tmpfs, then a directory of the disk is bind-mounted over it (it is on top).
STACKED_MOUNTINFO = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755
25 24 0:23 / /dev/shm rw,relatime shared:3 - tmpfs tmpfs rw,size=2468k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600
70 25 254:0 /var/tmp/plain /dev/shm rw,relatime - ext4 /dev/vda rw
71 27 0:40 / /run/user/1000 rw,nosuid,nodev - tmpfs tmpfs rw,mode=700
72 27 0:41 / /mnt/with\\040space rw - ramfs ramfs rw
"""


def test_the_topmost_of_stacked_mounts_decides() -> None:
    assert filesystem_type(STACKED_MOUNTINFO, Path("/dev/shm")) == "ext4"
    assert filesystem_type(STACKED_MOUNTINFO, Path("/dev/shm/secure-up-1-x")) == "ext4"
    without_bind = STACKED_MOUNTINFO.replace("70 25 254:0 /var/tmp/plain /dev/shm", "#")
    assert filesystem_type(without_bind, Path("/dev/shm")) == "tmpfs"


def test_the_deepest_mount_point_wins_and_escapes_are_read() -> None:
    assert filesystem_type(STACKED_MOUNTINFO, Path("/run/user/1000/x")) == "tmpfs"
    assert filesystem_type(STACKED_MOUNTINFO, Path("/run/user/10000")) == "ext4"
    assert filesystem_type(STACKED_MOUNTINFO, Path("/mnt/with space/a")) == "ramfs"
    assert filesystem_type(STACKED_MOUNTINFO, Path("/dev/pts/0")) == "devpts"
