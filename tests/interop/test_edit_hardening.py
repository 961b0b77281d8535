"""What ``edit`` and the user's gpg-agent keep of our secrets: nothing.

- the editor's environment holds no private key, passphrase or age key (as ``run``'s child);
- a killed editor is reported as killed, and the file is unchanged;
- a passphrase given in ``SECURE_UP_GPG_PASSPHRASE`` does not stay cached in the
  user's own (long-lived) gpg-agent after the run.

All through the real command line with the real gpg and sops.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_up.keys.passphrase_cache import cached_keygrips, forget_passphrases
from tests.conftest import GpgKeys, Sops, _make_key

pytestmark = [pytest.mark.sops, pytest.mark.gpg, pytest.mark.timeout(180)]

RUN = [sys.executable, "-m", "secure_up"]

#: Writes the names of its environment variables to $EDITOR_RECORD, or kills itself.
EDITOR = textwrap.dedent(
    """
    import json, os, signal, sys
    json.dump(sorted(os.environ), open(os.environ["EDITOR_RECORD"], "w"))
    if os.environ.get("EDITOR_KILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def secure_up(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*RUN, *args],
        input=b"",
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def secrets_file(sops: Sops, tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text("db: old-pass\n")
    path.write_bytes(sops.encrypt(path))
    return path


@pytest.fixture
def editor_env(gpg_keys: GpgKeys, tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {
        **gpg_keys.env,
        "SECURE_UP_EDITOR": f"{sys.executable} {script}",
        "EDITOR_RECORD": str(tmp_path / "editor-env.json"),
    }


def armored_secret_key(keys: GpgKeys) -> str:
    gpg = ["gpg", "--batch", "--homedir", str(keys.home), "--armor"]
    return subprocess.run(
        [*gpg, "--export-secret-keys", keys.fingerprints[0]],
        capture_output=True,
        check=True,
    ).stdout.decode()


def test_the_editor_gets_no_key_or_passphrase_variable(
    gpg_keys: GpgKeys, secrets_file: Path, editor_env: dict[str, str], tmp_path: Path
) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("not-needed\n")
    env = {
        **editor_env,
        "SECURE_UP_GPG_KEY": armored_secret_key(gpg_keys),
        "SECURE_UP_GPG_PASSPHRASE_FILE": str(passphrase_file),
        "SOPS_AGE_KEY": "AGE-SECRET-KEY-1TEST",
        "SOPS_AGE_KEY_FILE": str(tmp_path / "age.txt"),
    }
    result = secure_up(env, "edit", str(secrets_file))
    assert result.returncode == 200, result.stderr  # opened and closed without a change
    names = json.loads(Path(editor_env["EDITOR_RECORD"]).read_text())
    assert "EDITOR_RECORD" in names  # the user's own variables do reach it
    leaked = [name for name in names if name.startswith(("SECURE_UP_", "SOPS_AGE_"))]
    assert leaked == []


def test_a_killed_editor_is_reported_as_killed(
    secrets_file: Path, editor_env: dict[str, str]
) -> None:
    before = secrets_file.read_bytes()
    result = secure_up({**editor_env, "EDITOR_KILL": "1"}, "edit", str(secrets_file))
    assert result.returncode == 1
    assert b"was killed by signal 9 (SIGKILL)" in result.stderr
    assert b"the file is unchanged" in result.stderr
    assert b"code -9" not in result.stderr
    assert secrets_file.read_bytes() == before


@pytest.fixture
def own_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A user keyring with one passphrase-protected key, and its agent stopped afterwards."""
    home = tmp_path_factory.mktemp("agent", numbered=True)
    home.chmod(0o700)
    fingerprint = _make_key(home, "Dave Test <dave@example.test>", "dave's passphrase")
    yield home, fingerprint
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


def test_a_passphrase_from_the_environment_is_not_left_cached_in_the_agent(
    sops: Sops, own_keyring: tuple[Path, str], tmp_path: Path
) -> None:
    home, fingerprint = own_keyring
    env = {**sops.keys.env, "GNUPGHOME": str(home)}
    plain = tmp_path / "dave.yaml"
    plain.write_text("token: dave-secret\n")
    encrypted = sops.run("encrypt", "--pgp", fingerprint, str(plain), env=env).stdout
    plain.write_bytes(encrypted)
    forget_passphrases(env, cached_keygrips(env))  # key generation may have cached it

    result = secure_up(
        {**env, "SECURE_UP_GPG_PASSPHRASE": "dave's passphrase"}, "decrypt", str(plain)
    )
    assert result.returncode == 0, result.stderr
    assert b"dave-secret" in result.stdout
    assert cached_keygrips(env) == frozenset()
    # Without the passphrase and without a terminal the key is locked again.
    again = secure_up(env, "decrypt", str(plain))
    assert again.returncode == 128
    assert b"SECURE_UP_GPG_PASSPHRASE" in again.stderr


def test_a_key_the_user_had_unlocked_stays_unlocked(
    sops: Sops, own_keyring: tuple[Path, str], tmp_path: Path
) -> None:
    home, fingerprint = own_keyring
    env = {**sops.keys.env, "GNUPGHOME": str(home)}
    plain = tmp_path / "dave.yaml"
    plain.write_text("token: dave-secret\n")
    plain.write_bytes(sops.run("encrypt", "--pgp", fingerprint, str(plain), env=env).stdout)
    gpg = ["gpg", "--batch", "--homedir", str(home), "--trust-model", "always"]
    message = subprocess.run(
        [*gpg, "--encrypt", "-r", fingerprint], input=b"hi", capture_output=True, check=True
    ).stdout
    subprocess.run(  # the user unlocks the key themselves, as at a pinentry
        [*gpg, "--pinentry-mode", "loopback", "--passphrase", "dave's passphrase", "--decrypt"],
        input=message,
        capture_output=True,
        check=True,
    )
    unlocked = cached_keygrips(env)
    assert unlocked
    result = secure_up(
        {**env, "SECURE_UP_GPG_PASSPHRASE": "dave's passphrase"}, "decrypt", str(plain)
    )
    assert result.returncode == 0, result.stderr
    assert cached_keygrips(env) == unlocked


def test_a_disk_directory_mounted_over_dev_shm_is_not_taken_for_memory(
    secrets_file: Path, editor_env: dict[str, str], tmp_path: Path
) -> None:
    """In a mount namespace of its own, a bind mount of a disk directory hides /dev/shm."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    disk = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "sh", "-c", 'mount --bind "$1" /dev/shm', "-", str(disk)],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode()}")
        env = {key: value for key, value in editor_env.items() if key != "XDG_RUNTIME_DIR"}
        script = 'mount --bind "$1" /dev/shm && shift && exec "$@"'
        namespace = ["unshare", "--mount", "sh", "-c", script, "-", str(disk)]
        result = subprocess.run(
            [*namespace, *RUN, "edit", str(secrets_file)],
            input=b"",
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 200, result.stderr
        assert b"warning: no memory-backed directory" in result.stderr
        assert list(disk.iterdir()) == []  # nothing was written to the disk below /dev/shm
    finally:
        shutil.rmtree(disk, ignore_errors=True)
