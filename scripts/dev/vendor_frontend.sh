#!/usr/bin/env bash
# Re-vendors the browser libraries of the web interface into src/tocsin/web/static/vendor/.
#
# Tocsin serves every script itself (no CDN: the interface must work offline and the
# Content-Security-Policy only allows 'self'). This script is the reproducible record of what is
# vendored: exact versions, fetched with npm into a temporary folder outside the repository, and
# only the distribution files and licences copied in. Run it from anywhere:
#
#     scripts/dev/vendor_frontend.sh
#
# then review `git diff --stat src/tocsin/web/static/vendor` and update docs/web.md if a version
# changed.
set -euo pipefail

LEAFLET_VERSION="1.9.4"
MARKERCLUSTER_VERSION="1.5.3"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="$repo/src/tocsin/web/static/vendor"
work="$(mktemp -d "${TMPDIR:-/tmp}/tocsin-vendor.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init --yes >/dev/null
# --ignore-scripts: nothing from the registry runs on this machine; we only want files.
npm install --no-audit --no-fund --ignore-scripts --save-exact \
    "leaflet@${LEAFLET_VERSION}" "leaflet.markercluster@${MARKERCLUSTER_VERSION}"

rm -rf "$dest/leaflet" "$dest/leaflet.markercluster"
mkdir -p "$dest/leaflet/images" "$dest/leaflet.markercluster"

src="$work/node_modules/leaflet"
cp "$src/dist/leaflet.js" "$src/dist/leaflet.css" "$src/LICENSE" "$dest/leaflet/"
cp "$src/dist/images/"*.png "$dest/leaflet/images/"

src="$work/node_modules/leaflet.markercluster"
cp "$src/dist/leaflet.markercluster.js" "$src/dist/MarkerCluster.css" \
    "$src/dist/MarkerCluster.Default.css" "$src/MIT-LICENCE.txt" "$dest/leaflet.markercluster/"

# The versions actually installed, with the integrity hashes npm verified.
node -e '
const lock = require("./package-lock.json");
const out = {};
for (const name of ["leaflet", "leaflet.markercluster"]) {
  const p = lock.packages["node_modules/" + name];
  out[name] = {version: p.version, resolved: p.resolved, integrity: p.integrity};
}
console.log(JSON.stringify(out, null, 2));
' > "$dest/VERSIONS.json"

chmod -R u=rwX,go=rX "$dest"
echo "vendored into $dest:"
cat "$dest/VERSIONS.json"
