"""Validity of the scorecard on 1,200 real Chinese helpdesk dialogues (NTCIR-14 STC-3).

Each dialogue (Weibo customer <-> company helpdesk; many complaints) is
imported as a transcript (customer / agent turns; text chats have no timings,
so each turn gets a duration from its length), tagged and scored with the
default rubric. The human labels are the 19 annotators' means of S (customer
satisfaction) and E (effectiveness), -2..2, and per-turn nuggets: CNUG0 (the
customer states the problem) and HNUG* (the helpdesk states a solution).

Prints Spearman correlations of the overall score and of relevant items with
S and E, item pass rates against nugget rates, and scoring throughput.
The data stays in ../shared/data (research use only).

    python bench/scoring.py [--limit N] [--rubric FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STC3 = REPO.parent / "shared" / "data" / "dialogues" / "stc3" / "stc3_zh_dev.json"
CHARS_PER_SECOND = 4.0


def to_transcript(dialogue: dict):
    from qa.intake.transcript_io import gaps_between
    from qa.types import CallMeta, RoleAssignment, Transcript, Utterance

    utterances, t = [], 0.0
    for turn in dialogue["turns"]:
        role = "customer" if turn["sender"] == "customer" else "agent"
        text = " ".join(turn["utterances"]).strip()
        duration = max(1.0, len(text) / CHARS_PER_SECOND)
        utterances.append(Utterance(role=role, start=round(t, 2), end=round(t + duration, 2), text=text, speaker=role))
        t += duration + 1.0
    return Transcript(call_id=dialogue["id"], language="zh", duration=round(t, 2), utterances=utterances,
                      gaps=gaps_between(utterances, t), roles=RoleAssignment("import", 1.0),
                      meta=CallMeta(call_id=dialogue["id"], language="zh"), source={"format": "stc3"})


def labels(dialogue: dict) -> dict[str, float]:
    ann = dialogue["annotations"]
    nuggets = [a["nugget"] for a in ann]
    helpdesk_turns = [i for i, turn in enumerate(dialogue["turns"]) if turn["sender"] != "customer"]
    solution = statistics.fmean(
        any(n[i].startswith("HNUG*") for i in helpdesk_turns if i < len(n)) for n in nuggets)
    problem = statistics.fmean(any(x == "CNUG0" for x in n) for n in nuggets)
    return {"S": statistics.fmean(a["quality"]["S"] for a in ann),
            "E": statistics.fmean(a["quality"]["E"] for a in ann),
            "A": statistics.fmean(a["quality"]["A"] for a in ann),
            "solution": solution, "problem": problem}


POINTS = {"pass": 1.0, "partial": 0.5, "fail": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--rubric", type=Path)
    args = parser.parse_args()
    if not STC3.exists():
        raise SystemExit(f"{STC3} not found: this benchmark reads shared/data beside the repo")
    from qa.pipeline.review import ReviewOptions, review_transcript
    from qa.scoring.rubric import load_rubric

    dialogues = json.loads(STC3.read_text(encoding="utf-8"))
    if args.limit:
        dialogues = dialogues[: args.limit]
    rubric = load_rubric(args.rubric)
    transcripts = [to_transcript(d) for d in dialogues]
    review_transcript(transcripts[0], ReviewOptions(), rubric=rubric)  # load lexicons and models once
    started = time.perf_counter()
    cards = [review_transcript(t, ReviewOptions(), rubric=rubric)[2] for t in transcripts]
    elapsed = time.perf_counter() - started
    truth = [labels(d) for d in dialogues]

    print(f"STC-3 zh dev: {len(cards)} dialogues, rubric {rubric.version_tag}\n")
    print(f"{'measure':34} {'vs S':>8} {'vs E':>8} {'vs A':>8}")
    rows = [("overall score", [c.score for c in cards])]
    stage_rank = {f"S{i}": i for i in range(7)}
    rows.append(("customer peak stage (S0-S6)", [stage_rank.get(c.peak_stage or "S0", 0) for c in cards]))
    rows.append(("customer final stage (S0-S6)", [stage_rank.get(c.final_stage or "S0", 0) for c in cards]))
    for item_id in ("P1", "P2", "P4", "R5", "P5", "P6", "R3", "R4", "R6", "T-TONE", "T-ADDRESS", "K3"):
        values = []
        for c in cards:
            item = next(i for i in c.items if i.id == item_id)
            values.append(None if item.status == "n/a" else POINTS[item.status])
        rows.append((f"{item_id} (n/a excluded)", values))
    for name, values in rows:
        pairs = [(v, t) for v, t in zip(values, truth) if v is not None]
        cells = []
        for key in ("S", "E", "A"):
            rho = spearmanr([v for v, _ in pairs], [t[key] for _, t in pairs]).statistic if len(pairs) > 2 else float("nan")
            cells.append(f"{rho:8.3f}")
        print(f"{name:34} {' '.join(cells)}   n={len(pairs)}")

    # Agents apologise and empathise most in the hardest complaints, which end least
    # satisfied: compare the score with satisfaction within calls of the same peak stage.
    print("\nOverall score vs S within calls of the same customer peak stage (confound removed):")
    for peak in sorted({c.peak_stage or "S0" for c in cards}):
        group = [(c.score, t["S"]) for c, t in zip(cards, truth) if (c.peak_stage or "S0") == peak]
        if len(group) > 10:
            rho = spearmanr([a for a, _ in group], [b for _, b in group]).statistic
            print(f"  peak {peak}: n={len(group):4}  Spearman(score, S) = {rho:6.3f}")

    print("\nNuggets (share of annotators marking them) against items:")
    for item_id, key in (("P6", "solution"), ("R3", "solution"), ("P1", "problem")):
        statuses = [next(i for i in c.items if i.id == item_id).status for c in cards]
        passed = [t[key] for s, t in zip(statuses, truth) if s == "pass"]
        other = [t[key] for s, t in zip(statuses, truth) if s in ("fail", "partial")]
        print(f"  {item_id}: mean {key}-nugget rate {statistics.fmean(passed) if passed else float('nan'):.3f} when pass "
              f"(n={len(passed)}) vs {statistics.fmean(other) if other else float('nan'):.3f} when fail/partial (n={len(other)})")
        print(f"     Spearman(item points, {key} nugget rate) = "
              f"{spearmanr([POINTS.get(s, 0) for s in statuses], [t[key] for t in truth]).statistic:.3f}")
    turns = sum(len(t.utterances) for t in transcripts)
    print(f"\nThroughput: {len(cards) / elapsed:.1f} dialogues/s, {turns / elapsed:.0f} turns/s "
          f"(tag + score + redact, models loaded once; {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
