"""The audit log: JSON lines, each carrying the hash of the one before it.

Where: ``SECURE_UP_AUDIT_LOG`` (a path; ``-`` for stderr, e.g. in CI; ``syslog``
for the system journal), else ``$XDG_STATE_HOME/secure-up/audit.log`` (else
``~/.local/state/secure-up/audit.log``).

Appending: O_APPEND, an exclusive flock while the previous line is read and the
new one written, then fsync. Each line holds ``prev`` (the previous line's
``hash``) and ``hash`` (SHA-256 of the line's other fields), so a line edited,
removed or moved is found by :func:`verify`. Removing the *last* lines cannot be
seen from inside the file; ship the log elsewhere (syslog) if that matters.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from secure_up.audit.record import AuditRecord

LOG_VARIABLE: Final = "SECURE_UP_AUDIT_LOG"
REQUIRED_VARIABLE: Final = "SECURE_UP_AUDIT_REQUIRED"
GENESIS: Final = "0" * 64
_TAIL: Final = 1 << 16


def destination(environ: Mapping[str, str]) -> str:
    """The configured place: a path, ``-`` (stderr) or ``syslog``."""
    chosen = environ.get(LOG_VARIABLE, "").strip()
    if chosen:
        return chosen
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "secure-up", "audit.log")


def entry_for(record: AuditRecord, exit_code: int, now: datetime | None = None) -> dict[str, Any]:
    """The fields of one line (before chaining). Names only: files, keys, variables."""
    return {
        "time": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "user": _user(),
        # What socket.gethostname() returns on Linux (the UTS node name), without
        # importing socket (about 2 ms) on every run that used a key.
        "host": os.uname().nodename,
        "command": record.command,
        "files": list(record.files),
        "keys": list(record.keys),
        "variables": sorted(record.variables),
        "services": list(record.services),
        "exit": exit_code,
    }


def _user() -> str:
    """The account that ran us, by its user id: not $USER or $LOGNAME, which anyone can set.

    (getpass.getuser() reads those first, and costs its import, with termios, on every
    run that used a key.) A user id with no account (a container's) is its number.
    """
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _hash(entry: Mapping[str, Any]) -> str:
    fields = {key: value for key, value in entry.items() if key != "hash"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _sha256_hex(canonical.encode())


def _sha256_hex(data: bytes) -> str:
    """SHA-256 by cryptography, which every run that used a key has loaded already.

    hashlib would load the system's OpenSSL on top (about 2 ms of each such run).
    """
    from cryptography.hazmat.primitives.hashes import SHA256, Hash

    digest = Hash(SHA256())
    digest.update(data)
    return digest.finalize().hex()


def append(entry: dict[str, Any], where: str) -> None:
    """Append ``entry`` to the log at ``where``; OSError when it cannot be written."""
    if where == "-":
        import sys

        sys.stderr.write("secure-up audit: " + json.dumps(entry, ensure_ascii=True) + "\n")
        return
    if where == "syslog":
        import syslog

        syslog.openlog("secure-up", 0, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_INFO, json.dumps(entry, ensure_ascii=True))
        return
    path = Path(where)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the previous line stays the last until we wrote
        chained = {**entry, "prev": _last_hash(fd)}
        chained["hash"] = _hash(chained)
        data = (json.dumps(chained, ensure_ascii=True) + "\n").encode()
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


def _last_hash(fd: int) -> str:
    size = os.fstat(fd).st_size
    if size == 0:
        return GENESIS
    start = max(0, size - _TAIL)
    tail = os.pread(fd, size - start, start).rstrip(b"\n")
    last = tail.rsplit(b"\n", 1)[-1]
    try:
        value = json.loads(last).get("hash")
    except (ValueError, AttributeError):
        value = None
    # A damaged last line still chains: the next line points at the hash of its bytes.
    return value if isinstance(value, str) else _sha256_hex(last)


class Problem(NamedTuple):
    # A NamedTuple, not a frozen dataclass: this module is loaded by every run that
    # uses a key, and ``dataclasses`` (with ``inspect``) costs about 8 ms to import.
    line: int
    what: str


def read(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, bytes]]:
    """(line number, parsed entry or None, raw line) for every line."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = None
            yield number, entry if isinstance(entry, dict) else None, raw


def verify(path: Path) -> tuple[int, list[Problem]]:
    """(lines checked, problems): each line must hash to its ``hash`` and follow the one before."""
    problems: list[Problem] = []
    expected = GENESIS
    count = 0
    for number, entry, raw in read(path):
        count = number
        if entry is None:
            problems.append(Problem(number, "is not a JSON object: it was edited or damaged"))
            expected = _sha256_hex(raw.rstrip(b"\n"))
            continue
        if entry.get("hash") != _hash(entry):
            problems.append(Problem(number, "was edited (its hash does not match its content)"))
        elif entry.get("prev") != expected:
            where = "the start of the log" if expected == GENESIS else f"line {number - 1}"
            problems.append(
                Problem(
                    number,
                    f"does not follow {where}: a line before it was removed, edited or "
                    "moved, or this line was moved",
                )
            )
        expected = str(entry.get("hash"))
    return count, problems


def required(environ: Mapping[str, str]) -> bool:
    return environ.get(REQUIRED_VARIABLE, "").strip() not in ("", "0")


def check_writable(environ: Mapping[str, str]) -> None:
    """Fail closed (SECURE_UP_AUDIT_REQUIRED=1): refuse to decrypt if the log cannot be written."""
    where = destination(environ)
    if where in ("-", "syslog"):
        return
    try:
        Path(where).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(
            where, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
        os.close(fd)
    except OSError as error:
        from secure_up.errors import SecureUpError

        raise SecureUpError(
            f"the audit log {where} cannot be written ({error.strerror}); "
            f"{REQUIRED_VARIABLE} is set, so nothing is decrypted",
            f"make it writable, point {LOG_VARIABLE} elsewhere, or unset {REQUIRED_VARIABLE}",
        ) from None


def write(record: AuditRecord, exit_code: int, environ: Mapping[str, str]) -> int:
    """Append the run's line; the exit code to use.

    When the line cannot be written: a warning on stderr and the command's exit
    code stands (the command has already done its work); with
    SECURE_UP_AUDIT_REQUIRED=1 the run fails (exit 1 if it had succeeded).
    """
    where = destination(environ)
    try:
        append(entry_for(record, exit_code), where)
    except OSError as error:
        import sys

        strict = required(environ)
        label = "error" if strict else "warning"
        sys.stderr.write(
            f"{label}: the audit log {where} could not be written ({error.strerror or error}); "
            f"this run of `{record.command}` is not in it\n"
            f"  fix: make it writable or set {LOG_VARIABLE} (a path, - or syslog)\n"
        )
        if strict and exit_code == 0:
            return 1
    return exit_code
