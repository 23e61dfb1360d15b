"""How far to trust the score: callqa against the labelled real sets (datasets/real/, guide in datasets/README.md).

Figures, each with the data it comes from and its size:
1. question type (closed / open / controlling): F1 per language and class, macro-F1 per language,
   on the real questions of the chosen split (the pipeline's question finder, then the classifier);
2. complaint stage: exact agreement of the customer's peak and final stage (S0-S6) with the labeller;
3. item verdicts (P1 P2 P5 R4 R6 P4): agreement and Cohen's kappa of the scorecard with the labeller.

``sections(split)`` returns every section as rows; ``EXTRA_SECTIONS`` is the hook for more (the
calibration's Spearman(score, S/E/A) table): append a function ``split -> Section``.

    CALLQA_SHARED_DATA=../shared/data python bench/validity.py [--split test|train] [--markdown FILE]

The research-only texts are read from the shared data; without it those rows are skipped, and said so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.intake.realsets import (MISSING_DATA, QUESTION_LABELS, VERDICT_ITEMS, dialogue_transcript,  # noqa: E402
                                load_real_dialogues, load_real_questions)

LANGS = ("zh", "es", "en")


@dataclass
class Section:
    """One table: a title, what data it comes from, a header and rows."""

    title: str
    data: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""


def _f1(gold: list[str], pred: list[str], label: str) -> tuple[float, float, float, int]:
    tp = sum(g == label and p == label for g, p in zip(gold, pred))
    fp = sum(g != label and p == label for g, p in zip(gold, pred))
    fn = sum(g == label and p != label for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn


def predict_question(text: str, language: str) -> str:
    """What the pipeline says: the last question the finder sees in the labelled span, classified."""
    from qa.tagging.questions import find_questions, get_question_classifier

    spans = find_questions(text, language)
    return get_question_classifier().predict(spans[-1].text if spans else text, language)[0]


def question_section(split: str = "test") -> Section:
    questions, skipped = load_real_questions()
    section = Section("Question type (T-QUESTION) on real questions",
                      f"datasets/real/questions.tsv, {split} split", ["language", "class", "n", "precision",
                                                                      "recall", "F1"])
    for language in LANGS:
        items = [q for q in questions if q.language == language and q.split == split]
        if not items:
            continue
        gold = [q.label for q in items]
        pred = [predict_question(q.text, language) for q in items]
        f1s = []
        for label in QUESTION_LABELS:
            p, r, f, n = _f1(gold, pred, label)
            f1s.append(f)
            section.rows.append([language, label, n, p, r, f])
        sources = sorted({q.ref.source for q in items})
        section.rows.append([language, "macro-F1", len(items), "", "", sum(f1s) / len(f1s)])
        section.note += f"{language}: {len(items)} questions from {', '.join(sources)}. "
    if skipped:
        section.note += f"Skipped {', '.join(skipped)}: {MISSING_DATA}."
    return section


def _reviews(split: str):
    from qa.pipeline.review import ReviewOptions, review_transcript

    dialogues, skipped = load_real_dialogues()
    chosen = [d for d in dialogues if d.split == split]
    return [(d, review_transcript(dialogue_transcript(d), ReviewOptions())[2]) for d in chosen], skipped


def stage_and_item_sections(split: str = "test") -> list[Section]:
    from sklearn.metrics import cohen_kappa_score

    reviewed, skipped = _reviews(split)
    data = f"datasets/real/dialogues.tsv, {split} split ({len(reviewed)} dialogues: " + ", ".join(
        f"{s} {sum(d.source == s for d, _ in reviewed)}" for s in sorted({d.source for d, _ in reviewed})) + ")"
    stages = Section("Complaint stage (S0-S6) against the labeller", data,
                     ["stage", "n", "agreement", "within one stage"])
    for key in ("peak", "final"):
        pairs = [(getattr(d, key), (getattr(card, f"{key}_stage") or "S0")) for d, card in reviewed]
        if pairs:
            exact = sum(g == p for g, p in pairs) / len(pairs)
            near = sum(abs(int(g[1]) - int(p[1])) <= 1 for g, p in pairs) / len(pairs)
            stages.rows.append([key, len(pairs), exact, near])
    items = Section("Item verdicts against the labeller (pass / fail / n/a; partial counts as a disagreement)",
                    data, ["item", "n", "agreement", "Cohen's kappa", "labeller pass/fail/n/a"])
    for item_id in VERDICT_ITEMS:
        gold, pred = [], []
        for d, card in reviewed:
            found = next((i for i in card.items if i.id == item_id), None)
            if found is not None:
                gold.append(d.verdicts[item_id])
                pred.append(found.status)
        if not gold:
            continue
        kappa = cohen_kappa_score(gold, pred) if len(set(gold) | set(pred)) > 1 else float("nan")
        mix = "/".join(str(gold.count(v)) for v in ("pass", "fail", "n/a"))
        items.rows.append([item_id, len(gold), sum(g == p for g, p in zip(gold, pred)) / len(gold), kappa, mix])
    if skipped:
        stages.note = items.note = f"Skipped {', '.join(skipped)}: {MISSING_DATA}."
    return [stages, items]


#: More sections (e.g. the calibration's Spearman of the score with STC-3 S/E/A): functions split -> Section.
EXTRA_SECTIONS: list[Callable[[str], Section]] = []


def sections(split: str = "test") -> list[Section]:
    """Every section's rows, for the terminal, the README, or a test."""
    return [question_section(split), *stage_and_item_sections(split), *(extra(split) for extra in EXTRA_SECTIONS)]


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def render_text(found: list[Section]) -> str:
    out = []
    for s in found:
        cells = [s.header] + [[_cell(c) for c in row] for row in s.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(s.header))]
        out += [f"\n{s.title}", f"  data: {s.data}"]
        out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
        if s.note:
            out.append(f"  {s.note.strip()}")
    return "\n".join(out)


def render_markdown(found: list[Section]) -> str:
    out = ["## How far to trust the score", "",
           "Regenerated by `bench/validity.py --markdown`; the labelled sets and their guide are in "
           "`datasets/real/` and `datasets/README.md`.", ""]
    for s in found:
        out += [f"### {s.title}", "", f"Data: {s.data}.", "", "| " + " | ".join(s.header) + " |",
                "|" + "---|" * len(s.header)]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in s.rows]
        if s.note:
            out += ["", s.note.strip()]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--markdown", type=Path, help="also write the tables as markdown here")
    args = parser.parse_args(argv)
    found = sections(args.split)
    print(render_text(found))
    if args.markdown:
        args.markdown.write_text(render_markdown(found), encoding="utf-8")
        print(f"\nwrote {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
