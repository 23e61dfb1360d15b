"""The voice against the speaker's own baseline: who got louder (T-TONE, and the stages' loud bump)."""

from __future__ import annotations

import statistics

from qa.errors import AcousticsAlignmentError
from qa.tagging.view import CallView
from qa.types import UtteranceAcoustics


def aligned_acoustics(call: CallView) -> list[UtteranceAcoustics] | None:
    """``call.acoustics`` when present, after checking it has one entry per utterance."""
    if call.acoustics is None:
        return None
    if len(call.acoustics) != len(call.utterances):
        raise AcousticsAlignmentError(
            f"{len(call.acoustics)} acoustic measurements for {len(call.utterances)} utterances in call "
            f"{call.transcript.call_id!r}; measure the same transcript that is tagged (qa.speech.acoustics.measure_utterances)"
        )
    return call.acoustics


def baselines(call: CallView, attribute: str) -> dict[str, float]:
    """Median of ``attribute`` (loudness_db / pitch_hz) per role, for roles with enough measured utterances."""
    acoustics = aligned_acoustics(call)
    if acoustics is None:
        return {}
    needed = int(call.thresholds["tone"]["min_baseline_utterances"])
    values: dict[str, list[float]] = {}
    for u, a in zip(call.utterances, acoustics):
        value = getattr(a, attribute)
        if value is not None:
            values.setdefault(u.role, []).append(float(value))
    return {role: statistics.median(v) for role, v in values.items() if len(v) >= needed}


def loudness_rises(call: CallView) -> dict[int, float]:
    """Utterance index -> dB above its speaker's median, for utterances over ``tone.loudness_rise_db``."""
    base = baselines(call, "loudness_db")
    if not base:
        return {}
    limit = float(call.thresholds["tone"]["loudness_rise_db"])
    rises = {}
    for i, (u, a) in enumerate(zip(call.utterances, call.acoustics or ())):
        if u.role in base and a.loudness_db is not None and a.loudness_db - base[u.role] >= limit:
            rises[i] = a.loudness_db - base[u.role]
    return rises
