"""``audit verify`` and ``audit show``: check and read the audit log (see audit/log.py)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from secure_up.audit import log
from secure_up.console import Console
from secure_up.errors import ExitCode, InputFileError, UsageError

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _log_file(environ: Mapping[str, str]) -> Path:
    where = log.destination(environ)
    if where in ("-", "syslog"):
        raise UsageError(
            f"{log.LOG_VARIABLE} is {where!r}: the audit lines go to "
            f"{'stderr' if where == '-' else 'the system journal'}, not to a file secure-up reads",
            f"read them there (journalctl -t secure-up), or set {log.LOG_VARIABLE} to a file",
        )
    path = Path(where)
    if not path.is_file():
        raise InputFileError(
            f"there is no audit log at {path} yet",
            "it is written by the first command that decrypts or changes a secret",
        )
    return path


def verify(environ: Mapping[str, str] | None = None) -> int:
    path = _log_file(os.environ if environ is None else environ)
    count, problems = log.verify(path)
    console = Console.system()
    for problem in problems:
        console.note(f"{path}:{problem.line}: line {problem.line} {problem.what}")
    if problems:
        console.note(
            "error: the audit log was tampered with or damaged\n"
            "  fix: compare it with a copy shipped elsewhere (syslog); find out who changed it"
        )
        return ExitCode.ERROR
    console.result(f"{path}: {count} line(s), chain intact")
    return ExitCode.OK


def parse_since(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    if match := _RELATIVE.match(text.strip()):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a date/time nor a duration",
            "write e.g. --since 2024-05-01, --since 2024-05-01T12:00, --since 2h or --since 7d",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def show(*, since: str | None, json_output: bool, environ: Mapping[str, str] | None = None) -> int:
    path = _log_file(os.environ if environ is None else environ)
    start = parse_since(since) if since else None
    rows: list[Mapping[str, object]] = []
    for _number, entry, _raw in log.read(path):
        if entry is None:
            continue
        if start is not None:
            try:
                if datetime.fromisoformat(str(entry.get("time"))) < start:
                    continue
            except ValueError:
                continue
        rows.append(entry)
    if json_output:
        Console.system().result("".join(json.dumps(row) + "\n" for row in rows))
        return ExitCode.OK
    headers = ("TIME", "WHO", "COMMAND", "EXIT", "FILES", "VARIABLES", "KEYS")
    Console.system().table([_row(row) for row in rows], headers)
    return ExitCode.OK


def _joined(value: object) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, list) and value else "-"


def _row(row: Mapping[str, object]) -> tuple[str, ...]:
    return (
        str(row.get("time", "")),
        f"{row.get('user', '')}@{row.get('host', '')}",
        str(row.get("command", "")),
        str(row.get("exit", "")),
        _joined(row.get("files")),
        _joined(row.get("variables")),
        _joined(row.get("keys")),
    )
