"""What one run touched, collected where it happens, written once at the end.

The places that open or wrap a data key and load variables call the ``note_*``
functions; they cost nothing when no run is being recorded (a library user).
A context variable rather than a parameter: the record crosses every layer
(CLI, sopsfile, keys) without changing their signatures. Never a value here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar


class AuditRecord:
    # A plain class, not a dataclass: every run makes one, and importing
    # ``dataclasses`` (with ``inspect``) costs about 8 ms of start-up.
    __slots__ = ("command", "files", "keys", "required", "services", "uses_keys", "variables")

    def __init__(
        self,
        command: str,
        uses_keys: bool = False,
        required: bool = False,
        files: dict[str, None] | None = None,
        keys: dict[str, None] | None = None,
        variables: dict[str, None] | None = None,
        services: dict[str, None] | None = None,
    ) -> None:
        self.command = command
        #: True once a command asked for its key services: it decrypts or changes a secret.
        self.uses_keys = uses_keys
        self.required = required
        self.files: dict[str, None] = {} if files is None else files
        self.keys: dict[str, None] = {} if keys is None else keys
        self.variables: dict[str, None] = {} if variables is None else variables
        self.services: dict[str, None] = {} if services is None else services

    def __repr__(self) -> str:
        return (
            f"AuditRecord(command={self.command!r}, uses_keys={self.uses_keys!r}, "
            f"required={self.required!r}, files={self.files!r}, keys={self.keys!r}, "
            f"variables={self.variables!r}, services={self.services!r})"
        )


_current: ContextVar[AuditRecord | None] = ContextVar("secure_up_audit", default=None)


def begin(command: str, *, required: bool = False) -> AuditRecord:
    """Start recording a run; ``required``: fail before any key is used if the log is
    not writable (SECURE_UP_AUDIT_REQUIRED=1)."""
    record = AuditRecord(command, required=required)
    _current.set(record)
    return record


def note_key_use(environ: Mapping[str, str]) -> None:
    """Called before a command uses any key: from here on it is audited."""
    if (record := _current.get()) is not None:
        if record.required and not record.uses_keys:
            from secure_up.audit.log import check_writable

            check_writable(environ)
        record.uses_keys = True


def note_files(paths: Iterable[object]) -> None:
    if (record := _current.get()) is not None:
        record.files.update(dict.fromkeys(str(path) for path in paths))


def note_keys(keys: Iterable[str]) -> None:
    """Key fingerprints or recipients (never key material)."""
    if (record := _current.get()) is not None:
        record.keys.update(dict.fromkeys(keys))


def note_variables(names: Iterable[str]) -> None:
    if (record := _current.get()) is not None:
        record.variables.update(dict.fromkeys(names))


def note_services(names: Iterable[str]) -> None:
    if (record := _current.get()) is not None:
        record.services.update(dict.fromkeys(names))


#: Options whose value is the next argument (so it is not taken for a positional).
_VALUE_OPTIONS = frozenset(
    {
        "-s", "--secrets", "-f", "--file", "-p", "--project-name", "--input-type",
        "--output-type", "--extract", "--config", "--length", "--charset", "--add-pgp",
        "--rm-pgp", "--max-size", "--since",
    }
)  # fmt: skip
#: Commands whose positional arguments are secrets files.
_FILE_COMMANDS = frozenset({"decrypt", "encrypt", "set", "unset", "rotate", "updatekeys", "edit"})
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def positionals(args: Iterable[str]) -> list[str]:
    """The positional arguments of a routed argv (command first), up to ``--``."""
    found: list[str] = []
    skip = True  # the command name
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg.startswith("-") and arg != "-":
            skip = arg in _VALUE_OPTIONS
        else:
            found.append(arg)
    return found


def note_arguments(record: AuditRecord, args: list[str], exit_code: int) -> None:
    """Files, and (after a success) the variable of set/unset and the services of up.

    Only after a success: an argument a command refused may be a value typed in the
    wrong place (``secure-up s3cr3t`` is ``up s3cr3t``), and it must not be logged.
    """
    import os

    arguments = positionals(args)
    if record.command in _FILE_COMMANDS:
        record.files.update(dict.fromkeys(a for a in arguments if os.path.isfile(a)))
    if exit_code != 0:
        return
    names = [a for a in arguments if a and set(a) <= _NAME_CHARS and not os.path.exists(a)]
    if record.command in ("set", "unset"):
        record.variables.update(dict.fromkeys(names[:1]))
    elif record.command == "up":
        record.services.update(dict.fromkeys(names))
