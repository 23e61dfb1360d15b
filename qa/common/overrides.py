"""Settings files with per-run overrides: the defaults YAML, with only the keys a user changes replaced.

Used by the tagger thresholds and the coaching settings: an override is a YAML
file or a mapping; an unknown key or a section given as a scalar is refused
with the file and key named, so a typo never silently keeps the default.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from qa.errors import ConfigError

#: Checks one overridden leaf value; raises ValueError with what is wrong.
LeafCheck = Callable[[str, Any], None]


def read_override(override: Path | Mapping[str, Any], what: str, error: type[ConfigError]) -> tuple[Mapping[str, Any], str]:
    """(the override's mapping, where it came from) from a YAML file or a mapping."""
    if isinstance(override, Path):
        try:
            data = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise error(f"{override}: cannot read {what} ({exc})") from exc
        where = str(override)
    else:
        data, where = override, what
    if not isinstance(data, Mapping):
        raise error(f"{where}: {what} must be a mapping of sections")
    return data, where


def merge_known(base: dict[str, Any], override: Mapping[str, Any], where: str, error: type[ConfigError],
                check: LeafCheck | None = None, hint: str = "") -> dict[str, Any]:
    """Replace ``base``'s keys with ``override``'s, section by section; unknown keys are errors."""
    for key, value in override.items():
        if key not in base:
            raise error(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(base))}){hint}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise error(f"{where}: {key!r} must be a mapping of settings{hint}")
            merge_known(base[key], value, f"{where}:{key}", error, check, hint)
        else:
            if check is not None:
                try:
                    check(key, value)
                except ValueError as exc:
                    raise error(f"{where}: {exc}") from exc
            base[key] = value
    return base


def with_override(defaults: dict[str, Any], override: Path | Mapping[str, Any] | None, what: str,
                  error: type[ConfigError], check: LeafCheck | None = None, hint: str = "") -> tuple[dict[str, Any], str]:
    """A deep copy of ``defaults`` with ``override`` applied, and where the override came from."""
    merged = copy.deepcopy(defaults)
    if override is None:
        return merged, what
    data, where = read_override(override, what, error)
    return merge_known(merged, data, where, error, check, hint), where
