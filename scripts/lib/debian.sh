# shellcheck shell=bash
# Sourced by the set-up scripts: install the Debian packages that are missing, and only those.
# The caller defines log() and die().

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ensure_debian_packages PACKAGE...
ensure_debian_packages() {
    local missing=() package
    for package in "$@"; do
        package_installed "$package" || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        return
    fi
    [[ "$(id -u)" == 0 ]] || die "Debian packages missing (${missing[*]}); fix: run as root"
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
}
