"""A new user's first run: `secure-up init`, then `secure-up app`, with no other step.

An empty repository holding only the reference stack's compose files (and its
images' build contexts); no key, no .sops.yaml, no secrets file. `init --generate`
makes an age key at sops' default place, the rule and the secrets file; `check`
passes and `app` brings the stack up, its app logged into PostgreSQL with the
generated password, which never appears in what secure-up printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.docker.stack import (
    REPO_ROOT,
    STARTUP_TIMEOUT,
    free_port,
    http,
    local_image_names,
    wait_for,
)

_INHERITED = ("DBPASS", "GNUPGHOME", "SECURE_UP_", "COMPOSE_", "SOPS_", "XDG_CONFIG_HOME")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        require("docker", "run scripts/ensure-docker.sh")
    built = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-images.sh")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "deploy", root / "deploy")
    ports = {name: str(free_port()) for name in ("POSTGRES_PORT", "REDIS_PORT", "APP_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    env |= local_image_names() | ports
    env |= {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COMPOSE_FILE": "deploy/docker-compose.yaml:deploy/docker-compose.host-network.yaml",
        "COMPOSE_PROJECT_NAME": f"init-test-{uuid.uuid4().hex[:8]}",
    }
    try:
        yield root, env
    finally:
        _secure_up(root, env, "compose", "--", "down", "--volumes", "--remove-orphans")


def _secure_up(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_up", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT * 2,
        check=False,
    )


def test_init_then_app_brings_the_stack_up(project: tuple[Path, dict[str, str]]) -> None:
    root, env = project
    made = _secure_up(root, env, "init", "--generate", "--no-pre-commit")
    assert made.returncode == 0, made.stderr
    assert "next:    secure-up app" in made.stderr

    checked = _secure_up(root, env, "check")
    assert checked.returncode == 0, checked.stderr

    started = _secure_up(root, env, "app")
    assert started.returncode == 0, started.stderr
    reply = wait_for(
        "the app's /healthz", lambda: http(f"http://127.0.0.1:{env['APP_PORT']}/healthz")
    )
    assert reply.status == 200, reply.body

    plain = _secure_up(root, env, "decrypt", "secrets/environment.secrets").stdout
    value = plain.removeprefix("export DBPASS=").strip().strip("'")
    assert len(value) == 32
    for output in (made, checked, started):
        assert value not in output.stdout + output.stderr

    again = _secure_up(root, env, "init", "--generate", "--no-pre-commit")
    assert "nothing to do" in again.stderr
