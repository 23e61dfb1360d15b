"""A two-channel Mandarin call assembled from real read-speech clips, with sentences that recur.

The agent's channel says the same clips several times, sometimes back to back
and sometimes after long pauses; the customer answers in between. Whisper
tends to skip a sentence it has just written, and a transcriber that packs
speech into windows puts the repeats side by side, so this is the call on
which lost speech shows (issue 15). Built at test time from the clips in
tests/data/zh (provenance in tests/data/PROVENANCE.md); nothing generated
is committed.
"""

from __future__ import annotations

import csv
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
RATE = 16000
AGENT_CLIPS = ("zh/aishell-BAC009S0724W0121.wav", "zh/paddlespeech_zh.wav", "zh/funasr_hotline_zh.wav")
CUSTOMER_CLIPS = ("zh/funasr_hotline_zh.wav", "zh/paddlespeech_zh.wav", "zh/aishell-BAC009S0724W0121.wav")


@dataclass(frozen=True)
class Said:
    """One sentence placed in the call: who, where (seconds, the clip's speech only) and its reference."""

    role: str
    start: float
    end: float
    text: str
    clip: str


@dataclass
class BuiltCall:
    samples: np.ndarray  # (2, n) float32: channel 0 agent, channel 1 customer
    said: list[Said]

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / RATE

    def reference(self, role: str) -> str:
        return "".join(s.text for s in self.said if s.role == role)

    def write(self, path: Path) -> Path:
        frames = np.ascontiguousarray(self.samples.T)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2), w.setsampwidth(2), w.setframerate(RATE)
            w.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())
        return path


def _clip(name: str) -> tuple[np.ndarray, str]:
    with wave.open(str(DATA / name)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    with (DATA / "references.tsv").open(encoding="utf-8") as fh:
        text = next(r["reference"] for r in csv.DictReader(fh, delimiter="\t") if r["file"] == name)
    return audio, text


def _speech_bounds(audio: np.ndarray) -> tuple[int, int]:
    """First and last 10 ms frame louder than 5 % of the clip's peak (the clips have lead-in silence)."""
    hop = RATE // 100
    n = audio.size // hop
    energy = np.abs(audio[: n * hop]).reshape(n, hop).max(axis=1)
    loud = np.flatnonzero(energy > 0.05 * energy.max())
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def build_call(seed: int = 0, minutes: float = 3.0) -> BuiltCall:
    """A call of about ``minutes``: turns alternate, the agent often says two or three sentences
    in a row (the same one repeated, or different ones), gaps between 0.2 s and 4 s."""
    rng = np.random.default_rng(seed)
    clips = {name: _clip(name) for name in set(AGENT_CLIPS + CUSTOMER_CLIPS)}
    total = int(minutes * 60 * RATE)
    track = np.zeros((2, total + 20 * RATE), np.float32)
    said: list[Said] = []
    at = int(0.5 * RATE)
    turn = 0
    while at < total:
        role = "agent" if turn % 2 == 0 else "customer"
        names = AGENT_CLIPS if role == "agent" else CUSTOMER_CLIPS
        count = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3])) if role == "agent" else int(rng.choice([1, 2], p=[0.7, 0.3]))
        first = names[int(rng.integers(len(names)))]
        for k in range(count):
            name = first if rng.random() < 0.6 or k == 0 else names[int(rng.integers(len(names)))]
            audio, text = clips[name]
            lo, hi = _speech_bounds(audio)
            gain = float(rng.uniform(0.6, 1.0))
            track[0 if role == "agent" else 1, at: at + audio.size] += audio * gain
            said.append(Said(role, round((at + lo) / RATE, 3), round((at + hi) / RATE, 3), text, name))
            at += audio.size + int(rng.uniform(0.2, 1.5) * RATE)
        at += int(rng.uniform(0.3, 4.0) * RATE)
        turn += 1
    return BuiltCall(track[:, :at], said)


def sentence_hits(call: BuiltCall, utterances, limit: float = 0.5) -> list[tuple[Said, float]]:
    """Each placed sentence with the CER of the words heard on its side during it (1.0: nothing heard)."""
    from qa.speech.metrics import cer

    out = []
    for s in call.said:
        heard = "".join(w.text for u in utterances if u.role == s.role for w in u.words
                        if s.start - 0.3 <= (w.start + w.end) / 2 <= s.end + 0.3)
        out.append((s, min(1.0, cer(s.text, heard)) if heard else 1.0))
    return out
