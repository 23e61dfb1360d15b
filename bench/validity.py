"""How far to trust the score: callqa against the labelled real sets (datasets/real/, guide in datasets/README.md).

Figures, each with the data it comes from and its size:
1. question type (closed / open / controlling): F1 per language and class, macro-F1 per language,
   on the real questions of the chosen split (the pipeline's question finder, then the classifier);
2. complaint stage: exact agreement of the customer's peak and final stage (S0-S6) with the labeller;
3. item verdicts (P1 P2 P5 R4 R6 P4): agreement and Cohen's kappa of the scorecard with the labeller.

``sections(split)`` returns every section as rows; ``EXTRA_SECTIONS`` is the hook for more (the
calibration's Spearman(score, S/E/A) table): append a function ``split -> Section``.

    CALLQA_SHARED_DATA=../shared/data python bench/validity.py [--split test|train] [--markdown FILE]
        [--scoring out/scoring.json] [--readme README.md] [--figures qa/data/item_validity.yaml]

``--scoring`` adds the Spearman(score, S/E/A) table and the STC-3 status spread from
``bench/scoring.py --json``; ``--readme`` rewrites the README's "How far to trust the score"
(between its markers) and ``--figures`` the per-item figures every scorecard carries, both from
this one run, so the page, the README and the scorecards never disagree.

The research-only texts are read from the shared data; without it those rows are skipped, and said so.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.scoring.timing import untimed_items  # noqa: E402
from qa.intake.realsets import (
    MISSING_DATA,
    QUESTION_LABELS,
    VERDICT_ITEMS,
    dialogue_transcript,
    load_real_dialogues,
    load_real_questions,
)

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


def spearman_section(scoring: dict) -> Section:
    """The overall score against people's ratings (bench/scoring.py --json): before = course weights."""
    section = Section("Overall score against people's ratings (Spearman)",
                      f"NTCIR-14 STC-3 DCH: real Weibo helpdesk dialogues, mean of 19 annotators' ratings "
                      f"(S satisfaction, E effectiveness, A accomplishment); rubric under test {scoring['rubric']}, "
                      f"course rubric {scoring['course_rubric']}", ["figure", "before", "after", "data", "n", "how"])
    for row in scoring.get("validity_rows", []):
        section.rows.append([row["figure"], "" if row["before"] is None else f"{row['before']:.3f}",
                             f"{row['after']:.3f}", row["data"], row["n"], row["how"]])
    ref = scoring.get("reference", {})
    if ref:
        section.note = "Without any rubric, the customer's stage alone: " + "; ".join(
            f"{name} Spearman with E {v['E']:.3f}" for name, v in ref.items()) + "."
    return section


def status_section(scoring: dict) -> Section:
    """How each item lands on the 1,200 STC-3 dialogues: an item that never varies cannot agree with anyone."""
    section = Section("Item verdicts on the 1,200 STC-3 dialogues (text chats)",
                      f"STC-3 zh dev, {scoring['n']} dialogues, rubric {scoring['rubric']}",
                      ["item", "pass", "partial", "fail", "n/a", "Spearman(item, E)"])
    for item_id, counts in scoring.get("item_status", {}).items():
        rho = (scoring.get("items", {}).get(item_id) or {}).get("spearman_E")
        section.rows.append([item_id, *(counts.get(k, 0) for k in ("pass", "partial", "fail", "n/a")),
                             "" if rho is None else f"{rho:.3f}"])
    untimed = ", ".join(untimed_items())
    constant = [f"{item_id} {status}" for item_id, counts in scoring.get("item_status", {}).items()
                if item_id not in untimed_items() for status, n in counts.items() if n == scoring["n"]]
    section.note = (f"Chat times are made up from text length (timing: text), so {untimed} are n/a "
                    "(qa/data/timing.yaml); an item with one status everywhere adds nothing here"
                    + (f" ({', '.join(constant)})." if constant else ": none has."))
    return section


def targets_section(found: list[Section], scoring: dict | None) -> Section:
    """Where each of issue 13's targets stands, read off the other sections of this run."""
    section = Section("Targets", "the sections below", ["target", "measured", "met"])

    def add(name: str, value: float, goal: float) -> None:
        section.rows.append([f"{name} >= {goal:.2f}", f"{value:.2f}", "yes" if value >= goal else "no"])

    if scoring:
        add("Spearman(score, E), 5-fold CV on STC-3", scoring["cv"]["after"]["E"], 0.30)
    for s in found:
        if s.title.startswith("Question type"):
            for row in s.rows:
                if row[1] == "macro-F1":
                    add(f"question-type macro-F1, {row[0]}", row[-1], 0.80)
        elif s.title.startswith("Complaint stage"):
            for row in s.rows:
                add(f"{row[0]} stage agreement", row[2], 0.70)
        elif s.title.startswith("Item verdicts against"):
            for row in s.rows:
                add(f"{row[0]} verdict agreement", row[2], 0.85)
    return section


def item_figures(found: list[Section], scoring: dict | None) -> dict:
    """qa/data/item_validity.yaml: per item, its verdict agreement and kappa with the labeller (this run's
    split) and the Spearman of its points with STC-3 effectiveness; the overall Spearman (cross-validated)."""
    items: dict[str, dict] = {}
    verdicts = next((s for s in found if s.title.startswith("Item verdicts against")), None)
    if verdicts is not None:
        for item_id, n, agreement, kappa, _ in verdicts.rows:
            items[item_id] = {"agreement": round(agreement, 3), "kappa": None if math.isnan(kappa) else round(kappa, 3),
                              "n_labelled": n}
    overall = None
    if scoring:
        for item_id, fig in scoring.get("items", {}).items():
            items.setdefault(item_id, {}).update({"spearman_E": fig["spearman_E"], "n_rated": fig["n"]})
        overall = {k: round(v, 3) for k, v in scoring["cv"]["after"].items()}
    source = [verdicts.data] if verdicts is not None else []
    if scoring:
        source.append(f"NTCIR-14 STC-3 zh dev, {scoring['n']} dialogues, rubric {scoring['rubric']}")
    return {"source": "; ".join(source), "readme_anchor": "how-far-to-trust-the-score", "overall": overall,
            "items": items}


FIGURES_HEADER = ("# Per-item agreement with people, shown on each scorecard. Written by bench/validity.py\n"
                  "# --figures (README: How far to trust the score), from the same run as the README section:\n"
                  "# agreement / kappa: the scorecard's verdict against the labeller on the real labelled\n"
                  "# dialogues (datasets/real/, test split); spearman_E: the item's points against the mean\n"
                  "# effectiveness E of 19 annotators on NTCIR-14 STC-3 (CC BY 4.0), n/a excluded.\n")
README_BEGIN = "<!-- validity:begin (bench/validity.py --readme) -->"
README_END = "<!-- validity:end -->"


def replace_readme(readme: Path, markdown: str) -> None:
    """Put ``markdown`` between the README's validity markers (once; E: a README without them is refused)."""
    text = readme.read_text(encoding="utf-8")
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise SystemExit(f"{readme}: needs exactly one {README_BEGIN} and one {README_END}")
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    readme.write_text(f"{head}{README_BEGIN}\n{markdown.rstrip()}\n{README_END}{tail}", encoding="utf-8")


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
    out = ["## How far to trust the score", "", *textwrap.wrap(
           ("Regenerated by `bench/scoring.py --json out/scoring.json` then `bench/validity.py --split test "
           "--scoring out/scoring.json --readme README.md --figures qa/data/item_validity.yaml` (the scorecards' "
           "per-item figures come from the same run). The labelled real sets and their guide are in "
           "`datasets/real/` and `datasets/README.md`; every choice of rules, cues and thresholds was made on "
           "their train split, and the figures below are on the test split. The default rubric was calibrated "
           "on the STC-3 ratings (`callqa calibrate`; numbers only, CC BY 4.0, attribution in the file); "
           "\"before\" is the course rubric with the course's weights (`rubrics/course.yaml`). Chat logs have no "
           "real times, so they are scored with `timing: text`. Each scorecard links here and carries its "
           "item's figures (`agreement` in the scorecard JSON)."), 110), ""]
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
    parser.add_argument("--scoring", type=Path, help="bench/scoring.py --json output: adds the Spearman tables")
    parser.add_argument("--readme", type=Path, help="rewrite this README's How far to trust the score section")
    parser.add_argument("--figures", type=Path, help="write the scorecards' per-item figures here")
    args = parser.parse_args(argv)
    scoring = json.loads(args.scoring.read_text(encoding="utf-8")) if args.scoring else None
    found = sections(args.split)
    if scoring:
        found = [spearman_section(scoring), *found, status_section(scoring)]
    found = [targets_section(found, scoring), *found]
    print(render_text(found))
    markdown = render_markdown(found)
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
        print(f"\nwrote {args.markdown}")
    if args.readme:
        replace_readme(args.readme, markdown)
        print(f"wrote the section in {args.readme}")
    if args.figures:
        data = item_figures(found, scoring)
        args.figures.write_text(FIGURES_HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                encoding="utf-8")
        print(f"wrote {args.figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
