"""Data keys opened at start-up (keys/early.py) through the real CLI, with the real gpg and sops.

A file named on the command line (``run -s FILE``) has its data key opened while
the command's modules load; the same file named by ``SECURE_UP_SECRETS`` is opened
when the command gets to it, as before. Both must give the same output, the same
errors and exit codes; neither may leave a keyring or a gpg-agent behind, and the
user's keyring stays byte-identical.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secure_up.errors import ExitCode
from tests.conftest import GpgKeys, Sops
from tests.interop.test_gpg_session import (
    ExportedKeys,
    copy_keyring,
    export_keys,
    keyring_digest,
    leftovers,
)

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def exported(gpg_keys: GpgKeys) -> ExportedKeys:
    return export_keys(gpg_keys)


@pytest.fixture(scope="module")
def files(sops: Sops, gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """secrets for Alice (no passphrase) and for Carol (a passphrase), dotenv and YAML."""
    directory = tmp_path_factory.mktemp("early")
    for name, fingerprint in (
        ("alice", gpg_keys.fingerprints[0]),
        ("carol", gpg_keys.passphrase_fingerprint),
    ):
        for suffix, text in ((".env", "KEY_1=one\nKEY_2=two\n"), (".yaml", "KEY_1: one\n")):
            plain = directory / f"{name}{suffix}"
            plain.write_text(text)
            (directory / f"{name}.enc{suffix}").write_bytes(
                sops.encrypt(plain, fingerprints=[fingerprint])
            )
            plain.unlink()
    return directory


def run(environ: dict[str, str], *args: str) -> tuple[int, bytes, bytes, int]:
    """``secure-up ARGS`` without a terminal: exit code, stdout, stderr, PID."""
    process = subprocess.Popen(
        [sys.executable, "-m", "secure_up", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr, process.pid


def both_ways(environ: dict[str, str], secrets: Path) -> tuple[int, bytes, bytes]:
    """The run with the file named by -s (opened early) and by SECURE_UP_SECRETS (not)."""
    command = ["--", sys.executable, "-c", "import os; print(os.environ.get('KEY_1'))"]
    early = run(environ, "run", "-s", str(secrets), *command)
    later = run({**environ, "SECURE_UP_SECRETS": str(secrets)}, "run", *command)
    assert _same_home(early[:3]) == _same_home(later[:3])
    assert leftovers(early[3]) == []
    assert leftovers(later[3]) == []
    return early[:3]


def _same_home(result: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
    """The ephemeral home's name holds the PID of its run: one name for all runs."""
    code, stdout, stderr = result
    stderr = re.sub(rb"secure-up-gpg-\d+-\w+", b"secure-up-gpg-PID", stderr)
    return code, stdout, stderr.replace(b"(named by SECURE_UP_SECRETS)", b"(given with -s)")


@pytest.fixture
def environ(gpg_keys: GpgKeys, tmp_path: Path) -> dict[str, str]:
    """A CI runner's environment: an empty HOME, a user keyring without the keys' secrets."""
    (tmp_path / "home").mkdir()
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_UP_", "GPG_TTY"))
    }
    return environ | {"HOME": str(tmp_path / "home"), "GNUPGHOME": str(tmp_path / "nowhere")}


@pytest.mark.parametrize("suffix", [".env", ".yaml"])
def test_a_ci_key_opens_the_file_the_same_either_way(
    environ: dict[str, str], exported: ExportedKeys, files: Path, suffix: str
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    code, stdout, _stderr = both_ways(environ, files / f"alice.enc{suffix}")
    assert code == 0
    assert stdout.strip() == b"one"  # the value reached the program (too short to mask)


def test_the_users_keyring_opens_the_file_the_same_either_way_and_is_unchanged(
    environ: dict[str, str], gpg_keys: GpgKeys, files: Path, tmp_path: Path
) -> None:
    keyring = copy_keyring(gpg_keys, tmp_path / "user-gnupg")
    before = keyring_digest(keyring)
    environ["GNUPGHOME"] = str(keyring)
    try:
        code, _stdout, _stderr = both_ways(environ, files / "alice.enc.env")
    finally:
        subprocess.run(["gpgconf", "--homedir", str(keyring), "--kill", "all"], check=False)
    assert code == 0
    assert keyring_digest(keyring) == before


@pytest.mark.parametrize(
    ("variables", "file", "code", "says"),
    [
        ({"SECURE_UP_GPG_KEY": "public"}, "alice", ExitCode.NO_KEY, "only a public key"),
        ({"SECURE_UP_GPG_KEY": "bm90IGEga2V5"}, "alice", ExitCode.NO_KEY, "does not hold"),
        ({"SECURE_UP_GPG_KEY": "protected"}, "carol", ExitCode.NO_KEY, "SECURE_UP_GPG_PASSPHRASE"),
        (
            {"SECURE_UP_GPG_KEY": "protected", "SECURE_UP_GPG_PASSPHRASE": "wrong"},
            "carol",
            ExitCode.NO_KEY,
            "passphrase given is wrong",
        ),
        ({"SECURE_UP_GPG_KEY": "plain"}, "carol", ExitCode.NO_KEY, "no master key"),
        (
            {"SECURE_UP_GPG_KEY": "plain", "SECURE_UP_GPG_KEY_FILE": "/nonexistent"},
            "alice",
            ExitCode.USAGE,
            "both SECURE_UP_GPG_KEY and",
        ),
        ({"SECURE_UP_GPG_KEY_FILE": "/nonexistent"}, "alice", None, "SECURE_UP_GPG_KEY_FILE"),
    ],
)
def test_errors_and_exit_codes_are_the_same_either_way(
    environ: dict[str, str],
    exported: ExportedKeys,
    files: Path,
    variables: dict[str, str],
    file: str,
    code: int | None,
    says: str,
) -> None:
    keys = {"public": exported.public, "plain": exported.plain, "protected": exported.protected}
    environ |= {name: keys.get(value, value) for name, value in variables.items()}
    got, _stdout, stderr = both_ways(environ, files / f"{file}.enc.env")
    assert got != 0
    if code is not None:
        assert got == code
    assert says in stderr.decode()


def test_the_right_passphrase_opens_the_file_the_same_either_way(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys, files: Path
) -> None:
    environ |= {
        "SECURE_UP_GPG_KEY": exported.protected,
        "SECURE_UP_GPG_PASSPHRASE": gpg_keys.passphrase,
    }
    assert both_ways(environ, files / "carol.enc.env")[0] == 0


def test_a_fifo_named_by_s_neither_hangs_nor_changes_the_error(
    environ: dict[str, str], exported: ExportedKeys, tmp_path: Path
) -> None:
    fifo = tmp_path / "secrets.env"
    os.mkfifo(fifo)
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    assert both_ways(environ, fifo)[0] != 0


def test_killed_at_random_moments_of_an_early_open_nothing_is_left(
    environ: dict[str, str], exported: ExportedKeys, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    argv = [sys.executable, "-m", "secure_up", "run", "-s", str(files / "alice.enc.env")]
    argv += ["--", "true"]
    started = time.monotonic()
    subprocess.run(argv, env=environ, stdin=subprocess.DEVNULL, check=True, timeout=60)
    duration = time.monotonic() - started
    rng = random.Random(int(os.environ.get("SECURE_UP_KILL_SEED", "4")))  # noqa: S311
    dirty = []
    for _ in range(12):
        process = subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, duration * 1.1))
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if left := leftovers(process.pid):
            dirty.append((process.pid, left))
    with capsys.disabled():
        print(f"\nkilled 12 early-open runs within {duration:.2f} s: {len(dirty)} left {dirty}")
    assert dirty == []
