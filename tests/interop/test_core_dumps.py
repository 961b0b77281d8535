"""No core dump holds our secrets; the programs we run keep the user's core limit.

With ``ulimit -c unlimited`` a crash of secure-up would write the decrypted
values, a CI passphrase and the armored private key into ``core``. These tests
crash the real ``secure-up run`` (its child sends it SIGSEGV) with the real gpg
and check that no core file appears, and that the child itself still gets the
user's core limit.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GpgKeys
from tests.interop.test_run_e2e import encrypted, environment

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(120)]

SECURE_UP = [sys.executable, "-m", "secure_up"]
SECRET = "core-dump-canary-5f3a9c"


def unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def run_unlimited(keys: GpgKeys, cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``secure-up ARGS`` as from a shell after ``ulimit -c unlimited``."""
    return subprocess.run(
        [*SECURE_UP, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=environment(keys),
        preexec_fn=unlimited_core,
        timeout=60,
        check=False,
    )


@pytest.fixture
def secrets_file(gpg_keys: GpgKeys, tmp_path: Path) -> Path:
    return encrypted(gpg_keys, tmp_path, "secrets.env", f"CANARY={SECRET}\n")


def test_a_crash_of_secure_up_leaves_no_core_file(
    gpg_keys: GpgKeys, secrets_file: Path, tmp_path: Path
) -> None:
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core files do not land in the working directory here ({pattern!r})")
    crash = "sleep 0.5; kill -SEGV $PPID; sleep 5"
    result = run_unlimited(
        gpg_keys, tmp_path, "run", "-s", str(secrets_file), "--", "sh", "-c", crash
    )
    assert result.returncode == -signal.SIGSEGV, result.stderr
    assert not list(tmp_path.glob("core*"))


@pytest.mark.parametrize("mask", [True, False], ids=["masked", "exec"])
def test_the_program_run_gets_the_users_core_limit(
    gpg_keys: GpgKeys, secrets_file: Path, tmp_path: Path, mask: bool
) -> None:
    options = [] if mask else ["--no-mask"]
    result = run_unlimited(
        gpg_keys, tmp_path, "run", *options, "-s", str(secrets_file), "--", "sh", "-c", "ulimit -c"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == b"unlimited"
