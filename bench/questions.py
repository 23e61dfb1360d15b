"""Benchmark T-QUESTION: classification on the held-out split, detection on real dialogues.

1. Classification (closed/open/controlling): train on the `train` split of
   datasets/questions/questions.tsv, evaluate on `test`: accuracy per language
   and overall, precision/recall/F1 per class, 3x3 confusion per language —
   on the text as written, and again with punctuation removed (ASR without
   question marks), where the question must also be found first.
2. Detection (is this utterance a question?) on real transcribed dialogues,
   labels from their dialogue acts (datasets/questions/detection_eval.yaml):
   OASIS BT calls (English, unpunctuated) and DIHANA (Spanish; act view, and
   the transcribers' ¿…? marks with the marks removed).
3. Throughput of find_questions and classify_questions in utterances/second.

    .venv/bin/python bench/questions.py            # everything
    .venv/bin/python bench/questions.py --sweep    # also a 5-fold CV sweep of C on train
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.tagging.questions import (  # noqa: E402
    LABELS,
    QuestionClassifier,
    QuestionRow,
    classify_questions,
    find_questions,
    get_question_classifier,
    load_question_set,
    load_settings,
)

SHARED = Path(os.environ.get("CALLQA_SHARED_DATA", "/work/shared/data"))
EVAL_FILE = REPO / "datasets" / "questions" / "detection_eval.yaml"
LANGS = ("zh", "es", "en")
_PUNCT = re.compile(r"[?？¿!！¡。.,，、;；:：]")


def strip_punctuation(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text).split()) if re.search(r"[a-zA-Záéíóúñ]", text) else _PUNCT.sub("", text)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def table(header: list[str], rows: list[list], title: str) -> None:
    cells = [[str(c) for c in header]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, r in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def classification_report(pairs: list[tuple[str, str, str]], title: str) -> float:
    """pairs: (language, gold, predicted or '-' when no question was found)."""
    rows = []
    for lang in LANGS + ("all",):
        sel = [(g, p) for l, g, p in pairs if lang == "all" or l == lang]
        acc = sum(g == p for g, p in sel) / len(sel)
        rows.append([lang, len(sel), acc])
    table(["language", "n", "accuracy"], rows, f"{title}: accuracy")
    rows = []
    for label in LABELS:
        tp = sum(g == label and p == label for _, g, p in pairs)
        fp = sum(g != label and p == label for _, g, p in pairs)
        fn = sum(g == label and p != label for _, g, p in pairs)
        rows.append([label, tp + fn, *prf(tp, fp, fn)])
    table(["class", "support", "precision", "recall", "F1"], rows, f"{title}: per class (all languages)")
    for lang in LANGS:
        counts = Counter((g, p) for l, g, p in pairs if l == lang)
        cols = list(LABELS) + (["-"] if any(p == "-" for _, p in counts) else [])
        table(["gold \\ predicted"] + cols, [[g] + [counts[(g, p)] for p in cols] for g in LABELS],
              f"{title}: confusion, {lang}")
    return rows and sum(g == p for _, g, p in pairs) / len(pairs)


def bench_classification(rows: list[QuestionRow]) -> None:
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "test"]
    t0 = time.perf_counter()
    model = QuestionClassifier().train(train)
    print(f"trained on {len(train)} rows in {time.perf_counter() - t0:.2f} s; test rows: {len(test)}")
    predicted = model.predict_many([(r.text, r.language) for r in test])
    classification_report([(r.language, r.label, p) for r, (p, _) in zip(test, predicted)],
                          "held-out test, text as written")
    # ASR view: no punctuation at all; the question has to be found first.
    pairs, found = [], Counter()
    for r in test:
        bare = strip_punctuation(r.text)
        spans = find_questions(bare, r.language)
        if spans:
            found[r.language] += 1
            longest = max(spans, key=lambda s: len(s.text))
            pairs.append((r.language, r.label, model.predict(longest.text, r.language)[0]))
        else:
            pairs.append((r.language, r.label, "-"))
    classification_report(pairs, "held-out test, punctuation removed (found + classified)")
    n = Counter(r.language for r in test)
    table(["language", "n", "found as question"], [[l, n[l], found[l] / n[l]] for l in LANGS],
          "held-out test, punctuation removed: detection recall")


def sweep(rows: list[QuestionRow]) -> None:
    from sklearn.model_selection import StratifiedKFold

    train = [r for r in rows if r.split == "train"]
    strata = [f"{r.language}-{r.label}" for r in train]
    base = load_settings()
    out = []
    for c in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0):
        for cue_weight in (0.5, 1.0, 2.0):
            settings = {"classifier": dict(base["classifier"], C=c, cue_weight=cue_weight)}
            correct = 0
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(train, strata):
                model = QuestionClassifier(settings).train([train[i] for i in tr])
                pred = model.predict_many([(train[i].text, train[i].language) for i in te])
                correct += sum(p == train[i].label for i, (p, _) in zip(te, pred))
            out.append([c, cue_weight, correct / len(train)])
    table(["C", "cue_weight", "5-fold CV accuracy"], out, "sweep on the train split only")


def _detect(items: list[tuple[str, bool]], language: str) -> tuple[list, float]:
    tp = fp = fn = 0
    t0 = time.perf_counter()
    for text, gold in items:
        pred = bool(find_questions(text, language))
        tp += pred and gold
        fp += pred and not gold
        fn += gold and not pred
    return [len(items), sum(g for _, g in items), *prf(tp, fp, fn)], time.perf_counter() - t0


def bench_detection() -> list[str]:
    spec = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
    rows, texts = [], []
    oasis = SHARED / spec["oasis"]["path"]
    if oasis.is_file():
        lines = [l.rstrip("\n").split("|") for l in oasis.read_text(encoding="utf-8").splitlines() if l.count("|") >= 2]
        utts = [("|".join(p[1:-1]), p[-1]) for p in lines]
        acts = set(spec["oasis"]["question_acts"])
        res, _ = _detect([(u, a in acts) for u, a in utts], "en")
        rows.append(["OASIS en, acts " + "/".join(sorted(acts))] + res)
        wider = acts | set(spec["oasis"]["question_form_acts"])
        res, _ = _detect([(u, a in wider) for u, a in utts], "en")
        rows.append(["OASIS en, + " + "/".join(sorted(wider - acts))] + res)
        pitch = set(spec["oasis"]["pitch_only_acts"])
        conf = [u for u, a in utts if a in pitch]
        hit = sum(bool(find_questions(u, "en")) for u in conf)
        print(f"OASIS '{'/'.join(pitch)}' (declaratives said for confirmation) found as questions from text "
              f"alone: {hit}/{len(conf)}; the rest need rising_pitch from the audio")
        texts += [(u, "en") for u, _ in utts]
    else:
        print(f"skipping OASIS: {oasis} not found")
    dihana = SHARED / spec["dihana"]["path"]
    if dihana.is_file():
        with dihana.open(encoding="utf-8", newline="") as f:
            recs = list(csv.DictReader(f))
        acts = set(spec["dihana"]["question_acts"])
        bare = [(re.sub(r"[¿?]", " ", r["Utterance"]), r) for r in recs]
        res, _ = _detect([(b, r["Dialogue_Act"] in acts) for b, r in bare], "es")
        rows.append(["DIHANA es, acts " + "/".join(sorted(acts)) + ", ¿? removed"] + res)
        for who in ("M", "U"):
            sub = [(b, r["Dialogue_Act"] in acts) for b, r in bare if r["Speaker"] == who]
            res, _ = _detect(sub, "es")
            rows.append([f"  … speaker {who} ({'system' if who == 'M' else 'caller'})"] + res)
        marks = [(b, bool(re.search(r"[¿?]", r["Utterance"]))) for b, r in bare]
        res, _ = _detect(marks, "es")
        rows.append(["DIHANA es, transcribers' ¿? marks, removed"] + res)
        res, _ = _detect([(r["Utterance"], g) for (b, g), r in zip(marks, recs)], "es")
        rows.append(["DIHANA es, transcribers' ¿? marks, kept"] + res)
        texts += [(b, "es") for b, _ in bare]
    else:
        print(f"skipping DIHANA: {dihana} not found")
    table(["dialogues (positives)", "utterances", "positives", "precision", "recall", "F1"], rows,
          "question detection on real dialogues")
    return texts


def bench_throughput(texts: list[tuple[str, str]], rows: list[QuestionRow]) -> None:
    texts = texts + [(r.text, r.language) for r in rows]
    get_question_classifier()
    out = []
    for name, fn in (("find_questions", lambda t, l: find_questions(t, l)),
                     ("classify_questions", lambda t, l: classify_questions(t, l))):
        t0 = time.perf_counter()
        for t, l in texts:
            fn(t, l)
        dt = time.perf_counter() - t0
        out.append([name, len(texts), dt, len(texts) / dt])
    table(["function", "utterances", "seconds", "utterances/s"], out, "throughput (one process, one thread)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true", help="5-fold CV over C and cue_weight on the train split")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = load_question_set()
    counts = Counter((r.language, r.split) for r in rows)
    print("labelled set: " + ", ".join(f"{l} {counts[(l, 'train')]}+{counts[(l, 'test')]}" for l in LANGS)
          + f" (train+test), {len(rows)} rows")
    bench_classification(rows)
    if args.sweep:
        sweep(rows)
    texts = bench_detection()
    bench_throughput(texts, rows)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
