"""The ``postgres`` applier: ``ALTER ROLE`` with a SCRAM-SHA-256 verifier computed here.

Like psql's ``\\password``, the server receives a verifier, not the password, so
the plaintext reaches neither the server's statement log nor an argv. Each role
changes its own password (any role may), logging in with the old one over TCP,
so no superuser is needed and the old credentials prove the change is ours.

The password reaches psql inside the container on its stdin: a tiny ``sh``
reads the first line into ``PGPASSWORD`` (psql's own environment, readable only
by the container's root) and hands the rest of stdin to psql as the SQL script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Final

from secure_up.renew.interface import ApplierError, ServiceShell

#: PostgreSQL's default iteration count (``scram_iterations``).
SCRAM_ITERATIONS: Final = 4096
_SALT_BYTES: Final = 16

# The first line of stdin is the password, the rest is SQL; "$@" are psql's options.
_LOGIN_SCRIPT: Final = 'IFS= read -r PGPASSWORD || exit 96; export PGPASSWORD; exec psql "$@"'
#: What psql says when the server refuses the password (English messages: LC_MESSAGES=C).
_REFUSED: Final = ("password authentication failed", "authentication failed")


def scram_sha256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5802, RFC 7677).

    Hand-written (a dozen lines of hashlib/hmac): the client libraries that compute
    it (psycopg's ``encrypt_password``) need libpq and a live connection. The
    password is used as UTF-8 without SASLprep, which equals SASLprep for the
    ASCII values ``--generate`` makes; PostgreSQL itself falls back to the raw
    bytes when SASLprep does not apply.
    """
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class PostgresApplier:
    kind = "postgres"

    def __init__(self, shell: ServiceShell, service: str, options: Mapping[str, Any]) -> None:
        self._shell = shell
        self.service = service
        self.roles: list[str] = list(options["roles"])
        self._database = str(options.get("database", "postgres"))
        self._host = str(options.get("host", "127.0.0.1"))
        self._port = str(options["port"]) if "port" in options else None

    def describe(self) -> str:
        return f"postgres in {self.service}: ALTER ROLE {', '.join(self.roles)}"

    # -- the three operations, each idempotent --------------------------------------------

    def preflight(self, old: str, new: str) -> None:
        self._require_password_auth()
        for role in self.roles:
            if self._login(role, old) is not True and self._login(role, new) is not True:
                raise ApplierError(
                    f"{self.service}: role {role} accepts neither the current value of the "
                    "secrets file nor the new one",
                    f"set the password of {role} to the file's value first (it was changed "
                    "outside secure-up?)",
                )

    def apply(self, old: str, new: str) -> None:
        for role in self.roles:
            self._change(role, frm=old, to=new, action="set the new password of")

    def revert(self, old: str, new: str) -> None:
        for role in reversed(self.roles):
            sql = f"ALTER ROLE CURRENT_USER PASSWORD '{scram_sha256_verifier(old)}';\n"
            outcome = self._psql(role, new, sql)
            if outcome is not True and outcome is not False:
                raise ApplierError(
                    f"{self.service}: could not put back the old password of role {role} "
                    f"({outcome})",
                    f"check that {self.service} runs: `secure-up compose -- ps {self.service}`",
                )
            # False: the role does not hold the new value (never changed, or reverted already).

    def verify(self, old: str, new: str) -> None:
        for role in self.roles:
            if self._login(role, new) is not True:
                raise ApplierError(
                    f"{self.service}: a login as {role} with the new value failed after ALTER ROLE"
                )
            if self._login(role, old) is not False:
                raise ApplierError(
                    f"{self.service}: a login as {role} with the old value still succeeds"
                )

    # -- helpers -------------------------------------------------------------------------

    def _change(self, role: str, *, frm: str, to: str, action: str) -> None:
        sql = f"ALTER ROLE CURRENT_USER PASSWORD '{scram_sha256_verifier(to)}';\n"
        outcome = self._psql(role, frm, sql)
        if outcome is True:
            return
        if outcome is False and self._login(role, to) is True:
            return  # done already (a resumed run)
        raise ApplierError(
            f"{self.service}: could not {action} role {role}: neither the old nor the new "
            "value logs in" + ("" if outcome is False else f" ({outcome})"),
            f"check that {self.service} runs (`secure-up compose -- ps {self.service}`) and "
            f"that {role} can log in over TCP at {self._host}",
        )

    def _require_password_auth(self) -> None:
        """A random password must be refused, or the test step could prove nothing."""
        probe = secrets.token_urlsafe(24)
        result = self._login(self.roles[0], probe)
        if result is True:
            raise ApplierError(
                f"{self.service}: PostgreSQL lets {self.roles[0]} in at {self._host} with any "
                "password (pg_hba.conf `trust`), so renew cannot test the new value",
                "set `host:` in the renew block to an address whose pg_hba.conf rule asks for "
                "a password (scram-sha-256), e.g. the container's own address",
            )
        if result is not False:
            raise ApplierError(
                f"{self.service}: cannot reach PostgreSQL as {self.roles[0]} ({result})",
                f"check that {self.service} is up: `secure-up compose -- ps {self.service}`",
            )

    def _login(self, role: str, password: str) -> bool | str:
        return self._psql(role, password, "SELECT 1;\n")

    def _psql(self, role: str, password: str, sql: str) -> bool | str:
        """True: ran; False: the password was refused; else why it could not run."""
        if "\n" in password or "\r" in password:
            raise ApplierError(
                "a value with a line break cannot be sent to PostgreSQL by renew",
                "choose a value without line breaks (--generate makes one)",
            )
        result = self._shell.exec(
            self.service,
            ["sh", "-c", _LOGIN_SCRIPT, "sh", *self._psql_options(role)],
            stdin=f"{password}\n{sql}".encode(),
            environment={"LC_MESSAGES": "C", "PGCONNECT_TIMEOUT": "10"},
        )
        if result.code == 0:
            return True
        if any(text in result.output for text in _REFUSED):
            return False
        return _last_line(result.output) or f"exit {result.code}"

    def _psql_options(self, role: str) -> Sequence[str]:
        options = [
            "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--no-password",
            f"--host={self._host}", f"--username={role}", f"--dbname={self._database}",
        ]  # fmt: skip
        if self._port:
            options.append(f"--port={self._port}")
        return options


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
