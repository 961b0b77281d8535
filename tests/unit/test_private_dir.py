"""Private directories: memory-backed, 0700, removed at the end, and reclaimed after SIGKILL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from secure_up.private_dir import private_directory, remove_orphans

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
