"""The bounded-memory VAD finds the speech faster-whisper's own VAD finds, on real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.speech import vad
from qa.speech.asr import default_settings
from qa.speech.audio import load_audio, probe

REPO = Path(__file__).resolve().parents[1]


def _reference(audio: np.ndarray, rules: vad.VadRules) -> list[dict]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return get_speech_timestamps(audio, VadOptions(**rules.__dict__))


def _close(ours: list[dict], theirs: list[dict]) -> bool:
    """Same spans, edges within one window (faster-whisper zeroes the last 64 samples of its last window)."""
    return len(ours) == len(theirs) and all(
        abs(a["start"] - b["start"]) <= vad.WINDOW and abs(a["end"] - b["end"]) <= vad.WINDOW
        for a, b in zip(ours, theirs))


@pytest.mark.parametrize("clip", [
    "tests/data/en/pyannote_two_party_call.wav",
    "tests/data/zh/funasr_hotline_zh.wav",
    "samples/complaint_zh/call.flac",
])
def test_spans_are_faster_whispers_on_real_recordings(clip):
    recording = probe(REPO / clip)
    rules = vad.VadRules(**default_settings().vad)
    for channel in load_audio(recording):
        signal = np.ascontiguousarray(channel)
        theirs = _reference(signal, rules)
        assert theirs, clip  # the clip has speech: the comparison means something
        assert _close(vad.speech_spans(signal, rules), theirs)


def test_probabilities_do_not_depend_on_how_the_windows_are_batched(monkeypatch):
    """The model's state is carried from batch to batch: small batches give the one-batch answer."""
    audio = load_audio(probe(REPO / "samples/complaint_zh/call.flac"))[0][: 40 * vad.RATE]
    whole = vad.speech_probabilities(audio)
    monkeypatch.setattr(vad, "BATCH", 37)
    assert whole.size == -(-audio.size // vad.WINDOW)
    assert np.allclose(vad.speech_probabilities(audio), whole, atol=1e-5)
    assert whole.max() > 0.9 and whole.min() < 0.1


def test_rules_on_probabilities():
    rules = vad.VadRules(threshold=0.5, min_speech_duration_ms=200, min_silence_duration_ms=600, speech_pad_ms=200)
    w = vad.WINDOW
    # 1 s speech, 0.32 s dip (kept inside), 1 s speech, 1.6 s silence, 0.1 s blip (too short), silence
    probs = np.array([0.9] * 31 + [0.1] * 10 + [0.9] * 31 + [0.1] * 50 + [0.9] * 3 + [0.1] * 40, np.float32)
    spans = vad._spans(probs, probs.size * w, rules)
    pad = 3200
    assert spans == [{"start": 0, "end": 72 * w + pad}]
    # hysteresis: ~1 s at 0.4 (under the threshold, over the off threshold 0.35) stays inside the speech
    probs = np.array([0.1] * 20 + [0.9] * 31 + [0.4] * 30 + [0.9] * 10 + [0.1] * 30, np.float32)
    assert vad._spans(probs, probs.size * w, rules) == [{"start": 20 * w - pad, "end": 91 * w + pad}]
    # two speeches 0.7 s apart: each padded, and the pads share the silence between them when they would meet
    probs = np.array([0.9] * 20 + [0.1] * 22 + [0.9] * 20, np.float32)
    assert vad._spans(probs, probs.size * w, rules) == [
        {"start": 0, "end": 20 * w + pad}, {"start": 42 * w - pad, "end": 62 * w}]
    short = vad.VadRules(threshold=0.5, min_speech_duration_ms=200, min_silence_duration_ms=100, speech_pad_ms=200)
    probs = np.array([0.9] * 20 + [0.1] * 6 + [0.9] * 20, np.float32)  # 0.19 s apart: under two pads
    assert vad._spans(probs, probs.size * w, short) == [
        {"start": 0, "end": 20 * w + 3 * w}, {"start": 26 * w - 3 * w, "end": 46 * w}]
