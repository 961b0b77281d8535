"""What an applier is: the code that changes a secret in one live system.

Every operation is idempotent, because ``renew --resume`` and ``--abort`` repeat
whatever a killed run may or may not have done: ``apply`` succeeds when the
system already holds the new value, ``revert`` when it already holds the old.
Values reach the live system on a container's stdin, never on an argv.
"""

from __future__ import annotations

from typing import Protocol

from secure_up.errors import SecureUpError


class ApplierError(SecureUpError):
    """The live system refused a change or a test; the message names service and role only."""


class ServiceShell(Protocol):
    """Runs a command inside a running service (``compose exec -T``); see stack.py."""

    def exec(
        self,
        service: str,
        command: list[str],
        *,
        stdin: bytes,
        environment: dict[str, str] | None = None,
    ) -> ExecResult: ...


class ExecResult(Protocol):
    """A finished command: its exit code and its output, secret values masked."""

    @property
    def code(self) -> int: ...

    @property
    def output(self) -> str: ...


class Applier(Protocol):
    """One place a secret lives (a database's roles, a Redis user, a hook)."""

    @property
    def kind(self) -> str:
        """``postgres``, ``redis`` or ``exec``."""

    @property
    def service(self) -> str:
        """The compose service it talks to."""

    def describe(self) -> str:
        """What it changes, for the plan and the report (names only, never values)."""

    def preflight(self, old: str, new: str) -> None:
        """Raise unless the system answers and takes ``old`` (or ``new``); change nothing."""

    def apply(self, old: str, new: str) -> None:
        """Change the live system from ``old`` to ``new``, logging in with ``old``."""

    def verify(self, old: str, new: str) -> None:
        """A login with ``new`` succeeds and one with ``old`` is refused; else raise."""

    def revert(self, old: str, new: str) -> None:
        """Put ``old`` back (logging in with ``new`` where needed)."""
