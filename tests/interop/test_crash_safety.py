"""Writers that are killed, or that race: the file is always the old one or the new one.

``kill -9`` lands at random moments of real ``set`` and ``rotate`` processes;
after each, the real sops must decrypt the file to the old or the new content.
Concurrent writers must each be applied, or refused with a clear error, never
silently lost. The commands run as ``python -m secure_up``
until cli.py wires them (then ``python -m secure_up``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secure_up.system.atomic import remove_stale_temporaries
from secure_up.system.locking import locked
from tests.conftest import GpgKeys, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

RUN = [sys.executable, "-m", "secure_up"]
RUNS = 30
PAYLOAD = "export USER=admin\nexport PASSWORD='old-pass'\nexport PORT=5432\n"
YAML = "# comment\ndb:\n    user: admin\n    password: old-pass\nport: 5432\n"


def encrypted(sops: Sops, directory: Path, name: str, plaintext: str) -> Path:
    source = directory / f"plain-{name}"
    source.write_text(plaintext)
    target = directory / name
    target.write_bytes(sops.encrypt(source))
    source.unlink()
    return target


def start(
    keys: GpgKeys, *args: str, value: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*RUN, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**keys.env, **(env or {})},
    )
    assert process.stdin is not None
    process.stdin.write(value)
    process.stdin.close()
    return process


def timed_run(keys: GpgKeys, *args: str, value: bytes = b"") -> float:
    began = time.monotonic()
    process = start(keys, *args, value=value)
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    return time.monotonic() - began


def kill_at_random(process: subprocess.Popen[bytes], within: float, rng: random.Random) -> None:
    time.sleep(rng.uniform(0, within))
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    if process.stderr:
        process.stderr.close()


def shell_value(plaintext: bytes, name: str) -> str:
    script = f'set -a; source /dev/stdin; printf %s "${{{name}-<unset>}}"'
    return subprocess.run(
        ["bash", "--norc", "-c", script],
        input=plaintext,
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.decode()


def leftovers(path: Path) -> list[Path]:
    return list(path.parent.glob(f".{path.name}.*.tmp"))


def test_kill_9_during_set_leaves_the_old_or_the_new_content(sops: Sops, tmp_path: Path) -> None:
    path = encrypted(sops, tmp_path, "environment.secrets", PAYLOAD)
    duration = timed_run(sops.keys, "set", str(path), "PASSWORD", value=b"warm-up")
    rng = random.Random(5)  # noqa: S311 - reproducible kill moments, not crypto
    current, outcomes = "warm-up", {"old": 0, "new": 0}
    for run in range(RUNS):
        wanted = f"pass-{run}-{rng.randrange(10**9)}"
        process = start(sops.keys, "set", str(path), "PASSWORD", value=wanted.encode())
        kill_at_random(process, duration * 1.5, rng)
        plaintext = sops.decrypt(path)  # fails the test if the file is broken
        got = shell_value(plaintext, "PASSWORD")
        assert got in (current, wanted), f"run {run}: neither the old nor the new value"
        assert shell_value(plaintext, "USER") == "admin"
        assert shell_value(plaintext, "PORT") == "5432"
        outcomes["new" if got == wanted else "old"] += 1
        current = got
    stale = len(leftovers(path))
    print(
        f"\nkill -9 during set: {RUNS} runs, {outcomes['old']} left the old content, "
        f"{outcomes['new']} the new; {stale} temporary files left by killed writers"
    )
    # The kills must land on both sides of the rename, or the test proved nothing.
    assert outcomes["old"] > 0
    assert outcomes["new"] > 0
    timed_run(sops.keys, "set", str(path), "PASSWORD", value=b"final")
    assert leftovers(path) == []  # the next locked writer cleaned them up
    assert shell_value(sops.decrypt(path), "PASSWORD") == "final"


def test_kill_9_during_rotate_leaves_a_file_that_decrypts(sops: Sops, tmp_path: Path) -> None:
    path = encrypted(sops, tmp_path, "app.yaml", YAML)
    plaintext = sops.decrypt(path)
    duration = timed_run(sops.keys, "rotate", str(path))
    rng = random.Random(7)  # noqa: S311 - reproducible kill moments, not crypto
    rotated = 0
    for _run in range(RUNS):
        before = path.read_bytes()
        kill_at_random(start(sops.keys, "rotate", str(path)), duration * 1.5, rng)
        assert sops.decrypt(path) == plaintext
        rotated += path.read_bytes() != before
    print(
        f"\nkill -9 during rotate: {RUNS} runs, {RUNS - rotated} left the old file, "
        f"{rotated} the rotated one; every one decrypted"
    )
    assert 0 < rotated < RUNS


def test_concurrent_sets_are_all_applied_or_clearly_refused(sops: Sops, tmp_path: Path) -> None:
    path = encrypted(sops, tmp_path, "environment.secrets", PAYLOAD)
    names = [f"KEY{number}" for number in range(4)]
    processes = {
        name: start(sops.keys, "set", str(path), name, value=name.lower().encode())
        for name in names
    }
    plaintext_after = None
    refused = []
    for name, process in processes.items():
        assert process.wait(timeout=120) in (0, 1)
        stderr = process.stderr.read() if process.stderr else b""
        if process.returncode:
            assert b"is locked by" in stderr, stderr
            refused.append(name)
    plaintext_after = sops.decrypt(path)
    for name in names:
        expected = "<unset>" if name in refused else name.lower()
        assert shell_value(plaintext_after, name) == expected  # never a silent lost update
    assert shell_value(plaintext_after, "PASSWORD") == "old-pass"


def test_a_writer_that_cannot_get_the_lock_fails_clearly(sops: Sops, tmp_path: Path) -> None:
    path = encrypted(sops, tmp_path, "app.yaml", YAML)
    before = path.read_bytes()
    with locked(path):
        process = start(
            sops.keys, "set", str(path), "NEW", value=b"v", env={"SECURE_UP_LOCK_TIMEOUT": "0.5"}
        )
        assert process.wait(timeout=60) == 1
        stderr = process.stderr.read() if process.stderr else b""
    assert f"{path} is locked by process {os.getpid()}".encode() in stderr
    assert b"gave up after 0.5 s, nothing was written" in stderr
    assert path.read_bytes() == before


def test_only_this_files_stale_temporaries_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "a"
    own = tmp_path / ".a.k3x_9q0z.tmp"
    of_another_file = tmp_path / ".a.b.k3x_9q0z.tmp"  # a temporary of the file `a.b`
    for path in (target, own, of_another_file):
        path.write_bytes(b"x")
    remove_stale_temporaries(target)
    assert not own.exists()
    assert of_another_file.exists()
    assert target.exists()
