"""Applies the SQL files in migrations/ that the database has not seen, in name order.

Run as ``python3 -m wordcount.migrate`` by the ``migrations`` service before the app and the
worker start. Each file runs in its own transaction together with the row that records it in
schema_migrations, so a failed file leaves no trace and the next run tries it again. An
advisory lock keeps two runs from applying the same file at once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from wordcount import database
from wordcount.config import Config

log = logging.getLogger("wordcount.migrate")

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
LOCK_ID = 0x776F7264  # any constant shared by all runs: "word"


def pending(applied: set[str], directory: Path) -> list[Path]:
    """The migration files not yet applied, in the order to apply them."""
    return [path for path in sorted(directory.glob("*.sql")) if path.stem not in applied]


def migrate(database_url: str, directory: Path) -> list[str]:
    """Apply the pending migrations; returns the versions applied now."""
    with database.transaction(database_url) as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
    applied_now: list[str] = []
    while True:
        with database.transaction(database_url) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
            cursor.execute("SELECT version FROM schema_migrations")
            todo = pending({version for (version,) in cursor.fetchall()}, directory)
            if not todo:
                return applied_now
            cursor.execute(todo[0].read_text())
            cursor.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (todo[0].stem,))
        log.info("applied %s", todo[0].name)
        applied_now.append(todo[0].stem)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        applied = migrate(Config().DATABASE_URL, MIGRATIONS_DIR)
    except database.DatabaseUnavailable as error:
        log.error("%s", error)
        return 1
    log.info("schema up to date (%d migration(s) applied now)", len(applied))
    return 0


if __name__ == "__main__":
    sys.exit(main())
