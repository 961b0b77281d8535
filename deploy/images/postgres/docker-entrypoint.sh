#!/usr/bin/env bash
# The official postgres image's start-up contract, for the Debian-packaged stand-in.
#
# On an empty PGDATA: initdb with POSTGRES_USER / POSTGRES_PASSWORD, then POSTGRES_DB is
# created and /docker-entrypoint-initdb.d/*.sh and *.sql run against a server that listens on
# the Unix socket only, so nothing can connect before initialisation is complete. Then the
# command runs (`postgres` by default; extra arguments such as `-c key=value` pass through).
set -euo pipefail

export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

log() { echo "docker-entrypoint: $*" >&2; }

init_cluster() {
    if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
        log "error: the database is uninitialised and POSTGRES_PASSWORD is not set"
        exit 1
    fi
    log "initialising the cluster in $PGDATA"
    # The password reaches initdb through a pipe: never an argv, never a file.
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS holds several words, as in the official image
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
}

run_init_scripts() {
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    if [[ "$POSTGRES_DB" != postgres ]]; then
        createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
    fi
    local script
    shopt -s nullglob
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                log "running $script"
                # shellcheck source=/dev/null
                if [[ -x "$script" ]]; then "$script"; else . "$script"; fi
                ;;
            *.sql)
                log "running $script"
                psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$POSTGRES_USER" \
                    --dbname="$POSTGRES_DB" --file="$script"
                ;;
            *) log "ignoring $script" ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    log "initialisation complete"
}

if [[ "${1:-}" == postgres ]]; then
    if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
        init_cluster
        run_init_scripts
    fi
    unset POSTGRES_PASSWORD
fi
exec "$@"
