"""The steps of a renewal, after AWS Secrets Manager's create / set / test / finish.

(a) the new value is chosen by the caller; (b) :func:`Renewal.start` records it
beside the secrets file, encrypted; (c) every applier changes the live system,
logging in with the old value; (d) every applier tests that the new value works
and the old one is refused; (e) the secrets file is written atomically and the
record drops its values (``committed``); (f) the dependent services are
recreated with the new environment and watched until healthy.

Before (e) any failure reverts the live system and leaves the file untouched;
from (e) on, file and live system agree on the new value whatever happens. Each
step is idempotent, so a run killed anywhere is finished by :meth:`resume` or
undone (before (e)) by :meth:`abort`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from secure_up.errors import SecureUpError
from secure_up.keys.services import KeyServices
from secure_up.launch.secret_values import SecretValues
from secure_up.renew import state
from secure_up.renew.interface import Applier
from secure_up.renew.stack import Result, ServiceState
from secure_up.sopsfile import DecryptedFile
from secure_up.sopsfile.edits import assign, parse_key
from secure_up.sopsfile.shell_payload import change_payload, set_shell_variable
from secure_up.system.atomic import atomic_write

Progress = Callable[[str], None]


class LiveStack(Protocol):
    """Where the dependents run: a compose project (stack.py) or a Swarm stack (swarm_stack.py)."""

    secrets: SecretValues

    def running_services(self) -> set[str]: ...

    def recreate(self, services: Sequence[str]) -> Result: ...

    def wait_ready(self, services: Sequence[str], timeout: float) -> list[ServiceState]: ...

    def retry_command(self, services: Sequence[str]) -> str: ...


class RenewError(SecureUpError):
    """A renewal step failed; ``outcome`` says how far it got and what state it left."""

    def __init__(self, what: str, fix: str | None, outcome: Outcome) -> None:
        super().__init__(what, fix)
        self.outcome = outcome


@dataclass
class Outcome:
    keys: list[str]
    secrets_file: Path
    #: ``done``, ``rolled back``, ``restart failed``, ``aborted``, ``pending``.
    result: str = "pending"
    appliers: list[tuple[str, str]] = field(default_factory=list)
    services: list[ServiceState] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retry: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.result in ("done", "aborted"),
            "result": self.result,
            "keys": self.keys,
            "secrets_file": str(self.secrets_file),
            "appliers": [{"applier": name, "status": status} for name, status in self.appliers],
            "services": [
                {"service": s.service, "status": s.status, "ok": s.ready} for s in self.services
            ],
            "not_running": self.skipped,
            "retry": self.retry,
            "error": self.error,
        }


@dataclass
class Renewal:
    """One renewal of ``keys`` held in ``decrypted`` (locked by the caller throughout)."""

    keys: list[str]
    decrypted: DecryptedFile
    secrets_file: Path  # the real path, where the file is written
    appliers: list[tuple[str, Applier]]  # (secret, applier)
    stack: LiveStack
    key_services: KeyServices
    secrets: SecretValues  # every secret, as compose needs them to read its files
    restart: list[str]
    restart_only_running: bool
    ready_timeout: float
    progress: Progress
    stack_name: str | None = None  # a Swarm stack: recorded for --resume and --abort
    outcome: Outcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = Outcome(list(self.keys), self.secrets_file)

    # -- the entry points ---------------------------------------------------------------

    def start(self, new: Mapping[str, str]) -> Outcome:
        """The whole transaction, from recording the new values to the restart."""
        old = {key: self.secrets[key] for key in self.keys}
        self._preflight(old, new)
        self._record(state.PENDING, new)
        self.progress(f"recorded the pending renewal in {state.record_path(self.secrets_file)}")
        self._forward(old, new)
        return self.outcome

    def resume(self, record: state.Record) -> Outcome:
        current = {key: self.secrets[key] for key in self.keys}
        if record.step == state.COMMITTED or current == record.new_values:
            self.progress(f"{self.secrets_file} already holds the new value: restarting only")
            self.secrets = self.secrets.merged(SecretValues(current))
            self._record(state.COMMITTED, {})
            self._restart()
            return self.outcome
        self._preflight(current, record.new_values)
        self._forward(current, record.new_values)
        return self.outcome

    def abort(self, record: state.Record) -> Outcome:
        current = {key: self.secrets[key] for key in self.keys}
        if record.step == state.COMMITTED or current == record.new_values:
            raise RenewError(
                f"the renewal of {', '.join(self.keys)} is past the point of no return: "
                f"{self.secrets_file} already holds the new value",
                "finish it with `secure-up renew --resume` (it recreates the services)",
                self.outcome,
            )
        self._revert(list(self.appliers), current, record.new_values)
        state.drop(self.secrets_file)
        self.outcome.result = "aborted"
        self.progress("aborted: the live system holds the old value again; the file is unchanged")
        return self.outcome

    # -- the steps ----------------------------------------------------------------------

    def _preflight(self, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        for key, applier in self.appliers:
            self.progress(f"checking {key}: {applier.service} answers to the current value")
            try:
                applier.preflight(old[key], new[key])
            except SecureUpError as failure:
                self.outcome.result = "nothing changed"
                self.outcome.error = failure.what
                raise RenewError(
                    f"{failure.what}; nothing was changed", failure.fix, self.outcome
                ) from None

    def _forward(self, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        touched: list[tuple[str, Applier]] = []
        try:
            for key, applier in self.appliers:
                self.progress(f"applying {key}: {applier.describe()}")
                touched.append((key, applier))
                applier.apply(old[key], new[key])
                self.outcome.appliers.append((applier.describe(), "applied"))
            for key, applier in self.appliers:
                self.progress(
                    f"testing {key}: new value logs in, old one is refused ({applier.service})"
                )
                applier.verify(old[key], new[key])
                self._mark(applier, "applied, tested")
        except BaseException as failure:  # Ctrl-C too: the live system must go back
            self._fail_before_commit(failure, touched, old, new)
            raise
        self._commit(new)
        self._restart()

    def _fail_before_commit(
        self,
        failure: BaseException,
        touched: list[tuple[str, Applier]],
        old: Mapping[str, str],
        new: Mapping[str, str],
    ) -> None:
        self.outcome.error = (
            failure.what if isinstance(failure, SecureUpError) else type(failure).__name__
        )
        self.progress("failed; putting the old value back")
        try:
            self._revert(touched, old, new)
        except SecureUpError as revert_failure:
            self.outcome.result = "pending"
            raise RenewError(
                f"{self.outcome.error}; and putting the old value back failed too: "
                f"{revert_failure.what}",
                f"{self.secrets_file} is unchanged. Once the service is back, run "
                "`secure-up renew --abort` (puts the old value back) or `secure-up renew "
                "--resume` (tries the new one again)",
                self.outcome,
            ) from None
        state.drop(self.secrets_file)
        self.outcome.result = "rolled back"
        if isinstance(failure, SecureUpError):
            raise RenewError(
                f"{failure.what}; the old value was put back and {self.secrets_file} is unchanged",
                failure.fix,
                self.outcome,
            ) from None

    def _revert(
        self, touched: Sequence[tuple[str, Applier]], old: Mapping[str, str], new: Mapping[str, str]
    ) -> None:
        for key, applier in reversed(touched):
            self.progress(f"reverting {key}: {applier.describe()}")
            applier.revert(old[key], new[key])
            self._mark(applier, "reverted")

    def _commit(self, new: Mapping[str, str]) -> None:
        document = self.decrypted.documents[0]
        path = self.decrypted.source.path
        for key in self.keys:
            if self.decrypted.source.file_type == "binary":
                change_payload(document, path, _setter(key, new[key], path))
            else:
                assign(document, parse_key(key, self.decrypted.source.file_type), new[key])
        atomic_write(self.secrets_file, self.decrypted.encrypt())
        self.progress(f"wrote the new value to {path}")
        self._record(state.COMMITTED, {})
        self.secrets = self.secrets.merged(SecretValues(dict(new)))

    def _restart(self) -> None:
        self.stack.secrets = self.secrets
        services = list(self.restart)
        if self.restart_only_running and services:
            running = self.stack.running_services()
            self.outcome.skipped = [s for s in services if s not in running]
            services = [s for s in services if s in running]
        for skipped in self.outcome.skipped:
            self.progress(f"{skipped} is not running: it gets the new value when it next starts")
        if services:
            self.progress("recreating " + ", ".join(services))
            result = self.stack.recreate(services)
            if result.code != 0:
                self._restart_failed(
                    services, f"the restart exited {result.code}: {_tail(result.output)}"
                )
            self.progress("waiting until " + ", ".join(services) + " are healthy or running")
            self.outcome.services = self.stack.wait_ready(services, self.ready_timeout)
            failed = [s.service for s in self.outcome.services if not s.ready]
            if failed:
                self._restart_failed(
                    failed,
                    ", ".join(
                        f"{s.service} is {s.status}" for s in self.outcome.services if not s.ready
                    ),
                )
        state.drop(self.secrets_file)
        self.outcome.result = "done"

    def _restart_failed(self, services: list[str], why: str) -> None:
        self.outcome.result = "restart failed"
        self.outcome.retry = "secure-up renew --resume"
        self.outcome.error = why
        raise RenewError(
            f"{', '.join(self.keys)} renewed ({self.secrets_file} and the live system agree on "
            f"the new value), but not every service came back: {why}",
            f"see `secure-up compose -- logs {' '.join(services)}`, fix it, then retry with "
            "`secure-up renew --resume` (or `" + self.stack.retry_command(services) + "`)",
            self.outcome,
        )

    # -- helpers ------------------------------------------------------------------------

    def _record(self, step: str, new: Mapping[str, str]) -> None:
        record = state.Record(
            self.secrets_file, list(self.keys), step, list(self.restart), dict(new),
            stack=self.stack_name,
        )  # fmt: skip
        state.write(record, self.decrypted.source, self.key_services)

    def _mark(self, applier: Applier, status: str) -> None:
        name = applier.describe()
        self.outcome.appliers = [(n, s) for n, s in self.outcome.appliers if n != name]
        self.outcome.appliers.append((name, status))


def _setter(key: str, value: str, path: Path) -> Callable[[str], str]:
    return lambda text: set_shell_variable(text, key, value, path)


def _tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return " / ".join(lines[-3:])[:300]
