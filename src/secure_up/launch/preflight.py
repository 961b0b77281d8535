"""Check, before Compose starts, that every variable the compose files need has a source.

A plain ``${DBPASS}`` that nobody sets only makes Compose warn and start the
stack with an empty password; we stop instead, with one error that lists every
such name, where it is used and how to add it. The report also warns about
secrets nobody uses and secrets that end up where ``docker inspect`` shows them.

Only names travel through here: the secrets, the environment and ``.env`` are
given as collections of names, and nothing in a report or error holds a value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from secure_up.errors import ExitCode, SecureUpError
from secure_up.launch.compose import DEFAULT_SECRETS_FILE
from secure_up.launch.variables import UseKind, VariableUse

#: Service fields whose interpolated values ``docker inspect`` (or the image history) shows.
EXPOSING_FIELDS = frozenset(
    {"environment", "command", "entrypoint", "labels", "healthcheck", "build"}
)


class MissingVariablesError(SecureUpError):
    """Variables the compose files need are in no secrets file, the environment or ``.env``."""

    exit_code = ExitCode.MISSING_VARIABLES

    def __init__(self, what: str, fix: str, names: Sequence[str]) -> None:
        super().__init__(what, fix)
        self.names = tuple(names)


# The records here are NamedTuples, not frozen dataclasses: ``dataclasses`` (with
# ``inspect``) costs about 8 ms of start-up on the path of `secure-up app`.
class VariableReport(NamedTuple):
    """What the compose files do with one variable, and where its value comes from.

    ``source`` is ``secrets``, ``environment``, ``.env``, or None when nothing sets
    it; ``needs_value`` says whether Compose would run with a blank (or refuse).
    """

    name: str
    source: str | None
    needs_value: bool
    services: tuple[str, ...]
    locations: tuple[str, ...]

    @property
    def missing(self) -> bool:
        return self.needs_value and self.source is None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "needs_value": self.needs_value,
            "services": list(self.services),
            "locations": list(self.locations),
        }


class ExposedSecret(NamedTuple):
    """A secret interpolated into a service field that ``docker inspect`` shows."""

    name: str
    services: tuple[str, ...]
    fields: tuple[str, ...]
    locations: tuple[str, ...]

    def suggestion(self) -> str:
        """Compose YAML that hands the value over as a file under /run/secrets instead."""
        secret = self.name.lower()
        lines = ["services:"]
        for service in self.services:
            lines += [f"  {service}:", f"    secrets: [{secret}]  # read /run/secrets/{secret}"]
        lines += ["secrets:", f"  {secret}:", f"    environment: {self.name}"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "services": list(self.services),
            "fields": list(self.fields),
            "locations": list(self.locations),
            "suggestion": self.suggestion(),
        }


class PreflightReport(NamedTuple):
    variables: tuple[VariableReport, ...]
    unused_secrets: tuple[str, ...]
    exposed: tuple[ExposedSecret, ...]

    @property
    def missing(self) -> tuple[VariableReport, ...]:
        return tuple(variable for variable in self.variables if variable.missing)

    def raise_for_missing(self, secrets_file: Path | str = DEFAULT_SECRETS_FILE) -> None:
        """Stop the run with one error listing every missing variable, if there is any."""
        missing = self.missing
        if not missing:
            return
        width = max(len(variable.name) for variable in missing)
        lines = [
            f"{len(missing)} variable(s) used by the compose files are set nowhere "
            "(not in the secrets files, the environment or .env); compose was not started:",
            *(f"  {variable.name:<{width}}  {_where(variable)}" for variable in missing),
        ]
        raise MissingVariablesError(
            "\n".join(lines),
            fix=f"add each with `secure-up set {secrets_file} NAME`, "
            "or give it a default in the compose file (${NAME:-default})",
            names=[variable.name for variable in missing],
        )

    def warnings(self) -> list[str]:
        """Human-readable warnings: unused secrets, secrets ``docker inspect`` would show."""
        unused = [
            f"warning: secret {name} is used by no compose file (interpolated nowhere)"
            for name in self.unused_secrets
        ]
        return unused + [_exposure_warning(secret) for secret in self.exposed]

    def to_json(self, notes: Sequence[str] = ()) -> str:
        """The report for ``secure-up check --json``: names and places, never values.

        ``notes`` are other findings of the check (a pending renewal, a database
        secret without an applier), as the text would print them.
        """
        import json  # only for `check --json`

        return json.dumps(
            {
                "ok": not self.missing,
                "missing": [variable.name for variable in self.missing],
                "variables": [variable.as_dict() for variable in self.variables],
                "unused_secrets": list(self.unused_secrets),
                "exposed": [secret.as_dict() for secret in self.exposed],
                "notes": list(notes),
            },
            indent=2,
        )


def preflight(
    uses: Iterable[VariableUse],
    secret_names: Collection[str],
    environ: Mapping[str, str] | Collection[str],
    env_file_names: Collection[str],
    *,
    root: Path | None = None,
) -> PreflightReport:
    """Match the compose files' variables against what the run will provide.

    A variable needs a value when Compose would refuse without it (``${X:?}``,
    ``${X?}``, anywhere, even in inactive services: Compose interpolates the whole
    file) or would substitute a blank into something that runs (a plain ``$X`` in
    an active service or a non-``x-`` section, not inside another reference's
    default). ``environ`` is only asked for names. ``root`` shortens file names.
    """
    by_name: dict[str, list[VariableUse]] = {}
    for use in uses:
        by_name.setdefault(use.name, []).append(use)
    variables = tuple(
        _variable_report(name, by_name[name], secret_names, environ, env_file_names, root)
        for name in sorted(by_name)
    )
    exposed = tuple(
        secret
        for name in sorted(by_name)
        if name in secret_names and (secret := _exposure(name, by_name[name], root))
    )
    unused = tuple(sorted(name for name in secret_names if name not in by_name))
    return PreflightReport(variables=variables, unused_secrets=unused, exposed=exposed)


def needs_value(use: VariableUse) -> bool:
    """Whether this use, left unset, makes Compose refuse or run with a blank."""
    if use.kind is UseKind.REQUIRED:
        return True
    return (
        use.kind is UseKind.PLAIN
        and not use.nested
        and use.active
        and not use.section.startswith("x-")
    )


def _variable_report(
    name: str,
    uses: Sequence[VariableUse],
    secret_names: Collection[str],
    environ: Mapping[str, str] | Collection[str],
    env_file_names: Collection[str],
    root: Path | None,
) -> VariableReport:
    if name in secret_names:
        source: str | None = "secrets"
    elif name in environ:
        source = "environment"
    elif name in env_file_names:
        source = ".env"
    else:
        source = None
    return VariableReport(
        name=name,
        source=source,
        needs_value=any(needs_value(use) for use in uses),
        services=_services(uses),
        locations=_locations(uses, root),
    )


def _exposure(name: str, uses: Sequence[VariableUse], root: Path | None) -> ExposedSecret | None:
    shown = [use for use in uses if use.service and use.active and use.field in EXPOSING_FIELDS]
    if not shown:
        return None
    return ExposedSecret(
        name=name,
        services=_services(shown),
        fields=tuple(sorted({use.field for use in shown if use.field})),
        locations=_locations(shown, root),
    )


def _services(uses: Iterable[VariableUse]) -> tuple[str, ...]:
    return tuple(sorted({use.service for use in uses if use.service}))


def _locations(uses: Iterable[VariableUse], root: Path | None) -> tuple[str, ...]:
    places = {(_display(use.file, root), use.line) for use in uses}
    return tuple(f"{file}:{line}" for file, line in sorted(places))


def _display(path: Path, root: Path | None) -> str:
    if root is not None and path.is_relative_to(root):
        return str(path.relative_to(root))
    return str(path)


def _where(variable: VariableReport) -> str:
    users = f"used by {', '.join(variable.services)}" if variable.services else "used"
    return f"{users} at {_compact(variable.locations)}"


def _compact(locations: Iterable[str]) -> str:
    """``a.yaml:7, a.yaml:13, b.yaml:2`` as ``a.yaml:7,13, b.yaml:2``."""
    lines_by_file: dict[str, list[str]] = {}
    for location in locations:
        file, line = location.rsplit(":", 1)
        lines_by_file.setdefault(file, []).append(line)
    return ", ".join(f"{file}:{','.join(lines)}" for file, lines in lines_by_file.items())


def _exposure_warning(secret: ExposedSecret) -> str:
    return (
        f"warning: secret {secret.name} is interpolated into "
        f"{', '.join(secret.fields)} of {', '.join(secret.services)} "
        f"({_compact(secret.locations)}), where `docker inspect` shows it; "
        "hand it over as a compose secret instead:\n" + _indent(secret.suggestion())
    )


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
