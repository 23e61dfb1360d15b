"""The taggers' thresholds: ``qa/data/thresholds.yaml``, optionally overridden per run."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from qa.common.overrides import with_override
from qa.common.paths import DATA_FILES
from qa.errors import ConfigError

DEFAULTS = DATA_FILES / "thresholds.yaml"


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))


def _number(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key!r} must be a number, got {value!r}")


def load_thresholds(override: Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, with the keys of ``override`` (a YAML file or a mapping) replaced."""
    merged, _ = with_override(_defaults(), override, "thresholds", ConfigError, check=_number)
    return merged
