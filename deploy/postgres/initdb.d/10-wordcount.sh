#!/usr/bin/env bash
# Creates the app's role wordcount_dbadmin (password: DBPASS) and its database wordcount.
#
# Run once, on an empty data directory, by the entrypoint of the official postgres image or of
# the local stand-in (deploy/images/postgres). DBPASS is read from this process's environment
# by psql itself (\getenv): it never appears on an argv, and the SQL text comes on stdin.
set -euo pipefail

if [[ -z "${DBPASS:-}" ]]; then
    echo "10-wordcount.sh: error: DBPASS is not set; fix: start the stack through secure-up" >&2
    exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username="${POSTGRES_USER:-postgres}" --dbname=postgres <<'SQL'
-- A failing statement would be written to the server log with its text, password included.
SET log_min_error_statement = panic;
SET log_statement = none;
\getenv dbpass DBPASS
CREATE ROLE wordcount_dbadmin LOGIN PASSWORD :'dbpass';
\unset dbpass
CREATE DATABASE wordcount OWNER wordcount_dbadmin;
SQL
echo "10-wordcount.sh: created role wordcount_dbadmin and database wordcount" >&2
