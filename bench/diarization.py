"""Benchmark the mono speaker split (qa.speech.diarize) on real recordings.

Cases:
  call      pyannote two-party telephone call (mono mix), reference = .rttm turns
  stereo    stereo_diarization.wav mixed to mono, reference = channel with energy
  concat    jfk.flac and a LibriSpeech clip interleaved (two real voices, known
            boundaries); a synthetic check that is not the tuning file
  3spk      diarization_test.wav, three voices: must at least be "separated"
  single-*  single-speaker clips (en/es/zh): must be reported as not separated
  silence   3 s of digital silence

Frame metrics on a 10 ms grid, no collar: ``acc`` = speaker attribution
accuracy over frames where exactly one reference speaker talks and the split
gives a speaker (best mapping of spk0/spk1 to the reference speakers); DER =
missed + false alarm + confusion over reference speaker time (overlap frames
count twice in the reference and can only be half right).

Run:  .venv/bin/python bench/diarization.py [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faster_whisper import decode_audio  # noqa: E402

from qa.speech.diarize import Diarization, split_speakers  # noqa: E402

AUDIO = Path("/work/shared/data/audio")
SR = 16000
STEP = 0.01
SINGLE = [
    "en/jfk.flac", "en/librispeech-1995-1837-0001.wav", "en/leopard_test_en.wav",
    "es/leopard_test_es.wav", "es/test_es_norm.wav", "zh/aishell-BAC009S0724W0121.wav",
    "zh/paddlespeech_zh.wav", "zh/funasr_hotline_zh.wav", "zh/long.wav", "zh/mid.wav",
]


def load(rel: str) -> np.ndarray:
    return decode_audio(str(AUDIO / rel), sampling_rate=SR)


def grid(duration: float) -> np.ndarray:
    return np.arange(0.0, duration, STEP) + STEP / 2


def rttm_reference(path: Path, duration: float) -> np.ndarray:
    """[frames, speakers] 0/1 activity from an RTTM file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.startswith("SPEAKER")]
    names = sorted({r[7] for r in rows})
    t = grid(duration)
    ref = np.zeros((len(t), len(names)), dtype=bool)
    for r in rows:
        start, length = float(r[3]), float(r[4])
        ref[(t >= start) & (t < start + length), names.index(r[7])] = True
    return ref


def channel_reference(channels: list[np.ndarray], duration: float, floor_db: float = -45.0) -> np.ndarray:
    """A channel is active where its 100 ms energy is above ``floor_db`` dBFS."""
    t = grid(duration)
    ref = np.zeros((len(t), len(channels)), dtype=bool)
    half = int(0.05 * SR)
    for c, ch in enumerate(channels):
        power = np.convolve(ch.astype(np.float64) ** 2, np.ones(2 * half) / (2 * half), mode="same")
        idx = np.minimum((t * SR).astype(int), len(ch) - 1)
        ref[:, c] = 10 * np.log10(power[idx] + 1e-12) > floor_db
    return ref


def hypothesis(result: Diarization, duration: float) -> np.ndarray:
    """[frames] speaker index (spk0 -> 0, spk1 -> 1), -1 = no speech."""
    t = grid(duration)
    hyp = np.full(len(t), -1)
    for turn in result.turns:
        hyp[(t >= turn.start) & (t < turn.end)] = int(turn.speaker[-1])
    return hyp


def score(ref: np.ndarray, hyp: np.ndarray) -> dict[str, float]:
    """Attribution accuracy and DER parts under the best speaker mapping."""
    n_ref = ref.sum(axis=1)
    total = n_ref.sum()
    best: dict[str, float] = {}
    for mapping in itertools.permutations(range(ref.shape[1]), 2):
        correct = np.zeros(len(hyp), dtype=bool)
        for label, spk in enumerate(mapping):
            correct |= (hyp == label) & ref[:, spk]
        single = (n_ref == 1) & (hyp >= 0)
        acc = correct[single].mean() if single.any() else float("nan")
        has = hyp >= 0
        missed = np.maximum(n_ref - has, 0).sum()
        false_alarm = np.maximum(has.astype(int) - n_ref, 0).sum()
        confusion = (np.minimum(n_ref, has) - correct).sum()
        row = {"acc": float(acc), "miss": missed / total, "fa": false_alarm / total,
               "conf": confusion / total}
        row["der"] = row["miss"] + row["fa"] + row["conf"]
        if not best or row["acc"] > best["acc"]:
            best = row
    return best


def cases(long_minutes: float) -> list[tuple[str, np.ndarray, np.ndarray | None, str]]:
    """(name, mono samples, reference or None, expectation)."""
    out = []
    call = load("en/pyannote_two_party_call.wav")
    out.append(("call", call, rttm_reference(AUDIO / "en/pyannote_two_party_call.rttm",
                                             len(call) / SR), "2"))
    left, right = decode_audio(str(AUDIO / "en/stereo_diarization.wav"), sampling_rate=SR,
                               split_stereo=True)
    out.append(("stereo-mix", (left + right) / 2,
                channel_reference([left, right], len(left) / SR), "2"))
    jfk, libri = load("en/jfk.flac"), load("en/librispeech-1995-1837-0001.wav")
    cut_a, cut_b = int(5.0 * SR), int(4.0 * SR)
    pieces = [jfk[:cut_a], libri[:cut_b], jfk[cut_a:], libri[cut_b:]]
    concat = np.concatenate(pieces)
    ref = np.zeros((len(grid(len(concat) / SR)), 2), dtype=bool)
    t, offset = grid(len(concat) / SR), 0.0
    for k, piece in enumerate(pieces):
        length = len(piece) / SR
        ref[(t >= offset) & (t < offset + length), k % 2] = True
        offset += length
    # speech only where the clip itself has energy (pauses inside clips are not speech)
    energy = channel_reference([concat], len(concat) / SR)[:, 0]
    out.append(("concat", concat, ref & energy[:, None], "2"))
    out.append(("3spk", load("en/diarization_test.wav"), None, "2+"))
    for rel in SINGLE:
        out.append((f"single {rel}", load(rel), None, "1"))
    out.append(("silence", np.zeros(3 * SR, dtype=np.float32), None, "0"))
    if long_minutes > 0:
        reps = int(np.ceil(long_minutes * 60 / (len(call) / SR)))
        out.append((f"call x{reps} ({long_minutes:g} min)", np.tile(call, reps), None, "2"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=0.0,
                        help="also time the call tiled to this many minutes")
    args = parser.parse_args()
    split_speakers(np.zeros(SR, dtype=np.float32))  # load the VAD model outside the timings
    header = (f"{'case':38} {'expect':>6} {'sep':>5} {'n':>2} {'conf':>5} {'acc':>5} {'DER':>5} "
              f"{'miss':>5} {'FA':>5} {'conf.':>5} {'bic':>5} {'s/min':>6}  notes")
    print(header)
    print("-" * len(header))
    for name, samples, ref, expect in cases(args.long_minutes):
        started = time.perf_counter()
        result = split_speakers(samples)
        elapsed = time.perf_counter() - started
        minutes = len(samples) / SR / 60
        metrics = score(ref, hypothesis(result, len(samples) / SR)) if ref is not None else {}
        ok = {"2": result.separated, "2+": result.separated, "1": not result.separated,
              "0": not result.separated and result.num_speakers == 0}[expect]

        def cell(key: str) -> str:
            return f"{metrics[key]:5.2f}" if key in metrics else f"{'':5}"

        print(f"{name:38} {expect:>6} {str(result.separated):>5} {result.num_speakers:>2} "
              f"{result.confidence:5.2f} {cell('acc')} {cell('der')} {cell('miss')} {cell('fa')} "
              f"{cell('conf')} {result.stats.get('bic_ratio', float('nan')):5.2f} "
              f"{elapsed / minutes:6.2f}  {'OK ' if ok else 'BAD'} {'; '.join(result.notes)[:90]}")


if __name__ == "__main__":
    main()
