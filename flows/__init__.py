"""Prefect flows that run callqa's nightly review; all the work is done by ``qa``.

Importing this package sets Prefect defaults for running without a server
(ephemeral mode), each only if the environment does not already set it, so a
deployment that points ``PREFECT_API_URL`` at a server keeps its own settings.
"""

from __future__ import annotations

import os

#: Environment defaults, applied before Prefect is imported.
PREFECT_DEFAULTS = {
    # Telemetry off: no network here, and it logs an error when it cannot send.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The first ephemeral start with a fresh ~/.prefect migrates its database (17-20 s
    # measured on 2 busy cores); the default 20 s wait is too tight.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

for _key, _value in PREFECT_DEFAULTS.items():
    os.environ.setdefault(_key, _value)
