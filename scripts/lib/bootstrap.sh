# Shared setup for ./scripts/demo and ./scripts/test. Sourced, not run.
# It makes a fresh machine usable: Debian packages (when root), a .venv, the package.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${TOCSIN_PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

log() { printf '\033[1;34m[tocsin]\033[0m %s\n' "$*" >&2; }

# Installs the Debian packages that are missing. Only root can; others get a hint.
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "missing Debian packages: ${missing[*]} (run as root, or install them yourself)"
        return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Creates .venv and installs the package; reinstalls only when pyproject.toml changed.
ensure_venv() {
    local extras="$1"   # "" or "dev"
    local stamp=".venv/.tocsin-installed-${extras:-base}"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv with $PY"
        "$PY" -m venv .venv
    fi
    # A dev install also satisfies a plain one.
    if [ -z "$extras" ] && [ -f .venv/.tocsin-installed-dev ] \
        && [ "$(cat .venv/.tocsin-installed-dev)" = "$want" ]; then
        return 0
    fi
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        log "installing Python packages (first run takes a few minutes)"
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        local spec="."
        [ -n "$extras" ] && spec=".[${extras}]"
        .venv/bin/python -m pip install -q -e "$spec"
        echo "$want" > "$stamp"
    fi
}

# Debian packages the whole system needs at run time (PDF rendering, fonts).
RUNTIME_DEBS=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
# Extra ones the test suite needs: the PostGIS server and the browser.
TEST_DEBS=(postgresql postgis postgresql-15-postgis-3 chromium)
