"""``deploy`` and ``stack rm``: a compose stack on Docker Swarm, no value in any spec.

The same path as ``up`` up to the preflight (compose files, secrets files, decrypt in
memory, every variable set somewhere or nothing happens), then a deploy target
(:mod:`secure_up.targets`) plans, applies and reports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from secure_up.errors import ExitCode, SecureUpError, UsageError
from secure_up.keys.services import key_services
from secure_up.launch import compose, variables
from secure_up.launch.preflight import preflight
from secure_up.launch.secret_values import SecretValues
from secure_up.launch.secrets_loader import load_secret_values
from secure_up.system import process
from secure_up.targets.interface import ApplyOptions, DeployRequest, DeployResult, dependents
from secure_up.targets.swarm import SwarmPlan, SwarmTarget
from secure_up.targets.swarm_translate import naming_key

_OWN_VARIABLE_PREFIX = "SECURE_UP_"


@dataclass
class DeployOptions:
    secrets_files: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    prune: bool = True
    keep: int = 1
    dry_run: bool = False
    json_output: bool = False
    timeout: float = 300.0
    rollback: bool = False


def _request(
    stack: str, options: DeployOptions, environ: Mapping[str, str], cwd: Path
) -> DeployRequest:
    files = compose.find_compose_files(cwd, options.compose_files, environ)
    secrets_files = compose.find_secrets_files(options.secrets_files, environ, files, cwd=cwd)
    data_keys: list[bytes] = []
    if secrets_files:
        with key_services(environ, interactive=sys.stdin.isatty()) as keys:
            secrets = load_secret_values(secrets_files, keys, data_keys=data_keys)
    else:
        secrets = SecretValues()
    base = {k: v for k, v in environ.items() if not k.startswith(_OWN_VARIABLE_PREFIX)}
    # The preflight of `up`: nothing is created while a variable is set nowhere.
    uses = variables.interpolated_variables(files)
    env_names = variables.dotenv_names(compose.project_directory(files))
    report = preflight(uses, list(secrets), base, env_names, root=cwd)
    advice = secrets_files[-1] if secrets_files else compose.DEFAULT_SECRETS_FILE
    report.raise_for_missing(advice)
    probe = compose.plugin_aware(process.probe, environ)
    command = compose.find_compose_command(environ, probe=probe)
    return DeployRequest(
        stack=stack,
        compose_files=tuple(files),
        secrets_files=tuple(secrets_files),
        secrets=secrets,
        naming_key=naming_key(data_keys) if data_keys else b"secure-up: no secrets file",
        environ=base,
        compose_command=tuple(command),
    )


def plan(
    stack: str,
    options: DeployOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    err: TextIO | None = None,
) -> tuple[SwarmTarget, SwarmPlan]:
    """Decrypt, preflight and translate: what ``deploy`` would do, changing nothing."""
    environ = os.environ if environ is None else environ
    target = SwarmTarget(environ, err or sys.stderr)
    request = _request(stack, options, environ, cwd or Path.cwd())
    return target, target.plan(request)


def deploy(
    stack: str,
    options: DeployOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``secure-up deploy STACK``: translate, create the new versions, roll, wait, prune."""
    if options.keep < 0:
        raise UsageError("--keep must be 0 or more", fix="e.g. --keep 1 (the default)")
    out = out or sys.stdout
    if options.rollback:
        return rollback(stack, options, environ=environ, out=out, err=err)
    target, stack_plan = plan(stack, options, environ=environ, cwd=cwd, err=err)
    if options.dry_run:
        out.write(target.dry_run(stack_plan))
        return ExitCode.OK
    result = target.apply(
        stack_plan, ApplyOptions(prune=options.prune, keep=options.keep, timeout=options.timeout)
    )
    out.write(target.report(result, json_output=options.json_output))
    if not result.converged:
        raise SecureUpError(
            f"stack {stack} did not converge (see the table above)",
            f"look at `docker service ps {stack}_SERVICE --no-trunc`; the old secret versions "
            "were kept, so `docker service rollback` works",
        )
    return ExitCode.OK


def redeploy_dependents(
    stack: str,
    variables: Sequence[str],
    options: DeployOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    err: TextIO | None = None,
) -> tuple[list[str], DeployResult]:
    """The seam for ``renew`` on a stack: redeploy it with the secrets file as it is now.

    Returns the services built from ``variables`` and the deploy's result. Swarm rolls
    exactly the services whose secret versions changed. The stack file is marked as made
    by a renewal of ``variables``, so ``--rollback`` will not roll back past it.
    """
    target, stack_plan = plan(stack, options, environ=environ, cwd=cwd, err=err)
    services = sorted({s for v in variables for s in dependents(stack_plan.stack.uses, v)})
    apply_options = ApplyOptions(
        prune=options.prune, keep=options.keep, timeout=options.timeout, renewed=tuple(variables)
    )
    return services, target.apply(stack_plan, apply_options)


def rollback(
    stack: str,
    options: DeployOptions,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``secure-up deploy STACK --rollback``: the previous stack file and its kept versions.

    Nothing is decrypted: the secret versions the previous deploy used still exist (``--keep``)
    or the rollback is refused. A deploy made by ``renew`` is never rolled back: the live
    system (the database) already refuses the old value the services would get back.
    """
    environ = os.environ if environ is None else environ
    out = out or sys.stdout
    if options.secrets_files or options.compose_files:
        raise UsageError(
            "--rollback reads no compose or secrets file: it redeploys the stack file kept in "
            "the Swarm",
            "drop -s and -f",
        )
    target = SwarmTarget(environ, err or sys.stderr)
    back = target.rollback_plan(stack)
    if options.dry_run:
        out.write(
            f"stack {stack}: would roll back to {back.previous} (from {back.current})\n"
            + "".join(f"  uses {name}\n" for name in back.secrets)
        )
        return ExitCode.OK
    result = target.rollback(back, options.timeout)
    out.write(target.report(result, json_output=options.json_output))
    if not result.converged:
        raise SecureUpError(
            f"stack {stack} did not converge after the rollback (see the table above)",
            f"look at `docker service ps {stack}_SERVICE --no-trunc`; "
            "`secure-up deploy --rollback` again rolls forward",
        )
    return ExitCode.OK


def stack_rm(
    stack: str,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``secure-up stack rm STACK``: the services, then every secret and config version."""
    environ = os.environ if environ is None else environ
    out = out or sys.stdout
    result = SwarmTarget(environ, err or sys.stderr).remove(stack, environ)
    for name in result.services:
        out.write(f"removed service {name}\n")
    for name in result.removed:
        out.write(f"removed {name}\n")
    out.write(f"stack {stack}: removed\n")
    return ExitCode.OK
