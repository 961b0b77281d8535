"""Preflight: every variable the compose files need has a source, or the run stops."""

from __future__ import annotations

import json
import re
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from secure_up.errors import ExitCode
from secure_up.launch.preflight import MissingVariablesError, PreflightReport, preflight
from secure_up.launch.variables import interpolated_variables

COMPOSE = """\
x-unused:
  note: ${ONLY_IN_EXTENSION}
services:
  app:
    image: ${IMAGE:-app}
    environment:
      DBPASS: ${DBPASS}
      API_KEY: ${API_KEY}
    command: ["serve", "--name", "${APP_NAME}"]
  worker:
    image: app
    environment:
      DBPASS: ${DBPASS}
      QUEUE: ${QUEUE:-default}
      LOG: ${LOG_DIR:-${HOME_DIR}}
  debug:
    image: x
    profiles: [debug]
    environment:
      TRACE: ${TRACE}
      MUST: ${MUST_EVEN_WHEN_OFF:?}
  db:
    image: postgres
    secrets: [dbpass]
secrets:
  dbpass:
    environment: DBPASS
volumes:
  data:
    name: ${VOLUME}
"""

#: A value no report, error or JSON may ever contain.
SENTINEL = "s3cr3t-VALUE-never-shown"


@pytest.fixture
def compose(tmp_path: Path) -> Path:
    path = tmp_path / "deploy" / "docker-compose.yaml"
    path.parent.mkdir()
    path.write_text(COMPOSE)
    return path


def report_for(
    compose: Path,
    secrets: set[str],
    environ: dict[str, str] | None = None,
    dotenv: set[str] | None = None,
    profiles: tuple[str, ...] = (),
) -> PreflightReport:
    uses = interpolated_variables([compose], profiles=profiles)
    return preflight(uses, secrets, environ or {}, dotenv or set(), root=compose.parent.parent)


def test_missing_variables_stop_the_run_with_one_error(compose: Path) -> None:
    report = report_for(compose, {"DBPASS"}, environ={"APP_NAME": SENTINEL})
    assert [variable.name for variable in report.missing] == [
        "API_KEY",
        "MUST_EVEN_WHEN_OFF",
        "VOLUME",
    ]
    with pytest.raises(MissingVariablesError) as caught:
        report.raise_for_missing()
    error = caught.value
    assert error.exit_code is ExitCode.MISSING_VARIABLES
    assert error.names == ("API_KEY", "MUST_EVEN_WHEN_OFF", "VOLUME")
    text = error.diagnostics()
    assert re.search(r"\n  API_KEY +used by app at deploy/docker-compose\.yaml:8\n", text)
    assert re.search(r"MUST_EVEN_WHEN_OFF +used by debug at deploy/docker-compose\.yaml:21", text)
    assert re.search(r"VOLUME +used at deploy/docker-compose\.yaml:30\n", text)
    assert "secure-up set secrets/environment.secrets NAME" in text
    assert SENTINEL not in text


def test_the_fix_names_the_secrets_file_in_use(compose: Path) -> None:
    report = report_for(compose, set())
    with pytest.raises(MissingVariablesError) as caught:
        report.raise_for_missing("deploy/prod.env")
    text = caught.value.diagnostics()
    assert "fix: add each with `secure-up set deploy/prod.env NAME`" in text
    assert "DBPASS" in text
    assert "used by app, worker at deploy/docker-compose.yaml:7,13" in text


def test_a_complete_run_passes(compose: Path) -> None:
    report = report_for(
        compose,
        {"DBPASS", "API_KEY"},
        environ={"APP_NAME": SENTINEL, "MUST_EVEN_WHEN_OFF": SENTINEL},
        dotenv={"VOLUME"},
    )
    assert report.missing == ()
    report.raise_for_missing()
    sources = {variable.name: variable.source for variable in report.variables}
    assert sources["DBPASS"] == "secrets"
    assert sources["APP_NAME"] == "environment"
    assert sources["VOLUME"] == ".env"
    assert sources["QUEUE"] is None


def test_what_does_not_need_a_value(compose: Path) -> None:
    """Defaults, nested defaults, inactive services and x- fields are not required."""
    variables = {variable.name: variable for variable in report_for(compose, set()).variables}
    for name in ("IMAGE", "QUEUE", "LOG_DIR", "HOME_DIR", "TRACE", "ONLY_IN_EXTENSION"):
        assert not variables[name].needs_value, name
        assert not variables[name].missing, name
    assert variables["DBPASS"].services == ("app", "worker")
    assert variables["DBPASS"].locations == (
        "deploy/docker-compose.yaml:7",
        "deploy/docker-compose.yaml:13",
    )


def test_an_active_profile_makes_its_variables_needed(compose: Path) -> None:
    report = report_for(compose, set(), profiles=("debug",))
    assert "TRACE" in [variable.name for variable in report.missing]


def test_unused_secrets_are_reported(compose: Path) -> None:
    report = report_for(compose, {"DBPASS", "OLD_TOKEN", "ANOTHER"})
    assert report.unused_secrets == ("ANOTHER", "OLD_TOKEN")
    assert "warning: secret OLD_TOKEN is used by no compose file" in "\n".join(report.warnings())


def test_secrets_docker_inspect_would_show_are_reported_with_a_fix(compose: Path) -> None:
    report = report_for(compose, {"DBPASS", "APP_NAME", "QUEUE"})
    exposed = {secret.name: secret for secret in report.exposed}
    assert set(exposed) == {"DBPASS", "APP_NAME", "QUEUE"}
    assert exposed["DBPASS"].services == ("app", "worker")
    assert exposed["DBPASS"].fields == ("environment",)
    assert exposed["APP_NAME"].fields == ("command",)
    suggestion = yaml.safe_load(exposed["DBPASS"].suggestion())
    assert suggestion == {
        "services": {"app": {"secrets": ["dbpass"]}, "worker": {"secrets": ["dbpass"]}},
        "secrets": {"dbpass": {"environment": "DBPASS"}},
    }
    warning = next(line for line in report.warnings() if "DBPASS" in line)
    assert "`docker inspect` shows it" in warning
    assert "environment: DBPASS" in warning


def test_a_secret_in_an_inactive_service_or_outside_services_is_not_exposed(
    compose: Path,
) -> None:
    report = report_for(compose, {"TRACE", "VOLUME"})
    assert report.exposed == ()


def test_json_has_names_and_places_never_values(compose: Path) -> None:
    environ = {"APP_NAME": SENTINEL, "UNRELATED": SENTINEL}
    report = report_for(compose, {"DBPASS", "UNUSED"}, environ=environ)
    text = report.to_json()
    assert SENTINEL not in text
    data = json.loads(text)
    assert data["ok"] is False
    assert data["missing"] == ["API_KEY", "MUST_EVEN_WHEN_OFF", "VOLUME"]
    assert data["unused_secrets"] == ["UNUSED"]
    assert [secret["name"] for secret in data["exposed"]] == ["DBPASS"]
    dbpass = next(variable for variable in data["variables"] if variable["name"] == "DBPASS")
    assert dbpass == {
        "name": "DBPASS",
        "source": "secrets",
        "needs_value": True,
        "services": ["app", "worker"],
        "locations": ["deploy/docker-compose.yaml:7", "deploy/docker-compose.yaml:13"],
    }


def test_no_uses_no_problems(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(dedent("services:\n  a:\n    image: x\n"))
    report = report_for(compose, set())
    assert (report.variables, report.missing, report.exposed) == ((), (), ())
    assert json.loads(report.to_json())["ok"] is True


def test_the_app_path_loads_neither_dataclasses_nor_inspect() -> None:
    """`secure-up app` is benchmarked against `source <(sops -d ...); docker compose up`."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import secure_up.commands.run, secure_up.launch.preflight, secure_up.launch.variables\n"
        "print(sorted(m for m in sys.modules if m in ('dataclasses', 'inspect', 'shutil')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
