#!/usr/bin/env bash
# Install the headless browser of the browser tests (Debian's chromium). Idempotent; run as root.
#
# The tests drive it with Playwright for Python (the `test` extra of pyproject.toml, which
# scripts/bootstrap.sh installs): Playwright is given this binary as its executable and never
# downloads a browser of its own (`playwright install` is not used: it fetches builds from
# outside the package registries). fonts-liberation gives the pages real glyphs, so screenshots
# show text; the rest of chromium's recommends (notification daemons, udev, ...) is not needed
# headless.
#
# Environment (optional):
#   CHROMIUM  the browser binary to check (default /usr/bin/chromium)
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
DEBIAN_PACKAGES=(chromium fonts-liberation)

log() { echo "install-browser: $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=scripts/lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"

# The browser must render a page headless, as root, without a display: what the tests ask of it.
check_browser_renders() {
    local dom
    dom="$("$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --dump-dom 'data:text/html,<p>rendered</p>' 2>/dev/null)" || true
    [[ "$dom" == *"<p>rendered</p>"* ]] ||
        die "$CHROMIUM does not render a page headless; fix: apt-get install --reinstall chromium"
    log "$("$CHROMIUM" --version 2>/dev/null) renders headless at $CHROMIUM"
}

main() {
    ensure_debian_packages "${DEBIAN_PACKAGES[@]}"
    check_browser_renders
}

main "$@"
