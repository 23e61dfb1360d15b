"""The workspace's settings file (qa/web/workspace.yaml), read once and checked."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from qa.errors import ConfigError

SETTINGS_FILE = Path(__file__).resolve().parent / "workspace.yaml"


@dataclass(frozen=True)
class WebSettings:
    session_lifetime: timedelta
    max_failures: int
    failure_window: timedelta
    per_page: int
    max_per_page: int
    search_refresh_seconds: float
    audio_types: dict[str, str]


@functools.lru_cache(maxsize=4)
def load_settings(path: Path = SETTINGS_FILE) -> WebSettings:
    try:
        raw: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        settings = WebSettings(
            session_lifetime=timedelta(hours=float(raw["session_hours"])),
            max_failures=int(raw["login"]["max_failures"]),
            failure_window=timedelta(minutes=float(raw["login"]["window_minutes"])),
            per_page=int(raw["list"]["per_page"]),
            max_per_page=int(raw["list"]["max_per_page"]),
            search_refresh_seconds=float(raw["search_refresh_seconds"]),
            audio_types={str(k).lower(): str(v) for k, v in raw["audio_types"].items()},
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read the workspace settings ({exc!r}); compare with the file in the "
                          f"repository") from exc
    if settings.max_failures < 1 or settings.per_page < 1 or settings.max_per_page < settings.per_page:
        raise ConfigError(f"{path}: max_failures and per_page must be at least 1, max_per_page at least per_page")
    return settings
