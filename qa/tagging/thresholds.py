"""The taggers' thresholds: ``qa/data/thresholds.yaml`` as a typed model, optionally overridden per run.

Every section and key is declared here, so a missing or misspelt key, a string
where a number belongs, ``.inf`` or ``.nan`` fails when the file is loaded,
with the file and line, not later inside a tagger. Sections still answer
``th["key"]`` for the taggers that index them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, Strict

from qa.common.settings import (Count, Flag, Number, Ratio, Seconds, Settings, Share, Small, Text, load_settings,
                                shipped)
from qa.errors import ConfigError

DEFAULTS = "thresholds.yaml"
Weight = Annotated[float, Strict(), Field(ge=0, le=10, allow_inf_nan=False)]
Stage = Annotated[int, Strict(), Field(ge=0, le=6)]
Slope = Annotated[float, Strict(), Field(ge=-1000, le=1000, allow_inf_nan=False)]
Decibels = Annotated[float, Strict(), Field(ge=0, le=200, allow_inf_nan=False)]
Bit = Annotated[int, Strict(), Field(ge=0, le=1)]


class Rate(Settings):
    pause: Seconds
    min_speech: Seconds
    baseline_utterances: Small
    rise_ratio: Ratio
    agent_faster_ratio: Ratio


class Tone(Settings):
    loudness_rise_db: Decibels
    pitch_rise_ratio: Ratio
    min_baseline_utterances: Small


class Silence(Settings):
    dead_air: Seconds
    hold_min: Seconds
    hold_window: Seconds
    thanks_window: Seconds
    long_hold: Seconds
    announce_slack: Seconds


class Overlap(Settings):
    min_overlap: Seconds
    backchannel_max: Seconds
    long_monologue: Seconds


class Repetition(Settings):
    similarity: Share
    min_distance: Seconds
    min_chars: Small
    max_earlier: Annotated[int, Strict(), Field(ge=1, le=100_000)]


class Address(Settings):
    blunt_share_high: Share
    min_second_person: Small
    polite_you_zh: Bit
    polite_you_es: Bit
    polite_you_en: Bit


class Question(Settings):
    rising_slope: Slope
    falling_slope: Slope


class Stages(Settings):
    weak_weight: Weight
    weak_drop: Stage
    anger_stage: Stage
    weak_anger_stage: Stage
    sensitive_stage: Stage
    weak_sensitive_stage: Stage
    problem_stage: Stage
    loud_bump: Stage
    loud_floor: Stage
    loud_cap: Stage
    final_utterances: Small
    calm_max: Stage
    unresolved_level: Stage
    venting_chars: Small
    venting_cap: Stage
    unresolved_cue_level: Stage
    opening_utterances: Small
    min_peak: Stage


class ComplaintClass(Settings):
    escalated_stage: Stage
    major_stage: Stage
    major_on_harm: Flag
    difficult_restatements: Small
    difficult_transfers: Small


class Outcome(Settings):
    final_utterances: Small
    complaint_level: Stage
    angry_stage: Stage
    threat_stage: Stage
    strong_weight: Weight


class Cues(Settings):
    negative_level: Stage
    opening_utterances: Small
    courteous_opening_kinds: list[Text]
    courteous_opening_chars: Small
    not_courteous_opening: list[Text]
    closing_utterances: Small
    courtesy_drop_ratio: Ratio
    courtesy_late_part: Annotated[int, Strict(), Field(ge=2, le=100)]
    courtesy_min_cues: Small
    courtesy_min_speech: Seconds
    action_window: Seconds
    min_time_weight: Weight
    restatement_window: Seconds
    min_step_markers: Small
    step_window: Seconds
    strong_step_weight: Weight
    closing_share: Share
    procedure_repeats: Small
    identity_repeat_gap: Seconds
    identity_repeats: Annotated[int, Strict(), Field(ge=2, le=1000)]
    arguing_onset_chars: Small


class Phases(Settings):
    open_question_weight: Weight
    closed_question_weight: Weight
    controlling_question_weight: Weight
    related_cue_weight: Weight
    min_evidence: Weight
    end_window: Small


class Thresholds(Settings):
    """All of ``thresholds.yaml``; ``thresholds["silence"]["dead_air"]`` and ``.silence.dead_air`` both work."""

    rate: Rate
    tone: Tone
    silence: Silence
    overlap: Overlap
    repetition: Repetition
    address: Address
    question: Question
    stages: Stages
    complaint_class: ComplaintClass
    outcome: Outcome
    cues: Cues
    phases: Phases


# Kept importable for modules that typed against them.
__all__ = ["Thresholds", "load_thresholds", "Count", "Number"]


@functools.lru_cache(maxsize=1)
def _defaults() -> Thresholds:
    return load_settings(shipped(DEFAULTS), Thresholds)


def load_thresholds(override: Path | Mapping[str, Any] | Thresholds | None = None) -> Thresholds:
    """The defaults, with the keys of ``override`` (a YAML file or a mapping) replaced.

    An unknown key, a wrong type or a value out of range is a ``ConfigError``
    naming the file and line (of the override when the key is there).
    """
    if override is None:
        return _defaults()
    if isinstance(override, Thresholds):
        return override
    return load_settings(shipped(DEFAULTS), Thresholds, error=ConfigError, override=override)
