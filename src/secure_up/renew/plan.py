"""Where each secret lives: the ``renew`` block of ``x-secure-up`` in the compose files.

::

    x-secure-up:
      secrets: [../secrets/environment.secrets]
      renew:
        DBPASS:
          postgres: {service: db, roles: [wordcount_dbadmin, postgres]}
          redis: {service: redis}                  # CONFIG SET requirepass, or user: NAME
          exec: {service: vault-agent, command: [/renew-hook]}
          restart: [app, worker]   # default: every service whose configuration uses DBPASS

An applier kind may also hold a list of such mappings. Pure: reads files, runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from secure_up.errors import FormatError, SecureUpError
from secure_up.launch import compose, compose_file, variables

#: The applier kinds and the options each accepts (``service`` is always required).
APPLIER_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "postgres": frozenset({"service", "roles", "database", "host", "port"}),
    "redis": frozenset({"service", "user", "host", "port"}),
    "exec": frozenset({"service", "command"}),
}
#: Images whose services are databases: a secret they consume wants an applier.
DATABASE_IMAGE_WORDS: Final = ("postgres", "redis", "mysql", "mariadb", "mongo", "valkey")


@dataclass(frozen=True)
class ApplierSpec:
    """One applier as declared: its kind, its service and its options (no values)."""

    kind: str
    service: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SecretPlan:
    """One secret to renew: its appliers and the services to recreate afterwards."""

    key: str
    appliers: list[ApplierSpec]
    restart: list[str]
    #: True when ``restart:`` was written; else the services that use the variable.
    restart_declared: bool = False


@dataclass
class RenewPlan:
    compose_files: list[Path]
    secrets: list[SecretPlan]

    @property
    def services_to_restart(self) -> list[str]:
        """Every service to recreate, once each, in declaration order."""
        return list(dict.fromkeys(name for plan in self.secrets for name in plan.restart))


def declared_renewals(compose_files: Sequence[Path]) -> dict[str, tuple[Path, Any]]:
    """The raw ``renew`` entries by secret name, a later file's entry winning."""
    entries: dict[str, tuple[Path, Any]] = {}
    for path in compose_files:
        try:
            document = compose_file.data(path) or {}
        except SecureUpError:
            continue  # compose.py reports an unreadable or broken file on its own path
        extension = document.get(compose.EXTENSION_KEY) if isinstance(document, dict) else None
        block = extension.get("renew") if isinstance(extension, dict) else None
        if block is None:
            continue
        if not isinstance(block, dict):
            raise _invalid(path, "renew", "a mapping of secret names")
        for name, entry in block.items():
            entries[str(name)] = (path, entry)
    return entries


def plan_renewal(compose_files: Sequence[Path], keys: Sequence[str]) -> RenewPlan:
    """The plan for ``keys``; a key without a declaration is an error that shows how to add one."""
    declared = declared_renewals(compose_files)
    uses = variables.interpolated_variables(compose_files)
    secrets = []
    for key in keys:
        if key not in declared:
            raise FormatError(
                f"{key} has no entry in {compose.EXTENSION_KEY}.renew of "
                f"{', '.join(str(path) for path in compose_files)}: secure-up does not know "
                "where else it lives",
                f"declare it, e.g.\n    {compose.EXTENSION_KEY}:\n      renew:\n        {key}:\n"
                "          postgres: {service: db, roles: [app_user]}\n"
                "  or change only the file with `secure-up set`",
            )
        path, entry = declared[key]
        secrets.append(_secret_plan(key, path, entry, uses))
    return RenewPlan(list(compose_files), secrets)


def validate_block(compose_files: Sequence[Path]) -> list[str]:
    """Problems of the ``renew`` block, one line each (for ``check``): empty when valid."""
    try:
        declared = declared_renewals(compose_files)
        uses = variables.interpolated_variables(compose_files)
        for key, (path, entry) in declared.items():
            _secret_plan(key, path, entry, uses)
    except FormatError as error:
        return [error.what]
    return []


def unrenewable_database_secrets(
    compose_files: Sequence[Path], secret_names: Sequence[str]
) -> list[tuple[str, str]]:
    """(secret, service) pairs: a database service consumes the secret, no applier declared."""
    images: dict[str, str] = {}
    for path in compose_files:
        try:
            document = compose_file.data(path) or {}
        except SecureUpError:
            continue
        services = document.get("services") if isinstance(document, dict) else None
        for name, definition in (services or {}).items():
            if isinstance(definition, dict) and "image" in definition:
                images[str(name)] = str(definition["image"])
    try:
        declared = declared_renewals(compose_files)
    except FormatError:
        declared = {}
    found = []
    for use in variables.interpolated_variables(compose_files):
        image = images.get(use.service or "", "").lower()
        if (
            use.name in secret_names
            and use.name not in declared
            and any(word in image for word in DATABASE_IMAGE_WORDS)
            and (use.name, use.service or "") not in found
        ):
            found.append((use.name, use.service or ""))
    return found


def _secret_plan(
    key: str, path: Path, entry: Any, uses: Sequence[variables.VariableUse]
) -> SecretPlan:
    where = f"renew.{key}"
    if not isinstance(entry, dict) or not entry:
        raise _invalid(path, where, "a mapping of appliers (postgres, redis, exec) and restart")
    appliers: list[ApplierSpec] = []
    restart: list[str] | None = None
    for kind, value in entry.items():
        if kind == "restart":
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise _invalid(path, f"{where}.restart", "a list of service names")
            restart = list(value)
        elif kind in APPLIER_OPTIONS:
            items = value if isinstance(value, list) else [value]
            appliers.extend(_applier(path, f"{where}.{kind}", str(kind), item) for item in items)
        else:
            raise _invalid(
                path, f"{where}.{kind}", f"one of {', '.join([*APPLIER_OPTIONS, 'restart'])}"
            )
    if not appliers:
        raise _invalid(path, where, "at least one applier (postgres, redis or exec)")
    if restart is not None:
        return SecretPlan(key, appliers, restart, restart_declared=True)
    live = {spec.service for spec in appliers}
    # The applier's own service already holds the new value: recreating it would only
    # be an outage. Everything else that interpolates the variable must restart.
    users = [
        use.service
        for use in uses
        if use.name == key and use.service and use.active and use.service not in live
    ]
    return SecretPlan(key, appliers, list(dict.fromkeys(users)))


def _applier(path: Path, where: str, kind: str, item: Any) -> ApplierSpec:
    if not isinstance(item, dict) or not isinstance(item.get("service"), str):
        raise _invalid(path, where, "a mapping with at least `service: NAME`")
    unknown = set(item) - APPLIER_OPTIONS[kind]
    if unknown:
        raise _invalid(
            path,
            f"{where}.{sorted(unknown)[0]}",
            f"one of {', '.join(sorted(APPLIER_OPTIONS[kind]))}",
        )
    if kind == "postgres":
        roles = item.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise _invalid(path, f"{where}.roles", "a non-empty list of role names")
    if kind == "exec":
        command = item.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(c, str) for c in command)
        ):
            raise _invalid(path, f"{where}.command", "a non-empty list of strings (an argv)")
    options = {name: value for name, value in item.items() if name != "service"}
    if kind == "exec":
        # As Compose reads its files: `$$` is a literal `$` (so a shell script can use `$VAR`).
        options["command"] = [part.replace("$$", "$") for part in options["command"]]
    return ApplierSpec(kind, item["service"], options)


def _invalid(path: Path, where: str, expected: str) -> FormatError:
    return FormatError(
        f"{path}: {compose.EXTENSION_KEY}.{where} must be {expected}",
        "see README.md, `Rotating a secret`, for the form of the renew block",
    )
