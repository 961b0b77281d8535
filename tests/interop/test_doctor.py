"""``doctor`` with the real gpg and the real sops: one line per item, OK or the problem and fix.

Docker and Compose answers depend on the machine, so they are checked only
for shape, except an engine that never answers: doctor must give up on it.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_up.commands.doctor import ENGINE_TIMEOUT, doctor
from tests.conftest import GpgKeys, Sops
from tests.interop.test_gpg_session import ExportedKeys, base_environ, export_keys, leftovers

pytestmark = [pytest.mark.gpg, pytest.mark.sops, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def exported(gpg_keys: GpgKeys) -> ExportedKeys:
    return export_keys(gpg_keys)


@pytest.fixture(scope="module")
def secrets(sops: Sops, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sops files for Alice, for Bob, and for Carol (whose key has a passphrase)."""
    directory = tmp_path_factory.mktemp("secrets")
    files = {}
    for name, fingerprint in [
        ("alice", sops.keys.fingerprints[0]),
        ("bob", sops.keys.fingerprints[1]),
        ("carol", sops.keys.passphrase_fingerprint),
    ]:
        plain = directory / f"{name}.json"
        plain.write_text('{"DBPASS": "hunter2"}')
        encrypted = directory / f"{name}.enc.json"
        encrypted.write_bytes(sops.encrypt(plain, fingerprints=[fingerprint]))
        plain.unlink()
        files[name] = encrypted
    return files


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A CI-like run: no keyring of its own (HOME is empty), key variables added by tests."""
    (tmp_path / "home").mkdir()
    environ = base_environ(tmp_path / "home" / ".gnupg", tmp_path / "home")
    del environ["GNUPGHOME"]
    yield environ
    assert leftovers(os.getpid()) == []
    assert not (tmp_path / "home" / ".gnupg").exists()


def run_doctor(
    environ: dict[str, str], files: list[Path], cwd: Path
) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = doctor(environ, json_output=True, secrets_files=files, cwd=cwd, out=out)
    return code, json.loads(out.getvalue())


def item(checks: list[dict[str, object]], name: str) -> dict[str, object]:
    return next(check for check in checks if check["item"] == name)


def test_a_ci_key_is_shown_with_the_files_it_opens(
    environ: dict[str, str],
    exported: ExportedKeys,
    secrets: dict[str, Path],
    tmp_path: Path,
    gpg_keys: GpgKeys,
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    code, checks = run_doctor(environ, [secrets["alice"], secrets["bob"]], tmp_path)
    assert all(set(check) == {"item", "ok", "detail", "fix"} for check in checks)
    assert item(checks, "gpg")["ok"]
    assert "GnuPG 2." in str(item(checks, "gpg")["detail"])
    assert item(checks, "gpg-agent")["ok"]
    keys = item(checks, "secret keys")
    assert keys["ok"]
    assert "SECURE_UP_GPG_KEY" in str(keys["detail"])
    assert "Alice Test" in str(keys["detail"])
    alice = item(checks, f"secrets file {secrets['alice']}")
    assert alice["ok"]
    assert gpg_keys.fingerprints[0] in str(alice["detail"])
    bob = item(checks, f"secrets file {secrets['bob']}")
    assert not bob["ok"]
    assert gpg_keys.fingerprints[1] in str(bob["detail"])  # the recipient it needs
    assert "secure-up updatekeys" in str(bob["fix"])
    assert code == 1
    assert "hunter2" not in json.dumps(checks)


def test_a_missing_passphrase_is_named_without_waiting(
    environ: dict[str, str], exported: ExportedKeys, secrets: dict[str, Path], tmp_path: Path
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.protected
    _code, checks = run_doctor(environ, [secrets["carol"]], tmp_path)
    carol = item(checks, f"secrets file {secrets['carol']}")
    assert not carol["ok"]
    assert "SECURE_UP_GPG_PASSPHRASE" in str(carol["detail"])


def test_a_garbled_key_is_one_failed_item_and_the_rest_still_runs(
    environ: dict[str, str], tmp_path: Path
) -> None:
    environ["SECURE_UP_GPG_KEY"] = "not a key"
    code, checks = run_doctor(environ, [], tmp_path)
    gpg = item(checks, "gpg")
    assert not gpg["ok"]
    assert "does not hold an OpenPGP key" in str(gpg["detail"])
    assert {"compose", "docker engine", ".sops.yaml"} <= {check["item"] for check in checks}
    assert code == 1


def test_text_output_is_one_line_per_item(
    environ: dict[str, str], exported: ExportedKeys, secrets: dict[str, Path], tmp_path: Path
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    (tmp_path / ".sops.yaml").write_text("creation_rules:\n  - pgp: ABCDEF\n")
    out = io.StringIO()
    doctor(environ, json_output=False, secrets_files=[secrets["alice"]], cwd=tmp_path, out=out)
    lines = out.getvalue().splitlines()
    assert all(line.startswith(("OK    ", "FAIL  ")) for line in lines)
    assert all("; fix: " in line for line in lines if line.startswith("FAIL"))
    assert f"OK    .sops.yaml: {tmp_path / '.sops.yaml'} (1 creation rule(s))" in lines


def test_an_engine_that_never_answers_is_given_up_on(
    environ: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        environ["DOCKER_HOST"] = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        _code, checks = run_doctor(environ, [], tmp_path)
    engine = item(checks, "docker engine")
    assert not engine["ok"]
    assert "DOCKER_HOST" in str(engine["fix"])
    assert time.monotonic() - started < ENGINE_TIMEOUT + 30
