"""A WhisperModel that encodes a window once when it is asked twice.

callqa hears each side's first piece of speech to settle the call's
language, then decodes that same piece: two encoder passes over one window,
about a tenth of a three-minute call's transcription time. The language
pass hands the model the features the decoder will read (see
``asr.language_probabilities``), so the second ``encode`` finds the first's
output here. Only the language pass's outputs are kept (other windows are
never asked for twice), each until used once, a few at most: two calls
decoded at once cannot push each other's out.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
from faster_whisper import WhisperModel

#: Encoder outputs kept (about 3 MB each for base): one per side of two calls decoded at once.
KEEP = 4


class ReusingWhisperModel(WhisperModel):
    """faster-whisper's model; ``encode`` of a window seen moments ago returns the stored output."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()
        self._here = threading.local()  # per thread: is this encode for the language pass?
        self.reused = 0  # how many encoder passes were saved (benchmarks print it)

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
        output = super().encode(features)
        if getattr(self._here, "keep", False):
            with self._lock:
                self._kept[key] = output
                while len(self._kept) > KEEP:
                    self._kept.popitem(last=False)
        return output
