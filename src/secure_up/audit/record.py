"""What one run touched, collected where it happens, written once at the end.

The places that open or wrap a data key and load variables call the ``note_*``
functions; they cost nothing when no run is being recorded (a library user).
A context variable rather than a parameter: the record crosses every layer
(CLI, sopsfile, keys) without changing their signatures. Never a value here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class AuditRecord:
    command: str
    #: True once a command asked for its key services: it decrypts or changes a secret.
    uses_keys: bool = False
    required: bool = False
    files: dict[str, None] = field(default_factory=dict)
    keys: dict[str, None] = field(default_factory=dict)
    variables: dict[str, None] = field(default_factory=dict)
    services: dict[str, None] = field(default_factory=dict)


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
