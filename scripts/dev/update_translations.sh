#!/usr/bin/env bash
# Refreshes the gettext catalogues of the web interface.
#
#   scripts/dev/update_translations.sh          # extract, merge into each .po, compile .mo
#   scripts/dev/update_translations.sh --check  # fail if the .pot or a .mo is out of date
#
# After running it, translate the new or fuzzy entries in
# src/tocsin/locale/<lang>/LC_MESSAGES/messages.po and run it again to compile.
# tests/web/test_i18n.py fails while any msgid lacks a French translation.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
pybabel="${PYBABEL:-$repo/.venv/bin/pybabel}"
locale_dir="src/tocsin/locale"
pot="$locale_dir/messages.pot"
languages=(fr ar)  # ar: the public reporting pages only (web/public_report.py)

extract() {
    "$pybabel" -q extract -F babel.cfg -k N_ --no-location --sort-output \
        --omit-header --project=Tocsin -o "$1" src/tocsin/web
}

if [[ "${1:-}" == "--check" ]]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    extract "$tmp/messages.pot"
    diff -u "$pot" "$tmp/messages.pot" || { echo "messages.pot is out of date" >&2; exit 1; }
    for lang in "${languages[@]}"; do
        "$pybabel" -q compile -d "$tmp" -D messages -l "$lang" \
            -i "$locale_dir/$lang/LC_MESSAGES/messages.po" -o "$tmp/$lang.mo"
        cmp -s "$tmp/$lang.mo" "$locale_dir/$lang/LC_MESSAGES/messages.mo" \
            || { echo "$lang messages.mo is out of date" >&2; exit 1; }
    done
    exit 0
fi

mkdir -p "$locale_dir"
extract "$pot"
for lang in "${languages[@]}"; do
    po="$locale_dir/$lang/LC_MESSAGES/messages.po"
    if [[ -f "$po" ]]; then
        "$pybabel" -q update --no-wrap --ignore-pot-creation-date -i "$pot" -d "$locale_dir" -l "$lang" \
            --ignore-obsolete --no-fuzzy-matching
    else
        "$pybabel" -q init --no-wrap -i "$pot" -d "$locale_dir" -l "$lang"
    fi
    "$pybabel" compile --statistics -d "$locale_dir" -l "$lang"
done
