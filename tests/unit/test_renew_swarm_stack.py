"""renew on a Swarm stack: the applier's command runs in the service's task through a fake
``docker`` (a real process, as SwarmTaskStack's job is to spawn it) that records its argv."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from secure_up.renew.interface import ApplierError
from secure_up.renew.postgres import PostgresApplier
from secure_up.renew.stack import ServiceState
from secure_up.renew.swarm_stack import SwarmTaskStack

FAKE_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$LOG"
case "$1" in
  ps) [ -e "$TASKS" ] && cat "$TASKS" ;;
  exec) cat > "$LOG.stdin"; echo "refused (echoing: $(head -1 "$LOG.stdin"))"; exit 2 ;;
esac
"""


def fake_docker(tmp_path: Path, tasks: str | None) -> dict[str, str]:
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    if tasks is not None:
        (tmp_path / "tasks").write_text(tasks)
    return {
        "PATH": f"{docker.parent}{os.pathsep}{os.environ['PATH']}",
        "LOG": str(tmp_path / "log"),
        "TASKS": str(tmp_path / "tasks"),
    }


def test_the_applier_runs_in_the_running_task_with_the_value_on_stdin(tmp_path: Path) -> None:
    env = fake_docker(tmp_path, "c0ffee\n")
    stack = SwarmTaskStack("shop", env, lambda: [], hidden=["s3cret-new"])
    applier = PostgresApplier(stack, "db", {"roles": ["app"]})
    result = stack.exec("db", ["psql"], stdin=b"s3cret-new\nSELECT 1;\n", environment={"A": "b"})
    argvs = (tmp_path / "log").read_text()
    assert "ps --quiet --filter label=com.docker.swarm.service.name=shop_db" in argvs
    assert "exec -i -e A=b c0ffee psql" in argvs
    assert "s3cret-new" not in argvs
    assert (tmp_path / "log.stdin").read_text() == "s3cret-new\nSELECT 1;\n"
    assert result.code == 2
    assert "s3cret-new" not in result.output  # masked
    assert applier.service == "db"


def test_no_running_task_on_this_node_says_where_to_run(tmp_path: Path) -> None:
    stack = SwarmTaskStack("shop", fake_docker(tmp_path, None), lambda: [])
    with pytest.raises(ApplierError) as failure:
        stack.exec("db", ["true"], stdin=b"")
    assert "shop_db" in failure.value.what
    assert "docker service ps shop_db" in (failure.value.fix or "")


def test_recreate_is_one_redeploy_and_reports_its_states(tmp_path: Path) -> None:
    calls: list[int] = []

    def redeploy() -> list[ServiceState]:
        calls.append(1)
        return [ServiceState("app", "converged"), ServiceState("db", "converged")]

    stack = SwarmTaskStack("shop", fake_docker(tmp_path, None), redeploy)
    assert stack.recreate(["app", "worker"]).code == 0
    assert calls == [1]
    assert all(state.ready for state in stack.wait_ready(["app"], 1.0))
    assert stack.retry_command(["app"]) == "secure-up deploy shop"
