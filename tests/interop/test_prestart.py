"""gpg started before secure-up loads (keys/prestart.py), through the real CLI and the real gpg.

The entry point spawns ``gpg --decrypt`` on the PGP messages of the files the
command line names (or, for the compose commands, the default file) before it
imports anything. Each is used only by a GnuPG that would have run exactly that
argv with exactly that environment; the rest are waited for before the command
starts any program. A wrapper named by ``SOPS_GPG_EXEC`` logs every gpg start
and end, and the program run logs its own start, so the order is on record.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_up.keys import prestart
from tests.conftest import GpgKeys, Sops
from tests.interop.test_gpg_session import copy_keyring

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(300)]

WRAPPER = """#!/bin/sh
echo "start $$ $*" >> "{log}"
"{gpg}" "$@"
status=$?
echo "end $$" >> "{log}"
exit $status
"""


@pytest.fixture
def setting(
    sops: Sops, gpg_keys: GpgKeys, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Path, Path, Path]]:
    """(environment, directory with a default secrets file and another file, log, keyring)."""
    keyring = copy_keyring(gpg_keys, tmp_path / "gnupg")
    log = tmp_path / "gpg.log"
    wrapper = tmp_path / "gpg-wrapper"
    gpg = shutil.which("gpg")
    assert gpg is not None
    wrapper.write_text(WRAPPER.format(log=log, gpg=gpg))
    wrapper.chmod(0o755)
    work = tmp_path / "work"
    (work / "secrets").mkdir(parents=True)
    for name, text in (("default.env", "KEY_1=default-value\n"), ("other.env", "KEY_1=other\n")):
        plain = work / name
        plain.write_text(text)
        (work / name.replace(".env", ".enc.env")).write_bytes(
            sops.encrypt(plain, fingerprints=[gpg_keys.fingerprints[0]])
        )
        plain.unlink()
    (work / "default.enc.env").rename(work / "secrets" / "environment.secrets")
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_UP_", "GPG_TTY"))
    }
    environ |= {"GNUPGHOME": str(keyring), "SOPS_GPG_EXEC": str(wrapper), "HOME": str(tmp_path)}
    yield environ, work, log, keyring
    subprocess.run(["gpgconf", "--homedir", str(keyring), "--kill", "all"], check=False)


def run(
    environ: dict[str, str], cwd: Path, log: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``secure-up ARGS -- PROGRAM``, no terminal; PROGRAM logs its start and KEY_1's length."""
    program = f"import os; open({str(log)!r}, 'a').write('child %d\\n' % len(os.environ['KEY_1']))"
    return subprocess.run(
        [sys.executable, "-m", "secure_up", *args, "--", sys.executable, "-c", program],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def events(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()]


def test_the_file_named_with_s_is_opened_by_one_gpg_started_before_the_program(
    setting: tuple[dict[str, str], Path, Path, Path],
) -> None:
    environ, work, log, _keyring = setting
    result = run(environ, work, log, "run", "-s", "other.enc.env")
    assert result.returncode == 0, result.stderr
    assert events(log) == ["start", "end", "child"]
    assert "child 5" in log.read_text()  # "other"


def test_a_wrong_guess_is_waited_for_before_the_program_starts(
    setting: tuple[dict[str, str], Path, Path, Path],
) -> None:
    # secrets/environment.secrets is guessed at start-up; the compose file names another.
    environ, work, log, _keyring = setting
    compose = work / "compose.yaml"
    compose.write_text("x-secure-up:\n  secrets: [other.enc.env]\nservices: {}\n")
    result = run(environ, work, log, "run")
    assert result.returncode == 0, result.stderr
    lines = events(log)
    assert lines.count("start") == 2  # the guess, and the file the compose file names
    assert lines[-1] == "child"  # every gpg had ended before the program started
    assert "child 5" in log.read_text()


def test_with_a_terminal_nothing_is_started(
    setting: tuple[dict[str, str], Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    environ, work, _log, _keyring = setting
    monkeypatch.setattr(os, "isatty", lambda fd: True)
    prestart.start([str(work / "other.enc.env")], environ)
    assert not prestart.pending()


def test_a_ci_key_or_passphrase_variable_starts_nothing(
    setting: tuple[dict[str, str], Path, Path, Path],
) -> None:
    environ, work, _log, _keyring = setting
    for variable in ("SECURE_UP_GPG_KEY", "SECURE_UP_GPG_PASSPHRASE"):
        prestart.start([str(work / "other.enc.env")], {**environ, variable: "x"})
        assert not prestart.pending()


def test_a_process_is_taken_only_for_its_own_argv_and_environment(
    setting: tuple[dict[str, str], Path, Path, Path],
) -> None:
    environ, work, log, _keyring = setting
    argv = prestart.decrypt_argv(environ)
    assert argv is not None
    prestart.start([str(work / "other.enc.env")], environ)
    try:
        assert prestart.take(argv, {**environ, "EXTRA": "1"}) == {}
        assert prestart.take([*argv[:-1], "--verbose", argv[-1]], environ) == {}
        taken = prestart.take(argv, environ)
        assert len(taken) == 1
        ((message, started),) = taken.items()
        assert message.startswith("-----BEGIN PGP MESSAGE-----\n")
        stdout, stderr = started.communicate()
        assert len(stdout) == 32  # the data key
        assert b"DECRYPTION_OKAY" in stderr
        assert "DECRYPTION" not in repr(started)
    finally:
        prestart.discard()
    assert events(log) == ["start", "end"]


def test_output_beyond_a_data_key_is_cut_and_the_process_stopped(tmp_path: Path) -> None:
    # A hostile message could decompress to gigabytes: gpg's output is bounded.
    yes = shutil.which("yes")
    assert yes is not None
    started = prestart.spawn([yes], {"PATH": os.environ["PATH"]}, b"")
    stdout, stderr = started.communicate()
    assert stdout == b""
    assert b"too large" in stderr
    with pytest.raises(ChildProcessError):
        os.waitpid(started.pid, os.WNOHANG)  # reaped


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert prestart.pgp_messages([str(fifo), str(tmp_path / "missing")]) == []
