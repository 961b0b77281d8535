#!/usr/bin/env bash
# Build the reference stack's images on a machine without a registry. Idempotent; run as root.
#
# Each image is built only when absent, or when its build context changed since (a label on the
# image records the context's hash), so a machine that already has them pays nothing and a
# machine kept from an older checkout does not run old code. The chain:
#   local/debian:bookworm        debootstrap --variant=minbase, from the machine's Debian mirror
#   local/postgres:bookworm      deploy/images/postgres (behaves like the official postgres image)
#   local/redis:bookworm         deploy/images/redis    (behaves like the official redis image)
#   local/wordcount-app:bookworm deploy/app/Dockerfile.debian (the app from Debian packages)
# The names come from deploy/local-images.env; variables already set in the environment win.
# Builds use the host network: the engine here has no bridge (see scripts/ensure-docker.sh).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY_DIR="$REPO_ROOT/deploy"
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
DEBIAN_SUITE=bookworm

log() { echo "build-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Sets the image names from deploy/local-images.env unless the environment already has them.
load_image_names() {
    local name value
    while IFS='=' read -r name value; do
        [[ "$name" =~ ^[A-Z_]+$ ]] || continue
        [[ -n "${!name:-}" ]] || printf -v "$name" '%s' "$value"
    done <"$DEPLOY_DIR/local-images.env"
    DEBIAN_IMAGE="${DEBIAN_IMAGE:-local/debian:$DEBIAN_SUITE}"
}

CONTEXT_HASH_LABEL=org.secure-up.context-hash

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# A hash of every file of a build context (names and contents), independent of where it lives.
context_hash() {
    (cd "$1" && find . -type f ! -path '*/__pycache__/*' ! -path '*/.*_cache/*' -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

image_context_hash() {
    docker image inspect --format "{{index .Config.Labels \"$CONTEXT_HASH_LABEL\"}}" "$1" \
        2>/dev/null || true
}

# The mirror apt uses on this machine: the only Debian archive reachable without internet.
debian_mirror() {
    local mirror
    mirror="$(awk '$1 == "URIs:" { print $2; exit }' "$DEBIAN_SOURCES" 2>/dev/null)"
    [[ -n "$mirror" ]] || die "no 'URIs:' line in $DEBIAN_SOURCES; fix: set DEBIAN_MIRROR"
    echo "$mirror"
}

build_debian_base() {
    local mirror rootfs
    mirror="${DEBIAN_MIRROR:-$(debian_mirror)}"
    rootfs="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: rootfs is local
    trap "rm -rf '$rootfs'" RETURN
    log "debootstrap $DEBIAN_SUITE from $mirror (about a minute)"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$mirror" >/dev/null
    # The machine's apt settings (e.g. a snapshot mirror whose Release files are past their
    # Valid-Until) must hold inside the image too, or apt-get update fails in the builds below.
    cp /etc/apt/apt.conf.d/99* "$rootfs/etc/apt/apt.conf.d/" 2>/dev/null || true
    tar -C "$rootfs" -c . | docker import - "$DEBIAN_IMAGE" >/dev/null
}

# ensure_built NAME DOCKERFILE CONTEXT: a Dockerfile whose FROM is the local Debian base.
ensure_built() {
    local name="$1" dockerfile="$2" context="$3" hash
    hash="$(context_hash "$context")"
    if [[ "$(image_context_hash "$name")" == "$hash" ]]; then
        log "$name is up to date"
        return
    fi
    log "building $name from ${dockerfile#"$REPO_ROOT"/}"
    docker build --quiet --network host --build-arg "BASE_IMAGE=$DEBIAN_IMAGE" \
        --label "$CONTEXT_HASH_LABEL=$hash" --tag "$name" --file "$dockerfile" "$context" \
        >/dev/null
}

main() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers; fix: run scripts/ensure-docker.sh"
    load_image_names
    if image_exists "$DEBIAN_IMAGE"; then
        log "$DEBIAN_IMAGE is present"
    else
        build_debian_base
    fi
    ensure_built "$POSTGRES_IMAGE" "$DEPLOY_DIR/images/postgres/Dockerfile" \
        "$DEPLOY_DIR/images/postgres"
    ensure_built "$REDIS_IMAGE" "$DEPLOY_DIR/images/redis/Dockerfile" "$DEPLOY_DIR/images/redis"
    ensure_built "$APP_IMAGE" "$DEPLOY_DIR/app/Dockerfile.debian" "$DEPLOY_DIR/app"
}

main "$@"
