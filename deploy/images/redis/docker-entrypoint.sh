#!/bin/sh
# The official redis image's start-up contract: `redis-server` without a config file runs with
# protected mode off, so that other containers of the stack may connect (it listens on the
# container's own network; the host-network override binds it to loopback instead).
set -eu

if [ "${1:-}" = redis-server ] && [ ! -f "${2:-}" ]; then
    case " $* " in
        *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
fi
exec "$@"
