#!/usr/bin/env bash
# Make sure Debian's chromium and a CJK font are installed for the workspace's browser tests
# (tests/test_web_browser.py drives /usr/bin/chromium with Playwright; Playwright's own browser
# download needs the internet and is never used). Prints the browser's path on stdout.
# Idempotent: when both are there this only prints. Installing needs root and apt-get.
set -euo pipefail

BROWSER=/usr/bin/chromium
have_font() { [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }  # no grep -q: with pipefail its early exit fails the pipe

if [ -x "$BROWSER" ] && have_font; then
    echo "$BROWSER"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_browser: chromium or fonts-noto-cjk is missing and apt-get is not available;" \
         "install Chromium at $BROWSER and a CJK font with your system's package manager" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_browser: run 'sudo apt-get install chromium fonts-noto-cjk' (or run this script as root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium fonts-noto-cjk >&2
echo "$BROWSER"
