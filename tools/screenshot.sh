#!/bin/sh
# Screenshot an HTML page (e.g. a scorecard from `callqa review`) with headless
# Chromium, to check how it looks without a desktop.
#   tools/screenshot.sh page.html out.png [width] [height]
# Needs Debian's chromium (apt-get install -y chromium). Nothing is fetched:
# background networking, component updates and sync are off.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 PAGE.html OUT.png [WIDTH] [HEIGHT]" >&2
    exit 2
fi
page=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1280}
height=${4:-2000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium not found: install it with 'apt-get install -y chromium'" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" --window-size="$width,$height" \
    "file://$page" >/dev/null 2>&1
[ -s "$out" ] || { echo "no screenshot written to $out" >&2; exit 1; }
echo "$out"
