"""Planning a compose run: the command, the files, the secrets files, the argv, the variables.

The last group compares the variables we find with what the real `docker compose config`
does; it needs a Compose v2 binary (no engine) and is marked `docker`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_up.errors import FormatError, InputFileError, SecureUpError, UsageError
from secure_up.launch.compose import (
    Which,
    compose_plugin_installed,
    docker_cli_plugin,
    find_compose_command,
    find_compose_files,
    find_secrets_files,
    plan_compose_argv,
    plan_up,
    plugin_aware,
    predicted_secrets_files,
    project_directory,
    without_docker_cli,
)
from secure_up.launch.variables import (
    UseKind,
    VariableUse,
    dotenv_names,
    interpolated_variables,
    scan_template,
)
from tests.conftest import require


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text))
    return path


def run_probe(argv: Sequence[str]) -> bool:
    """The real probe: run the argv, succeed on exit status 0."""
    return subprocess.run(list(argv), capture_output=True, timeout=30, check=False).returncode == 0


# -- the compose command ----------------------------------------------------


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """An empty directory to put fake executables in, searched instead of PATH."""
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


def executable(directory: Path, name: str, script: str = "exit 0") -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


def which_in(directory: Path) -> Which:
    """`which` over ``directory`` only, so the machine's own docker stays out of the test."""
    return lambda name: shutil.which(name, path=str(directory))


def test_compose_v2_plugin_is_preferred(bin_dir: Path) -> None:
    docker = executable(bin_dir, "docker", '[ "$1 $2" = "compose version" ]')
    executable(bin_dir, "docker-compose")
    assert find_compose_command({}, probe=run_probe, which=which_in(bin_dir)) == [docker, "compose"]


def test_compose_v1_when_the_plugin_does_not_answer(bin_dir: Path) -> None:
    executable(bin_dir, "docker", "echo 'docker: unknown command: docker compose' >&2; exit 1")
    compose_v1 = executable(bin_dir, "docker-compose")
    assert find_compose_command({}, probe=run_probe, which=which_in(bin_dir)) == [compose_v1]


def test_podman_compose_last(bin_dir: Path) -> None:
    podman = executable(bin_dir, "podman")
    assert find_compose_command({}, probe=run_probe, which=which_in(bin_dir)) == [podman, "compose"]


def test_no_compose_says_how_to_install_it(bin_dir: Path) -> None:
    executable(bin_dir, "docker", "exit 1")
    with pytest.raises(SecureUpError) as caught:
        find_compose_command({}, probe=run_probe, which=which_in(bin_dir))
    assert "install the Docker Compose plugin" in caught.value.diagnostics()


def test_secure_up_compose_overrides(bin_dir: Path) -> None:
    executable(bin_dir, "my-compose")
    environ = {"SECURE_UP_COMPOSE": "my-compose --ansi never"}
    argv = find_compose_command(environ, probe=run_probe, which=which_in(bin_dir))
    assert argv == ["my-compose", "--ansi", "never"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "empty"), ("'unbalanced", "unbalanced"), ("not-installed compose", "not an executable")],
)
def test_a_bad_secure_up_compose_is_a_usage_error(bin_dir: Path, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        find_compose_command({"SECURE_UP_COMPOSE": value}, probe=run_probe, which=which_in(bin_dir))


@pytest.fixture
def system_plugin_dirs(tmp_path: Path) -> list[Path]:
    """Empty directories standing for the docker CLI's system plugin directories.

    The real ones may hold this machine's Compose plugin, which would answer every
    question below, so the tests pass these instead.
    """
    return [tmp_path / "system" / str(number) / "cli-plugins" for number in range(4)]


def plugin(directory: Path, mode: int = 0o755) -> Path:
    """A ``docker-compose`` plugin file in ``directory`` (the docker CLI runs it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "docker-compose"
    path.write_text("#!/bin/sh\necho 'Docker Compose version v2'\n")
    path.chmod(mode)
    return path


def test_the_plugin_is_found_in_docker_config(
    tmp_path: Path, system_plugin_dirs: list[Path]
) -> None:
    config, home = tmp_path / "config", tmp_path / "home"
    environ = {"DOCKER_CONFIG": str(config), "HOME": str(home)}
    assert not compose_plugin_installed(environ, system_dirs=system_plugin_dirs)
    plugin(home / ".docker" / "cli-plugins")
    assert not compose_plugin_installed(
        environ, system_dirs=system_plugin_dirs
    )  # DOCKER_CONFIG replaces ~/.docker
    plugin(config / "cli-plugins")
    assert compose_plugin_installed(environ, system_dirs=system_plugin_dirs)


def test_the_plugin_is_found_in_the_home_directory(
    tmp_path: Path, system_plugin_dirs: list[Path]
) -> None:
    home = tmp_path / "home"
    assert not compose_plugin_installed({"HOME": str(home)}, system_dirs=system_plugin_dirs)
    plugin(home / ".docker" / "cli-plugins")
    assert compose_plugin_installed({"HOME": str(home)}, system_dirs=system_plugin_dirs)
    assert not compose_plugin_installed(
        {}, system_dirs=system_plugin_dirs
    )  # no HOME: only the system directories


@pytest.mark.parametrize("number", range(4))
def test_the_plugin_is_found_in_each_system_directory(
    system_plugin_dirs: list[Path], number: int
) -> None:
    assert not compose_plugin_installed({}, system_dirs=system_plugin_dirs)
    plugin(system_plugin_dirs[number])
    assert compose_plugin_installed({}, system_dirs=system_plugin_dirs)


def test_a_plugin_file_that_cannot_run_does_not_count(system_plugin_dirs: list[Path]) -> None:
    plugin(system_plugin_dirs[0], mode=0o644)
    assert not compose_plugin_installed({}, system_dirs=system_plugin_dirs)


# -- the plugin run without the docker CLI ---------------------------------------

UP = ["/usr/bin/docker", "compose", "-f", "/p/compose.yaml", "up", "-d", "app"]


def docker_config(directory: Path, config: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_the_plugin_runs_standalone_with_the_same_arguments(
    tmp_path: Path, system_plugin_dirs: list[Path]
) -> None:
    found = plugin(system_plugin_dirs[1])
    environ = {"HOME": str(tmp_path / "home")}
    argv = without_docker_cli(UP, environ, {}, system_dirs=system_plugin_dirs)
    assert argv == [str(found), "-f", "/p/compose.yaml", "up", "-d", "app"]


def test_the_plugin_is_the_one_the_docker_cli_would_pick(
    tmp_path: Path, system_plugin_dirs: list[Path]
) -> None:
    """docker/cli PluginRunCommand: cliPluginsExtraDirs, the config's cli-plugins, the system."""
    config = tmp_path / "config"
    environ = {"DOCKER_CONFIG": str(config), "HOME": str(tmp_path / "home")}
    plugin(system_plugin_dirs[3])
    plugin(system_plugin_dirs[0])
    assert docker_cli_plugin(environ, system_dirs=system_plugin_dirs) == str(
        system_plugin_dirs[0] / "docker-compose"
    )
    plugin(tmp_path / "home" / ".docker" / "cli-plugins")  # DOCKER_CONFIG replaces ~/.docker
    mine = plugin(config / "cli-plugins")
    assert docker_cli_plugin(environ, system_dirs=system_plugin_dirs) == str(mine)
    extra = plugin(tmp_path / "extra")
    docker_config(config, {"cliPluginsExtraDirs": [str(tmp_path / "nowhere"), str(extra.parent)]})
    assert docker_cli_plugin(environ, system_dirs=system_plugin_dirs) == str(extra)


@pytest.mark.parametrize(
    "case",
    [
        "not runnable",
        "a directory",
        "no home",
        "config unreadable",
        "hooks on",
        "secret sets DOCKER_CONFIG",
        "run from a plugin",
        "SECURE_UP_COMPOSE",
        "not -f first",
    ],
)
def test_docker_compose_stays_wherever_the_two_could_differ(
    tmp_path: Path, system_plugin_dirs: list[Path], case: str
) -> None:
    home = tmp_path / "home"
    environ: dict[str, str] = {"HOME": str(home)}
    secrets: dict[str, str] = {}
    argv = list(UP)
    plugin(system_plugin_dirs[1])
    if case == "not runnable":  # the first one found is the one the docker CLI runs
        plugin(system_plugin_dirs[0], mode=0o644)
    elif case == "a directory":
        (system_plugin_dirs[0] / "docker-compose").mkdir(parents=True)
    elif case == "no home":
        environ = {}
    elif case == "config unreadable":
        (home / ".docker").mkdir(parents=True)
        (home / ".docker" / "config.json").write_text("{not json")
    elif case == "hooks on":
        docker_config(home / ".docker", {"plugins": {"scout": {"hooks": "compose up"}}})
        assert without_docker_cli(UP, environ, secrets, system_dirs=system_plugin_dirs) != UP
        environ["DOCKER_CLI_HOOKS"] = "true"
    elif case == "secret sets DOCKER_CONFIG":
        secrets = {"DOCKER_CONFIG": "value"}
    elif case == "run from a plugin":
        environ["DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"] = "/usr/bin/docker"
    elif case == "SECURE_UP_COMPOSE":
        environ["SECURE_UP_COMPOSE"] = "docker compose"
    elif case == "not -f first":  # compatibility.Convert would move root flags
        argv = ["/usr/bin/docker", "compose", "--verbose", "ps"]
    assert without_docker_cli(argv, environ, secrets, system_dirs=system_plugin_dirs) == argv


def test_other_compose_commands_are_left_alone(system_plugin_dirs: list[Path]) -> None:
    plugin(system_plugin_dirs[0])
    for argv in (
        ["/usr/bin/docker-compose", "-f", "/p/c.yaml", "ps"],
        ["podman", "compose", "-f", "/c", "ps"],
    ):
        assert without_docker_cli(argv, {"HOME": "/h"}, {}, system_dirs=system_plugin_dirs) == argv


def recording_docker(bin_dir: Path) -> tuple[str, Path]:
    """A ``docker`` whose ``compose`` fails, recording each run in the returned file."""
    calls = bin_dir / "calls"
    return executable(bin_dir, "docker", f'echo "$*" >> {calls}; exit 1'), calls


def test_an_installed_plugin_answers_the_plugin_probe_without_running_docker(
    bin_dir: Path, tmp_path: Path, system_plugin_dirs: list[Path]
) -> None:
    docker, calls = recording_docker(bin_dir)
    environ = {"DOCKER_CONFIG": str(tmp_path / "config")}
    plugin(tmp_path / "config" / "cli-plugins")
    probe = plugin_aware(run_probe, environ, system_dirs=system_plugin_dirs)
    assert probe([docker, "compose", "version"])
    command = find_compose_command(environ, probe=probe, which=which_in(bin_dir))
    assert command == [docker, "compose"]
    assert not calls.exists()


def test_other_probes_and_a_missing_plugin_go_to_the_probe(
    bin_dir: Path, system_plugin_dirs: list[Path]
) -> None:
    docker, calls = recording_docker(bin_dir)
    podman = executable(bin_dir, "podman", f'echo "podman $*" >> {calls}; exit 1')
    without = plugin_aware(run_probe, {}, system_dirs=system_plugin_dirs)
    assert not without([docker, "compose", "version"])
    plugin(system_plugin_dirs[0])
    with_plugin = plugin_aware(run_probe, {}, system_dirs=system_plugin_dirs)
    assert not with_plugin([docker, "compose", "ls"])
    assert not with_plugin([docker, "compose", "version", "--short"])
    assert not with_plugin([podman, "compose", "version"])
    assert calls.read_text().splitlines() == [
        "compose version",
        "compose ls",
        "compose version --short",
        "podman compose version",
    ]


# -- compose files ----------------------------------------------------------


def test_explicit_files_win(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services: {}")
    write(tmp_path / "a.yaml", "services: {}")
    write(tmp_path / "b/c.yaml", "services: {}")
    files = find_compose_files(tmp_path, [Path("a.yaml"), Path("b/c.yaml")], {"COMPOSE_FILE": "x"})
    assert files == [tmp_path / "a.yaml", tmp_path / "b/c.yaml"]


def test_compose_file_variable_with_its_separator(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "services: {}")
    write(tmp_path / "b.yaml", "services: {}")
    assert find_compose_files(tmp_path, [], {"COMPOSE_FILE": "a.yaml:b.yaml"}) == [
        tmp_path / "a.yaml",
        tmp_path / "b.yaml",
    ]
    environ = {"COMPOSE_FILE": "b.yaml;a.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    assert find_compose_files(tmp_path, [], environ) == [tmp_path / "b.yaml", tmp_path / "a.yaml"]


def test_a_missing_named_file_says_who_named_it(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="given with -f"):
        find_compose_files(tmp_path, [Path("nope.yaml")], {})
    with pytest.raises(InputFileError, match="named by COMPOSE_FILE"):
        find_compose_files(tmp_path, [], {"COMPOSE_FILE": "nope.yaml"})


def test_lookup_walks_up_and_adds_the_override(tmp_path: Path) -> None:
    write(tmp_path / "docker-compose.yml", "services: {}")
    write(tmp_path / "compose.yaml", "services: {}")
    write(tmp_path / "docker-compose.override.yml", "services: {}")
    write(tmp_path / "compose.override.yaml", "services: {}")
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    assert find_compose_files(nested, [], {}) == [
        tmp_path / "compose.yaml",
        tmp_path / "compose.override.yaml",
    ]


def test_lookup_stops_at_the_nearest_directory_with_a_file(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services: {}")
    write(tmp_path / "sub/docker-compose.yaml", "services: {}")
    assert find_compose_files(tmp_path / "sub", [], {}) == [tmp_path / "sub/docker-compose.yaml"]


def test_deploy_fallback_and_nothing_found(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(InputFileError) as caught:
        find_compose_files(repo, [], {})
    assert "name it with -f" in caught.value.diagnostics()
    write(repo / "deploy/docker-compose.yaml", "services: {}")
    assert find_compose_files(repo, [], {}) == [repo / "deploy/docker-compose.yaml"]
    assert project_directory([repo / "deploy/docker-compose.yaml"]) == repo / "deploy"


# -- secrets files ----------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "secrets/environment.secrets", "{}")
    write(tmp_path / "secrets/prod.yaml", "{}")
    write(tmp_path / "deploy/extra.env", "")
    write(
        tmp_path / "deploy/docker-compose.yaml",
        """\
        x-secure-up:
          secrets: [extra.env, ../secrets/prod.yaml]
        services: {app: {image: x}}
        """,
    )
    return tmp_path


def test_secrets_flag_wins(project: Path) -> None:
    compose = [project / "deploy/docker-compose.yaml"]
    environ = {"SECURE_UP_SECRETS": "secrets/prod.yaml"}
    explicit = [Path("secrets/prod.yaml"), Path("secrets/environment.secrets")]
    assert find_secrets_files(explicit, environ, compose, cwd=project) == [
        project / "secrets/prod.yaml",
        project / "secrets/environment.secrets",
    ]


def test_secrets_variable_is_colon_separated(project: Path) -> None:
    environ = {"SECURE_UP_SECRETS": "secrets/environment.secrets:secrets/prod.yaml"}
    assert find_secrets_files([], environ, [], cwd=project) == [
        project / "secrets/environment.secrets",
        project / "secrets/prod.yaml",
    ]


def test_compose_extension_paths_are_relative_to_their_file(project: Path) -> None:
    compose = [project / "deploy/docker-compose.yaml"]
    assert find_secrets_files([], {}, compose, cwd=project) == [
        project / "deploy/extra.env",
        project / "deploy/../secrets/prod.yaml",
    ]


def test_the_default_file_only_if_it_exists(project: Path, tmp_path: Path) -> None:
    plain = write(project / "plain.yaml", "services: {}")
    assert find_secrets_files([], {}, [plain], cwd=project) == [
        project / "secrets/environment.secrets"
    ]
    (project / "secrets/environment.secrets").unlink()
    assert find_secrets_files([], {}, [plain], cwd=project) == []


def test_bad_extension_and_missing_files(project: Path) -> None:
    bad = write(project / "bad.yaml", "x-secure-up: {secrets: secrets/prod.yaml}")
    with pytest.raises(FormatError, match="must be a list"):
        find_secrets_files([], {}, [bad], cwd=project)
    missing = write(project / "missing.yaml", "x-secure-up: {secrets: [nope.env]}")
    with pytest.raises(InputFileError, match="listed in x-secure-up"):
        find_secrets_files([], {}, [missing], cwd=project)
    with pytest.raises(InputFileError, match="given with -s"):
        find_secrets_files([Path("nope")], {}, [], cwd=project)


# -- argv -------------------------------------------------------------------


def test_argv_names_every_file_and_the_project() -> None:
    argv = plan_compose_argv(
        ["docker", "compose"], [Path("/a/c.yaml"), Path("/a/o.yaml")], "shop", ["ps"]
    )
    assert argv == ["docker", "compose", "-f", "/a/c.yaml", "-f", "/a/o.yaml", "-p", "shop", "ps"]
    assert plan_compose_argv(["docker-compose"], [Path("c.yaml")], None, []) == [
        "docker-compose",
        "-f",
        "c.yaml",
    ]


def test_up_is_detached_unless_attached() -> None:
    files = [Path("c.yaml")]
    assert plan_up(["dc"], files, None, ["app", "db"]) == [
        "dc",
        "-f",
        "c.yaml",
        "up",
        "-d",
        "app",
        "db",
    ]
    assert plan_up(["dc"], files, None, [], attach=True) == ["dc", "-f", "c.yaml", "up"]


@pytest.mark.parametrize("service", ["-d", "--build", "", "a b", "app;rm"])
def test_up_refuses_what_is_not_a_service_name(service: str) -> None:
    with pytest.raises(UsageError, match="not a valid service name"):
        plan_up(["dc"], [Path("c.yaml")], None, [service])


# -- variables ----------------------------------------------------------------

BOOK = """\
x-common: &common
  image: ${IMAGE:-busybox}
  labels:
    team: $TEAM
services:
  app:
    <<: *common
    environment:
      DBPASS: ${DBPASS}
      DSN: "postgres://app:${DBPASS}@db/${DBNAME:?set DBNAME}"
      NOTE: "$$NOT_A_VARIABLE costs $$5"
    command: |
      run
      --token=${API_TOKEN+set} --mode=${MODE-dev}
  debug:
    image: x
    profiles: [debug]
    environment:
      TRACE: ${TRACE}
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: ${DBPASS:-${FALLBACK}}
volumes:
  data:
    name: ${VOLUME_NAME}
"""


def uses_of(uses: list[VariableUse], name: str) -> list[VariableUse]:
    return [use for use in uses if use.name == name]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write(tmp_path / "compose.yaml", BOOK)


def test_every_reference_with_its_line_and_service(book: Path) -> None:
    uses = interpolated_variables([book])
    assert sorted({use.name for use in uses}) == [
        "API_TOKEN", "DBNAME", "DBPASS", "FALLBACK", "IMAGE", "MODE", "TEAM", "TRACE",
        "VOLUME_NAME",
    ]  # fmt: skip
    assert [(u.line, u.service, u.field, u.kind) for u in uses_of(uses, "DBPASS")] == [
        (9, "app", "environment", UseKind.PLAIN),
        (10, "app", "environment", UseKind.PLAIN),
        (23, "db", "environment", UseKind.DEFAULT),
    ]
    (dbname,) = uses_of(uses, "DBNAME")
    assert (dbname.kind, dbname.line, dbname.location) == (UseKind.REQUIRED, 10, f"{book}:10")
    (fallback,) = uses_of(uses, "FALLBACK")
    assert (fallback.nested, fallback.service, fallback.kind) == (True, "db", UseKind.PLAIN)
    (volume,) = uses_of(uses, "VOLUME_NAME")
    assert (volume.section, volume.service, volume.line) == ("volumes", None, 26)


def test_a_literal_block_reports_the_line_of_the_reference(book: Path) -> None:
    uses = interpolated_variables([book])
    assert [(u.line, u.kind, u.field) for u in uses_of(uses, "API_TOKEN")] == [
        (14, UseKind.ALTERNATE, "command")
    ]
    assert [(u.line, u.kind) for u in uses_of(uses, "MODE")] == [(14, UseKind.DEFAULT)]


def test_an_alias_counts_where_it_is_defined_and_where_it_is_merged(book: Path) -> None:
    uses = interpolated_variables([book])
    assert {(u.line, u.section, u.service, u.field) for u in uses_of(uses, "TEAM")} == {
        (4, "x-common", None, None),
        (4, "services", "app", "labels"),
    }
    assert {(u.service, u.has_default) for u in uses_of(uses, "IMAGE")} == {
        (None, True),
        ("app", True),
    }


def test_profiles_and_targets_decide_what_is_active(book: Path) -> None:
    def trace_active(**kwargs: Sequence[str]) -> bool:
        (trace,) = uses_of(interpolated_variables([book], **kwargs), "TRACE")
        return trace.active

    assert not trace_active()
    assert trace_active(profiles=["debug"])
    assert trace_active(profiles=["*"])
    assert trace_active(targets=["debug"])
    assert not trace_active(profiles=["other"], targets=["app"])


def test_an_override_file_adds_uses_and_can_change_profiles(book: Path) -> None:
    override = write(
        book.parent / "compose.override.yaml",
        """\
        services:
          debug:
            profiles: []
          app:
            environment:
              EXTRA: ${EXTRA}
        """,
    )
    uses = interpolated_variables([book, override])
    (extra,) = uses_of(uses, "EXTRA")
    assert (extra.file, extra.line, extra.service) == (override, 6, "app")
    assert uses_of(uses, "TRACE")[0].active


def test_an_invalid_reference_is_a_format_error_with_its_line(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", "services:\n  a:\n    image: ${NOT VALID}\n")
    with pytest.raises(FormatError, match=r"compose.yaml, line 3: an invalid"):
        interpolated_variables([compose])


def test_broken_yaml_is_a_format_error(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", "services:\n  a: [\n")
    with pytest.raises(FormatError, match="not valid YAML"):
        interpolated_variables([compose])


def test_compose_tags_and_recursive_aliases_do_not_stop_the_walk(tmp_path: Path) -> None:
    compose = write(
        tmp_path / "compose.yaml",
        """\
        x-loop: &loop [a, *loop, $LOOPED]
        services:
          a:
            image: !reset ${TAGGED}
            labels: *loop
        """,
    )
    names = {(use.name, use.service) for use in interpolated_variables([compose])}
    assert names == {("TAGGED", "a"), ("LOOPED", None), ("LOOPED", "a")}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$A ${B} $$C", "A:plain B:plain"),
        ("${A:-x} ${B-y} ${C:?m} ${D?}", "A:default B:default C:required D:required"),
        ("${E:+z} ${F+}", "E:alternate F:alternate"),
        ("${A:-${B:-$C}}", "A:default B:default* C:plain*"),
        ("${A:?need ${B}}", "A:required B:plain*"),
        ("${A:-{x}${B}} $C", "A:default B:plain* C:plain"),
        ("${A:-x}}", "A:default"),
        ("$1 $ a$ ${a_b}", "a_b:plain"),
    ],
)
def test_template_references(template: str, expected: str) -> None:
    """Names with their kind; `*` marks a reference nested in another's argument."""
    found = " ".join(
        f"{ref.name}:{ref.kind.value}{'*' if ref.nested else ''}" for ref in scan_template(template)
    )
    assert found == expected


def test_dotenv_names_skip_values_and_comments(tmp_path: Path) -> None:
    write(
        tmp_path / ".env",
        """\
        # comment
        PLAIN=1
        export EXPORTED=2
        QUOTED="line one
        NOT_A_KEY=inside the value"
        SINGLE='also
        NOT_EITHER=x'
        ESCAPED="a \\" NOT_THIS=1"
          SPACED = 3
        YAML_STYLE: 4
        """,
    )
    assert dotenv_names(tmp_path) == {
        "PLAIN", "EXPORTED", "QUOTED", "SINGLE", "ESCAPED", "SPACED", "YAML_STYLE",
    }  # fmt: skip
    assert dotenv_names(tmp_path / "nowhere") == frozenset()


# -- against the real `docker compose config` -------------------------------


@pytest.fixture(scope="module")
def compose_v2() -> list[str]:
    """The Compose v2 command (SECURE_UP_COMPOSE may point at a standalone binary)."""
    try:
        command = find_compose_command(os.environ, probe=run_probe)
    except SecureUpError:
        require("docker compose", "install the Compose v2 plugin (see docker-here.md)")
        raise
    version = subprocess.run(
        [*command, "version"], capture_output=True, text=True, timeout=30, check=False
    )
    if not re.search(r"\bv?2\.\d+\.\d+", version.stdout):
        require("Compose v2", f"{command} is not Compose v2")
    return command


def compose_config(command: list[str], compose: Path, **environ: str) -> tuple[int, str]:
    """Exit status and stderr of `compose config` in a bare environment (only PATH)."""
    env = {"PATH": os.environ.get("PATH", ""), **environ}
    if "DOCKER_CONFIG" in os.environ:
        env["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    result = subprocess.run(
        [*command, "-f", str(compose), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=compose.parent,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stderr


def warned_names(stderr: str) -> set[str]:
    return set(re.findall(r'The \\?"(\w+)\\?" variable is not set', stderr))


@pytest.mark.docker
def test_compose_warns_about_exactly_our_plain_references(
    compose_v2: list[str], tmp_path: Path
) -> None:
    """Compose v2 resolves every reference, nested and inactive ones too, and warns per blank."""
    compose = write(tmp_path / "compose.yaml", BOOK.replace("${DBNAME:?set DBNAME}", "x"))
    status, stderr = compose_config(compose_v2, compose)
    assert status == 0, stderr
    plain = {use.name for use in interpolated_variables([compose]) if use.kind is UseKind.PLAIN}
    assert warned_names(stderr) == plain


@pytest.mark.docker
def test_compose_refuses_exactly_our_required_references(
    compose_v2: list[str], tmp_path: Path
) -> None:
    compose = write(
        tmp_path / "compose.yaml",
        """\
        x-unused: {a: "${IN_EXTENSION:?}"}
        services:
          off:
            image: x
            profiles: [never]
            environment: {A: "${IN_INACTIVE?}"}
          on:
            image: x
            environment: {B: "${NESTED_UNUSED:-${INNER:?}}", C: "${TOP:?why}"}
        """,
    )
    required = {u.name for u in interpolated_variables([compose]) if u.kind is UseKind.REQUIRED}
    assert required == {"IN_EXTENSION", "IN_INACTIVE", "INNER", "TOP"}
    for name in required:
        others = dict.fromkeys(required - {name}, "set")
        status, stderr = compose_config(compose_v2, compose, NESTED_UNUSED="set", **others)
        assert status != 0
        assert f"required variable {name} is missing" in stderr


template_pieces = st.sampled_from(
    ["$", "{", "}", ":-", "-", ":+", "+", "A", "B", "_c", "$$", "x", " ", "${A}", "${B:-", "$C"]
)


@pytest.mark.docker
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    templates=st.lists(st.lists(template_pieces, max_size=10).map("".join), min_size=1, max_size=8)
)
def test_random_templates_read_like_compose(
    compose_v2: list[str], tmp_path: Path, templates: list[str]
) -> None:
    environment = {f"V{index}": template for index, template in enumerate(templates)}
    compose = write(
        tmp_path / "compose.yaml",
        "services:\n  s:\n    image: x\n    environment: " + json.dumps(environment) + "\n",
    )
    status, stderr = compose_config(compose_v2, compose)
    try:
        uses = interpolated_variables([compose])
    except FormatError:
        assert status != 0
        assert "invalid" in stderr.lower()
        return
    assert status == 0, stderr
    assert warned_names(stderr) == {use.name for use in uses if use.kind is UseKind.PLAIN}


# -- the secrets files, found early (for gpg while modules load) ----------------


@pytest.mark.parametrize(
    "layout", ["default", "declared", "declared in an override", "SECURE_UP_SECRETS", "-s", "none"]
)
def test_the_early_guess_is_the_lookup_of_the_command(tmp_path: Path, layout: str) -> None:
    environ: dict[str, str] = {}
    secrets: list[str] = []
    main = "services:\n  app:\n    image: busybox\n"
    write(tmp_path / "secrets" / "environment.secrets", "x")
    write(tmp_path / "other.secrets", "x")
    if layout == "declared":
        main += "x-secure-up:\n  secrets: [other.secrets]\n"
    elif layout == "declared in an override":
        write(tmp_path / "compose.override.yaml", '"x-secure-up": {secrets: [other.secrets]}\n')
    elif layout == "SECURE_UP_SECRETS":
        environ["SECURE_UP_SECRETS"] = "other.secrets"
    elif layout == "-s":
        secrets = ["other.secrets"]
    elif layout == "none":
        (tmp_path / "secrets" / "environment.secrets").unlink()
    write(tmp_path / "compose.yaml", main)
    files = find_compose_files(tmp_path, [], environ)
    expected = find_secrets_files([Path(p) for p in secrets], environ, files, cwd=tmp_path)
    assert predicted_secrets_files(secrets, [], environ, tmp_path) == expected


def test_the_early_guess_reads_no_yaml_without_x_secure_up(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  app:\n    image: busybox\n")
    write(tmp_path / "secrets" / "environment.secrets", "x")
    code = (
        "import sys; from pathlib import Path\n"
        "from secure_up.launch.compose import predicted_secrets_files\n"
        f"found = predicted_secrets_files([], [], {{}}, Path({str(tmp_path)!r}))\n"
        "print(found, 'yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    expected = tmp_path / "secrets" / "environment.secrets"
    assert result.stdout.strip() == f"[{expected!r}] False"


@pytest.mark.parametrize(
    "compose", ["x-secure-up: {secrets: [missing.secrets]}\n", "x-secure-up: [\n", "a: \\\n  b: ["]
)
def test_the_early_guess_never_raises(tmp_path: Path, compose: str) -> None:
    write(tmp_path / "compose.yaml", compose)
    assert predicted_secrets_files([], [], {}, tmp_path) == []
    assert predicted_secrets_files([], ["missing.yaml"], {}, tmp_path) == []
