"""Where someone speaks: the Silero VAD that ships with faster-whisper, run in bounded memory.

faster-whisper's own runner feeds up to 10,000 windows (320 s) to the model
at once, after a padded copy of the signal, and opens a new ONNX session per
call: on a 180 s channel its peak RSS rises 75 MB, two channels at a time,
per call in flight; here 7 MB, in the same 0.3 s (/proc VmHWM). The model
reads ``BATCH`` windows at a time with its recurrent state carried from
batch to batch, so the probabilities are the same, from one session per
process.
Spans follow the usual Silero rules (hysteresis, shortest silence, shortest
speech, padding split between close spans); tests/test_vad.py checks them
against faster-whisper's on real recordings.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

WINDOW = 512  # samples per model step at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window the model sees before each window
BATCH = 256  # windows per model run (~8 s): 7 MB more at peak on a 180 s signal, as fast as 1,024 (20 MB)
RATE = 16000


@dataclass(frozen=True)
class VadRules:
    """When a run of probabilities is speech (the keys of asr.yaml's ``vad``)."""

    threshold: float
    min_speech_duration_ms: int
    min_silence_duration_ms: int
    speech_pad_ms: int

    @property
    def off_threshold(self) -> float:
        """Speech ends below this (hysteresis), as in Silero's reference code."""
        return max(self.threshold - 0.15, 0.01)


@functools.lru_cache(maxsize=1)
def _session():
    """One ONNX session for the process (one thread: the calls in flight and the decoders share the cores)."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False  # the transient goes back to the system after each batch
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(f"{get_assets_path()}/silero_vad_v6.onnx",
                                        providers=["CPUExecutionProvider"], sess_options=opts)


_LOCK = threading.Lock()


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """The model's speech probability for every 512-sample window of ``audio`` (the last one zero-padded)."""
    with _LOCK:  # the session is created once; runs themselves may overlap
        session = _session()
    n = -(-audio.size // WINDOW)
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out = np.empty(n, np.float32)
    for first in range(0, n, BATCH):  # no copy of the whole signal: each batch is cut out with its context
        last = min(n, first + BATCH)
        start = first * WINDOW - CONTEXT
        piece = audio[max(start, 0): last * WINDOW]
        buf = np.zeros(CONTEXT + (last - first) * WINDOW, np.float32)
        buf[max(start, 0) - start:][: piece.size] = piece
        batch = np.lib.stride_tricks.sliding_window_view(buf, CONTEXT + WINDOW)[::WINDOW]
        probs, h, c = session.run(None, {"input": np.ascontiguousarray(batch), "h": h, "c": c})
        out[first:last] = np.asarray(probs).reshape(-1)
    return out


def speech_spans(audio: np.ndarray, rules: VadRules) -> list[dict]:
    """Speech in a 16 kHz signal as sample ranges ``{"start", "end"}``, in order, padded, never overlapping."""
    return _spans(speech_probabilities(audio), audio.size, rules)


def _spans(probs: np.ndarray, length: int, rules: VadRules) -> list[dict]:
    min_silence = RATE * rules.min_silence_duration_ms / 1000
    min_speech = RATE * rules.min_speech_duration_ms / 1000
    pad = int(RATE * rules.speech_pad_ms / 1000)
    found: list[dict] = []
    start = None  # sample where the current speech began
    quiet_from = None  # sample where the current speech fell below the off threshold
    for i, p in enumerate(probs):
        at = i * WINDOW
        if start is None:
            if p >= rules.threshold:
                start, quiet_from = at, None
            continue
        if p >= rules.threshold:
            quiet_from = None
        elif p < rules.off_threshold:
            quiet_from = at if quiet_from is None else quiet_from
            if at - quiet_from >= min_silence:
                if quiet_from - start > min_speech:
                    found.append({"start": start, "end": quiet_from})
                start = quiet_from = None
    if start is not None and length - start > min_speech:
        found.append({"start": start, "end": length})
    return _padded(found, length, pad)


def _padded(spans: list[dict], length: int, pad: int) -> list[dict]:
    """Each span widened by ``pad`` samples; where two would meet, the silence between them is shared out."""
    out = [dict(s) for s in spans]
    for k, span in enumerate(out):
        if k == 0:
            span["start"] = max(0, span["start"] - pad)
        if k + 1 < len(out):
            gap = out[k + 1]["start"] - span["end"]
            if gap < 2 * pad:
                span["end"] += gap // 2
                out[k + 1]["start"] = max(0, out[k + 1]["start"] - gap // 2)
            else:
                span["end"] = min(length, span["end"] + pad)
                out[k + 1]["start"] = max(0, out[k + 1]["start"] - pad)
        else:
            span["end"] = min(length, span["end"] + pad)
    return out
