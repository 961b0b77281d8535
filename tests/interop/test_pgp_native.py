"""A CI key opens data keys in memory (keys/pgp_native.py); gpg only for what that cannot do.

Through the real CLI, with files the real sops wrote and keys the real gpg made. A
wrapper named by ``SOPS_GPG_EXEC`` logs every gpg run: with a usable key there is
none, and no keyring or agent is made. What the library refuses goes to gpg, whose
error is the one the run always gave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secure_up.errors import ExitCode
from secure_up.keys.pgp_native import NativeKey
from tests.conftest import GpgKeys, Sops
from tests.interop.test_gpg_session import (
    ExportedKeys,
    bomb_for,
    export_keys,
    leftovers,
    wrap_for,
)

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(300)]

WRAPPER = '#!/bin/sh\necho "gpg $*" >> "{log}"\nexec "{gpg}" "$@"\n'


@pytest.fixture(scope="module")
def exported(gpg_keys: GpgKeys) -> ExportedKeys:
    return export_keys(gpg_keys)


@pytest.fixture(scope="module")
def files(sops: Sops, gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice.enc.env (Alice, no passphrase), carol.enc.env (Carol, a passphrase)."""
    directory = tmp_path_factory.mktemp("native")
    for name, fingerprint in (
        ("alice", gpg_keys.fingerprints[0]),
        ("carol", gpg_keys.passphrase_fingerprint),
    ):
        plain = directory / f"{name}.env"
        plain.write_text("KEY_1=one-value\n")
        (directory / f"{name}.enc.env").write_bytes(sops.encrypt(plain, fingerprints=[fingerprint]))
        plain.unlink()
    return directory


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """A CI runner: no keyring of its own, gpg behind a logging wrapper, no terminal."""
    gpg = shutil.which("gpg")
    assert gpg is not None
    wrapper = tmp_path / "gpg-wrapper"
    wrapper.write_text(WRAPPER.format(log=tmp_path / "gpg.log", gpg=gpg))
    wrapper.chmod(0o755)
    (tmp_path / "home").mkdir()
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_UP_", "GPG_TTY", "GNUPGHOME"))
    }
    return environ | {
        "HOME": str(tmp_path / "home"),
        "GNUPGHOME": str(tmp_path / "nowhere"),
        "SOPS_GPG_EXEC": str(wrapper),
    }


def run(environ: dict[str, str], secrets: Path) -> tuple[int, str, str, list[str], int]:
    """``secure-up run -s FILE -- print KEY_1``: code, stdout, stderr, gpg runs, PID."""
    program = [sys.executable, "-c", "import os; print(len(os.environ['KEY_1']))"]
    process = subprocess.Popen(
        [sys.executable, "-m", "secure_up", "run", "-s", str(secrets), "--", *program],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    stdout, stderr = process.communicate(timeout=120)
    log = Path(environ["SOPS_GPG_EXEC"]).with_name("gpg.log")
    runs = log.read_text().splitlines() if log.exists() else []
    return process.returncode, stdout, stderr, runs, process.pid


def test_a_plain_key_opens_the_file_without_gpg_or_a_keyring(
    environ: dict[str, str], exported: ExportedKeys, files: Path
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    code, stdout, stderr, runs, pid = run(environ, files / "alice.enc.env")
    assert code == 0, stderr
    assert stdout.strip() == "9"  # "one-value" reached the program
    assert runs == []
    assert leftovers(pid) == []


def test_a_protected_key_with_its_passphrase_opens_the_file_without_gpg(
    environ: dict[str, str], exported: ExportedKeys, files: Path, gpg_keys: GpgKeys
) -> None:
    environ |= {
        "SECURE_UP_GPG_KEY": exported.protected,
        "SECURE_UP_GPG_PASSPHRASE": gpg_keys.passphrase,
    }
    code, stdout, stderr, runs, _pid = run(environ, files / "carol.enc.env")
    assert code == 0, stderr
    assert stdout.strip() == "9"
    assert runs == []


def test_turned_off_gpg_opens_the_file_as_before(
    environ: dict[str, str], exported: ExportedKeys, files: Path
) -> None:
    environ |= {"SECURE_UP_GPG_KEY": exported.plain, "SECURE_UP_PGP_NATIVE": "0"}
    code, stdout, stderr, runs, pid = run(environ, files / "alice.enc.env")
    assert code == 0, stderr
    assert stdout.strip() == "9"
    assert any("--import" in line for line in runs)
    assert any("--decrypt" in line for line in runs)
    assert leftovers(pid) == []


@pytest.mark.parametrize(
    ("key", "passphrase", "file", "says"),
    [
        ("protected", None, "carol", "SECURE_UP_GPG_PASSPHRASE"),
        ("protected", "wrong", "carol", "passphrase given is wrong"),
        ("public", None, "alice", "only a public key"),
    ],
)
def test_what_the_library_refuses_gpg_reports_as_it_always_did(
    environ: dict[str, str],
    exported: ExportedKeys,
    files: Path,
    key: str,
    passphrase: str | None,
    file: str,
    says: str,
) -> None:
    environ["SECURE_UP_GPG_KEY"] = getattr(exported, key)
    if passphrase is not None:
        environ["SECURE_UP_GPG_PASSPHRASE"] = passphrase
    code, stdout, stderr, runs, pid = run(environ, files / f"{file}.enc.env")
    assert code == ExitCode.NO_KEY
    assert says in stderr
    assert stdout == ""
    assert runs  # gpg was asked, and said why
    assert leftovers(pid) == []


def test_a_message_for_another_key_is_refused_and_nothing_shows_the_key(
    gpg_keys: GpgKeys, exported: ExportedKeys
) -> None:
    alice = NativeKey.load(exported.plain.encode(), None)
    assert alice is not None
    assert alice.decrypt(wrap_for(gpg_keys, gpg_keys.fingerprints[0])) == bytes(range(32))
    assert alice.decrypt(wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint)) is None
    assert alice.decrypt("not a message") is None
    assert "PRIVATE" not in repr(alice)
    assert NativeKey.load(b"not a key", None) is None
    assert NativeKey.load(exported.public.encode(), None) is None


def test_a_child_forked_before_the_imports_opens_the_messages_and_is_reaped(
    gpg_keys: GpgKeys, exported: ExportedKeys
) -> None:
    # The entry point forks it (keys/prestart.py) so the key's work overlaps the imports.
    from secure_up.keys import prestart

    ours = wrap_for(gpg_keys, gpg_keys.fingerprints[0])
    carols = wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint)
    environ = {"SECURE_UP_GPG_KEY": exported.plain}
    prestart._fork_in_memory([ours, carols], environ)
    child = prestart._in_memory
    assert child is not None
    assert str(child.pid) in repr(child)
    assert exported.plain not in repr(child)
    # What it could not open (Carol's message) is left to the command, which says why.
    assert prestart.opened_in_memory(dict(environ)) == {ours: bytes(range(32)), carols: b""}
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped
    assert prestart.opened_in_memory(environ) == {}  # taken once

    # Another environment (here: turned off) takes nothing, and the child is stopped.
    prestart._fork_in_memory([ours], environ)
    child = prestart._in_memory
    assert child is not None
    assert prestart.opened_in_memory(environ | {"SECURE_UP_PGP_NATIVE": "0"}) == {}
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)

    # What no command took ends with the run.
    prestart._fork_in_memory([ours], environ)
    child = prestart._in_memory
    assert child is not None
    prestart.discard()
    assert prestart._in_memory is None
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_a_message_that_decompresses_to_more_than_the_childs_memory_ends_the_child_only(
    gpg_keys: GpgKeys, exported: ExportedKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A committer controls the file: its PGP entry may be a compression bomb. The
    # library keeps the whole plaintext, so it only ever runs in a child whose memory
    # is bounded (here 32 MiB beyond its start, for a 64 MiB bomb): the child fails,
    # we get nothing (the command then asks gpg, whose output is bounded too).
    from secure_up.keys import prestart

    monkeypatch.setattr(prestart, "_CHILD_MEMORY", 32 * 1024 * 1024)
    bomb = bomb_for(gpg_keys, gpg_keys.fingerprints[0])
    opened = prestart.open_in_child([bomb], {"SECURE_UP_GPG_KEY": exported.plain})
    assert opened.get(bomb, b"") == b""
    assert prestart._in_memory is None  # taken and reaped


def test_the_childs_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from secure_up.keys import prestart

    monkeypatch.setattr(prestart, "_CHILD_MEMORY", 32 * 1024 * 1024)
    pid = os.fork()
    if pid == 0:  # the child, as the in-memory opener bounds itself
        code = 0
        try:
            prestart._bound_memory()
            bytearray(256 * 1024 * 1024)
        except MemoryError:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3  # 256 MiB refused to it
