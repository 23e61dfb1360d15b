"""The workspace's settings file (qa/web/workspace.yaml), read once and checked."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

from pydantic import Field, model_validator

from qa.common.settings import Count, Number, Settings, Text, load_settings as load_yaml_settings
from qa.errors import ConfigError

#: Found through importlib.resources, so an installed wheel finds it too.
SETTINGS_FILE = files("qa.web") / "workspace.yaml"


@dataclass(frozen=True)
class WebSettings:
    session_lifetime: timedelta
    max_failures: int
    failure_window: timedelta
    per_page: int
    max_per_page: int
    search_refresh_seconds: float
    statistics_check_seconds: float
    audio_types: dict[str, str]


class _Login(Settings):
    max_failures: Count = Field(ge=1, le=1000)
    window_minutes: Number = Field(gt=0, le=24 * 60)


class _List(Settings):
    per_page: Count = Field(ge=1, le=10_000)
    max_per_page: Count = Field(ge=1, le=10_000)


class _WorkspaceFile(Settings):
    """``qa/web/workspace.yaml``."""

    session_hours: Number = Field(gt=0, le=24 * 365)
    login: _Login
    list: _List
    search_refresh_seconds: Number = Field(ge=0, le=86_400)
    statistics_check_seconds: Number = Field(ge=0, le=86_400)
    audio_types: dict[Text, Text]

    @model_validator(mode="after")
    def _pages(self) -> "_WorkspaceFile":
        if self.list.max_per_page < self.list.per_page:
            raise ValueError("list.max_per_page must be at least list.per_page")
        return self


@functools.lru_cache(maxsize=4)
def load_settings(path=SETTINGS_FILE) -> WebSettings:
    """Read a workspace.yaml (the shipped one by default); errors are ``ConfigError`` with the file and line."""
    raw = load_yaml_settings(Path(path) if isinstance(path, str) else path, _WorkspaceFile, error=ConfigError)
    return WebSettings(
        session_lifetime=timedelta(hours=raw.session_hours),
        max_failures=raw.login.max_failures,
        failure_window=timedelta(minutes=raw.login.window_minutes),
        per_page=raw.list.per_page,
        max_per_page=raw.list.max_per_page,
        search_refresh_seconds=raw.search_refresh_seconds,
        statistics_check_seconds=raw.statistics_check_seconds,
        audio_types={k.lower(): v for k, v in raw.audio_types.items()},
    )
