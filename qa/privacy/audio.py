"""A copy of a recording in which every masked stretch of the transcript is a tone (or silence).

Masking the text is not enough when the page plays the call: the customer
still says the card number. The masked words (``qa.privacy.redact`` merges each
masked stretch into one word carrying the mask, with the ASR's times) are
padded by ``audio.pad_seconds`` from ``qa/data/redact.yaml`` and overwritten
on every channel, so the copy is safe to embed and serve.
"""

from __future__ import annotations

import functools
import os
import threading
import wave
from pathlib import Path

import numpy as np

from qa.common.settings import load_settings, shipped
from qa.errors import RedactConfigError
from qa.privacy.redact import default_settings as redact_settings
from qa.privacy.settings import AudioMaskSettings, AudioSection
from qa.speech.audio import SAMPLE_RATE, load_audio
from qa.types import Recording, Transcript


@functools.lru_cache(maxsize=1)
def audio_mask_settings() -> AudioMaskSettings:
    """``audio:`` of the shipped redact.yaml (typed by ``AudioMaskSettings``; errors name file and line)."""
    return load_settings(shipped("redact.yaml"), AudioSection, error=RedactConfigError).audio


def masked_times(transcript: Transcript, pad: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of every word that carries a mask, padded and merged.

    An utterance whose text carries a mask that none of its words does (a transcript imported
    without word times) is masked whole: without times for the word, the whole turn is the
    narrowest span known to hold it.
    """
    mask_re = redact_settings().mask_re
    spans: list[tuple[float, float]] = []
    for u in transcript.utterances:
        words = [(w.start, w.end) for w in u.words if mask_re.search(w.text)]
        spans += words or ([(u.start, u.end)] if mask_re.search(u.text) else [])
    found = sorted((max(0.0, a - pad), b + pad) for a, b in spans)
    merged: list[tuple[float, float]] = []
    for a, b in found:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def mask_samples(samples: np.ndarray, times: list[tuple[float, float]], settings: AudioMaskSettings) -> np.ndarray:
    """``samples`` (channels, n) at 16 kHz with each time range replaced by the fill, on every channel."""
    out = samples.copy()
    for a, b in times:
        i, j = int(a * SAMPLE_RATE), min(out.shape[1], int(np.ceil(b * SAMPLE_RATE)))
        if i >= j:
            continue
        if settings.fill == "tone":
            t = np.arange(j - i) / SAMPLE_RATE
            out[:, i:j] = (settings.tone_level * np.sin(2 * np.pi * settings.tone_hz * t)).astype(out.dtype)
        else:
            out[:, i:j] = 0
    return out


def write_redacted_audio(recording: Recording, transcript: Transcript, target: Path,
                         settings: AudioMaskSettings | None = None) -> Path:
    """Write ``target`` (16 kHz 16-bit WAV): the recording with the transcript's masked stretches filled."""
    settings = settings or audio_mask_settings()
    samples = mask_samples(load_audio(recording), masked_times(transcript, settings.pad_seconds), settings)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Each writer its own partial file: two server threads or processes may make the same copy at once.
    partial = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.part")
    with wave.open(str(partial), "wb") as w:
        w.setnchannels(samples.shape[0]), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes())
    partial.replace(target)
    return target
