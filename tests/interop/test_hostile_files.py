"""Hostile input files: a FIFO or a directory where a file belongs is refused at once.

Every command runs as a real process with a short timeout: before the fix, a FIFO
made each of them wait forever for a writer.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import GpgKeys, SecureUp, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

TIMEOUT = 20


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.env"
    os.mkfifo(path)
    return path


def _refused(result: subprocess.CompletedProcess[bytes], code: int, *words: str) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr
    assert "fix:" in stderr, stderr
    for word in words:
        assert word in stderr, (word, stderr)
    return stderr


@pytest.mark.parametrize(
    "args",
    [
        ("decrypt",),
        ("filestatus",),
        ("encrypt", "--pgp", "PLACEHOLDER"),
        ("set", "--generate"),
        ("rotate",),
        ("edit",),
    ],
)
def test_a_fifo_as_the_file_is_refused_at_once(
    secure_up: SecureUp, gpg_keys: GpgKeys, fifo: Path, args: tuple[str, ...]
) -> None:
    args = tuple(gpg_keys.fingerprints[0] if arg == "PLACEHOLDER" else arg for arg in args)
    command = [args[0], *args[1:], str(fifo)]
    if args[0] == "set":
        command = ["set", str(fifo), "KEY", "--generate"]
    result = secure_up.run(
        *command, check=False, timeout=TIMEOUT, env={"EDITOR": "true", "VISUAL": "true"}
    )
    # sops reports a file it cannot read with 2; filestatus fails with 1, as sops' does.
    _refused(result, 1 if args[0] == "filestatus" else 2, "FIFO")


@pytest.mark.parametrize("variable", ["SECURE_UP_GPG_KEY_FILE", "SECURE_UP_GPG_PASSPHRASE_FILE"])
def test_a_fifo_as_key_or_passphrase_file_is_refused_at_once(
    secure_up: SecureUp, sops: Sops, tmp_path: Path, fifo: Path, variable: str
) -> None:
    plain = tmp_path / "app.env"
    plain.write_text("A=1\n")
    encrypted = tmp_path / "app.enc.env"
    encrypted.write_bytes(sops.encrypt(plain))
    result = secure_up.run(
        "decrypt", str(encrypted), check=False, timeout=TIMEOUT, env={variable: str(fifo)}
    )
    stderr = _refused(result, 2, "FIFO", variable)
    assert "1" not in result.stdout.decode()
    assert stderr


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_run_names_what_a_secrets_path_is(secure_up: SecureUp, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "secrets.env"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    result = secure_up.run(
        "run", "-s", str(path), "--", "true", check=False, timeout=TIMEOUT, cwd=tmp_path
    )
    stderr = _refused(result, 2, "FIFO" if kind == "fifo" else "directory")
    assert "does not exist" not in stderr


def test_stdin_still_works_for_encrypt(
    secure_up: SecureUp, sops: Sops, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    result = secure_up.run(
        "encrypt",
        "--pgp",
        gpg_keys.fingerprints[0],
        "--input-type",
        "dotenv",
        "-",
        stdin=b"A=1\n",
        timeout=TIMEOUT,
    )
    encrypted = tmp_path / "from-stdin.env"
    encrypted.write_bytes(result.stdout)
    assert sops.decrypt(encrypted) == b"A=1\n"


def test_a_catastrophic_regex_in_the_files_metadata_runs_in_linear_time(
    secure_up: SecureUp, sops: Sops, tmp_path: Path
) -> None:
    key = "a" * 38 + "b"
    plain = tmp_path / "plain.yaml"
    plain.write_text(f"{key}: secret\n{'a' * 40}: in-clear\n")
    encrypted = tmp_path / "app.yaml"
    encrypted.write_bytes(sops.encrypt(plain, "--unencrypted-regex", "^(a+)+$"))
    assert f"{'a' * 40}: in-clear" in encrypted.read_text()  # sops left the match in clear

    started = time.monotonic()
    ours = secure_up.run("decrypt", str(encrypted), timeout=TIMEOUT)
    assert time.monotonic() - started < 10
    assert ours.stdout == sops.decrypt(encrypted)
    assert b"secret" in ours.stdout


@pytest.fixture
def sops_env(tmp_path: Path, sops: Sops) -> Path:
    plain = tmp_path / "plain.env"
    plain.write_text("DBPASS=hunter2-secret\nUSER_unencrypted=admin\n")
    path = tmp_path / "app.env"
    path.write_bytes(sops.encrypt(plain))
    return path


def _run_env(secure_up: SecureUp, path: Path) -> subprocess.CompletedProcess[bytes]:
    return secure_up.run(
        "run",
        "-s",
        str(path),
        "--no-mask",
        "--",
        "env",
        check=False,
        timeout=TIMEOUT,
        cwd=path.parent,
    )


@pytest.mark.parametrize(
    ("appended", "name"),
    [("DBPASS=\n", "DBPASS"), ("LD_PRELOAD=\n", "LD_PRELOAD")],
)
def test_an_appended_empty_value_is_refused_by_run(
    secure_up: SecureUp, sops: Sops, sops_env: Path, appended: str, name: str
) -> None:
    with sops_env.open("a") as handle:
        handle.write(appended)
    assert sops.run("decrypt", str(sops_env), check=False).returncode == 0  # sops accepts it
    result = _run_env(secure_up, sops_env)
    stderr = _refused(result, 51, name)
    assert "hunter2" not in stderr
    assert f"{name}=".encode() not in result.stdout


def test_a_duplicate_key_is_refused(secure_up: SecureUp, sops: Sops, tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text('{"DBPASS": "hunter2-secret", "PORT": "5432"}')
    path = tmp_path / "app.json"
    path.write_bytes(sops.encrypt(plain))
    path.write_text(path.read_text().replace('\t"PORT"', '\t"DBPASS": "",\n\t"PORT"', 1))
    assert sops.run("decrypt", str(path), check=False).returncode == 0  # sops accepts it
    _refused(_run_env(secure_up, path), 51, "DBPASS", "twice")
    _refused(secure_up.run("decrypt", str(path), check=False, timeout=TIMEOUT), 51, "twice")


def test_a_duplicate_ini_key_is_refused(secure_up: SecureUp, sops: Sops, tmp_path: Path) -> None:
    plain = tmp_path / "plain.ini"
    plain.write_text("[db]\npassword = hunter2-secret\n")
    path = tmp_path / "app.ini"
    path.write_bytes(sops.encrypt(plain))
    path.write_text(path.read_text().replace("[db]\n", "[db]\npassword =\n", 1))
    _refused(secure_up.run("decrypt", str(path), check=False, timeout=TIMEOUT), 51, "twice")


def test_sops_written_empty_values_still_decrypt(
    secure_up: SecureUp, sops: Sops, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text('{"A": "x", "EMPTY": "", "NULL": null}')
    path = tmp_path / "app.json"
    path.write_bytes(sops.encrypt(plain))
    assert secure_up.run("decrypt", str(path), timeout=TIMEOUT).stdout == sops.decrypt(path)
