"""Worst-case inputs for one call: each must end in bounded time and memory, as a coded error or a review.

Each case writes its input into a temporary folder, reads it as callqa would
(``read_transcript``; then tag, score and render the page when it is accepted)
and prints one JSON line: the case, the outcome (``ok`` or the error code),
seconds and the process's peak RSS in MB. Run one case per process so the
peak belongs to that case (tests/test_limits.py does)::

    python bench/worst_case.py six_hour_call
    python bench/worst_case.py --all        # every case, each in its own process
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.peak import peak_rss_mb  # noqa: E402

#: Phrases written for this benchmark (no dialogue text from shared/data): a 6-hour call is these, varied.
AGENT = ["您好，工号1024为您服务，请问有什么可以帮您？", "请您稍等一下，我帮您查询一下订单。", "感谢您的耐心等待。",
         "非常抱歉给您带来不便，我们马上为您处理。", "首先我会为您登记，然后今天下午五点前给您回电。",
         "请问还有其他可以帮您的吗？", "您的订单号是多少？", "好的，我明白您的意思了。"]
CUSTOMER = ["我的快递三天了还没到，你们到底怎么回事！", "我已经说了很多遍了，订单还是没有更新。", "好的，谢谢。",
            "你们这样太过分了，我要投诉。", "嗯，那我等你们电话。", "我上周买的手机屏幕坏了，想退货。",
            "为什么一直没有人处理我的问题？", "行吧，那就这样。"]


def _timed_line(start: float, end: float, role: str, text: str) -> str:
    return f"{start:.2f} {end:.2f} {role} {text}"


def six_hour_call(folder: Path) -> Path:
    """A 6-hour call: ~10,800 utterances, alternating speakers, 2 s each with pauses."""
    rng = random.Random(6)
    lines, t = ["# language: zh", "# call_id: six-hours"], 0.0
    while t < 6 * 3600 - 5:
        role = "agent" if len(lines) % 2 == 0 else "customer"
        text = rng.choice(AGENT if role == "agent" else CUSTOMER) + f"第{rng.randint(1, 999)}次"
        length = rng.uniform(1.0, 2.5)
        lines.append(_timed_line(t, t + length, role, text))
        t += length + rng.uniform(0.1, 0.6)
    path = folder / "six_hours.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def limit_sized_call(folder: Path) -> Path:
    """The most a call may hold: 60,000 utterances (calls.max_utterances) over 12 hours."""
    rng = random.Random(60)
    lines = ["# language: zh", "# call_id: at-the-limits"]
    for k in range(60_000):
        role = "agent" if k % 2 else "customer"
        t = k * 0.72
        text = rng.choice(AGENT if role == "agent" else CUSTOMER) + f"第{rng.randint(1, 999)}次"
        lines.append(_timed_line(t, t + 0.6, role, text))
    path = folder / "limit_sized.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def huge_timestamp(folder: Path) -> Path:
    path = folder / "huge_time.txt"
    path.write_text("# language: en\n0 1 agent hello\n99999999999 99999999999.5 customer hi there\n", encoding="utf-8")
    return path


def many_utterances(folder: Path) -> Path:
    """613,000 short utterances (the fuzzer's O(n^2) case)."""
    path = folder / "many.txt"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("# language: en\n")
        for k in range(613_000):
            fh.write(f"{k * 0.05:.2f} {k * 0.05 + 0.04:.2f} {'agent' if k % 2 else 'customer'} ok {k}\n")
    return path


def megabyte_line(folder: Path) -> Path:
    path = folder / "long_line.txt"
    path.write_text("# language: en\n0 1 agent " + "word " * 210_000 + "\n", encoding="utf-8")
    return path


def deep_json(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text('{"format": "callqa.transcript", "version": 1, "source": ' + "[" * 200_000 + "]" * 200_000 + "}",
                    encoding="utf-8")
    return path


def wide_json(folder: Path) -> Path:
    """A JSON transcript within the byte limit but with 200,000 words in one utterance."""
    words = ",".join('{"start": 1.0, "end": 1.1, "text": "a"}' for _ in range(200_000))
    path = folder / "wide.json"
    path.write_text('{"format": "callqa.transcript", "version": 1, "call_id": "w", "language": "en", "duration": 2,'
                    ' "roles": {"method": "import", "confidence": 1.0}, "utterances": [{"role": "agent", "start": 1,'
                    f' "end": 2, "text": "a", "words": [{words}]}}]}}', encoding="utf-8")
    return path


def deep_yaml(folder: Path) -> Path:
    path = folder / "thresholds.yaml"
    path.write_text("silence: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    return path


CASES = {f.__name__: f for f in (six_hour_call, limit_sized_call, huge_timestamp, many_utterances, megabyte_line, deep_json,
                                  wide_json, deep_yaml)}


def run(case: str) -> dict:
    from qa.errors import CallqaError

    started = time.perf_counter()
    outcome, detail = "ok", ""
    with tempfile.TemporaryDirectory() as tmp:
        path = CASES[case](Path(tmp))
        made = time.perf_counter()
        try:
            if case == "deep_yaml":
                from qa.tagging.thresholds import load_thresholds

                load_thresholds(path)
            else:
                from qa.pipeline.review import ReviewOptions, review_transcript
                from qa.reports.scorecard_html import render_scorecard_html
                from qa.intake.transcript_io import read_transcript

                transcript = read_transcript(path)
                transcript, findings, card = review_transcript(transcript, ReviewOptions())
                page = render_scorecard_html(card, transcript, findings)
                detail = f"{len(transcript.utterances)} utterances, {len(findings)} findings, page {len(page)} chars"
        except CallqaError as exc:
            outcome, detail = exc.code, str(exc)[:160]
    peak_mb = peak_rss_mb()
    return {"case": case, "outcome": outcome, "seconds": round(time.perf_counter() - made, 2),
            "setup_seconds": round(made - started, 2), "peak_rss_mb": round(peak_mb), "detail": detail}


def main(argv: list[str]) -> int:
    names = list(CASES) if argv == ["--all"] else argv
    if argv == ["--all"]:
        for name in names:
            subprocess.run([sys.executable, __file__, name], check=False)
        return 0
    for name in names:
        print(json.dumps(run(name), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
