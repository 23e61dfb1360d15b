"""Fuzz every reader and loader with many examples and print what happened, per target.

Counts per target: examples run, accepted, refused with a coded error (by
code), crashes (anything not a ``CallqaError``, by exception type, with one
example each), the slowest example and the peak RSS. Each target runs in a
child process of its own, so its peak RSS is its own, not the run's so far. The targets and their strategies are
in tests/fuzz_targets.py (the test suite runs a few hundred of each).

    python bench/fuzz.py                       # 10^5 examples per target
    python bench/fuzz.py --examples 10000 --targets timed_text,sidecar
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from bench.peak import peak_rss_mb  # noqa: E402
from tests.fuzz_targets import TARGETS, outcome  # noqa: E402


def fuzz(name: str, examples: int) -> dict:
    target = TARGETS[name]
    counts: collections.Counter[str] = collections.Counter()
    crashes: dict[str, str] = {}
    slowest = 0.0

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(value):
        nonlocal slowest
        started = time.perf_counter()
        result, crash = outcome(target, value)
        slowest = max(slowest, time.perf_counter() - started)
        counts[result] += 1
        if crash is not None and result not in crashes:
            crashes[result] = f"{crash!r}"[:200] + f" on {value!r}"[:300]

    started = time.perf_counter()
    run()
    return {
        "target": name,
        "examples": sum(counts.values()),
        "accepted": counts["accepted"],
        "coded": {code: n for code, n in sorted(counts.items()) if code.startswith("E")},
        "crashes": {kind: n for kind, n in sorted(counts.items()) if kind.startswith("crash:")},
        "crash_examples": crashes,
        "slowest_s": round(slowest, 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_in_child(name: str, examples: int) -> dict:
    """``fuzz(name)`` in a fresh process, which reports its own peak RSS (bench/peak.py says why not rusage)."""
    child = subprocess.run([sys.executable, __file__, "--examples", str(examples), "--targets", name, "--child"],
                           stdout=subprocess.PIPE, text=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"target": name, "examples": 0, "crashes": {f"child exit {child.returncode}": 1}}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report = fuzz(args.targets, args.examples)
        print(json.dumps({**report, "max_rss_mb": round(peak_rss_mb(), 1)}, ensure_ascii=False), flush=True)
        return 0
    crashed = 0
    for name in args.targets.split(","):
        report = run_in_child(name, args.examples)
        crashed += sum(report["crashes"].values())
        print(json.dumps(report, ensure_ascii=False), flush=True)
        print(f"{name}: {report['examples']} examples, {sum(report.get('coded', {}).values())} coded errors, "
              f"{sum(report['crashes'].values())} crashes, max {report.get('slowest_s', '?')} s per example, "
              f"max RSS {report.get('max_rss_mb', '?')} MB", file=sys.stderr, flush=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
