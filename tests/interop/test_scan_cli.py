"""``secure-up scan`` and the audit trail through the real CLI, real gpg and real git.

A throw-away repository holds a value committed and later deleted, a base64 copy
in a YAML file and a plaintext file a creation rule covers; scan must find each,
name its place, and never print the value. The pre-commit hooks run through the
real ``pre-commit`` tool, installed from this checkout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GpgKeys, SecureUp, require

pytestmark = [pytest.mark.gpg]

VALUE = "hunter2-Very-Secret"
API = "api-key-7d9f2c41"
CHECKOUT = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.test",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=True)
    return done.stdout.decode()


def make_project(root: Path, keys: GpgKeys, secure_up: SecureUp) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^secrets/\n    pgp: {keys.fingerprints[0]}\n"
    )
    (root / "secrets").mkdir()
    secrets = root / "secrets" / "environment.secrets"
    secrets.write_text(f"DBPASS={VALUE}\nAPI_KEY={API}\n")
    secure_up.run("encrypt", "-i", "secrets/environment.secrets", cwd=root)
    (root / "README").write_text("nothing to see\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


def assert_no_value(result: subprocess.CompletedProcess[bytes]) -> None:
    output = result.stdout + result.stderr
    for value in (VALUE, API):
        assert value.encode() not in output
        assert base64.b64encode(value.encode())[:12] not in output


@pytest.fixture
def project(tmp_path: Path, gpg_keys: GpgKeys, secure_up: SecureUp) -> Path:
    return make_project(tmp_path / "project", gpg_keys, secure_up)


def test_clean_repository_exits_0(project: Path, secure_up: SecureUp) -> None:
    result = secure_up.run("scan", "--history", cwd=project)
    assert result.returncode == 0
    assert b"no secret value found" in result.stdout


def test_finds_history_base64_and_plaintext(project: Path, secure_up: SecureUp) -> None:
    (project / "deploy.env").write_text(f"# old\nDATABASE_URL=postgres://app:{VALUE}@db/app\n")
    git(project, "add", "deploy.env")
    git(project, "commit", "-qm", "oops")
    leak_commit = git(project, "rev-parse", "HEAD").strip()
    git(project, "rm", "-q", "deploy.env")
    git(project, "commit", "-qm", "remove the leak")
    encoded = base64.b64encode(f"user:{API}".encode()).decode()
    (project / "app.yaml").write_text(f"auth:\n  basic: {encoded}\n")
    (project / "secrets" / "extra.env").write_text("NOT_SECRET_YET=1\n")
    (project / "ignored.log").write_text(VALUE)
    (project / ".gitignore").write_text("*.log\n")

    result = secure_up.run("scan", "--history", "--json", cwd=project, check=False)
    assert result.returncode == 1, result.stderr.decode()
    assert_no_value(result)
    findings = json.loads(result.stdout)["findings"]
    places = {(f["place"], f["location"], f["variable"], f["encoding"]) for f in findings}
    assert ("history", f"{leak_commit[:12]}:deploy.env", "DBPASS", "plain") in places
    assert ("file", "app.yaml", "API_KEY", "base64") in places
    assert ("unencrypted", "secrets/extra.env", "", "") in places
    assert not any("ignored.log" in f["location"] for f in findings)
    history = next(f for f in findings if f["place"] == "history")
    assert history["line"] == 2

    table = secure_up.run("scan", "--history", cwd=project, check=False)
    assert table.returncode == 1
    assert_no_value(table)
    assert b"app.yaml:2" in table.stdout
    assert b"deploy.env:2" in table.stdout

    sarif = secure_up.run("scan", "--sarif", cwd=project, check=False)
    assert_no_value(sarif)
    assert json.loads(sarif.stdout)["version"] == "2.1.0"


def test_symlink_out_of_the_tree_is_not_followed(
    project: Path, tmp_path: Path, secure_up: SecureUp
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(VALUE)
    (project / "link.txt").symlink_to(outside)
    result = secure_up.run("scan", cwd=project, check=False)
    assert result.returncode == 0, result.stdout.decode()


def test_no_values_needs_no_key(project: Path, secure_up: SecureUp, tmp_path: Path) -> None:
    (project / "secrets" / "plain.env").write_text("X=1\n")
    env = {"GNUPGHOME": str(tmp_path / "empty-gnupg")}
    result = secure_up.run("scan", "--no-values", cwd=project, env=env, check=False)
    assert result.returncode == 1
    assert b"secrets/plain.env" in result.stdout


def test_audit_lines_and_tampering(project: Path, secure_up: SecureUp, tmp_path: Path) -> None:
    log = tmp_path / "audit" / "audit.log"
    env = {"SECURE_UP_AUDIT_LOG": str(log)}
    secure_up.run("decrypt", "secrets/environment.secrets", cwd=project, env=env)
    secure_up.run(
        "set", "secrets/environment.secrets", "DBPASS", stdin=b"new-value-123", cwd=project, env=env
    )
    secure_up.run("scan", cwd=project, env=env)
    secure_up.run("filestatus", "secrets/environment.secrets", cwd=project, env=env)  # no key
    lines = log.read_text().splitlines(keepends=True)
    entries = [json.loads(line) for line in lines]
    assert [e["command"] for e in entries] == ["decrypt", "set", "scan"]
    assert entries[1]["variables"] == ["DBPASS"]
    assert entries[0]["files"] == ["secrets/environment.secrets"]
    assert entries[0]["keys"]
    assert VALUE not in log.read_text()
    assert "new-value-123" not in log.read_text()
    assert secure_up.run("audit", "verify", env=env).returncode == 0
    shown = secure_up.run("audit", "show", "--since", "1h", env=env)
    assert b"decrypt" in shown.stdout

    for tampered, line in (
        ([lines[0], lines[1].replace('"exit": 0', '"exit": 2'), lines[2]], 2),
        ([lines[0], lines[2]], 2),
        ([lines[1], lines[0], lines[2]], 1),
    ):
        log.write_text("".join(tampered))
        result = secure_up.run("audit", "verify", env=env, check=False)
        assert result.returncode == 1
        assert f"audit.log:{line}: line {line} ".encode() in result.stderr


def test_audit_required_fails_closed(project: Path, secure_up: SecureUp, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = {"SECURE_UP_AUDIT_LOG": str(blocker / "audit.log"), "SECURE_UP_AUDIT_REQUIRED": "1"}
    result = secure_up.run(
        "decrypt", "secrets/environment.secrets", cwd=project, env=env, check=False
    )
    assert result.returncode == 1
    assert VALUE.encode() not in result.stdout
    assert b"audit log" in result.stderr
    relaxed = {"SECURE_UP_AUDIT_LOG": str(blocker / "audit.log")}
    result = secure_up.run("decrypt", "secrets/environment.secrets", cwd=project, env=relaxed)
    assert b"warning: the audit log" in result.stderr


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("pre-commit") is None:
        require("pre-commit", "pip install pre-commit (the test extra)")
    return tmp_path_factory.mktemp("pre-commit-home")


def test_pre_commit_hooks(
    project: Path, secure_up: SecureUp, gpg_keys: GpgKeys, pre_commit_home: Path
) -> None:
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, check=True, text=True
    ).stdout.strip()
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {CHECKOUT}\n    rev: {rev}\n    hooks:\n"
        "      - id: secure-up-encrypted\n      - id: secure-up-scan\n"
    )
    env = {**gpg_keys.env, "PRE_COMMIT_HOME": str(pre_commit_home)}
    env.pop("PYTHONPATH", None)

    def pre_commit(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["pre-commit", *args], cwd=project, env=env, capture_output=True, timeout=600
        )

    git(project, "add", ".pre-commit-config.yaml")
    (project / "secrets" / "plain.env").write_text("TOKEN=abc\n")
    (project / "notes.md").write_text(f"the password is {VALUE}\n")
    git(project, "add", "secrets/plain.env", "notes.md")
    result = pre_commit("run")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output.decode()
    assert VALUE.encode() not in output
    assert b"secrets/plain.env" in output
    assert b"notes.md:1" in output

    git(project, "rm", "-q", "--cached", "secrets/plain.env", "notes.md")
    (project / "notes.md").write_text("nothing secret\n")
    git(project, "add", "notes.md")
    result = pre_commit("run")
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
