"""``secure-up renew --stack`` and ``deploy --rollback`` on a single-node Swarm (loopback only).

One stack for the module, deployed from a COPY of the secrets file (renew rewrites it) with
an override that gives the app one more secret, FEATURE_TOKEN, which no database holds. The
tests run in file order: deploy; renew DBPASS on the stack (the applier runs in the db task,
the stack is redeployed, the old versions go with --keep 0); a rollback past that renewal is
refused (the database no longer takes the old password); a changed FEATURE_TOKEN deployed and
rolled back brings the app back to the old token's secret version, decrypting nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import require
from tests.docker.stack import (
    COMPOSE_FILES,
    SECRETS_FILE,
    HttpReply,
    http,
    leaked,
    local_image_names,
    wait_for,
)
from tests.docker.test_swarm import (
    SwarmStack,
    docker,
    swarm,  # noqa: F401 - a fixture
)

pytestmark = [pytest.mark.docker, pytest.mark.gpg]

TOKEN_FILE = """\
services:
  app:
    environment:
      FEATURE_TOKEN: ${FEATURE_TOKEN:?FEATURE_TOKEN is not set}
"""
# A second applier that fails on apply only: the database's change must be put back.
FAILING_FILE = """\
x-secure-up:
  renew:
    DBPASS:
      postgres: {service: db, roles: [wordcount_dbadmin, postgres]}
      exec:
        service: db
        command: [sh, -c, 'read -r o; read -r n; [ "$$SECURE_UP_RENEW_ACTION" != apply ]']
"""
# The same login renew's applier makes: the password on stdin, never on an argv.
LOGIN = 'IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -w -h 127.0.0.1 "$@"'


class Renewing:
    def __init__(self, stack: SwarmStack) -> None:
        self.stack = stack
        self.secrets = stack.tmp / "environment.secrets"
        shutil.copyfile(SECRETS_FILE, self.secrets)
        token = stack.tmp / "token.yaml"
        token.write_text(TOKEN_FILE)
        stack.env["COMPOSE_FILE"] = os.pathsep.join(str(path) for path in [*COMPOSE_FILES, token])

    def value(self, key: str) -> str:
        return self.stack.decrypted(self.secrets)[key]

    def db_task(self) -> str:
        label = f"label=com.docker.swarm.service.name={self.stack.name}_db"
        return docker("ps", "-q", "--filter", label, "--filter", "status=running").split()[0]

    def login(self, role: str, password: str) -> bool:
        task = self.db_task()
        command = [
            "exec", "-i", task, "sh", "-c", LOGIN, "sh",
            f"--username={role}", "--dbname=postgres", "--command=SELECT 1",
        ]  # fmt: skip
        done = subprocess.run(
            ["docker", *command],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode == 0

    def service_secrets(self, service: str) -> list[str]:
        spec = json.loads(docker("service", "inspect", f"{self.stack.name}_{service}"))[0]["Spec"]
        return sorted(
            s["SecretName"] for s in spec["TaskTemplate"]["ContainerSpec"].get("Secrets") or []
        )

    def visible(self) -> str:
        """Every place a value must not show: specs, task containers, secure-up's output."""
        containers = docker(
            "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={self.stack.name}"
        ).split()
        return "\n".join(
            [
                docker("service", "inspect", *self.stack.services()),
                docker("inspect", *containers),
                *self.stack.outputs,
            ]
        )


@pytest.fixture(scope="module")
def renewing(swarm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Renewing]:  # noqa: F811
    for image in local_image_names().values():
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            require(image, "run scripts/build-images.sh")
    deployed = SwarmStack(tmp_path_factory.mktemp("swarm-renew"))
    yield Renewing(deployed)
    deployed.secure_up("stack", "rm", deployed.name)
    docker("stack", "rm", deployed.name, check=False)
    for kind in ("secret", "config"):
        for name in deployed.labelled(kind):
            docker(kind, "rm", name, check=False)
    volume = f"{deployed.name}_pgdata"
    deadline = time.monotonic() + 60
    while volume in docker("volume", "ls", "--format", "{{.Name}}").split():
        if docker("volume", "rm", volume, check=False) or time.monotonic() > deadline:
            break
        time.sleep(1)


def healthy(stack: SwarmStack) -> HttpReply | None:
    reply = http(f"http://127.0.0.1:{stack.app_port}/healthz")
    return reply if reply.status == 200 else None


def test_the_stack_deploys_with_a_token(renewing: Renewing) -> None:
    stack = renewing.stack
    token = "token-" + secrets.token_hex(8)
    assert (
        stack.secure_up("set", str(renewing.secrets), "FEATURE_TOKEN", stdin=token).returncode == 0
    )
    result = stack.deploy("-s", str(renewing.secrets))
    assert result.returncode == 0, result.stdout + result.stderr
    reply = wait_for("the app", lambda: http(f"http://127.0.0.1:{stack.app_port}/healthz"))
    assert reply.status == 200, reply.body


def test_renew_on_the_stack_changes_database_file_and_services(renewing: Renewing) -> None:
    stack = renewing.stack
    old = renewing.value("DBPASS")
    before = set(stack.labelled("secret"))
    token_versions = renewing.service_secrets("app")
    result = stack.secure_up(
        "renew", "--stack", stack.name, "-s", str(renewing.secrets), "DBPASS", "--generate",
        "--keep", "0", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "done"
    assert {s["service"] for s in report["services"]} >= {"db", "app", "worker", "migrations"}
    assert all(s["ok"] for s in report["services"]), report["services"]
    new = renewing.value("DBPASS")
    assert new != old
    # The app was rolled with the new password and logs in with it.
    reply = wait_for(
        "the app after the renewal",
        lambda: healthy(stack),
    )
    assert reply.json()["user"] == "wordcount_dbadmin"
    for role in ("wordcount_dbadmin", "postgres"):
        assert renewing.login(role, new), f"{role} refuses the new value"
        assert not renewing.login(role, old), f"{role} still accepts the old value"
    # No value anywhere: not in specs, task containers nor secure-up's output.
    assert leaked(stack.decrypted(renewing.secrets), renewing.visible()) == []
    assert old not in renewing.visible()
    # --keep 0: every version built from the old DBPASS is gone; the token's stays.
    after = set(stack.labelled("secret"))
    token_secret = [name for name in token_versions if "FEATURE_TOKEN" in name]
    assert before & after == set(token_secret)
    in_use = {name for service in stack.services() for name in renewing.service_secrets(
        service.removeprefix(f"{stack.name}_"))}  # fmt: skip
    assert after == in_use


def test_a_failure_before_the_write_puts_the_old_password_back(renewing: Renewing) -> None:
    stack = renewing.stack
    current = renewing.value("DBPASS")
    versions = stack.versions()
    failing = stack.tmp / "failing.yaml"
    failing.write_text(FAILING_FILE)
    compose_files = stack.env["COMPOSE_FILE"]
    stack.env["COMPOSE_FILE"] = compose_files + os.pathsep + str(failing)
    try:
        result = stack.secure_up(
            "renew", "--stack", stack.name, "-s", str(renewing.secrets), "DBPASS", "--generate"
        )
    finally:
        stack.env["COMPOSE_FILE"] = compose_files
    assert result.returncode != 0
    assert "the old value was put back" in result.stderr, result.stderr
    assert renewing.value("DBPASS") == current
    assert renewing.login("wordcount_dbadmin", current)
    assert not (stack.tmp / "environment.secrets.renew.yaml").exists()
    assert stack.versions() == versions  # nothing was redeployed


def test_a_rollback_past_the_renewal_is_refused(renewing: Renewing) -> None:
    stack = renewing.stack
    versions = stack.versions()
    result = stack.deploy("--rollback")
    assert result.returncode != 0
    assert "made by `secure-up renew DBPASS`" in result.stderr
    assert "refuses" in result.stderr
    assert stack.versions() == versions


def test_a_changed_token_rolls_back_to_the_kept_version(renewing: Renewing) -> None:
    stack = renewing.stack
    old_token = renewing.service_secrets("app")
    token = "token-" + secrets.token_hex(8)
    assert (
        stack.secure_up("set", str(renewing.secrets), "FEATURE_TOKEN", stdin=token).returncode == 0
    )
    result = stack.deploy("-s", str(renewing.secrets), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(json.loads(result.stdout)["secrets"]["created"]) == 1
    changed = renewing.service_secrets("app")
    assert changed != old_token

    result = stack.deploy("--rollback", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["converged"] is True
    assert report["secrets"]["created"] == []
    assert {s["name"]: s["change"] for s in report["services"]}["app"] == "updated"
    assert renewing.service_secrets("app") == old_token
    reply = wait_for(
        "the app after the rollback",
        lambda: healthy(stack),
    )
    assert reply.status == 200
    # A second rollback rolls forward again.
    again = stack.deploy("--rollback")
    assert again.returncode == 0, again.stdout + again.stderr
    assert renewing.service_secrets("app") == changed
    assert leaked(stack.decrypted(renewing.secrets), renewing.visible()) == []
