"""faster-whisper's WhisperModel with callqa's two changes to the encoder pass.

**Windows fitted to the speech.** Whisper reads audio in 30 s windows, and
faster-whisper pads a shorter piece to 30 s before the encoder; but the
encoder's cost grows faster than its input (one core, int8: 10 s 0.09 s,
20 s 0.25 s, 30 s 0.6 s; self-attention is quadratic), and callqa's pieces
and leftovers are often short. Inside ``fitted`` (per thread: the model is
shared), a window is cut after its last frame of audio plus ``margin``
frames of the padding, at least ``floor`` frames: the encoder reads
a shorter window (CTranslate2 takes any length up to 30 s). Whisper was
trained on 30 s windows, and with too little padding its decoder loses
the end of the audio and loops (whisper.cpp's ``audio_ctx``, issue 1951);
the margin keeps some, and callqa's loop check and coverage rounds catch
the rest. Measured in bench/repeated.py and bench/transcribe.py.

**The language pass's output reused.** callqa hears each side's first piece
of speech to settle the call's language, then decodes that same piece: two
encoder passes over one window. The language pass hands the model the
features the decoder will read (see ``asr.language_probabilities``), so the
second ``encode`` finds the first's output here. Only the language pass's
outputs are kept (other windows are never asked for twice), each until used
once, a few at most: two calls decoded at once cannot push each other's out.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict

import numpy as np
from faster_whisper import WhisperModel

#: Encoder outputs kept (about 3 MB each for base): one per side of two calls decoded at once.
KEEP = 4


class CallqaWhisperModel(WhisperModel):
    """faster-whisper's model; ``encode`` fits the window to its audio and reuses the language pass's output."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()
        self._here = threading.local()  # per thread: the window rule, and whether this is the language pass
        self.reused = 0  # how many encoder passes were saved (benchmarks print it)

    @contextlib.contextmanager
    def fitted(self, margin: float | None, floor: float = 0.0):
        """Encoder windows in this thread end ``margin`` seconds after their audio (None: 30 s windows)."""
        before = getattr(self._here, "fit", None)
        per_second = self.feature_extractor.sampling_rate / self.feature_extractor.hop_length
        self._here.fit = None if margin is None else (round(margin * per_second), round(floor * per_second))
        try:
            yield self
        finally:
            self._here.fit = before

    def detect_language(self, *args, **kwargs):
        self._here.keep = True  # the windows encoded for the language will be decoded next
        try:
            return super().detect_language(*args, **kwargs)
        finally:
            self._here.keep = False

    def encode(self, features: np.ndarray):
        key = hashlib.blake2b(np.ascontiguousarray(features).data, digest_size=16).digest()
        with self._lock:
            kept = self._kept.pop(key, None)
            if kept is not None:
                self.reused += 1
                return kept
        output = super().encode(fit_window(features, getattr(self._here, "fit", None)))
        if getattr(self._here, "keep", False):
            with self._lock:
                self._kept[key] = output
                while len(self._kept) > KEEP:
                    self._kept.popitem(last=False)
        return output


def fit_window(features: np.ndarray, fit: tuple[int, int] | None) -> np.ndarray:
    """The window (mels x frames, or a batch of them) cut ``margin`` frames after its last frame of audio.

    faster-whisper pads a window's features with exact zeros (``pad_or_trim``);
    a frame of audio, even of digital silence, is never all zeros. The
    length stays even (the encoder's convolution halves it) and at least
    ``floor`` frames; ``fit`` None leaves the window as it is.
    """
    if fit is None:
        return features
    margin, floor = fit
    frames = features.shape[-1]
    flat = features.reshape(-1, frames)
    audio = np.flatnonzero(np.any(flat != 0, axis=0))
    last = int(audio[-1]) + 1 if audio.size else 0
    keep = max(floor, last + margin, 2)
    keep = min(frames, keep + keep % 2)
    return features if keep >= frames else np.ascontiguousarray(features[..., :keep])
