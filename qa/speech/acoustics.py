"""Loudness and pitch of every utterance, measured on its speaker's own channel (Praat via parselmouth).

T-TONE compares each utterance with the same speaker's median (a shout is
"louder than this person usually is", not louder than some fixed dB), and
T-QUESTION uses a rising pitch at the end of an utterance as a question cue.
"""

from __future__ import annotations

import math

import numpy as np

from qa.common.memory import give_back
from qa.speech.audio import SAMPLE_RATE, iter_chunks
from qa.types import Recording, Transcript, Utterance, UtteranceAcoustics

PITCH_FLOOR = 75.0
PITCH_CEILING = 500.0
FINAL_WINDOW = 0.5  # s at the end of an utterance for the final pitch slope


def _channel_of(u: Utterance, channels: int) -> int:
    if channels == 2 and u.speaker.startswith("ch"):
        return int(u.speaker[2:])
    return -1  # the mix


def _measure(times_i, db, times_p, f0, start: float, end: float) -> UtteranceAcoustics:
    sel = (times_i >= start) & (times_i <= end)
    loud = None
    if sel.any():
        loud = float(10 * np.log10(np.mean(10 ** (db[sel] / 10))))
    sel_p = (times_p >= start) & (times_p <= end) & (f0 > 0)
    pitch = float(np.median(f0[sel_p])) if sel_p.sum() >= 3 else None
    tail = (times_p >= end - FINAL_WINDOW) & (times_p <= end) & (f0 > 0)
    slope = None
    if tail.sum() >= 5:
        semitones = 12 * np.log2(f0[tail] / 100.0)
        slope = float(np.polyfit(times_p[tail], semitones, 1)[0])
    return UtteranceAcoustics(
        loudness_db=None if loud is None or math.isnan(loud) else round(loud, 2),
        pitch_hz=None if pitch is None else round(pitch, 1),
        final_pitch_slope=None if slope is None else round(slope, 2),
    )


def measure_utterances(recording: Recording, transcript: Transcript) -> list[UtteranceAcoustics]:
    """One ``UtteranceAcoustics`` per transcript utterance, in the same order."""
    import parselmouth

    results: list[UtteranceAcoustics | None] = [None] * len(transcript.utterances)
    for chunk in iter_chunks(recording):
        lo, hi = chunk.offset, chunk.offset + chunk.duration
        wanted = [i for i, u in enumerate(transcript.utterances) if results[i] is None and lo <= u.start < hi]
        if not wanted:
            continue
        tracks = {}
        for channel in sorted({_channel_of(transcript.utterances[i], chunk.samples.shape[0]) for i in wanted}):
            signal = chunk.samples.mean(axis=0) if channel < 0 else chunk.samples[channel]
            sound = parselmouth.Sound(signal.astype(np.float64), sampling_frequency=SAMPLE_RATE)
            intensity = sound.to_intensity(minimum_pitch=PITCH_FLOOR)
            pitch = sound.to_pitch(time_step=0.01, pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
            tracks[channel] = (intensity.xs() + lo, intensity.values[0], pitch.xs() + lo,
                               pitch.selected_array["frequency"])
        for i in wanted:
            u = transcript.utterances[i]
            results[i] = _measure(*tracks[_channel_of(u, chunk.samples.shape[0])], u.start, u.end)
    give_back()  # Praat's float64 copies of each channel are freed
    return [r or UtteranceAcoustics(None, None, None) for r in results]
