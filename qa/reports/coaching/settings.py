"""Coaching report settings (qa/data/coaching.yaml, or an override), checked by pydantic; and the errors."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.common.overrides import with_override
from qa.common.paths import DATA_FILES
from qa.errors import CallqaError, ConfigError
from qa.scoring.rubric import Texts

SETTINGS_FILE = DATA_FILES / "coaching.yaml"


class CoachingError(CallqaError):
    """A coaching report cannot be built as asked; the message says what to change."""

    code = "E600"


class CoachingConfigError(ConfigError):
    """``coaching.yaml`` (or an override of it) is malformed."""

    code = "E440"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))


def load_settings(override: Path | Mapping[str, Any] | None = None) -> CoachingSettings:
    """The defaults of ``coaching.yaml`` with the keys of ``override`` (a YAML file or a mapping) replaced."""
    merged, where = with_override(_defaults(), override, "coaching settings", CoachingConfigError,
                                  hint=f"; see {SETTINGS_FILE}")
    try:
        return CoachingSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CoachingConfigError(f"{where}: {problems}") from exc
