"""``secure-up init`` on a fresh repository with the reference compose file (real sops)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SecureUp, Sops

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty repository holding only the reference stack's compose files."""
    root = tmp_path / "project"
    shutil.copytree(REPOSITORY / "deploy", root / "deploy")
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _init(secure_up: SecureUp, project: Path, config_home: Path, *args: str) -> str:
    result = secure_up.run(
        "init",
        "-f",
        "deploy/docker-compose.yaml",
        *args,
        cwd=project,
        env={"XDG_CONFIG_HOME": str(config_home)},
    )
    return result.stderr.decode()


def test_init_makes_a_key_a_rule_and_the_secrets_file_then_changes_nothing(
    secure_up: SecureUp, sops: Sops, project: Path, tmp_path: Path
) -> None:
    config_home = tmp_path / "config"
    said = _init(secure_up, project, config_home, "--generate", "--no-pre-commit")

    key_file = config_home / "sops" / "age" / "keys.txt"
    assert key_file.stat().st_mode & 0o777 == 0o600
    recipient = key_file.read_text().split("# public key: ")[1].split()[0]
    assert f"age: {recipient}" in (project / ".sops.yaml").read_text()
    assert "*.decrypted" in (project / ".gitignore").read_text()
    assert "created  secrets/environment.secrets, encrypted, holding DBPASS" in said
    assert "next:    secure-up app" in said

    secrets_file = project / "secrets" / "environment.secrets"
    plain = subprocess.run(
        [sops.binary, "decrypt", str(secrets_file)],
        env={**sops.keys.env, "SOPS_AGE_KEY_FILE": str(key_file)},
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert plain.startswith("export DBPASS=")
    value = plain.removeprefix("export DBPASS=").strip().strip("'")
    assert len(value) == 32
    assert value not in said

    checked = secure_up.run(
        "check",
        "-f",
        "deploy/docker-compose.yaml",
        cwd=project,
        env={"XDG_CONFIG_HOME": str(config_home)},
    )
    assert b"every variable" in checked.stdout + checked.stderr

    before = _tree(project), key_file.read_bytes()
    again = _init(secure_up, project, config_home, "--generate", "--no-pre-commit")
    assert "nothing to do" in again
    assert (_tree(project), key_file.read_bytes()) == before


def test_init_uses_an_existing_pgp_key(
    secure_up: SecureUp, sops: Sops, project: Path, tmp_path: Path
) -> None:
    fingerprint = secure_up.keys.fingerprints[0]
    _init(
        secure_up,
        project,
        tmp_path / "config",
        "--pgp",
        fingerprint,
        "--generate",
        "--pre-commit",
    )
    assert not (tmp_path / "config").exists(), "no age key is made when --pgp names one"
    assert f"pgp: {fingerprint}" in (project / ".sops.yaml").read_text()
    assert "secure-up-encrypted" in (project / ".pre-commit-config.yaml").read_text()
    secrets_file = project / "secrets" / "environment.secrets"
    plain = subprocess.run(
        [sops.binary, "decrypt", str(secrets_file)],
        env=sops.keys.env,
        capture_output=True,
        check=True,
    ).stdout
    assert plain.startswith(b"export DBPASS=")


def test_init_without_a_terminal_or_generate_says_what_to_do(
    secure_up: SecureUp, project: Path, tmp_path: Path
) -> None:
    result = secure_up.run(
        "init",
        "-f",
        "deploy/docker-compose.yaml",
        cwd=project,
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
        check=False,
    )
    assert result.returncode == 2
    assert b"--generate" in result.stderr
    assert not (project / "secrets").exists()


def test_init_never_rewrites_a_sops_config_without_a_rule_for_the_file(
    secure_up: SecureUp, project: Path, tmp_path: Path
) -> None:
    config = project / ".sops.yaml"
    config.write_text("creation_rules:\n  - path_regex: ^elsewhere/\n    age: age1xyz\n")
    result = secure_up.run(
        "init",
        "-f",
        "deploy/docker-compose.yaml",
        "--generate",
        cwd=project,
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
        check=False,
    )
    assert result.returncode == 5
    assert b"never rewrites" in result.stderr
    assert config.read_text().startswith("creation_rules:\n  - path_regex: ^elsewhere/")


def test_init_refuses_a_format_the_named_secrets_file_cannot_have(
    secure_up: SecureUp, project: Path, tmp_path: Path
) -> None:
    result = secure_up.run(
        "init",
        "-f",
        "deploy/docker-compose.yaml",
        "--format",
        "yaml",
        "--generate",
        cwd=project,
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
        check=False,
    )
    assert result.returncode == 2
    assert b"not yaml" in result.stderr


def test_check_json_carries_the_renew_notes(
    secure_up: SecureUp, project: Path, tmp_path: Path
) -> None:
    """A database secret without a renew applier is a note in `check --json` as in the text."""
    config_home = tmp_path / "config"
    _init(secure_up, project, config_home, "--generate", "--no-pre-commit")
    compose = project / "deploy" / "docker-compose.yaml"
    text = compose.read_text()
    start = text.index("  renew:")
    end = text.index("\n\n", start)
    compose.write_text(text[:start] + text[end:])  # the reference stack without its renew block
    result = secure_up.run(
        "check",
        "--json",
        "-f",
        "deploy/docker-compose.yaml",
        cwd=project,
        env={"XDG_CONFIG_HOME": str(config_home)},
    )
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert any("DBPASS is used by the database service db" in note for note in report["notes"])
