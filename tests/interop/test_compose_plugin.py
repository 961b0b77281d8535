"""``secure-up app`` runs the Compose v2 plugin the docker CLI would run, without the CLI.

Through the real command line, with a fake ``docker`` on PATH and a fake plugin
where the docker CLI looks first (``$DOCKER_CONFIG/cli-plugins``): each records
its argv, so the tests see which one ran and with what (issue 15).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GpgKeys
from tests.interop.test_run_e2e import dotenv, encrypted, environment

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(120)]

SECRET = "plugin-test-value-9f2c"
RECORD = (
    "import json, os, sys\n"
    "with open(os.environ['RECORD_TO'], 'a') as f:\n"
    "    f.write(json.dumps({'name': os.path.basename(sys.argv[0]), 'args': sys.argv[1:],\n"
    "        'has_secret': 'PASSWORD' in os.environ}) + '\\n')\n"
    "sys.exit(0 if sys.argv[1:] == ['compose', 'version'] else 3)\n"
)


def recorder(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{RECORD}")
    path.chmod(0o755)


@pytest.fixture
def project(gpg_keys: GpgKeys, tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    (directory / "secrets").mkdir(parents=True)
    (directory / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    environment:\n      PASSWORD: ${PASSWORD}\n"
    )
    encrypted(gpg_keys, directory / "secrets", "environment.secrets", dotenv({"PASSWORD": SECRET}))
    recorder(tmp_path / "bin" / "docker")
    recorder(tmp_path / "config" / "cli-plugins" / "docker-compose")
    return directory


def secure_up_app(keys: GpgKeys, project: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    record = project.parent / "record"
    env = environment(
        keys,
        PATH=f"{project.parent / 'bin'}{os.pathsep}{os.environ['PATH']}",
        DOCKER_CONFIG=str(project.parent / "config"),
        RECORD_TO=str(record),
    )
    result = subprocess.run(
        [sys.executable, "-m", "secure_up", "app", *args],
        cwd=project,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert SECRET.encode() not in result.stdout + result.stderr
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    return result.returncode, runs


def test_app_runs_the_plugin_standalone_with_the_argv_of_docker_compose(
    gpg_keys: GpgKeys, project: Path
) -> None:
    code, runs = secure_up_app(gpg_keys, project)
    assert code == 3  # the plugin's own exit status
    assert runs == [
        {
            "name": "docker-compose",
            "args": ["-f", str(project / "compose.yaml"), "up", "-d", "app"],
            "has_secret": True,
        }
    ]


def test_a_secrets_file_that_sets_docker_config_keeps_the_docker_cli(
    gpg_keys: GpgKeys, project: Path
) -> None:
    """The plugin the docker CLI picks would then depend on a secret: the CLI picks it."""
    other = dotenv({"PASSWORD": SECRET, "DOCKER_CONFIG": str(project.parent / "config")})
    encrypted(gpg_keys, project / "secrets", "environment.secrets", other)
    code, runs = secure_up_app(gpg_keys, project)
    assert code == 3
    assert runs[-1] == {
        "name": "docker",
        "args": ["compose", "-f", str(project / "compose.yaml"), "up", "-d", "app"],
        "has_secret": True,
    }
