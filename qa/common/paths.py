"""Where callqa keeps its cache and data; both overridable for tests and deployments."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DATA_FILES = PACKAGE_DIR / "data"


def cache_dir() -> Path:
    """Assembled models live here (``CALLQA_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("CALLQA_CACHE_DIR") or user_cache_dir("callqa"))


def data_dir() -> Path:
    """The default SQLite store and reports live here (``CALLQA_DATA_DIR`` overrides)."""
    return Path(os.environ.get("CALLQA_DATA_DIR") or user_data_dir("callqa"))
