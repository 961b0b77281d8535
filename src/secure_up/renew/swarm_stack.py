"""A stack on Docker Swarm as ``renew`` addresses it: exec into a running task, redeploy.

The appliers run in the running task container of ``STACK_SERVICE`` on this node (found by
Swarm's own label ``com.docker.swarm.service.name``), through ``docker exec -i``: the values
travel on its stdin, as with ``compose exec``. The dependents roll by a redeploy of the
whole stack, which the caller hands in (commands/ owns the deploy target): Swarm then rolls
exactly the services whose secret versions changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from secure_up.errors import SecureUpError
from secure_up.launch.masking import Masker
from secure_up.launch.secret_values import SecretValues
from secure_up.renew.interface import ApplierError
from secure_up.renew.stack import (
    EXEC_TIMEOUT,
    Result,
    ServiceState,
    environment_flags,
    masked_output,
)
from secure_up.system import process

#: Swarm's label on every task container: the full service name.
SERVICE_LABEL = "com.docker.swarm.service.name"

#: Redeploys the stack with the secrets file as it is now; each service's state afterwards.
Redeploy = Callable[[], list[ServiceState]]


class SwarmTaskStack:
    """One deployed stack: ``exec`` into its services' tasks, ``recreate`` = redeploy."""

    def __init__(
        self,
        stack: str,
        base_environ: Mapping[str, str],
        redeploy: Redeploy,
        *,
        hidden: Sequence[str] = (),
    ) -> None:
        self.stack = stack
        self._base = dict(base_environ)
        self._redeploy = redeploy
        self._masker = Masker(hidden)
        self._states: list[ServiceState] = []
        self.secrets = SecretValues()  # unused: a redeploy reads the file itself

    def __repr__(self) -> str:
        return f"SwarmTaskStack({self.stack!r}, values=<hidden>)"

    def _docker(self, args: Sequence[str], stdin: bytes | None = None) -> Result:
        done = process.capture(["docker", *args], env=self._base, timeout=EXEC_TIMEOUT, input=stdin)
        return Result(done.returncode, masked_output(self._masker, done.stdout + done.stderr))

    def task_container(self, service: str) -> str:
        """The id of a running task container of ``STACK_SERVICE`` on this node."""
        full = f"{self.stack}_{service}"
        found = self._docker(
            ["ps", "--quiet", "--filter", f"label={SERVICE_LABEL}={full}", "--filter",
             "status=running"]
        )  # fmt: skip
        ids = found.output.split() if found.code == 0 else []
        if not ids:
            raise ApplierError(
                f"no running task of the Swarm service {full} on this node"
                + (f" (docker ps: {found.output.strip()[:200]})" if found.code else ""),
                f"run renew on the node that runs it (`docker service ps {full}`)",
            )
        return ids[0]

    def exec(
        self,
        service: str,
        command: list[str],
        *,
        stdin: bytes,
        environment: dict[str, str] | None = None,
    ) -> Result:
        """``docker exec -i [-e NAME=VALUE...] TASK COMMAND`` with ``stdin`` (names only)."""
        flags = environment_flags(environment)
        container = self.task_container(service)
        return self._docker(["exec", "-i", *flags, container, *command], stdin)

    def running_services(self) -> set[str]:
        return set()  # not asked: a redeploy covers every service of the stack

    def recreate(self, services: Sequence[str]) -> Result:
        """Redeploy the stack (``services`` are the ones expected to roll)."""
        try:
            self._states = self._redeploy()
        except SecureUpError as failure:
            return Result(1, failure.what)
        return Result(0, "")

    def wait_ready(self, services: Sequence[str], timeout: float) -> list[ServiceState]:
        """The states the redeploy saw: it waits for convergence itself."""
        return list(self._states)

    def retry_command(self, services: Sequence[str]) -> str:
        return f"secure-up deploy {self.stack}"
