"""The ``exec`` applier: a command of your own inside a service, for anything else.

``exec: {service: S, command: [ARGV...]}`` runs ``compose exec -T S ARGV...``
with two lines on its stdin, the old value then the new one, and
``SECURE_UP_RENEW_ACTION`` (``apply``, ``verify`` or ``revert``) and
``SECURE_UP_RENEW_KEY`` in its environment. Exit 0 means done. On ``revert``
the lines are the same (old, new): put the old value back. The hook must be
idempotent, as ``--resume`` and ``--abort`` may repeat an action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secure_up.renew.interface import ApplierError, ServiceShell


class ExecApplier:
    kind = "exec"

    def __init__(
        self, shell: ServiceShell, service: str, options: Mapping[str, Any], key: str
    ) -> None:
        self._shell = shell
        self.service = service
        self._command: list[str] = list(options["command"])
        self._key = key

    def describe(self) -> str:
        return f"exec in {self.service}: {' '.join(self._command)}"

    def preflight(self, old: str, new: str) -> None:
        """Nothing to check from outside: the hook itself says what it can do."""

    def apply(self, old: str, new: str) -> None:
        self._run("apply", old, new)

    def verify(self, old: str, new: str) -> None:
        self._run("verify", old, new)

    def revert(self, old: str, new: str) -> None:
        self._run("revert", old, new)

    def _run(self, action: str, old: str, new: str) -> None:
        if any(mark in value for value in (old, new) for mark in "\r\n"):
            raise ApplierError(
                "a value with a line break cannot be handed to an exec hook",
                "choose a value without line breaks (--generate makes one)",
            )
        result = self._shell.exec(
            self.service,
            self._command,
            stdin=f"{old}\n{new}\n".encode(),
            environment={"SECURE_UP_RENEW_ACTION": action, "SECURE_UP_RENEW_KEY": self._key},
        )
        if result.code != 0:
            last = next((line for line in reversed(result.output.splitlines()) if line.strip()), "")
            raise ApplierError(
                f"{self.service}: the {action} hook {self._command[0]} exited {result.code}"
                + (f": {last.strip()[:200]}" if last else ""),
                f"run it by hand to see why: `secure-up compose -- exec {self.service} ...`",
            )
