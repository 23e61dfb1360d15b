"""The taggers' thresholds: ``qa/data/thresholds.yaml``, optionally overridden per run."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .paths import DATA_FILES

DEFAULTS = DATA_FILES / "thresholds.yaml"


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a mapping")
            _merge(base[key], value, f"{where}:{key}")
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: {key!r} must be a number, got {value!r}")
            base[key] = value
    return base


def load_thresholds(override: Path | dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, with the keys of ``override`` (a YAML file or a mapping) replaced."""
    merged = copy.deepcopy(_defaults())
    if override is None:
        return merged
    if isinstance(override, Path):
        try:
            data = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{override}: cannot read thresholds ({exc})") from exc
        where = str(override)
    else:
        data, where = override, "thresholds"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: thresholds must be a mapping of sections")
    return _merge(merged, data, where)
