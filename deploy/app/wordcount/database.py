"""Connections to PostgreSQL, and error messages that say what to fix without showing secrets.

DATABASE_URL carries the password (DBPASS). libpq's own messages can quote parts of a
connection string, so every message that leaves this module is either written here or has
the password masked out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg2

log = logging.getLogger(__name__)

MASK = "******"


class DatabaseUnavailable(Exception):
    """The database cannot be used; the message is safe to show and says what to check."""


def _url_parts(database_url: str) -> tuple[str, str]:
    """The user name and password of a postgresql:// URL ("" where absent or unparsable)."""
    try:
        parts = urlsplit(database_url)
        return unquote(parts.username or ""), unquote(parts.password or "")
    except ValueError:
        return "", ""


def _masked(text: str, password: str) -> str:
    return text.replace(password, MASK) if password else text


def _explain(error: psycopg2.Error, database_url: str) -> str:
    user, password = _url_parts(database_url)
    detail = str(error).strip()
    if "password authentication failed" in detail:
        return (
            f"cannot log into PostgreSQL as {user or 'the configured user'}: password "
            "authentication failed — is DBPASS the one the database was created with?"
        )
    if isinstance(error, psycopg2.ProgrammingError):
        # An unparsable URL: libpq's message would quote the offending part, maybe the password.
        return (
            "DATABASE_URL is not a valid PostgreSQL URL; characters such as @ / : ? # in "
            "DBPASS must be percent-encoded"
        )
    first_line = _masked(detail, password).splitlines()[0] if detail else type(error).__name__
    return f"cannot connect to PostgreSQL as {user or 'the configured user'}: {first_line}"


@contextmanager
def transaction(database_url: str) -> Iterator[Any]:
    """A cursor in one transaction: committed when the block ends, rolled back on an error.

    Raises DatabaseUnavailable (with a safe message) when no connection can be made.
    """
    if not database_url:
        raise DatabaseUnavailable("DATABASE_URL is not set; start the stack through secure-up")
    try:
        connection = psycopg2.connect(database_url, connect_timeout=5)
    except psycopg2.Error as error:
        raise DatabaseUnavailable(_explain(error, database_url)) from None
    with closing(connection), connection, connection.cursor() as cursor:
        yield cursor


def current_user(database_url: str) -> str:
    """The role the database sees us as: proof that the login works."""
    with transaction(database_url) as cursor:
        cursor.execute("SELECT current_user")
        (user,) = cursor.fetchone()
        return str(user)


def check_login(database_url: str) -> bool:
    """Log whether the database accepts our login; for start-up, where a failure must be seen."""
    try:
        user = current_user(database_url)
    except DatabaseUnavailable as error:
        log.error("%s", error)
        return False
    log.info("logged into PostgreSQL as %s", user)
    return True
