#!/usr/bin/env bash
# Make sure a PostgreSQL server binary set (initdb, pg_ctl, postgres) is installed,
# and print its bin directory on stdout (everything else goes to stderr).
#
# Used by tests/pg_server.py, which starts a throwaway server for the store tests.
# Idempotent: when Debian's postgresql package is already there this only prints.
# Installing needs root and apt-get (Debian/Ubuntu); it exits 1 with a reason otherwise.
set -euo pipefail

find_bindir() {
    # Highest installed major version wins (sort -V on /usr/lib/postgresql/<major>/bin).
    local initdb
    initdb=$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$initdb" ] && [ -x "$initdb" ] && dirname "$initdb"
}

if bindir=$(find_bindir); then
    echo "$bindir"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgres: PostgreSQL is not installed and apt-get is not available;" \
         "install the PostgreSQL server (initdb, pg_ctl) with your system's package manager" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_postgres: PostgreSQL is not installed; run 'sudo apt-get install postgresql'" \
         "(or run this script as root)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure_postgres: installing Debian's postgresql package ..." >&2
if ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    # A fresh container often has no package lists yet.
    apt-get update -qq >/dev/null 2>&1 || true
    if ! apt-get install -y -qq --no-install-recommends postgresql >&2; then
        echo "ensure_postgres: 'apt-get install postgresql' failed (see above)" >&2
        exit 1
    fi
fi

if bindir=$(find_bindir); then
    echo "$bindir"
    exit 0
fi
echo "ensure_postgres: postgresql was installed but no /usr/lib/postgresql/*/bin/initdb was found" >&2
exit 1
