"""``up``, ``compose``, ``run`` and ``check``: a child process with the secrets, and nothing else.

The path from ``secure-up app`` to the exec of docker compose, in order:

1. plan: the compose command, the compose files and the secrets files
   (:mod:`secure_up.launch.compose`);
2. decrypt the secrets files in memory (:mod:`secure_up.launch.secrets_loader`),
   inside a gpg session that is closed before anything runs;
3. preflight: every variable the compose files need is set somewhere, or
   nothing starts (:mod:`secure_up.launch.preflight`);
4. exec compose, or run it with its output masked (:mod:`secure_up.system.process`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

from secure_up.errors import ExitCode, SecureUpError
from secure_up.keys.services import key_services
from secure_up.launch import compose
from secure_up.launch.secret_values import SecretValues
from secure_up.launch.secrets_loader import load_secret_values
from secure_up.system import process

if TYPE_CHECKING:
    from secure_up.launch.preflight import PreflightReport

#: Our own settings, never handed on to the child (one of them may hold a private key).
#: Our own variables, and sops' age key variables (a key, a key file, a command that prints
#: one): the child needs none of them, and they open every secrets file.
_OWN_VARIABLE_PREFIX = ("SECURE_UP_", "SOPS_AGE_KEY")


class RunOptions:
    """The options every running command shares."""

    # A plain class, not a dataclass: ``dataclasses`` (with ``inspect``) costs about
    # 8 ms of start-up, on the path benchmarked against `sops exec-env`.
    __slots__ = ("compose_files", "mask", "pristine", "project_name", "secrets_files", "verbose")

    def __init__(
        self,
        secrets_files: list[Path] | None = None,
        compose_files: list[Path] | None = None,
        project_name: str | None = None,
        pristine: bool = False,
        mask: bool = True,
        verbose: bool = False,
    ) -> None:
        self.secrets_files: list[Path] = [] if secrets_files is None else secrets_files
        self.compose_files: list[Path] = [] if compose_files is None else compose_files
        self.project_name = project_name
        self.pristine = pristine
        self.mask = mask
        self.verbose = verbose

    def __repr__(self) -> str:
        return (
            f"RunOptions(secrets_files={self.secrets_files!r}, "
            f"compose_files={self.compose_files!r}, project_name={self.project_name!r}, "
            f"pristine={self.pristine!r}, mask={self.mask!r}, verbose={self.verbose!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunOptions) or other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, unhashable as a dataclass


class _Context:
    # A plain class, not a dataclass: defining one costs about 0.5 ms at each start.
    __slots__ = ("cwd", "environ", "err", "options")

    def __init__(
        self, options: RunOptions, environ: Mapping[str, str], cwd: Path, err: TextIO
    ) -> None:
        self.options = options
        self.environ = environ
        self.cwd = cwd
        self.err = err

    def say(self, message: str) -> None:
        if self.options.verbose:
            self.err.write(f"secure-up: {message}\n")

    def warn(self, message: str) -> None:
        self.err.write(message.rstrip("\n") + "\n")

    def child_base(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.environ.items()
            if not name.startswith(_OWN_VARIABLE_PREFIX)
        }


def _context(options: RunOptions, environ: Mapping[str, str] | None, cwd: Path | None) -> _Context:
    return _Context(
        options, os.environ if environ is None else environ, cwd or Path.cwd(), sys.stderr
    )


def _decrypt(context: _Context, secrets_files: Sequence[Path]) -> SecretValues:
    if not secrets_files:
        context.warn(
            "warning: no secrets file found (-s, SECURE_UP_SECRETS, x-secure-up in the compose "
            "file, or secrets/environment.secrets): running without secrets"
        )
        return SecretValues()
    context.say("secrets from " + ", ".join(str(path) for path in secrets_files))
    with key_services(context.environ, interactive=sys.stdin.isatty()) as keys:
        secrets = load_secret_values(secrets_files, keys)
    context.say(f"{len(secrets)} secret(s): " + ", ".join(sorted(secrets)))
    return secrets


class _ComposePlan(NamedTuple):
    command: list[str]
    files: list[Path]
    secrets_files: list[Path]


def _plan_compose(context: _Context) -> _ComposePlan:
    options = context.options
    files = compose.find_compose_files(context.cwd, options.compose_files, context.environ)
    probe = compose.plugin_aware(process.probe, context.environ)
    command = compose.find_compose_command(context.environ, probe=probe)
    secrets_files = compose.find_secrets_files(
        options.secrets_files, context.environ, files, cwd=context.cwd
    )
    context.say("compose files " + ", ".join(str(path) for path in files))
    return _ComposePlan(command, files, secrets_files)


def _profiles(environ: Mapping[str, str], args: Sequence[str]) -> list[str]:
    profiles = [name for name in environ.get("COMPOSE_PROFILES", "").split(",") if name]
    for index, arg in enumerate(args):
        if arg == "--profile" and index + 1 < len(args):
            profiles.append(args[index + 1])
        elif arg.startswith("--profile="):
            profiles.append(arg.partition("=")[2])
    return profiles


def _preflight(
    context: _Context,
    plan: _ComposePlan,
    secrets: SecretValues,
    *,
    targets: Sequence[str] = (),
    profiles: Sequence[str] = (),
) -> PreflightReport:
    # Not needed by `run`, which is benchmarked against `sops exec-env`.
    from secure_up.launch import variables
    from secure_up.launch.preflight import preflight

    uses = variables.interpolated_variables(plan.files, profiles=profiles, targets=targets)
    env_names = variables.dotenv_names(compose.project_directory(plan.files))
    return preflight(uses, list(secrets), context.child_base(), env_names, root=context.cwd)


def _launch(context: _Context, argv: list[str], secrets: SecretValues) -> int:
    context.say("running: " + " ".join(argv))
    options = context.options
    return process.launch(
        argv,
        context.child_base(),
        secrets,
        pristine=options.pristine,
        mask=options.mask,
        github_mask=context.environ.get(process.GITHUB_MASK_VARIABLE) == "1",
    )


def _run_compose(
    context: _Context, args: list[str], *, targets: Sequence[str] = ()
) -> tuple[_ComposePlan, SecretValues]:
    plan = _plan_compose(context)
    secrets = _decrypt(context, plan.secrets_files)
    report = _preflight(
        context, plan, secrets, targets=targets, profiles=_profiles(context.environ, args)
    )
    report.raise_for_missing(_secrets_file_for_advice(plan))
    for name in report.unused_secrets:
        context.warn(f"warning: secret {name} is interpolated by no compose file")
    if report.exposed:
        context.say(
            f"{len(report.exposed)} secret(s) readable with `docker inspect`: see `secure-up check`"
        )
    return plan, secrets


def up(
    services: Sequence[str],
    *,
    attach: bool = False,
    options: RunOptions,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """``docker compose up -d SERVICE...`` with the secrets (in the foreground with ``attach``)."""
    context = _context(options, environ, cwd)
    plan, secrets = _run_compose(context, [], targets=services)
    argv = compose.plan_up(plan.command, plan.files, options.project_name, services, attach=attach)
    return _launch(context, compose.without_docker_cli(argv, context.environ, secrets), secrets)


def compose_command(
    args: Sequence[str],
    *,
    options: RunOptions,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Any compose command (``logs -f``, ``ps``, ``down``, ``exec``...) with the secrets."""
    if not args:
        raise SecureUpError(
            "no compose command given", "name one after `--`, e.g. `secure-up compose -- ps`"
        )
    context = _context(options, environ, cwd)
    plan, secrets = _run_compose(context, list(args))
    argv = compose.plan_compose_argv(plan.command, plan.files, options.project_name, args)
    return _launch(context, compose.without_docker_cli(argv, context.environ, secrets), secrets)


def run(
    argv: Sequence[str],
    *,
    options: RunOptions,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Any program with the secrets in its environment (``sops exec-env``, done right)."""
    context = _context(options, environ, cwd)
    try:
        compose_files = compose.find_compose_files(
            context.cwd, options.compose_files, context.environ
        )
    except SecureUpError:
        if options.compose_files:
            raise
        compose_files = []  # a plain program needs no compose file
    secrets_files = compose.find_secrets_files(
        options.secrets_files, context.environ, compose_files, cwd=context.cwd
    )
    secrets = _decrypt(context, secrets_files)
    return _launch(context, list(argv), secrets)


def check(
    *,
    options: RunOptions,
    json_output: bool = False,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """The preflight alone: what would be missing, unused or exposed. Runs nothing."""
    context = _context(options, environ, cwd)
    out = out or sys.stdout
    plan = _plan_compose(context)
    secrets = _decrypt(context, plan.secrets_files)
    report = _preflight(context, plan, secrets, profiles=_profiles(context.environ, []))
    from secure_up.renew.status import renew_warnings

    renewal_notes = renew_warnings(plan.files, plan.secrets_files, list(secrets))
    if json_output:
        out.write(report.to_json(renewal_notes) + "\n")
        return ExitCode.MISSING_VARIABLES if report.missing else ExitCode.OK
    from secure_up.console import table

    rows = [
        (
            variable.name,
            variable.source or ("MISSING" if variable.missing else "unset, has a default"),
            ", ".join(variable.services) or "outside services",
        )
        for variable in report.variables
    ]
    out.write(table(rows))
    for warning in [*report.warnings(), *renewal_notes]:
        out.write(warning + "\n")
    report.raise_for_missing(_secrets_file_for_advice(plan))
    files = ", ".join(str(path) for path in plan.files)
    out.write(f"ok: every variable {files} needs is set\n")
    return ExitCode.OK


def _secrets_file_for_advice(plan: _ComposePlan) -> Path:
    return plan.secrets_files[-1] if plan.secrets_files else compose.DEFAULT_SECRETS_FILE


def _cli_options(
    secrets: list[str] | None,
    file: list[str] | None,
    project_name: str | None,
    pristine: bool,
    no_mask: bool,
    verbose: bool,
) -> RunOptions:
    return RunOptions(
        secrets_files=[Path(path) for path in secrets or []],
        compose_files=[Path(path) for path in file or []],
        project_name=project_name,
        pristine=pristine,
        mask=not no_mask,
        verbose=verbose,
    )


def up_from_cli(
    services: list[str],
    *,
    attach: bool = False,
    secrets: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    pristine: bool = False,
    no_mask: bool = False,
    verbose: bool = False,
) -> int:
    """:func:`up` with the CLI's option names (the fast path calls this)."""
    options = _cli_options(secrets, file, project_name, pristine, no_mask, verbose)
    return up(services, attach=attach, options=options)


def compose_from_cli(
    args: list[str],
    *,
    secrets: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    pristine: bool = False,
    no_mask: bool = False,
    verbose: bool = False,
) -> int:
    """:func:`compose_command` with the CLI's option names (the fast path calls this)."""
    options = _cli_options(secrets, file, project_name, pristine, no_mask, verbose)
    return compose_command(args, options=options)


def run_from_cli(
    command: list[str],
    *,
    secrets: list[str] | None = None,
    file: list[str] | None = None,
    pristine: bool = False,
    no_mask: bool = False,
    verbose: bool = False,
) -> int:
    """:func:`run` with the CLI's option names (the fast path calls this)."""
    options = _cli_options(secrets, file, None, pristine, no_mask, verbose)
    return run(command, options=options)
