"""``renew``: a short story of calls over :mod:`secure_up.renew`.

Plan (compose files, secrets files, the renew block) -> the new values (asked
before any key is opened) -> decrypt and lock the file that holds them -> the
transaction -> a table (or JSON) of what happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from secure_up.console import Console
from secure_up.editing.values import read_value
from secure_up.errors import SecureUpError, UsageError
from secure_up.keys.services import KeyServices, key_services
from secure_up.launch import compose
from secure_up.launch.secret_values import SecretValues
from secure_up.launch.secrets_loader import load_secret_values
from secure_up.renew import state
from secure_up.renew.exec import ExecApplier
from secure_up.renew.interface import Applier, ServiceShell
from secure_up.renew.plan import ApplierSpec, RenewPlan, plan_renewal
from secure_up.renew.postgres import PostgresApplier
from secure_up.renew.redis import RedisApplier
from secure_up.renew.stack import ComposeStack, ServiceState
from secure_up.renew.swarm_stack import Redeploy, SwarmTaskStack
from secure_up.renew.transaction import LiveStack, Outcome, Renewal, RenewError
from secure_up.sopsfile import EncryptedFile
from secure_up.system import process
from secure_up.system.atomic import remove_stale_temporaries
from secure_up.system.locking import LockTimeoutError, locked

#: How long recreated services get to become healthy, by default.
DEFAULT_READY_TIMEOUT = 120.0


@dataclass
class RenewOptions:
    keys: list[str]
    secrets_files: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    project_name: str | None = None
    generate: bool = False
    length: int | None = None
    charset: str | None = None
    dry_run: bool = False
    json_output: bool = False
    resume: bool = False
    abort: bool = False
    timeout: float = DEFAULT_READY_TIMEOUT
    #: A Swarm stack deployed with `secure-up deploy`: the appliers exec into its tasks and
    #: the dependents roll by a redeploy; None: the compose project.
    stack: str | None = None
    keep: int = 1


def renew(
    options: RenewOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    console: Console | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    cwd = cwd or Path.cwd()
    _check_usage(options)
    files = compose.find_compose_files(cwd, options.compose_files, environ)
    options.compose_files = files
    secrets_files = compose.find_secrets_files(options.secrets_files, environ, files, cwd=cwd)
    if not secrets_files:
        raise UsageError(
            "no secrets file: renew changes a value in one",
            "name it with -s, or list it in x-secure-up.secrets of the compose file",
        )
    options.secrets_files = secrets_files  # a stack's redeploy reads the same ones
    if options.resume or options.abort:
        return _continue(options, files, secrets_files, environ, console)
    plan = plan_renewal(files, options.keys)
    if options.dry_run:
        _print_plan(plan, secrets_files, console.stdout, options.json_output)
        return 0
    new = _new_values(options, console)
    base = _child_base(environ)
    with key_services(environ, interactive=console.terminal is not None) as keys:
        secrets = load_secret_values(secrets_files, keys)
        target = _file_holding(options.keys, secrets, secrets_files)
        for key in options.keys:
            if secrets[key] == new[key]:
                raise UsageError(
                    f"the new value of {key} equals the current one", "give a different value"
                )
        with _locked(target):
            _refuse_pending(target)
            renewal = _renewal(options, plan, target, keys, secrets, base, environ, console, new)
            return _finish(options, console, lambda: renewal.start(new))


def _continue(
    options: RenewOptions,
    files: list[Path],
    secrets_files: list[Path],
    environ: Mapping[str, str],
    console: Console,
) -> int:
    pending = [path for path in secrets_files if state.peek(_real(path)) is not None]
    if not pending:
        console.note(
            "no renewal is pending: nothing to " + ("resume" if options.resume else "abort")
        )
        return 0
    target = pending[-1]
    with key_services(environ, interactive=console.terminal is not None) as keys:
        secrets = load_secret_values(secrets_files, keys)
        with _locked(target):
            record = state.load(_real(target), keys)
            if record is None:
                console.note("the pending renewal was finished meanwhile")
                return 0
            options.keys = options.keys or record.keys
            if options.stack is not None and record.stack not in (None, options.stack):
                raise UsageError(
                    f"the pending renewal is on stack {record.stack}, not {options.stack}",
                    "drop --stack: --resume and --abort use the recorded one",
                )
            options.stack = options.stack or record.stack
            plan = plan_renewal(files, record.keys)
            renewal = _renewal(
                options, plan, target, keys, secrets, _child_base(environ), environ, console,
                record.new_values,
            )  # fmt: skip
            if options.abort:
                return _finish(options, console, lambda: renewal.abort(record))
            return _finish(options, console, lambda: renewal.resume(record))


def _renewal(
    options: RenewOptions,
    plan: RenewPlan,
    target: Path,
    keys: KeyServices,
    secrets: SecretValues,
    base: dict[str, str],
    environ: Mapping[str, str],
    console: Console,
    new: Mapping[str, str],
) -> Renewal:
    hidden = [*(secrets[key] for key in plan_keys(plan)), *new.values()]
    stack: LiveStack
    shell: ServiceShell
    restart = plan.services_to_restart
    if options.stack is not None:
        swarm = SwarmTaskStack(
            options.stack,
            base,
            _redeploy(options.stack, options, plan_keys(plan), environ, console),
            hidden=hidden,
        )
        stack, shell = swarm, swarm
        # Swarm rolls every service whose secret versions change, the database's own too.
        restart = list(
            dict.fromkeys([*restart, *(s.service for p in plan.secrets for s in p.appliers)])
        )
    else:
        probe = compose.plugin_aware(process.probe, environ)
        command = compose.find_compose_command(environ, probe=probe)
        compose_stack = ComposeStack(
            command, plan.compose_files, options.project_name, base, hidden=hidden
        )
        compose_stack.secrets = secrets
        stack, shell = compose_stack, compose_stack
    appliers = [
        (secret.key, _applier(spec, shell, secret.key))
        for secret in plan.secrets
        for spec in secret.appliers
    ]
    decrypted = EncryptedFile.read(target).decrypt(keys)
    return Renewal(
        keys=[secret.key for secret in plan.secrets],
        decrypted=decrypted,
        secrets_file=_real(target),
        appliers=appliers,
        stack=stack,
        key_services=keys,
        secrets=secrets,
        restart=restart,
        restart_only_running=options.stack is None
        and not any(secret.restart_declared for secret in plan.secrets),
        ready_timeout=options.timeout,
        progress=lambda message: console.note(f"renew: {message}"),  # a log of steps, kept
        stack_name=options.stack,
    )


def plan_keys(plan: RenewPlan) -> list[str]:
    return [secret.key for secret in plan.secrets]


def _redeploy(
    stack: str,
    options: RenewOptions,
    keys: list[str],
    environ: Mapping[str, str],
    console: Console,
) -> Redeploy:
    """Step (f) on a stack: ``deploy`` with the file as written, through the deploy target."""

    def redeploy() -> list[ServiceState]:
        # The deploy target loads only here.
        from secure_up.commands import deploy
        from secure_up.targets.swarm import render_report

        deploy_options = deploy.DeployOptions(
            secrets_files=list(options.secrets_files),
            compose_files=list(options.compose_files),
            keep=options.keep,
            timeout=max(options.timeout, 60.0),
        )
        console.note(f"renew: redeploying stack {stack} with the new secret versions")
        _services, result = deploy.redeploy_dependents(
            stack, keys, deploy_options, environ=environ, err=console.stderr
        )
        for line in render_report(result, json_output=False).splitlines():
            console.note(f"renew: deploy: {line}")
        if not result.converged:
            failed = [s for s in result.services if not s.converged]
            raise SecureUpError(
                "stack did not converge: "
                + ", ".join(f"{s.name} {s.tasks} {s.error}".strip() for s in failed),
                f"see `docker service ps {stack}_SERVICE --no-trunc`",
            )
        return [
            ServiceState(s.name, "converged" if s.converged else f"not converged: {s.error}")
            for s in result.services
        ]

    return redeploy


def _applier(spec: ApplierSpec, stack: ServiceShell, key: str) -> Applier:
    if spec.kind == "postgres":
        return PostgresApplier(stack, spec.service, spec.options)
    if spec.kind == "redis":
        return RedisApplier(stack, spec.service, spec.options)
    return ExecApplier(stack, spec.service, spec.options, key)


def _finish(options: RenewOptions, console: Console, run: Callable[[], Outcome]) -> int:
    try:
        outcome = run()
    except RenewError as error:
        _report(error.outcome, console, options.json_output)
        raise
    _report(outcome, console, options.json_output)
    return 0


# -- input and checks ----------------------------------------------------------------------------


def _check_usage(options: RenewOptions) -> None:
    if options.resume and options.abort:
        raise UsageError("--resume and --abort exclude each other", "choose one")
    if not options.keys and not (options.resume or options.abort):
        raise UsageError("no secret named", "name it: `secure-up renew DBPASS`")
    if (options.resume or options.abort) and (options.generate or options.dry_run):
        raise UsageError(
            "--resume and --abort use the recorded value", "drop --generate and --dry-run"
        )
    if options.keep < 0:
        raise UsageError("--keep must be 0 or more", "e.g. --keep 1 (the default)")
    if options.stack is not None and options.project_name:
        raise UsageError("--stack and -p exclude each other", "a stack has no compose project")
    if len(set(options.keys)) != len(options.keys):
        raise UsageError("a secret is named twice", "name each secret once")


def _new_values(options: RenewOptions, console: Console) -> dict[str, str]:
    if not options.generate and len(options.keys) > 1 and console.terminal is None:
        raise UsageError(
            "several secrets cannot share one value read from stdin",
            "renew them one at a time, or use --generate",
        )
    return {
        key: read_value(
            key,
            stdin=console.stdin,
            terminal=console.terminal,
            generate=options.generate,
            length=options.length,
            charset=options.charset,
        )
        for key in options.keys
    }


def _file_holding(keys: Sequence[str], secrets: SecretValues, secrets_files: list[Path]) -> Path:
    origins = set()
    for key in keys:
        if key not in secrets:
            raise UsageError(
                f"{key} is in none of the secrets files ({', '.join(map(str, secrets_files))})",
                f"add it first with `secure-up set FILE {key}`; renew changes an existing value",
            )
        origins.add(secrets.origin(key))
    if len(origins) != 1:
        raise UsageError(
            f"{', '.join(keys)} live in different secrets files", "renew them one file at a time"
        )
    return Path(str(origins.pop()))


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """The file's lock (the one set and edit take), refused at once when a renewal holds it."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(_real(target), 0))
        except LockTimeoutError as busy:
            record = state.peek(_real(target))
            first = record.describe() if record else busy.what
            raise SecureUpError(
                f"{target} is being changed by another command: {first}",
                "wait for it to finish; a second renewal never runs beside the first",
            ) from None
        remove_stale_temporaries(_real(target))
        yield


def _refuse_pending(target: Path) -> None:
    record = state.peek(_real(target))
    if record is not None:
        raise SecureUpError(
            f"{record.describe()}; its process is gone (killed?)",
            "finish it with `secure-up renew --resume`, or undo it with `secure-up renew --abort`",
        )


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _child_base(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith("SECURE_UP_")}


# -- output -------------------------------------------------------------------------------------


def _print_plan(plan: RenewPlan, secrets_files: list[Path], out: TextIO, as_json: bool) -> None:
    if as_json:
        data = {
            "secrets_files": [str(path) for path in secrets_files],
            "secrets": [
                {
                    "key": secret.key,
                    "appliers": [
                        {"kind": spec.kind, "service": spec.service, **dict(spec.options)}
                        for spec in secret.appliers
                    ],
                    "restart": secret.restart,
                }
                for secret in plan.secrets
            ],
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return
    out.write(f"secrets file: the one of {', '.join(map(str, secrets_files))} holding the key\n")
    for secret in plan.secrets:
        out.write(f"{secret.key}:\n")
        for spec in secret.appliers:
            detail = ""
            if spec.kind == "postgres":
                detail = "ALTER ROLE " + ", ".join(spec.options["roles"])
            elif spec.kind == "redis":
                user = spec.options.get("user")
                detail = f"ACL SETUSER {user}" if user else "CONFIG SET requirepass"
            else:
                detail = shlex.join(spec.options["command"]).splitlines()[0][:60]
            out.write(f"  apply  {spec.kind:<8} in {spec.service}: {detail}\n")
        how = "declared" if secret.restart_declared else "they use the variable; if running"
        out.write(f"  then recreate: {', '.join(secret.restart) or '(none)'} ({how})\n")
    out.write("dry run: nothing was changed\n")


def _report(outcome: Outcome, console: Console, as_json: bool) -> None:
    if as_json:
        console.json(outcome.to_json())
        return
    rows = [("secret", ", ".join(outcome.keys)), ("file", str(outcome.secrets_file))]
    rows += [(f"{name}", status) for name, status in outcome.appliers]
    rows += [(f"service {s.service}", s.status) for s in outcome.services]
    rows += [(f"service {name}", "not running (not recreated)") for name in outcome.skipped]
    rows.append(("result", outcome.result))
    if outcome.retry:
        rows.append(("retry", outcome.retry))
    console.table(rows)
