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
    ({"silense": {"dead_air": 8}}, r"override: silense: unknown key"),
    ({"silence": {"dead_ari": 8}}, r"override: silence.dead_ari: unknown key"),
    ({"silence": 8}, r"override: silence: Input should be a valid dictionary"),
    ({"silence": {"dead_air": "long"}}, r"override: silence.dead_air: Input should be a valid number"),
    ({"silence": {"dead_air": float("inf")}}, r"silence.dead_air: Input should be a finite number"),
    ({"silence": {"dead_air": float("nan")}}, r"silence.dead_air: Input should be a finite number"),
    ({"silence": {"dead_air": 1e308}}, r"silence.dead_air: Input should be less than or equal to 86400"),
    ({"complaint_class": {"major_on_harm": 1}}, r"complaint_class.major_on_harm: Input should be a valid boolean"),
])
def test_bad_overrides_are_refused_with_the_key_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_thresholds(override)


def test_unreadable_override_file_is_reported(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("silence: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:2: not valid YAML"):
        load_thresholds(path)


def test_an_override_file_error_names_its_file_and_line(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("# mine\nsilence:\n  dead_air: 8\n  hold_min: .nan\n")
    with pytest.raises(ConfigError, match=r"mine.yaml:4: silence.hold_min: Input should be a finite number"):
        load_thresholds(path)


def test_a_key_missing_from_the_thresholds_file_fails_at_load_with_its_line(tmp_path, monkeypatch):
    from qa.tagging import thresholds

    text = (thresholds.shipped(thresholds.DEFAULTS)).read_text(encoding="utf-8")
    broken = tmp_path / "thresholds.yaml"
    broken.write_text(text.replace("  hold_min: 5.0\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"thresholds.yaml:\d+: silence.hold_min: required key is missing"):
        thresholds.load_settings(broken, thresholds.Thresholds)


def test_thresholds_are_typed_and_answer_both_ways():
    th = load_thresholds()
    assert th.silence.dead_air == th["silence"]["dead_air"] == 5.0
    with pytest.raises(KeyError):
        th["silence"]["dead_ari"]
