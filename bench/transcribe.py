"""Benchmark: callqa's transcription against plain faster-whisper used the naive way.

For each configuration a fresh process transcribes the clips (so peak RSS is
that configuration's own) and reports real-time factor, audio seconds per wall
second, peak RSS and CER (zh) / WER (es, en) per language; for the sample call
the CER is per role. ``naive`` is faster-whisper as a first-time user calls it:
``WhisperModel(...).transcribe(file)`` on the whole file, mono mix, default
options (beam 5, no VAD, conditioning on previous text).

    python bench/transcribe.py                 # clips + sample call, all configurations
    python bench/transcribe.py --long 3        # also a 3-hour stereo recording: peak RSS
    python bench/transcribe.py --sample-only --configs "naive faster-whisper" \
        "callqa (default: beam 1, VAD)" "callqa batched (8 pieces a pass)"   # naive vs piece by piece vs batched

"x RT" is audio seconds per wall second, which is also audio hours per wall hour.
Every table line ends with the machine load (1-minute average) when it was measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.peak import peak_rss_mb  # noqa: E402
DATA = REPO / "tests" / "data"
SAMPLE = REPO / "samples" / "complaint_zh" / "call.flac"
SAMPLE_REF = REPO / "samples" / "complaint_zh" / "reference.txt"

CONFIGS = {
    "callqa (default: beam 1, VAD)": {"beam_size": 1, "vad_filter": True},
    "callqa 30 s windows": {"beam_size": 1, "vad_filter": True, "fit_windows": False},
    "callqa batched (8 pieces a pass)": {"beam_size": 1, "vad_filter": True, "batch_size": 8},
    "callqa beam 5, VAD": {"beam_size": 5, "vad_filter": True},
    "callqa beam 1, no VAD": {"beam_size": 1, "vad_filter": False},
    "callqa beam 5, no VAD": {"beam_size": 5, "vad_filter": False},
    "naive faster-whisper": None,
}


def clips() -> list[tuple[Path, str, dict[str, str]]]:
    """(file, language, reference per role or under 'all')."""
    out = []
    with (DATA / "references.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = DATA / row["file"]
            ref = row["reference"]
            if not path.exists() or not ref or "see sample" in ref or row["file"].endswith("diarization_test.wav"):
                continue
            if ref.startswith("LEFT:"):
                left, right = ref[len("LEFT:"):].split("| RIGHT:")
                out.append((path, row["language"], {"agent": left.strip(), "customer": right.strip()}))
            else:
                out.append((path, row["language"], {"all": ref}))
    if SAMPLE.exists() and SAMPLE_REF.exists():
        from qa.intake.transcript_io import read_transcript

        ref_t = read_transcript(SAMPLE_REF)
        out.append((SAMPLE, "zh", {r: "".join(u.text for u in ref_t.by_role(r)) for r in ("agent", "customer")}))
    return out


def worker(config_name: str, files: list[str]) -> None:
    from qa.speech.audio import probe

    results = []
    config = CONFIGS[config_name]
    if config is None:
        from faster_whisper import WhisperModel

        from qa.speech.model import assemble_embedded

        model = WhisperModel(str(assemble_embedded()), device="cpu", compute_type="int8")
    else:  # loaded before the clock starts, as the naive model is
        from qa.speech.model import ModelOptions, load_model

        load_model(ModelOptions())
    for f in files:
        recording = probe(Path(f))
        started = time.perf_counter()
        if config is None:
            segments, info = model.transcribe(f)
            text = "".join(s.text for s in segments)
            by_role = {"all": text}
            language = info.language
        else:
            from qa.speech.transcribe import TranscribeOptions, transcribe

            t = transcribe(recording, TranscribeOptions(language=None, **config))
            by_role = {"all": " ".join(u.text for u in t.utterances)}
            for role in ("agent", "customer"):
                by_role[role] = " ".join(u.text for u in t.by_role(role))
            language = t.language
        elapsed = time.perf_counter() - started
        results.append({"file": f, "duration": recording.duration, "elapsed": elapsed, "text": by_role,
                        "language": language})
    peak = peak_rss_mb()
    print(json.dumps({"results": results, "peak_rss_mb": peak}, ensure_ascii=False))


def mono_sample(_=None) -> None:
    """The sample call's two channels mixed to one: separation and roles on a 3-minute mono call."""
    import wave

    from qa.intake.transcript_io import read_transcript
    from qa.speech.audio import load_audio, probe
    from qa.speech.metrics import word_speaker_accuracy
    from qa.speech.transcribe import transcribe

    reference = read_transcript(SAMPLE_REF)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mono.wav"
        mixed = load_audio(probe(SAMPLE)).mean(axis=0)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
            w.writeframes((mixed.clip(-1, 1) * 32767).astype("<i2").tobytes())
        started = time.perf_counter()
        t = transcribe(probe(path))
        elapsed = time.perf_counter() - started
    truth = [(u.start, u.end, u.role) for u in reference.utterances]
    accuracy = word_speaker_accuracy(t, truth)
    right_role = sum(1 for u in t.utterances for w in u.words
                     if any(a - 0.1 <= (w.start + w.end) / 2 <= b + 0.1 and r == u.role for a, b, r in truth))
    words = sum(len(u.words) for u in t.utterances) or 1
    print(f"Sample call mixed to mono: {elapsed:.1f} s, separated={t.roles.separated}, word speaker-attribution "
          f"accuracy {accuracy:.3f}, words given the right role {right_role / words:.3f}, "
          f"role confidence {t.roles.confidence:.2f}")


def run_config(name: str, files: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", name, *files], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def score(item: tuple[Path, str, dict[str, str]], result: dict) -> dict[str, float]:
    from qa.speech.metrics import error_rate

    path, language, refs = item
    if "all" in refs:
        return {"all": error_rate(refs["all"], result["text"]["all"], language)}
    if set(result["text"]) == {"all"}:  # naive: no roles, score the whole text
        joined = " ".join(refs[r] for r in ("agent", "customer"))
        return {"all": error_rate(joined, result["text"]["all"], language)}
    return {r: error_rate(refs[r], result["text"].get(r, ""), language) for r in refs}


def make_long(hours: float, target: Path) -> Path:
    """A stereo recording of ``hours`` made by repeating the sample call (FLAC, small on disk)."""
    import av
    import numpy as np

    from qa.speech.audio import load_audio, probe

    base = load_audio(probe(SAMPLE))
    repeats = int(hours * 3600 / (base.shape[1] / 16000)) + 1
    with av.open(str(target), "w") as out:
        stream = out.add_stream("flac", rate=16000)
        stream.layout = "stereo"
        for _ in range(repeats):
            block = (np.clip(base, -1, 1) * 32767).astype("<i2")
            interleaved = np.ascontiguousarray(block.T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), help="configurations to run")
    parser.add_argument("--long", type=float, default=0, help="also transcribe an N-hour stereo call (peak RSS)")
    parser.add_argument("--sample-only", action="store_true", help="only the sample call")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.files)
        return
    items = clips()
    if args.sample_only:
        items = [item for item in items if item[0] == SAMPLE]
    files = [str(p) for p, _, _ in items]
    print(f"{len(items)} recordings, {sum(1 for _ in items)} with references; 2-core CPU, int8\n")
    header = f"{'configuration':32} {'lang':4} {'audio s':>8} {'wall s':>7} {'RTF':>6} {'x RT':>6} {'peak MB':>8} {'CER/WER':>8} {'load':>5}"
    print(header)
    print("-" * len(header))
    sample_rows = []
    for name in args.configs:
        report = run_config(name, files)
        load = os.getloadavg()[0]
        by_lang: dict[str, list] = {}
        for item, result in zip(items, report["results"]):
            errs = score(item, result)
            by_lang.setdefault(item[1], []).append((result, errs))
            if item[0] == SAMPLE:
                sample_rows.append((name, result, errs))
        for lang, rows in sorted(by_lang.items()):
            audio = sum(r["duration"] for r, _ in rows)
            wall = sum(r["elapsed"] for r, _ in rows)
            errs = [e for _, es in rows for e in es.values()]
            print(f"{name:32} {lang:4} {audio:8.1f} {wall:7.1f} {wall / audio:6.3f} {audio / wall:6.1f} "
                  f"{report['peak_rss_mb']:8.0f} {sum(errs) / len(errs):8.3f} {load:5.1f}")
    if sample_rows:
        print("\nSample call (two-channel Mandarin complaint):")
        naive = next((r for n, r, _ in sample_rows if n.startswith("naive")), None)
        for name, result, errs in sample_rows:
            speed = f"{naive['elapsed'] / result['elapsed']:.2f}x naive" if naive else ""
            per_role = ", ".join(f"CER {k} {v:.3f}" for k, v in errs.items())
            print(f"  {name:32} {result['elapsed']:6.1f} s for {result['duration']:.0f} s audio  {speed:>14}  {per_role}")
    pyannote = DATA / "en" / "pyannote_two_party_call.wav"
    if pyannote.exists() and "callqa (default: beam 1, VAD)" in args.configs:
        from qa.speech.audio import probe
        from qa.speech.metrics import read_stm, word_speaker_accuracy
        from qa.speech.transcribe import transcribe

        t = transcribe(probe(pyannote))
        accuracy = word_speaker_accuracy(t, read_stm(pyannote.with_suffix(".stm")))
        print(f"\nMono two-party telephone call (pyannote sample): separated={t.roles.separated}, "
              f"word speaker-attribution accuracy {accuracy:.3f}, role confidence {t.roles.confidence:.2f}")
        mono_sample(t)
    if args.long:
        with tempfile.TemporaryDirectory() as tmp:
            path = make_long(args.long, Path(tmp) / "long.flac")
            report = run_config("callqa (default: beam 1, VAD)", [str(path)])
            r = report["results"][0]
            print(f"\n{args.long:g}-hour stereo call: {r['elapsed']:.0f} s wall, RTF {r['elapsed'] / r['duration']:.3f}, "
                  f"peak RSS {report['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
