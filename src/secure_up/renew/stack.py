"""The running compose project: exec into a service, recreate services, wait for their health.

Compose needs the secrets to interpolate the compose files even for ``exec``,
so every call gets them in its environment (:func:`process.child_environment`);
values a command must see travel on its stdin. Everything it prints is masked
with the old and the new values before anyone reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from secure_up.launch import compose
from secure_up.launch.masking import Masker
from secure_up.launch.secret_values import SecretValues
from secure_up.system import process

#: How long one ``compose exec`` may take (a psql login, a redis-cli command).
EXEC_TIMEOUT = 60.0


@dataclass(frozen=True)
class Result:
    code: int
    output: str


def masked_output(masker: Masker, data: bytes) -> str:
    """A program's output with every value (and its encodings) masked, as text."""
    twin = masker.fresh()
    return (twin.feed(data) + twin.flush()).decode("utf-8", "replace")


def environment_flags(environment: Mapping[str, str] | None) -> list[str]:
    """``-e NAME=VALUE`` for ``exec``: names and values the caller made (never a secret)."""
    return [
        part for name, value in (environment or {}).items() for part in ("-e", f"{name}={value}")
    ]


@dataclass(frozen=True)
class ServiceState:
    """Where a recreated service is: ``healthy``, ``running``, ``starting``, or why not.

    ``converged``: a Swarm service that runs its new spec (or a job that completed).
    """

    service: str
    status: str

    @property
    def ready(self) -> bool:
        return self.status in ("healthy", "running", "converged")

    @property
    def failed(self) -> bool:
        return self.status not in ("healthy", "running", "starting", "converged")


class ComposeStack:
    """One compose project as ``secure-up up`` would address it."""

    def __init__(
        self,
        command: Sequence[str],
        files: Sequence[Path],
        project_name: str | None,
        base_environ: Mapping[str, str],
        *,
        hidden: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._command = list(command)
        self._files = list(files)
        self._project = project_name
        self._base = dict(base_environ)
        self._masker = Masker(hidden)
        self._clock = clock
        self._sleep = sleep
        self.secrets = SecretValues()

    def __repr__(self) -> str:
        return f"ComposeStack(files={self._files!r}, values=<hidden>)"

    def argv(self, *args: str) -> list[str]:
        return compose.plan_compose_argv(self._command, self._files, self._project, args)

    def _run(self, args: Sequence[str], stdin: bytes | None, timeout: float) -> Result:
        env = process.child_environment(self._base, self.secrets, pristine=False)
        done = process.capture(self.argv(*args), env=env, timeout=timeout, input=stdin)
        return Result(done.returncode, masked_output(self._masker, done.stdout + done.stderr))

    def exec(
        self,
        service: str,
        command: list[str],
        *,
        stdin: bytes,
        environment: dict[str, str] | None = None,
    ) -> Result:
        """``compose exec -T [-e NAME=VALUE...] SERVICE COMMAND`` with ``stdin`` (names only)."""
        flags = environment_flags(environment)
        return self._run(["exec", "-T", *flags, service, *command], stdin, EXEC_TIMEOUT)

    def running_services(self) -> set[str]:
        result = self._run(["ps", "--services", "--filter", "status=running"], None, EXEC_TIMEOUT)
        return set(result.output.split()) if result.code == 0 else set()

    def recreate(self, services: Sequence[str]) -> Result:
        """``up -d --no-deps --force-recreate SERVICE...`` with the secrets now in ``secrets``."""
        args = ["up", "-d", "--no-deps", "--force-recreate", *services]
        return self._run(args, None, 300.0)

    def retry_command(self, services: Sequence[str]) -> str:
        return "secure-up compose -- up -d --no-deps --force-recreate " + " ".join(services)

    def states(self, services: Sequence[str]) -> list[ServiceState]:
        return [ServiceState(service, self._state(service)) for service in services]

    def _state(self, service: str) -> str:
        ids = self._run(["ps", "-q", service], None, EXEC_TIMEOUT)
        containers = ids.output.split() if ids.code == 0 else []
        if not containers:
            return "no container"
        done = process.capture(
            ["docker", "inspect", "--format", "{{json .State}}", *containers],
            env=self._base,
            timeout=EXEC_TIMEOUT,
        )
        if done.returncode != 0:
            return "not inspectable"
        statuses = [_status(json.loads(line)) for line in done.stdout.decode().splitlines() if line]
        for bad in ("exited", "dead", "unhealthy", "restarting", "starting", "created"):
            if bad in statuses:
                return bad
        return statuses[0] if statuses else "no container"

    def wait_ready(self, services: Sequence[str], timeout: float) -> list[ServiceState]:
        """Each service's state once all are ready, one has failed, or ``timeout`` passed."""
        deadline = self._clock() + timeout
        while True:
            states = self.states(services)
            if all(state.ready for state in states) or self._clock() >= deadline:
                return states
            if any(state.failed and state.status != "created" for state in states):
                return states
            self._sleep(1.0)


def _status(state: dict[str, object]) -> str:
    health = state.get("Health")
    status = str(state.get("Status", "unknown"))
    if status == "running" and isinstance(health, dict):
        return str(health.get("Status", "starting"))
    return status
