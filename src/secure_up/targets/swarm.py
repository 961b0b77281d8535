"""The Docker Swarm deploy target: ``docker stack deploy`` with secrets that hold every value.

The steps, each safe to run again (an interrupted deploy is finished by the next one):

1. plan: ``docker compose config`` with placeholders instead of values (Compose never sees
   a value), ``docker image inspect`` for the entrypoints the shim takes over, then the
   pure translation (:mod:`.swarm_translate`);
2. create the secret and config versions that do not exist yet, each value on the stdin
   of ``docker secret create NAME -``;
3. ``docker stack deploy`` with the stack file on stdin (it holds names, never a value),
   unless the same stack file was deployed last and every service exists: then nothing
   is touched;
4. wait until every service runs its current spec (healthy where it has a healthcheck)
   and every job has completed once;
5. remove the versions no service uses, keeping the ``keep`` newest of each for a rollback.

Every program runs through :func:`secure_up.system.process.capture`, the one helper that spawns.
"""

from __future__ import annotations

import base64
import json
import secrets as random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from secure_up.errors import SecureUpError
from secure_up.launch import compose
from secure_up.system import process
from secure_up.targets import swarm_translate as tr
from secure_up.targets.interface import (
    ApplyOptions,
    DeployRequest,
    DeployResult,
    RemoveResult,
    ServiceResult,
)

_OWN_VARIABLE_PREFIX = "SECURE_UP_"
_POLL_SECONDS = 1.0
#: On a stack-file config: the secrets ``renew`` changed live right before that deploy.
RENEWED_LABEL = f"{tr.LABEL_PREFIX}renewed"
_FAILED_UPDATE_STATES = ("paused", "rollback_started", "rollback_paused", "rollback_completed")


class SwarmError(SecureUpError):
    """Docker or the Swarm refused a step of the deploy."""


class Docker:
    """``docker ARGS`` through process.capture; failures become errors that say what to do."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = {k: v for k, v in environ.items() if not k.startswith(_OWN_VARIABLE_PREFIX)}

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        timeout: float = 120,
        check: bool = True,
        fix: str = "see Docker's message above",
    ) -> str:
        result = process.capture(["docker", *args], env=self.env, timeout=timeout, input=stdin)
        if check and result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise SwarmError(f"`docker {' '.join(args[:3])}` failed: {message}", fix)
        return result.stdout.decode(errors="replace")

    def ok(self, *args: str) -> bool:
        return process.capture(["docker", *args], env=self.env, timeout=60).returncode == 0

    def inspect(self, kind: str, names: Sequence[str]) -> list[dict[str, Any]]:
        if not names:
            return []
        command = [kind, "inspect"] if kind != "task" else ["inspect", "--type", "task"]
        found: list[dict[str, Any]] = json.loads(self.run(*command, *names))
        return found


class _Shape(Protocol):
    """What convergence needs of a stack: its name, its services, which of them are jobs."""

    @property
    def stack(self) -> str: ...

    @property
    def services(self) -> Sequence[str]: ...

    @property
    def jobs(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Rollback:
    """The stack file deployed before the current one, read back from its config."""

    stack: str
    current: str  # the config names of the two stack files
    previous: str
    previous_labels: dict[str, str]  # kept when it becomes the newest again
    stack_yaml: str
    services: tuple[str, ...]
    jobs: tuple[str, ...]
    secrets: tuple[str, ...]  # the secret versions it uses


class SwarmPlan:
    """The translated stack plus the stack file's own config (for "unchanged" and rollback)."""

    def __init__(self, stack: tr.StackPlan) -> None:
        self.stack = stack
        self.stack_yaml = stack.stack_yaml()
        self.stack_config = tr.ConfigSpec(
            tr.content_name(stack.stack, "stack", self.stack_yaml),
            tr.labels(stack.stack, "stackfile"),
            self.stack_yaml,
        )

    def __repr__(self) -> str:
        return f"SwarmPlan({self.stack.stack}, services={list(self.stack.services)})"


class SwarmTarget:
    """Docker Swarm, through the ``docker`` CLI of this machine."""

    name = "swarm"

    def __init__(self, environ: Mapping[str, str], err: TextIO) -> None:
        self.docker = Docker(environ)
        self.err = err

    def say(self, message: str) -> None:
        self.err.write(f"secure-up: {message}\n")
        self.err.flush()

    # -- plan ------------------------------------------------------------------------

    def plan(self, request: DeployRequest) -> SwarmPlan:
        tokens = tr.placeholder_tokens(request.secrets, random.token_hex(6).upper())
        model = self._compose_model(request, tokens)
        images = {image: self._image_config(image) for image in tr.images_to_inspect(model, tokens)}
        stack = tr.translate(
            request.stack,
            model,
            tokens,
            request.secrets,
            request.naming_key,
            images,
            secrets_source=",".join(str(path) for path in request.secrets_files),
        )
        return SwarmPlan(stack)

    def _compose_model(self, request: DeployRequest, tokens: Mapping[str, str]) -> dict[str, Any]:
        import yaml  # only deploy reads it

        # Compose interpolates the placeholders, never a value; empty secrets are just empty.
        empty = {name: "" for name in request.secrets if name not in tokens}
        env = {**self.docker.env, **request.environ, **empty, **tokens}
        env = {k: v for k, v in env.items() if not k.startswith(_OWN_VARIABLE_PREFIX)}
        argv = compose.plan_compose_argv(
            request.compose_command, request.compose_files, request.stack, ["config"]
        )
        result = process.capture(argv, env=env, timeout=60)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise SwarmError(
                f"`compose config` rejected the compose files: {message}",
                "fix the compose files (`docker compose config` shows the problem)",
            )
        model = yaml.safe_load(result.stdout)
        if not isinstance(model, dict):
            raise SwarmError("`compose config` printed no compose model", "check the files")
        return model

    def _image_config(self, image: str) -> tr.ImageConfig | None:
        result = process.capture(
            ["docker", "image", "inspect", "--format", "{{json .Config}}", image],
            env=self.docker.env,
            timeout=60,
        )
        if result.returncode != 0:
            return None
        config = json.loads(result.stdout) or {}
        return tr.ImageConfig(tuple(config.get("Entrypoint") or ()), tuple(config.get("Cmd") or ()))

    def dry_run(self, plan: SwarmPlan) -> str:
        lines = [f"# stack {plan.stack.stack}: the stack file secure-up would deploy"]
        lines += [f"# note: {note}" for note in plan.stack.notes]
        lines += [
            f"# secret {spec.name}  <secret {spec.variable} v:{spec.version}>"
            for spec in plan.stack.secrets
        ]
        return "\n".join(lines) + "\n" + plan.stack.dry_run_yaml()

    # -- apply -----------------------------------------------------------------------

    def require_manager(self) -> None:
        state = self.docker.run(
            "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"
        )
        if state.split() != ["active", "true"]:
            raise SwarmError(
                "this Docker engine is not a Swarm manager",
                "run `docker swarm init` (one machine) or point DOCKER_HOST at a manager",
            )

    def apply(self, plan: SwarmPlan, options: ApplyOptions) -> DeployResult:
        self.require_manager()
        stack = plan.stack
        existing_secrets = self._existing("secret", stack.stack)
        existing_configs = self._existing("config", stack.stack)
        live = self._live_services(stack.stack)
        full_names = [f"{stack.stack}_{name}" for name in stack.services]
        stack_configs = sorted(
            (item for item in existing_configs.values() if item.group == "stackfile"),
            key=lambda item: item.created,
        )
        unchanged = (
            bool(stack_configs)
            and stack_configs[-1].name == plan.stack_config.name
            and all(name in live for name in full_names)
        )
        created: list[str] = []
        if unchanged:
            self.say(f"stack {stack.stack} is unchanged since its last deploy: nothing to do")
        else:
            created = self._create_missing(stack, existing_secrets, existing_configs)
            self.say(f"deploying stack {stack.stack} ({len(stack.services)} services)")
            argv = ["stack", "deploy", "--resolve-image", "never"]
            if options.prune:
                argv.append("--prune")
            self.docker.run(
                *argv, "--compose-file", "-", stack.stack, stdin=plan.stack_yaml.encode()
            )
        services = self._wait(stack, live, options.timeout, changed=not unchanged)
        converged = all(service.converged for service in services)
        removed: list[str] = []
        if converged and not unchanged:
            self._record_stack_file(plan.stack_config, existing_configs, options.renewed)
        if converged and options.prune:
            removed = self._prune(stack.stack, options.keep)
        in_plan = {spec.name for spec in stack.secrets}
        kept = sorted(
            name
            for name in {*existing_secrets, *in_plan}
            if name not in created and name not in removed
        )
        return DeployResult(
            stack=stack.stack,
            changed=not unchanged,
            services=tuple(services),
            created=tuple(created),
            kept=tuple(kept),
            removed=tuple(removed),
            notes=stack.notes,
        )

    def _existing(self, kind: str, stack: str) -> dict[str, tr.ExistingObject]:
        ids = self.docker.run(
            kind, "ls", "--quiet", "--filter", f"label={tr.LABEL_PREFIX}stack={stack}"
        ).split()
        found = {}
        for item in self.docker.inspect(kind, ids):
            spec_labels = item["Spec"].get("Labels") or {}
            kind_label = spec_labels.get(f"{tr.LABEL_PREFIX}kind", "")
            owner = spec_labels.get(f"{tr.LABEL_PREFIX}owner", "")
            variable = spec_labels.get(f"{tr.LABEL_PREFIX}variable", "")
            group = f"{kind_label}:{owner}:{variable}" if kind_label == "secret" else kind_label
            name = item["Spec"]["Name"]
            found[name] = tr.ExistingObject(name, group, item["CreatedAt"])
        return found

    def _create_missing(
        self,
        stack: tr.StackPlan,
        secrets: Mapping[str, tr.ExistingObject],
        configs: Mapping[str, tr.ExistingObject],
    ) -> list[str]:
        created = []
        for spec in stack.secrets:
            if spec.name in secrets:
                continue
            label_args = [arg for k, v in spec.labels.items() for arg in ("--label", f"{k}={v}")]
            # The value goes on stdin: never an argv, never a file.
            self.docker.run(
                "secret",
                "create",
                *label_args,
                spec.name,
                "-",
                stdin=spec.value.encode("utf-8", "surrogateescape"),
            )
            self.say(f"created secret {spec.name} ({spec.owner} {spec.variable})")
            created.append(spec.name)
        for config in stack.configs:
            if config.name not in configs:
                self._create_config(config)
        return created

    def _create_config(self, config: tr.ConfigSpec, **more: str) -> None:
        labels = {**config.labels, **more}
        label_args = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
        self.docker.run(
            "config", "create", *label_args, config.name, "-", stdin=config.content.encode()
        )

    def _record_stack_file(
        self,
        config: tr.ConfigSpec,
        configs: Mapping[str, tr.ExistingObject],
        renewed: Sequence[str] = (),
    ) -> None:
        # The newest stack-file config is what was deployed last: re-create an older twin.
        if config.name in configs:
            self.docker.run("config", "rm", config.name, check=False)
        more = {RENEWED_LABEL: ",".join(renewed)} if renewed else {}
        self._create_config(config, **more)

    def _live_services(self, stack: str) -> dict[str, dict[str, Any]]:
        ids = self.docker.run(
            "service", "ls", "--quiet", "--filter", f"label={tr.STACK_NAMESPACE_LABEL}={stack}"
        ).split()
        return {item["Spec"]["Name"]: item for item in self.docker.inspect("service", ids)}

    # -- convergence -------------------------------------------------------------------

    def _wait(
        self,
        stack: _Shape,
        before: Mapping[str, dict[str, Any]],
        timeout: float,
        *,
        changed: bool,
    ) -> list[ServiceResult]:
        from secure_up.console import Console

        console = Console(None, sys.stdout, self.err, None)  # progress on a terminal only
        started = time.monotonic()
        deadline = started + timeout
        while True:
            live = self._live_services(stack.stack)
            results = [
                self._service_state(stack, name, before, live, changed=changed)
                for name in stack.services
            ]
            # A service whose update Swarm paused or rolled back will not converge by waiting.
            settled = all(r.converged or r.error.startswith("update ") for r in results)
            if settled or time.monotonic() > deadline:
                console.end_progress()
                return results
            done = sum(result.converged for result in results)
            console.progress(
                f"rolling out {stack.stack}: {done}/{len(results)} services converged, "
                f"{time.monotonic() - started:.0f} s"
            )
            time.sleep(_POLL_SECONDS)

    def _service_state(
        self,
        stack: _Shape,
        name: str,
        before: Mapping[str, dict[str, Any]],
        live: Mapping[str, dict[str, Any]],
        *,
        changed: bool,
    ) -> ServiceResult:
        full = f"{stack.stack}_{name}"
        kind = "job" if name in stack.jobs else "service"
        service = live.get(full)
        if service is None:
            return ServiceResult(name, kind, "missing", False, "0", "the service does not exist")
        if full not in before:
            change = "created"
        elif changed and before[full]["Spec"] != service["Spec"]:
            change = "updated"
        else:
            change = "unchanged"
        update = (service.get("UpdateStatus") or {}).get("State", "")
        template = _fingerprint(service["Spec"]["TaskTemplate"])
        ids = self.docker.run("service", "ps", "--quiet", "--no-trunc", full).split()
        tasks = (
            [t for t in self.docker.inspect("task", ids) if _fingerprint(t["Spec"]) == template]
            if ids
            else []
        )
        if update in _FAILED_UPDATE_STATES:
            message = (service.get("UpdateStatus") or {}).get("Message", "")
            return ServiceResult(name, kind, change, False, "-", f"update {update}: {message}")
        errors = [t["Status"].get("Err", "") for t in tasks if t["Status"].get("Err")]
        if kind == "job":
            done = any(t["Status"]["State"] == "complete" for t in tasks)
            return ServiceResult(
                name,
                kind,
                change,
                done,
                "complete" if done else "running",
                "" if done else (errors[-1] if errors else ""),
            )
        replicas = int(
            ((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1)
        )
        running = sum(
            1
            for t in tasks
            if t["Status"]["State"] == "running" and t.get("DesiredState") == "running"
        )
        converged = running >= replicas and update not in ("updating",)
        return ServiceResult(
            name,
            kind,
            change,
            converged,
            f"{running}/{replicas}",
            "" if converged else (errors[-1] if errors else ""),
        )

    # -- pruning ----------------------------------------------------------------------

    def _prune(self, stack: str, keep: int) -> list[str]:
        live = self._live_services(stack)
        in_use_secrets: set[str] = set()
        in_use_configs: set[str] = set()
        for service in live.values():
            container = service["Spec"]["TaskTemplate"].get("ContainerSpec") or {}
            in_use_secrets.update(s["SecretName"] for s in container.get("Secrets") or [])
            in_use_configs.update(c["ConfigName"] for c in container.get("Configs") or [])
        removed = []
        for kind, in_use in (("secret", in_use_secrets), ("config", in_use_configs)):
            existing = self._existing(kind, stack)
            if kind == "config":  # the newest stack file is the one in use
                files = sorted(
                    (item for item in existing.values() if item.group == "stackfile"),
                    key=lambda item: item.created,
                )
                in_use = in_use | {files[-1].name} if files else in_use
            for name in tr.to_remove(existing.values(), in_use, keep):
                if self.docker.ok(kind, "rm", name):
                    self.say(f"removed {kind} {name}")
                    if kind == "secret":
                        removed.append(name)
        return removed

    # -- rollback ---------------------------------------------------------------------

    def rollback_plan(self, stack: str) -> Rollback:
        """The previous stack file (kept by ``--keep``) and what it uses; changes nothing."""
        import yaml  # only deploy reads it

        self.require_manager()
        existing = self._existing("config", stack)
        files = sorted(
            (item for item in existing.values() if item.group == "stackfile"),
            key=lambda item: item.created,
        )
        if not files:
            raise SwarmError(
                f"stack {stack} was never deployed by secure-up: nothing to roll back",
                f"deploy it with `secure-up deploy {stack}`",
            )
        current = files[-1]
        labels = self.docker.inspect("config", [current.name])[0]["Spec"].get("Labels") or {}
        renewed = [name for name in labels.get(RENEWED_LABEL, "").split(",") if name]
        if renewed:
            raise SwarmError(
                f"the current deploy of stack {stack} was made by `secure-up renew "
                f"{' '.join(renewed)}`, which changed the value in the live system (the "
                "database) too: a rollback would hand the services the old value, which "
                "it refuses now",
                f"renew it again (`secure-up renew --stack {stack} {renewed[0]}`), or deploy "
                f"a fix with `secure-up deploy {stack}`",
            )
        if len(files) < 2:
            raise SwarmError(
                f"stack {stack} has no previous stack file to roll back to",
                "a rollback needs a deploy kept by --keep 1 or more (the default); "
                "deploy the version you want with `secure-up deploy` instead",
            )
        previous = files[-2]
        spec = self.docker.inspect("config", [previous.name])[0]["Spec"]
        text = base64.b64decode(spec["Data"]).decode("utf-8")
        document = yaml.safe_load(text) or {}
        services = document.get("services") or {}
        jobs = tuple(
            name
            for name, spec in services.items()
            # the translation marks a job: its update may "fail" (the task ends by design)
            if ((spec.get("deploy") or {}).get("update_config") or {}).get("failure_action")
            == "continue"
        )
        used = tuple(
            sorted(
                str(entry["name"])
                for entry in (document.get("secrets") or {}).values()
                if isinstance(entry, dict) and entry.get("external") and "name" in entry
            )
        )
        return Rollback(
            stack, current.name, previous.name, dict(spec.get("Labels") or {}), text,
            tuple(services), jobs, used,
        )  # fmt: skip

    def rollback(self, plan: Rollback, timeout: float) -> DeployResult:
        """Deploy the previous stack file again; its secret versions must still exist."""
        existing_secrets = self._existing("secret", plan.stack)
        missing = [name for name in plan.secrets if name not in existing_secrets]
        if missing:
            raise SwarmError(
                f"the previous deploy of stack {plan.stack} used secret versions that were "
                f"removed since: {', '.join(missing)}",
                "deploy the values you want with `secure-up deploy` (a rollback never "
                "decrypts; it reuses the kept versions)",
            )
        live = self._live_services(plan.stack)
        self.say(f"rolling stack {plan.stack} back to its previous stack file")
        self.docker.run(
            "stack", "deploy", "--resolve-image", "never", "--prune", "--compose-file", "-",
            plan.stack, stdin=plan.stack_yaml.encode(),
        )  # fmt: skip
        services = self._wait(plan, live, timeout, changed=True)
        converged = all(service.converged for service in services)
        if converged:
            # The rolled-back file becomes the newest: a second rollback rolls forward again.
            configs = self._existing("config", plan.stack)
            spec = tr.ConfigSpec(plan.previous, tr.labels(plan.stack, "stackfile"), plan.stack_yaml)
            self._record_stack_file(spec, configs)
        return DeployResult(
            stack=plan.stack,
            changed=True,
            services=tuple(services),
            created=(),
            kept=tuple(sorted(existing_secrets)),
            removed=(),
            notes=(f"rolled back to {plan.previous} (from {plan.current})",),
        )

    # -- report and remove -------------------------------------------------------------

    def report(self, result: DeployResult, *, json_output: bool) -> str:
        return render_report(result, json_output=json_output)

    def remove(self, stack: str, environ: Mapping[str, str]) -> RemoveResult:
        self.require_manager()
        live = sorted(self._live_services(stack))
        # `docker stack rm` removes what carries the namespace label itself: list it first.
        made = {kind: sorted(self._existing(kind, stack)) for kind in ("secret", "config")}
        if live:
            self.docker.run("stack", "rm", stack)
        deadline = time.monotonic() + 120
        while self._live_services(stack) or self._stack_containers(stack):
            if time.monotonic() > deadline:
                raise SwarmError(
                    f"the services of stack {stack} did not stop within 120 s",
                    f"look at `docker stack ps {stack}`, then run "
                    f"`secure-up stack rm {stack}` again",
                )
            time.sleep(_POLL_SECONDS)
        for kind in ("secret", "config"):
            for name in sorted(self._existing(kind, stack)):
                self.docker.run(kind, "rm", name)
        removed = made["secret"] + made["config"]
        return RemoveResult(stack, tuple(live), tuple(removed))

    def _stack_containers(self, stack: str) -> list[str]:
        return self.docker.run(
            "ps", "--all", "--quiet", "--filter", f"label={tr.STACK_NAMESPACE_LABEL}={stack}"
        ).split()


#: What tells a task of the current spec from an older one (Swarm fills other defaults in
#: the service's copy only, so whole specs never compare equal).
_FINGERPRINT_FIELDS = ("Image", "Command", "Args", "Env", "Secrets", "Configs", "Mounts", "User")


def _fingerprint(task_spec: Mapping[str, Any]) -> str:
    container = task_spec.get("ContainerSpec") or {}
    fields = {name: container.get(name) for name in _FINGERPRINT_FIELDS}
    fields["ForceUpdate"] = task_spec.get("ForceUpdate", 0)
    return json.dumps(fields, sort_keys=True)


def render_report(result: DeployResult, *, json_output: bool) -> str:
    """The deploy result as a table, or as JSON: names, states and versions, never a value."""
    if json_output:
        return (
            json.dumps(
                {
                    "stack": result.stack,
                    "changed": result.changed,
                    "converged": result.converged,
                    "services": [vars(service) for service in result.services],
                    "secrets": {
                        "created": list(result.created),
                        "kept": list(result.kept),
                        "removed": list(result.removed),
                    },
                    "notes": list(result.notes),
                },
                indent=2,
            )
            + "\n"
        )
    from secure_up.console import table

    rows = [
        (s.name, s.kind, s.change, s.tasks, "yes" if s.converged else f"NO: {s.error}".strip())
        for s in result.services
    ]
    lines = [table(rows, ("SERVICE", "KIND", "CHANGE", "TASKS", "CONVERGED"))]
    secret_rows = [(name, "created") for name in result.created]
    secret_rows += [(name, "kept") for name in result.kept]
    secret_rows += [(name, "removed") for name in result.removed]
    lines.append(table(secret_rows, ("SECRET VERSION", "STATE")).rstrip("\n"))
    lines += [f"note: {note}" for note in result.notes]
    status = "converged" if result.converged else "NOT converged"
    lines.append(f"stack {result.stack}: {status}" + ("" if result.changed else " (unchanged)"))
    return "\n".join(lines) + "\n"
