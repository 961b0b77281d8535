#!/usr/bin/env bash
# Run a command with GNUPGHOME pointing at a fresh keyring that holds only the DEMO key.
#
#   deploy/demo/with-demo-key.sh sops -d secrets/environment.secrets
#
# The keyring lives in a temporary directory and is removed (gpg-agent stopped) afterwards,
# so the demo never touches your own ~/.gnupg. The demo key is public: never use it for real
# secrets (see README.md beside this file).
set -euo pipefail

DEMO_KEY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/demo-key.asc"

(($#)) || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

# Short path: gpg-agent's socket must fit in a Unix socket name.
GNUPGHOME="$(mktemp -d /tmp/secure-up-demo-gnupg.XXXXXX)"
export GNUPGHOME
cleanup() {
    gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true
    rm -rf "$GNUPGHOME"
}
trap cleanup EXIT
gpg --batch --quiet --import "$DEMO_KEY" 2>/dev/null

"$@"
