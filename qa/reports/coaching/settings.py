"""Coaching report settings (qa/data/coaching.yaml, or an override), checked by pydantic; and the errors."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from qa.common.settings import Settings, shipped
from qa.common.settings import load_settings as load_yaml_settings
from qa.errors import CoachingConfigError, CoachingError  # noqa: F401 (re-exported)
from qa.scoring.rubric import Texts

SETTINGS_FILE = shipped("coaching.yaml")


class _Strict(Settings):
    """Unknown keys refused, numbers finite (see qa.common.settings.Settings)."""


class _Weakest(_Strict):
    min_applicable: int = Field(ge=1)
    count: int = Field(ge=0)
    pass_rate_below: float = Field(gt=0, le=1)


class _Agents(_Strict):
    min_applicable: int = Field(ge=1)


class _Trend(_Strict):
    min_applicable: int = Field(ge=1)


class _Examples(_Strict):
    best: int = Field(ge=0)
    worst: int = Field(ge=0)
    candidates: int = Field(ge=1)


class _Links(_Strict):
    scorecard_base: str


class _Bands(_Strict):
    good: float = Field(ge=0, le=1)
    poor: float = Field(ge=0, le=1)


class _Plots(_Strict):
    dpi: int = Field(ge=50, le=400)
    width: float = Field(gt=2, le=30)


class CoachingSettings(_Strict):
    """The thresholds of ``qa/data/coaching.yaml``, validated."""

    weakest: _Weakest
    agents: _Agents
    trend: _Trend
    examples: _Examples
    links: _Links
    stages: dict[str, Texts]  # a label per language, as the rubric's titles
    bands: _Bands
    plots: _Plots


@functools.lru_cache(maxsize=1)
def _defaults() -> CoachingSettings:
    return load_yaml_settings(SETTINGS_FILE, CoachingSettings, error=CoachingConfigError)


def load_settings(override: Path | Mapping[str, Any] | None = None) -> CoachingSettings:
    """The defaults of ``coaching.yaml`` with the keys of ``override`` (a YAML file or a mapping) replaced."""
    if override is None:
        return _defaults()
    return load_yaml_settings(SETTINGS_FILE, CoachingSettings, error=CoachingConfigError, override=override)
