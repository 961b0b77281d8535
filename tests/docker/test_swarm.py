"""``secure-up deploy`` of the reference stack on a single-node Swarm (loopback, host network).

One stack for the module, used by the tests in file order: a missing variable creates
nothing; the deploy converges and the app logs into PostgreSQL; no value is visible in any
spec, container or output; an unchanged redeploy touches nothing; a changed DBPASS rolls
the services (the gap in the app's answers is measured and printed) and the old versions go;
``stack rm`` leaves nothing. The Swarm is initialised only if it was inactive, and then left
again with the ``docker_gwbridge`` network it made.

The roll changes DBPASS with ``secure-up set`` on a copy of the secrets file. PostgreSQL keeps
the password it was initialised with, so the test first changes the role's password in the
running database (``ALTER ROLE`` on psql's stdin), as an operator rotating it would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_up.launch.secret_values import SecretValues
from secure_up.launch.shellenv import parse_shell_env
from tests.conftest import require
from tests.docker.stack import (
    COMPOSE_FILES,
    DEMO_KEY,
    REPO_ROOT,
    SECRETS_FILE,
    free_port,
    http,
    leaked,
    local_image_names,
    wait_for,
)

pytestmark = [pytest.mark.docker, pytest.mark.gpg]

_INHERITED = ("DBPASS", "GNUPGHOME", "SECURE_UP_", "COMPOSE_", "DOCKER_DEFAULT_PLATFORM")


def docker(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=180, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
    return result.stdout


@pytest.fixture(scope="session")
def swarm() -> Iterator[None]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode
    ):
        require("a Docker engine", "run scripts/ensure-docker.sh")
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    had_gwbridge = "docker_gwbridge" in docker("network", "ls", "--format", "{{.Name}}").split()
    if state == "inactive":
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    elif state != "active":
        require("an active or inactive Swarm", f"the node's Swarm state is {state}")
    yield
    if state == "inactive":
        docker("swarm", "leave", "--force")
        if not had_gwbridge:
            docker("network", "rm", "docker_gwbridge", check=False)


class SwarmStack:
    def __init__(self, tmp: Path) -> None:
        self.name = f"su-test-{uuid.uuid4().hex[:6]}"
        ports = {name: str(free_port()) for name in ("POSTGRES_PORT", "REDIS_PORT", "APP_PORT")}
        self.app_port = int(ports["APP_PORT"])
        self.tmp = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
        self.env = env | local_image_names() | ports | {
            "SECURE_UP_GPG_KEY_FILE": str(DEMO_KEY),
            "COMPOSE_FILE": os.pathsep.join(str(path) for path in COMPOSE_FILES),
        }  # fmt: skip
        self.outputs: list[str] = []

    def secure_up(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "secure_up", *args],
            input=stdin,
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if args[0] != "decrypt":  # its output is the values themselves
            self.outputs += [result.stdout, result.stderr]
        return result

    def deploy(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.secure_up("deploy", self.name, *args)

    def labelled(self, kind: str) -> list[str]:
        return docker(
            kind, "ls", "--format", "{{.Name}}", "--filter", f"label=io.secure-up.stack={self.name}"
        ).split()

    def services(self) -> list[str]:
        label = f"label=com.docker.stack.namespace={self.name}"
        return docker("service", "ls", "--format", "{{.Name}}", "--filter", label).split()

    def versions(self) -> dict[str, int]:
        return {
            name: int(docker("service", "inspect", "--format", "{{.Version.Index}}", name))
            for name in self.services()
        }

    def healthz(self) -> int:
        try:
            return http(f"http://127.0.0.1:{self.app_port}/healthz").status
        except OSError:
            return 0

    def decrypted(self, path: Path) -> SecretValues:
        plaintext = self.secure_up("decrypt", str(path)).stdout
        return SecretValues(parse_shell_env(plaintext, str(path)))


@pytest.fixture(scope="module")
def stack(swarm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmStack]:
    for image in local_image_names().values():
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            require(image, "run scripts/build-images.sh")
    deployed = SwarmStack(tmp_path_factory.mktemp("swarm"))
    yield deployed
    deployed.secure_up("stack", "rm", deployed.name)
    docker("stack", "rm", deployed.name, check=False)
    for kind in ("secret", "config"):
        for name in deployed.labelled(kind):
            docker(kind, "rm", name, check=False)
    deadline = time.monotonic() + 60
    while docker("volume", "rm", f"{deployed.name}_pgdata", check=False) == "":
        if time.monotonic() > deadline or f"{deployed.name}_pgdata" not in docker(
            "volume", "ls", "--format", "{{.Name}}"
        ):
            break
        time.sleep(1)


def test_a_missing_variable_creates_nothing(stack: SwarmStack) -> None:
    without = stack.tmp / "without.secrets"
    shutil.copy(SECRETS_FILE, without)
    assert stack.secure_up("unset", str(without), "DBPASS").returncode == 0
    result = stack.deploy("-s", str(without))
    assert result.returncode == 64, result.stderr
    assert "DBPASS" in result.stderr
    assert stack.services() == []
    assert stack.labelled("secret") == []
    assert stack.labelled("config") == []


def test_deploy_converges_and_the_app_logs_into_postgresql(stack: SwarmStack) -> None:
    started = time.monotonic()
    result = stack.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"first deploy converged in {time.monotonic() - started:.1f}s")
    assert "converged" in result.stdout
    reply = wait_for("the app", lambda: http(f"http://127.0.0.1:{stack.app_port}/healthz"))
    assert reply.status == 200, reply.body
    assert reply.json()["user"] == "wordcount_dbadmin"
    assert len(stack.labelled("secret")) == 5


def test_no_value_in_any_spec_container_or_output(stack: SwarmStack) -> None:
    values = stack.decrypted(SECRETS_FILE)
    dry_run = stack.deploy("--dry-run")
    assert dry_run.returncode == 0
    assert "<secret DBPASS v:" in dry_run.stdout
    texts = {
        "docker service inspect": docker("service", "inspect", *stack.services()),
        "secure-up output": "\n".join(stack.outputs),
    }
    containers = docker(
        "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={stack.name}"
    ).split()
    texts["docker inspect (containers)"] = docker("inspect", *containers)
    for name in stack.services():
        texts[f"docker service ps {name}"] = docker("service", "ps", "--no-trunc", name)
    stack_config = subprocess.run(
        ["docker", "stack", "config", "--compose-file", "-"],
        input=stack.deploy("--dry-run").stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    texts["docker stack config"] = stack_config.stdout + stack_config.stderr
    for where, text in texts.items():
        assert leaked(values, text) == [], f"a value is visible in {where}"


def test_an_unchanged_redeploy_changes_nothing(stack: SwarmStack) -> None:
    before_versions = stack.versions()
    before_secrets = sorted(stack.labelled("secret"))
    result = stack.deploy("--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["changed"] is False
    assert report["secrets"]["created"] == []
    assert stack.versions() == before_versions
    assert sorted(stack.labelled("secret")) == before_secrets


def test_a_changed_dbpass_rolls_the_services_and_removes_the_old_versions(
    stack: SwarmStack,
) -> None:
    changed = stack.tmp / "changed.secrets"
    shutil.copy(SECRETS_FILE, changed)
    new_password = "rolled-" + secrets.token_hex(8)
    assert stack.secure_up("set", str(changed), "DBPASS", stdin=new_password).returncode == 0
    old_secrets = set(stack.labelled("secret"))
    db = docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack.name}_db"
    ).split()[0]
    docker(
        "exec", "-i", db, "psql", "--username=postgres", "--dbname=postgres", "--quiet",
        stdin=f"ALTER ROLE wordcount_dbadmin PASSWORD '{new_password}';\n",
    )  # fmt: skip

    gaps: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        down_since: float | None = None
        while not stop.is_set():
            ok = stack.healthz() == 200
            now = time.monotonic()
            if not ok and down_since is None:
                down_since = now
            if ok and down_since is not None:
                gaps.append(now - down_since)
                down_since = None
            time.sleep(0.2)
        if down_since is not None:
            gaps.append(time.monotonic() - down_since)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = stack.deploy("-s", str(changed), "--keep", "0", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for("the app after the roll", lambda: stack.healthz() == 200 or None)
    finally:
        stop.set()
        watcher.join(timeout=10)
    longest = max(gaps, default=0.0)
    print(f"roll: the app did not answer for at most {longest:.1f}s ({len(gaps)} gap(s))")
    assert longest < 120
    report = json.loads(result.stdout)
    assert len(report["secrets"]["created"]) == 5  # DBPASS is in every secret entry
    assert set(report["secrets"]["removed"]) == old_secrets
    assert {s["name"]: s["change"] for s in report["services"]}["app"] == "updated"
    assert {s["name"]: s["change"] for s in report["services"]}["redis"] == "unchanged"
    assert set(stack.labelled("secret")) == set(report["secrets"]["created"])
    assert leaked(stack.decrypted(changed), "\n".join(stack.outputs)) == []


def test_stack_rm_removes_services_secrets_and_configs(stack: SwarmStack) -> None:
    result = stack.secure_up("stack", "rm", stack.name)
    assert result.returncode == 0, result.stderr
    assert stack.services() == []
    assert stack.labelled("secret") == []
    assert stack.labelled("config") == []
