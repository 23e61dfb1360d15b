"""Benchmark: the nightly flow on an archive of real calls, against reviewing them one at a time.

Builds an archive of at least 50 calls from the sample call
(samples/complaint_zh/call.flac) and the clips in tests/data, varied so every
file has its own content hash: trimmed differently, re-encoded (FLAC, MP3,
Opus, AAC/m4a, 8 kHz mu-law WAV, AMR), mono mixes, with sidecar metadata for
different agents and teams. Then, in one process:

1. the nightly flow (threads, default concurrency) over the archive;
2. the same flow again: nothing new, so only the scan and index run;
3. the same review work as a plain loop over ``review_file`` + ``save_review``
   (no flow, one call at a time) on a representative subset, so the ratio
   shows what concurrency buys on this machine;
4. a no-new-calls run of the flow over 10,000 tiny timed-text files that are
   already reviewed and in the file index.

Prints a table: calls per hour, audio hours per wall hour, CPU utilisation
(this process and its children, over all cores; and the whole machine, which
includes other users), CPU seconds per audio second (what a call costs,
whatever else the machine is doing), peak memory (this process and its
children). Target: >= 20 audio hours per wall hour, <= 1 GB per worker.

    python bench/nightly.py                       # everything (several minutes)
    python bench/nightly.py --calls 50 --baseline-calls 12 --scan-files 10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO / "tests" / "data"
SAMPLE = REPO / "samples" / "complaint_zh" / "call.flac"
RATE = 16000

# (container format, codec, file suffix, sample rate, mono?) for the re-encoded copies.
ENCODINGS = [
    ("flac", "flac", "flac", 16000, False),
    ("wav", "pcm_mulaw", "wav", 8000, False),
    ("mp3", "libmp3lame", "mp3", 16000, False),
    ("ogg", "libopus", "opus", 48000, False),
    ("ipod", "aac", "m4a", 16000, False),
    ("wav", "pcm_s16le", "wav", 16000, True),
    ("amr", "libopencore_amrnb", "amr", 8000, True),
]
TEAMS = ["north", "south", "east"]


# ---------------------------------------------------------------- building the archive
def decode(path: Path):
    """(channels, n) float32 at 16 kHz."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = "stereo" if stream.codec_context.channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=RATE)
        blocks = [out.to_ndarray() for frame in container.decode(audio=0) for out in resampler.resample(frame)]
        blocks += [out.to_ndarray() for out in resampler.resample(None)]
    return np.concatenate(blocks, axis=1).astype("float32")


def encode(samples, path: Path, fmt: str, codec: str, rate: int, mono: bool) -> None:
    import av
    import numpy as np

    if mono and samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True)
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        step = RATE // 5
        for start in range(0, samples.shape[1], step):
            block = np.ascontiguousarray(samples[:, start:start + step])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = RATE
            for rs in resampler.resample(frame):
                for packet in stream.encode(rs):
                    out.mux(packet)
        for rs in resampler.resample(None):
            for packet in stream.encode(rs):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def sources() -> list[tuple[str, Path, str]]:
    found = []
    if SAMPLE.is_file():
        found.append(("zh", SAMPLE, "complaint"))
    for lang in ("zh", "es", "en"):
        for path in sorted((DATA / lang).glob("*")):
            if path.suffix in (".wav", ".flac"):
                found.append((lang, path, path.stem))
    return found


def build_archive(root: Path, calls: int) -> list[Path]:
    """``calls`` distinct recordings: the sample call weighted 3:1 over the short clips (real calls are long)."""
    import numpy as np

    srcs = sources()
    long = [s for s in srcs if s[2] == "complaint"]
    short = [s for s in srcs if s[2] != "complaint"]
    decoded = {path: decode(path) for _, path, _ in srcs}
    made = []
    for i in range(calls):
        lang, path, name = long[0] if long and i % 4 != 3 else short[i % len(short)]
        samples = decoded[path]
        seconds = samples.shape[1] / RATE
        if name == "complaint":  # a different stretch of the call each time: 50-100 % of it
            keep = 0.5 + 0.5 * ((i * 37) % 11) / 10
            start = int(((i * 13) % 7) / 7 * (1 - keep) * samples.shape[1])
            samples = samples[:, start:start + int(keep * samples.shape[1])]
        else:  # trim a few hundred ms so each copy differs
            samples = samples[:, int((i % 5) * 0.1 * RATE):]
        samples = samples * (0.7 + 0.05 * (i % 6))
        fmt, codec, suffix, rate, mono = ENCODINGS[i % len(ENCODINGS)]
        folder = root / f"2026-11-{1 + i % 5:02d}" / TEAMS[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}-{i:03d}.{suffix}"
        encode(np.clip(samples, -1, 1), target, fmt, codec, rate, mono)
        meta = {"call_id": f"bench-{i:03d}", "agent_id": f"agent-{i % 7}", "team": TEAMS[i % 3],
                "started_at": f"2026-11-{1 + i % 5:02d}T{8 + i % 9:02d}:00:00+08:00", "language": lang,
                "source_seconds": round(seconds, 1)}
        target.with_name(target.name + ".json").write_text(json.dumps(meta), encoding="utf-8")
        made.append(target)
    stamp = time.time() - 3600
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (stamp, stamp))
    return made


# ---------------------------------------------------------------- measuring
@dataclass
class Measure:
    wall: float = 0.0
    cpu: float = 0.0  # seconds of CPU used by this process and its children
    machine_cpu: float = 0.0  # % of all cores busy, all users
    peak_rss: int = 0
    peaks: dict = field(default_factory=dict)  # pid -> (what the process is, its own peak RSS in bytes)


class Meter:
    """Wall time, CPU time of this process and every child it ever had (Dask workers exit before the end), peak RSS."""

    def __enter__(self):
        import psutil

        self.proc = psutil.Process()
        self.result = Measure()
        self._stop = threading.Event()
        self._cpu: dict[int, float] = {}  # pid -> latest user+system seconds seen
        self._sample_once()
        self._cpu0 = sum(self._cpu.values())
        psutil.cpu_percent(None)
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self.result

    def _sample_once(self) -> None:
        try:
            tree = [self.proc, *self.proc.children(recursive=True)]
        except Exception:  # noqa: BLE001 - a child may exit while we look
            tree = [self.proc]
        rss = 0
        peaks = self.result.peaks
        for p in tree:
            try:
                t = p.cpu_times()
                self._cpu[p.pid] = t.user + t.system
                mine = p.memory_info().rss
                rss += mine
                what, peak = peaks.get(p.pid) or ("this process" if p.pid == self.proc.pid
                                                  else " ".join(p.cmdline())[-70:], 0)
                peaks[p.pid] = (what, max(mine, peak))
            except Exception:  # noqa: BLE001
                pass
        self.result.peak_rss = max(self.result.peak_rss, rss)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._sample_once()

    def __exit__(self, *exc) -> None:
        import psutil

        self.result.wall = time.perf_counter() - self._t0
        self.result.machine_cpu = psutil.cpu_percent(None)
        self._stop.set()
        self._thread.join()
        self._sample_once()
        self.result.cpu = sum(self._cpu.values()) - self._cpu0


def baseline(files: list[Path], store_url: str) -> tuple[float, int]:
    """One call at a time, no flow: review_file then save_review. Returns (audio seconds, calls)."""
    from qa.pipeline.nightly import open_store, review_options
    from qa.pipeline.review import review_file

    store = open_store(store_url)
    audio, done = 0.0, 0
    for path in files:
        review = review_file(path, review_options())
        store.save_review(review.transcript, review.findings, review.scorecard,
                          sha256=review.transcript.source["sha256"], path=str(path))
        audio += review.transcript.duration
        done += 1
    return audio, done


def build_scan_archive(root: Path, count: int, store_url: str) -> float:
    """``count`` tiny timed-text calls, reviewed and indexed (as after earlier nights). Returns seconds taken."""
    from qa.intake.transcript_io import read_transcript
    from qa.pipeline.archive import index, scan
    from qa.pipeline.nightly import open_store
    from qa.pipeline.review import ReviewOptions, review_transcript

    started = time.perf_counter()
    for i in range(count):
        folder = root / f"{2020 + i // 3650}" / f"{i // 100 % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"t{i:05d}.txt").write_text(
            f"# language: en\n# call_id: scan-{i:05d}\n0 3 agent Hello, this is agent {i}.\n"
            f"3.5 6 customer My order {i} is late.\n", encoding="utf-8")
    stamp = time.time() - 3600
    for p in root.rglob("*.txt"):
        os.utime(p, (stamp, stamp))
    store = open_store(store_url)
    hashed = {h.file.path: h.sha256 for h in index(store, scan(root).files).files}
    options = ReviewOptions()
    for path, sha in hashed.items():
        transcript, findings, card = review_transcript(read_transcript(Path(path)), options)
        store.save_review(transcript, findings, card, sha256=sha, path=path)
    return time.perf_counter() - started


def row(name: str, m: Measure, calls: int, audio: float) -> list[str]:
    cores = os.cpu_count() or 1
    return [name, str(calls), f"{audio / 3600:.2f}", f"{m.wall:.1f}",
            f"{calls / m.wall * 3600:.0f}" if calls else "-",
            f"{audio / m.wall:.1f}" if audio else "-",
            f"{100 * m.cpu / (m.wall * cores):.0f} %", f"{m.machine_cpu:.0f} %",
            f"{m.cpu / audio:.3f}" if audio else "-", f"{m.peak_rss / 2**20:.0f} MB"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--baseline-calls", type=int, default=12, help="subset reviewed one at a time (0: skip)")
    parser.add_argument("--scan-files", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--dask", action="store_true",
                        help="run the flow on a local Dask cluster (one model per worker)")
    parser.add_argument("--work", type=Path, default=None, help="keep the archive and stores here")
    args = parser.parse_args()

    os.environ.setdefault("CALLQA_DATA_DIR", tempfile.mkdtemp(prefix="callqa-bench-data-"))
    import flows  # noqa: F401
    from flows.review import nightly_review

    work = args.work or Path(tempfile.mkdtemp(prefix="callqa-bench-"))
    archive, scan_archive = work / "archive", work / "scan-archive"
    print(f"work dir {work}", flush=True)
    t0 = time.perf_counter()
    files = build_archive(archive, args.calls)
    print(f"built {len(files)} calls in {time.perf_counter() - t0:.0f} s "
          f"(sample call {'found' if SAMPLE.is_file() else 'MISSING: short clips only'})", flush=True)

    from qa.speech.model import ModelOptions, load_model

    load_model(ModelOptions())  # assemble/load once so no run pays for it
    rows = []
    url = f"sqlite:///{work / 'flow.db'}"
    with Meter() as first:
        summary = nightly_review(str(archive), url, concurrency=args.concurrency,
                                 task_runner="dask" if args.dask else "threads")
    c = summary["counts"]
    print(summary["final_line"], flush=True)
    print("peak RSS of each process of the nightly run (a Dask worker is one process per worker):")
    for what, peak in sorted(first.peaks.values(), key=lambda v: -v[1]):
        if peak > 50 * 2**20:
            print(f"  {peak / 2**20:6.0f} MB  {what}")
    runner = "Dask processes" if args.dask else "threads"
    rows.append(row(f"nightly flow, {args.concurrency or 'default'} {runner}", first, c["reviewed"],
                    c["audio_seconds"]))
    with Meter() as second:
        again = nightly_review(str(archive), url)
    rows.append(row("same archive again (nothing new)", second, again["counts"]["reviewed"], 0.0))

    if args.baseline_calls:
        subset = files[:: max(1, len(files) // args.baseline_calls)][: args.baseline_calls]
        with Meter() as loop:
            audio, done = baseline(subset, f"sqlite:///{work / 'loop.db'}")
        rows.append(row("plain loop over review_file, 1 at a time", loop, done, audio))

    if args.scan_files:
        scan_url = f"sqlite:///{work / 'scan.db'}"
        prep = build_scan_archive(scan_archive, args.scan_files, scan_url)
        print(f"prepared {args.scan_files} reviewed timed-text files in {prep:.0f} s", flush=True)
        with Meter() as scan_run:
            scanned = nightly_review(str(scan_archive), scan_url)
        assert scanned["counts"]["jobs"] == 0, scanned["counts"]
        rows.append(row(f"{args.scan_files} archived files, nothing new", scan_run, 0, 0.0))
        print(f"  scan {scanned['timings']['scan']:.1f} s, index {scanned['timings']['index']:.1f} s, "
              f"plan {scanned['timings']['plan']:.1f} s", flush=True)

    head = ["run", "calls", "audio h", "wall s", "calls/h", "audio h per wall h", "CPU (ours)", "CPU (machine)",
            "CPU s per audio s", "peak RSS"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print()
    for r in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    if args.baseline_calls:
        flow_rate = c["audio_seconds"] / first.wall
        loop_rate = audio / loop.wall
        print(f"\nflow vs one-at-a-time: {flow_rate / loop_rate:.2f}x audio throughput "
              f"(target >= 20 audio hours per wall hour: flow {flow_rate:.1f})")
    print(f"failures: {summary['failures']}" if summary["failures"] else "no failures")
    from bench.peak import peak_rss_mb

    # "peak RSS" above adds the children (the temporary Prefect server); the worker is this process
    print(f"peak RSS of this process alone (the flow's worker threads, the model, every call): "
          f"{peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
