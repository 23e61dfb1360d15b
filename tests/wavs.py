"""Writing test audio: 16-bit PCM WAV from float samples in [-1, 1]."""

from __future__ import annotations

import wave

import numpy as np


def write_wav(path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> None:
    """``samples``: mono (n,) or interleaved frames (n, channels)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
