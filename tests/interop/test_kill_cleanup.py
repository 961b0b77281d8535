"""A run that is stopped, at any moment, leaves no key and no gpg-agent behind.

A driver process (no terminal: its own session, stdin from a file) enters
gpg_session with a key from SECURE_UP_GPG_KEY and opens data keys in a loop;
we stop it with SIGTERM (or SIGKILL) and look for what it left: its ephemeral
home (named after its PID) and gpg-agents naming that home.
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

from tests.conftest import GpgKeys
from tests.interop.test_gpg_session import (
    DATA_KEY,
    ExportedKeys,
    export_keys,
    leftovers,
    wrap_for,
)

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(300)]

#: How many runs are stopped at a random moment.
RANDOM_KILLS = 20

DRIVER = """
import sys
from secure_up.keys.session import gpg_session

message = sys.stdin.read()
with gpg_session(dict(__import__("os").environ), interactive=False) as gpg:
    print(gpg.home, flush=True)
    for _ in range(int(sys.argv[1])):
        assert gpg.decrypt(message) == bytes(range(32))
    print("done", flush=True)
"""


@pytest.fixture(scope="module")
def run_environ(gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CI-like environment: a protected key and its passphrase, no keyring, no terminal."""
    exported: ExportedKeys = export_keys(gpg_keys)
    home = tmp_path_factory.mktemp("ci-home")
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_UP_", "GNUPGHOME", "GPG_TTY"))
    }
    return environ | {
        "HOME": str(home),
        "SECURE_UP_GPG_KEY": exported.protected,
        "SECURE_UP_GPG_PASSPHRASE": gpg_keys.passphrase,
    }


@pytest.fixture(scope="module")
def message_file(gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("message") / "data-key.asc"
    path.write_text(wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint, DATA_KEY))
    return path


def start(environ: dict[str, str], message: Path, decrypts: int) -> subprocess.Popen[bytes]:
    with message.open("rb") as stdin:
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(decrypts)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environ,
            start_new_session=True,
        )


def wait_for_home(process: subprocess.Popen[bytes]) -> Path:
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    assert line, process.communicate(timeout=30)[1].decode()
    return Path(line)


def test_after_success_nothing_is_left(run_environ: dict[str, str], message_file: Path) -> None:
    process = start(run_environ, message_file, decrypts=2)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().endswith("done\n")
    assert leftovers(process.pid) == []


def test_after_an_error_nothing_is_left(run_environ: dict[str, str], message_file: Path) -> None:
    process = start(run_environ | {"SECURE_UP_GPG_PASSPHRASE": "wrong"}, message_file, 1)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert b"passphrase given is wrong" in err
    assert leftovers(process.pid) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_unwinds_and_cleans_up(
    run_environ: dict[str, str], message_file: Path, signum: signal.Signals
) -> None:
    process = start(run_environ, message_file, decrypts=10_000)
    home = wait_for_home(process)
    assert home.is_dir()
    time.sleep(0.3)  # well inside the decrypt loop
    process.send_signal(signum)
    process.communicate(timeout=30)
    # SIGTERM and SIGHUP become SystemExit(128+N); Python re-raises an unhandled Ctrl-C.
    assert process.returncode == (-signum if signum == signal.SIGINT else 128 + signum)
    assert not home.exists()
    assert leftovers(process.pid) == []


def test_a_home_left_by_sigkill_is_swept_by_the_next_run(
    run_environ: dict[str, str], message_file: Path
) -> None:
    killed = start(run_environ, message_file, decrypts=10_000)
    home = wait_for_home(killed)
    killed.kill()  # SIGKILL: nothing can run; the home and its agent stay
    killed.wait(timeout=30)
    assert home.is_dir()
    after = start(run_environ, message_file, decrypts=1)
    assert after.wait(timeout=60) == 0
    assert leftovers(killed.pid) == []
    assert leftovers(after.pid) == []


def test_killed_at_random_moments_nothing_is_left(
    run_environ: dict[str, str], message_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Time one whole run, so the kills spread over start-up, import, decrypts and cleanup.
    started = time.monotonic()
    timing = start(run_environ, message_file, decrypts=3)
    assert timing.wait(timeout=60) == 0
    duration = time.monotonic() - started
    seed = int(os.environ.get("SECURE_UP_KILL_SEED", "4"))
    rng = random.Random(seed)  # noqa: S311 - picks moments to kill, not keys
    dirty = []
    for _ in range(RANDOM_KILLS):
        process = start(run_environ, message_file, decrypts=3)
        time.sleep(rng.uniform(0, duration * 1.1))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        if left := leftovers(process.pid):
            dirty.append((process.pid, left))
    with capsys.disabled():  # the count is the result: show it even when the test passes
        print(
            f"\nkilled {RANDOM_KILLS} runs with SIGTERM at random moments within "
            f"{duration:.2f} s: {len(dirty)} left something behind {dirty}"
        )
    assert dirty == []
