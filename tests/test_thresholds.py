"""Tagger thresholds are data with per-run overrides; a typo in an override is an error, not a silent default."""

from __future__ import annotations

import pytest

from qa.errors import ConfigError
from qa.tagging.thresholds import load_thresholds


def test_override_file_changes_only_the_keys_it_names(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("silence:\n  dead_air: 8\n")
    merged, defaults = load_thresholds(path), load_thresholds()
    assert merged["silence"]["dead_air"] == 8
    assert merged["silence"]["hold_min"] == defaults["silence"]["hold_min"]
    assert load_thresholds()["silence"]["dead_air"] == defaults["silence"]["dead_air"]  # defaults untouched


@pytest.mark.parametrize("override,message", [
    ({"silense": {"dead_air": 8}}, r"unknown setting 'silense'"),
    ({"silence": {"dead_ari": 8}}, r"thresholds:silence: unknown setting 'dead_ari'"),
    ({"silence": 8}, r"'silence' must be a mapping"),
    ({"silence": {"dead_air": "long"}}, r"'dead_air' must be a number"),
])
def test_bad_overrides_are_refused_with_the_key_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_thresholds(override)


def test_unreadable_override_file_is_reported(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("silence: [\n")
    with pytest.raises(ConfigError, match="broken.yaml: cannot read thresholds"):
        load_thresholds(path)
