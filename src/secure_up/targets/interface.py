"""What a deploy target is: one module that plans, applies, reports and removes a stack.

``secure-up deploy`` knows only this protocol; Docker Swarm (:mod:`.swarm`) is the one
target today. A Kubernetes target would be one more module with the same four steps
(see README, "More than one machine").

The steps are split so that the dangerous one is alone: ``plan`` is pure translation
(what would exist, no change anywhere; ``--dry-run`` stops there), ``apply`` changes the
running system, ``report`` turns a result into text or JSON, ``remove`` takes a stack down.
Values travel inside the plan only (in containers whose ``repr`` hides them); reports hold
names, versions and states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from secure_up.launch.secret_values import SecretValues


@dataclass(frozen=True)
class DeployRequest:
    """Everything a target needs to plan a stack: no value outside ``secrets``."""

    stack: str
    compose_files: tuple[Path, ...]
    secrets_files: tuple[Path, ...]
    secrets: SecretValues
    #: Derives version names that reveal nothing about a value (see swarm_translate).
    naming_key: bytes = field(repr=False)
    #: The caller's environment for the programs the target runs (no secret in it).
    environ: Mapping[str, str] = field(repr=False)
    compose_command: tuple[str, ...] = ("docker", "compose")


@dataclass(frozen=True)
class ApplyOptions:
    prune: bool = True
    keep: int = 1
    timeout: float = 300.0
    #: The secrets a ``renew`` changed in their live system before this deploy: a rollback
    #: past this deploy would hand the services values the live system no longer takes.
    renewed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceResult:
    name: str
    kind: str  # "service" or "job"
    change: str  # "created", "updated", "unchanged"
    converged: bool
    tasks: str  # "1/1", "complete", ...
    error: str = ""


@dataclass(frozen=True)
class DeployResult:
    stack: str
    changed: bool
    services: tuple[ServiceResult, ...]
    created: tuple[str, ...]
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return all(service.converged for service in self.services)


@dataclass(frozen=True)
class RemoveResult:
    stack: str
    services: tuple[str, ...]
    removed: tuple[str, ...]


PlanT = TypeVar("PlanT")


class DeployTarget(Protocol[PlanT]):
    """One deploy target: plan (pure), apply, report, remove."""

    name: str

    def plan(self, request: DeployRequest) -> PlanT:
        """The translated stack, with secret specs; changes nothing anywhere."""
        ...

    def dry_run(self, plan: PlanT) -> str:
        """The plan as text, values replaced by ``<secret VAR v:...>``."""
        ...

    def apply(self, plan: PlanT, options: ApplyOptions) -> DeployResult:
        """Create what is missing, roll the services, wait, prune old versions."""
        ...

    def report(self, result: DeployResult, *, json_output: bool) -> str: ...

    def remove(self, stack: str, environ: Mapping[str, str]) -> RemoveResult: ...


def dependents(plan_services: Mapping[str, Sequence[str]], variable: str) -> list[str]:
    """The services whose secrets are built from ``variable`` (the seam for ``renew``)."""
    return sorted(name for name, variables in plan_services.items() if variable in variables)
