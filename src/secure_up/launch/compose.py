"""Plan a docker compose run: which command, which files, which secrets, which argv.

Everything here is pure planning over paths, mappings and file contents; nothing
spawns a process (``process.py`` does that: it passes us a ``probe``). The argv we
plan holds paths, names and flags only; secret values travel in the child's
environment, never here.

Compose file lookup follows Compose v2 (compose-go ``cli/options.go``): ``-f``;
else ``COMPOSE_FILE`` split on ``COMPOSE_PATH_SEPARATOR`` (default ``:``); else,
from the working directory upward, the first of :data:`COMPOSE_FILE_NAMES` plus the
first of :data:`OVERRIDE_FILE_NAMES` beside it. We add one fallback,
``deploy/docker-compose.yaml``, so ``secure-up app`` works from a repository root.

PyYAML is imported by the functions that parse, not at the top: ``secure-up run
-s FILE`` never reads a compose file and is benchmarked against ``sops exec-env``,
where PyYAML's ~13 ms import would count.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Container, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from secure_up.errors import FormatError, InputFileError, SecureUpError, UsageError
from secure_up.launch import compose_file

if TYPE_CHECKING:
    pass

#: Compose's main file names, in its order of preference.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
#: Override files Compose adds when they sit beside the main file.
OVERRIDE_FILE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
#: Our fallback, relative to the working directory.
FALLBACK_COMPOSE_FILE = Path("deploy/docker-compose.yaml")
#: The secrets file used when nothing names one, relative to the working directory.
DEFAULT_SECRETS_FILE = Path("secrets/environment.secrets")
#: The compose-file extension field that names secrets files.
EXTENSION_KEY = "x-secure-up"

#: Runs an argv and says whether it exited 0. Supplied by ``process.py``.
Probe = Callable[[Sequence[str]], bool]
#: Finds an executable on PATH, like :func:`shutil.which`.
Which = Callable[[str], str | None]

# A service name as Compose accepts it; refusing others keeps `-x` out of the argv.
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


# -- the compose command ----------------------------------------------------


#: Where the docker CLI looks for plugins after its config directory's ``cli-plugins``
#: (docker/cli ``cli-plugins/manager/manager_unix.go``), in its order.
DOCKER_SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def compose_plugin_installed(
    environ: Mapping[str, str], *, system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS
) -> bool:
    """Whether the docker CLI finds the Compose v2 plugin where it looks by default.

    A file check instead of running ``docker compose version`` (some 60 ms, a third
    of what ``docker compose up -d`` of a running service takes). Plugins in a
    ``cliPluginsExtraDirs`` of the docker config are not seen here: the probe finds them.
    """
    user_config = environ.get("DOCKER_CONFIG") or (
        os.path.join(environ["HOME"], ".docker") if environ.get("HOME") else None
    )
    directories = [str(directory) for directory in system_dirs]
    if user_config:
        directories.insert(0, os.path.join(user_config, "cli-plugins"))
    return any(
        os.access(os.path.join(directory, "docker-compose"), os.X_OK) for directory in directories
    )


def plugin_aware(
    probe: Probe,
    environ: Mapping[str, str],
    *,
    system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS,
) -> Probe:
    """``probe``, except that an installed plugin answers ``docker compose version`` at once."""

    def answer(argv: Sequence[str]) -> bool:
        asks_for_plugin = len(argv) == 3 and list(argv[1:]) == ["compose", "version"]
        if (
            asks_for_plugin
            and Path(argv[0]).name == "docker"
            and compose_plugin_installed(environ, system_dirs=system_dirs)
        ):
            return True
        return probe(argv)

    return answer


#: What the docker CLI reads to find a plugin or to decide on running hooks after it:
#: when a secrets file sets one, ``docker compose`` stays the way compose is run.
_DOCKER_CLI_VARIABLES = frozenset(
    {
        "DOCKER_CONFIG",
        "HOME",
        "DOCKER_CLI_HOOKS",
        "DOCKER_CLI_HINTS",
        "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND",
    }
)


def without_docker_cli(
    argv: Sequence[str],
    environ: Mapping[str, str],
    secret_names: Container[str],
    *,
    system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS,
) -> list[str]:
    """``docker compose -f FILE ...`` as the plugin's own command line, where that runs the same.

    The ``docker`` client is a trampoline for ``docker compose``: it starts, runs
    the plugin once for its metadata, then runs it again with our arguments (some
    45 ms of the ~90 ms that `docker compose up -d` of a running service takes).
    Compose v2 runs standalone too (its ``main`` turns ``docker-compose ARGS`` into
    ``docker compose ARGS`` with ``compatibility.Convert``, which leaves everything
    from ``-f FILE`` on as it is), reading the same config, contexts and environment.
    So we run the plugin file the docker CLI itself would pick (:func:`docker_cli_plugin`),
    and keep ``docker compose`` wherever the two could differ: ``SECURE_UP_COMPOSE``
    set, a command that does not start with ``-f FILE``, a secrets file setting a
    variable the docker CLI reads (:data:`_DOCKER_CLI_VARIABLES`), a plugin run from a
    plugin, hooks configured, or a plugin the docker CLI would not run. See CONTRIBUTING.md.
    """
    argv = list(argv)
    if (
        len(argv) < 4
        or argv[1] != "compose"
        or Path(argv[0]).name != "docker"
        or argv[2] != "-f"
        or argv[3].startswith("-")
        or "SECURE_UP_COMPOSE" in environ
        or environ.get("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND")  # then it runs as a plugin
        or any(name in secret_names for name in _DOCKER_CLI_VARIABLES)
    ):
        return argv
    plugin = docker_cli_plugin(environ, system_dirs=system_dirs)
    return argv if plugin is None else [plugin, *argv[2:]]


def docker_cli_plugin(
    environ: Mapping[str, str], *, system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS
) -> str | None:
    """The Compose plugin ``docker compose`` runs, or None where we cannot be sure.

    As docker/cli ``cli-plugins/manager.PluginRunCommand`` picks it: the first
    ``docker-compose`` that exists in the config file's ``cliPluginsExtraDirs``, the
    config directory's ``cli-plugins`` (``$DOCKER_CONFIG``, else ``~/.docker``), then
    the system directories. None also when the docker CLI would run hooks after the
    plugin (``RunPluginHooks``), or when that first file is not a runnable file.
    """
    config_dir = environ.get("DOCKER_CONFIG") or (
        os.path.join(environ["HOME"], ".docker") if environ.get("HOME") else None
    )
    if config_dir is None:  # the docker CLI would ask the user database for a home
        return None
    config = _docker_config(os.path.join(config_dir, "config.json"))
    if config is None or _hooks_may_run(environ, config):
        return None
    extra_dirs = config.get("cliPluginsExtraDirs") or []
    if not isinstance(extra_dirs, list) or not all(isinstance(d, str) for d in extra_dirs):
        return None
    directories = [*extra_dirs, os.path.join(config_dir, "cli-plugins"), *map(str, system_dirs)]
    for directory in directories:
        path = os.path.join(directory, "docker-compose")
        try:
            status = os.stat(path)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        runnable = stat.S_ISREG(status.st_mode) and os.access(path, os.X_OK)
        return path if runnable else None
    return None


def _docker_config(path: str) -> dict[str, object] | None:
    """The docker CLI's config.json ({} when there is none); None when it cannot be read."""
    try:
        with open(path, "rb") as file:
            text = file.read()
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    import json  # only where a config file exists

    try:
        config = json.loads(text)
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


def _hooks_may_run(environ: Mapping[str, str], config: Mapping[str, object]) -> bool:
    """Whether the docker CLI could run plugin hooks after compose (docker/cli HooksEnabled)."""
    plugins = config.get("plugins")
    if not plugins:
        return False
    if not isinstance(plugins, dict):
        return True
    if not any(isinstance(entry, dict) and "hooks" in entry for entry in plugins.values()):
        return False
    # Either switch on counts, whichever of them the docker CLI reads first (a
    # pristine child has no DOCKER_CLI_HOOKS): only hooks off everywhere is certain.
    features = config.get("features")
    switches = [environ.get("DOCKER_CLI_HOOKS"), environ.get("DOCKER_CLI_HINTS")]
    switches.append(features.get("hooks") if isinstance(features, dict) else None)
    return any(switch in _GO_TRUE for switch in switches)


#: What Go's strconv.ParseBool reads as true.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def find_compose_command(
    environ: Mapping[str, str], *, probe: Probe, which: Which | None = None
) -> list[str]:
    """The compose command to run, as an argv prefix.

    ``SECURE_UP_COMPOSE`` (split like a shell would) wins; else the Compose v2
    plugin (``docker compose``, probed with ``docker compose version`` since the
    ``docker`` client exists without it), else v1 ``docker-compose``, else
    ``podman compose``. ``which`` defaults to :func:`shutil.which`.
    """
    if which is None:
        import shutil  # here: with bz2 and lzma, some 2 ms that `secure-up run` never needs

        which = shutil.which
    override = environ.get("SECURE_UP_COMPOSE")
    if override is not None:
        return _override_command(override, which)
    docker = which("docker")
    if docker and probe([docker, "compose", "version"]):
        return [docker, "compose"]
    if compose_v1 := which("docker-compose"):
        return [compose_v1]
    podman = which("podman")
    if podman and probe([podman, "compose", "version"]):
        return [podman, "compose"]
    raise SecureUpError(
        "no Docker Compose found: `docker compose` does not answer, "
        "and neither `docker-compose` nor `podman compose` is installed",
        fix="install the Docker Compose plugin (https://docs.docker.com/compose/install/), "
        "or set SECURE_UP_COMPOSE to the compose command",
    )


def _override_command(override: str, which: Which) -> list[str]:
    try:
        import shlex  # only for an override: not on every run's start-up

        argv = shlex.split(override)
    except ValueError:
        raise UsageError(
            "SECURE_UP_COMPOSE is not a valid command line (unbalanced quotes)",
            fix="set it like SECURE_UP_COMPOSE='docker compose'",
        ) from None
    if not argv:
        raise UsageError("SECURE_UP_COMPOSE is empty", fix="unset it, or set it to a command")
    if which(argv[0]) is None:
        raise UsageError(
            f"SECURE_UP_COMPOSE names {argv[0]!r}, which is not an executable on PATH",
            fix="set SECURE_UP_COMPOSE to an installed compose command",
        )
    return argv


# -- compose files ----------------------------------------------------------


def find_compose_files(
    cwd: Path, explicit: Sequence[Path], environ: Mapping[str, str]
) -> list[Path]:
    """The compose files, absolute, in merge order (see the module docstring)."""
    cwd = cwd.absolute()
    if explicit:
        return [_existing(cwd / path, "given with -f") for path in explicit]
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [part for part in environ["COMPOSE_FILE"].split(separator) if part]
        return [_existing(cwd / path, "named by COMPOSE_FILE") for path in paths]
    for directory in (cwd, *cwd.parents):
        if found := _compose_files_in(directory):
            return found
    if (cwd / FALLBACK_COMPOSE_FILE).is_file():
        return [cwd / FALLBACK_COMPOSE_FILE]
    raise InputFileError(
        f"no compose file in {cwd} or above it ({', '.join(COMPOSE_FILE_NAMES)}), "
        f"nor {FALLBACK_COMPOSE_FILE}",
        fix="run secure-up where your compose.yaml is, or name it with -f",
    )


def _compose_files_in(directory: Path) -> list[Path]:
    main = next((directory / n for n in COMPOSE_FILE_NAMES if (directory / n).is_file()), None)
    if main is None:
        return []
    override = next((directory / n for n in OVERRIDE_FILE_NAMES if (directory / n).is_file()), None)
    return [main] if override is None else [main, override]


def _existing(path: Path, origin: str) -> Path:
    from secure_up.system.regular_file import check_regular

    check_regular(path, what=origin)  # says "a FIFO" or "a directory" rather than "missing"
    return path


def project_directory(compose_files: Sequence[Path]) -> Path:
    """Where Compose resolves relative paths and reads ``.env``: the first file's directory."""
    return compose_files[0].parent


# -- secrets files ----------------------------------------------------------


def find_secrets_files(
    explicit: Sequence[Path],
    environ: Mapping[str, str],
    compose_files: Sequence[Path],
    *,
    cwd: Path,
) -> list[Path]:
    """The sops files to decrypt, in order: a name in a later file wins over an earlier one.

    ``-s`` (repeatable); else ``SECURE_UP_SECRETS`` (``:``-separated); else the
    ``x-secure-up: {secrets: [...]}`` field of the compose files (relative to the
    file that names them, in merge order); else ``secrets/environment.secrets``
    if it exists; else none.
    """
    if explicit:
        return [_existing(cwd / path, "given with -s") for path in explicit]
    if environ.get("SECURE_UP_SECRETS"):
        paths = [part for part in environ["SECURE_UP_SECRETS"].split(":") if part]
        return [_existing(cwd / path, "named by SECURE_UP_SECRETS") for path in paths]
    if declared := [path for file in compose_files for path in _declared_secrets(file)]:
        return declared
    default = cwd / DEFAULT_SECRETS_FILE
    return [default] if default.is_file() else []


def predicted_secrets_files(
    secrets: Sequence[str | Path],
    files: Sequence[str | Path],
    environ: Mapping[str, str],
    cwd: Path | None = None,
) -> list[Path]:
    """What :func:`find_secrets_files` will return for these ``-s`` and ``-f``, found early.

    For starting gpg while the command's modules load (``keys/early.py``): the same
    lookup, except that a compose file is parsed only when its text could declare
    ``x-secure-up`` (it holds the key or a backslash, the only way to spell the key
    otherwise in YAML); the parse is cached for the command. Never raises: where
    the lookup fails the command says why at its own point, and this returns [].
    """
    try:
        cwd = cwd or Path.cwd()
        try:
            compose_files = find_compose_files(cwd, [Path(file) for file in files], environ)
        except SecureUpError:
            if files:  # every command stops there
                return []
            compose_files = []  # `run` goes on without
        if secrets or environ.get("SECURE_UP_SECRETS") or any(map(_may_declare, compose_files)):
            return find_secrets_files(
                [Path(path) for path in secrets], environ, compose_files, cwd=cwd
            )
        default = cwd / DEFAULT_SECRETS_FILE
        return [default] if default.is_file() else []
    except Exception:  # a guess: the command reports every failure at its own point
        return []


def _may_declare(compose_file: Path) -> bool:
    with open(compose_file, "rb") as file:
        text = file.read()
    return EXTENSION_KEY.encode() in text or b"\\" in text


def declared_secrets_files(compose_files: Sequence[Path]) -> list[Path]:
    """The files ``x-secure-up.secrets`` names, whether they exist or not (``init`` makes them)."""
    return [path for file in compose_files for path in _declared_secrets(file, checked=False)]


def _declared_secrets(path: Path, *, checked: bool = True) -> list[Path]:
    import yaml  # see the module docstring

    extension = dict(compose_file.mapping_items(compose_file.load(path))).get(EXTENSION_KEY)
    if extension is None:
        return []
    secrets = dict(compose_file.mapping_items(extension)).get("secrets")
    if secrets is None:  # an x-secure-up with other settings only (renew)
        return []
    if not isinstance(secrets, yaml.SequenceNode) or not all(
        isinstance(item, yaml.ScalarNode) and item.value for item in secrets.value
    ):
        raise FormatError(
            f"{path}: {EXTENSION_KEY}.secrets must be a list of file paths",
            fix=f"write it as `{EXTENSION_KEY}: {{secrets: [secrets/environment.secrets]}}`",
        )
    origin = f"listed in {EXTENSION_KEY} of {path}"
    paths = [path.parent / str(item.value) for item in secrets.value]
    return [_existing(named, origin) for named in paths] if checked else paths


# -- the argv ---------------------------------------------------------------


def plan_compose_argv(
    compose_cmd: Sequence[str],
    files: Sequence[Path],
    project_name: str | None,
    args: Sequence[str],
) -> list[str]:
    """``compose -f FILE... [-p NAME] ARGS``; the files are always explicit: Compose reads ours."""
    argv = list(compose_cmd)
    for file in files:
        argv += ["-f", str(file)]
    if project_name:
        argv += ["-p", project_name]
    return argv + list(args)


def plan_up(
    compose_cmd: Sequence[str],
    files: Sequence[Path],
    project_name: str | None,
    services: Sequence[str],
    *,
    attach: bool = False,
) -> list[str]:
    """``compose ... up [-d] SERVICE...``: detached unless ``attach``."""
    for service in services:
        if not _SERVICE_NAME.fullmatch(service):
            raise UsageError(
                f"{service!r} is not a valid service name",
                fix="name services as in the compose file (letters, digits, `_.-`)",
            )
    detach = [] if attach else ["-d"]
    return plan_compose_argv(compose_cmd, files, project_name, ["up", *detach, *services])
