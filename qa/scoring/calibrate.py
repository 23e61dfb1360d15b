"""``callqa calibrate``: fit a rubric to a team's own human judgements, and say how well it then agrees.

Input: calls already tagged (their transcript and findings) with human labels —
an overall rating per call (any numeric scale: only its order is used) and/or
per-item verdicts (pass / partial / fail / n/a). Labels come from a CSV or JSON
file (``read_labels``) or from the reviewer verdicts in the store (``callqa
dispute``; ``labels_from_store``).

What it learns, and only where the data supports it (a change is kept when it
improves the training folds by ``MIN_GAIN``):
- item weights, from the overall ratings: bounded between ``WEIGHT_FLOOR`` and
  ``WEIGHT_CAP`` times the item's weight in the base rubric, so every course item
  keeps a say (fitted by L-BFGS-B on the correlation of the score with the
  ratings' ranks, a smooth stand-in for Spearman);
- per item, what "does not apply" counts as (``na_status``: n/a, pass, partial or fail);
- numeric thresholds of the rules (``value_min`` / ``value_max`` / ``count_min``),
  tried at the quantiles of the values seen in the data;
- from per-item verdicts: the same rule choices, by agreement with the reviewers.
Every figure is cross-validated (scikit-learn ``KFold`` by call, so one call is
never in both the fitting and the checking part): the base rubric and the
fitted one are both scored on held-out folds. The rubric written is fitted on
all labels, and carries its provenance (``calibration:``): data, n, folds, fold
scores before and after, date, callqa version. It is a new file with a new
version number; the rubric in use is never overwritten.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import yaml
from scipy.optimize import minimize
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import KFold

from qa import __version__
from qa.common.settings import parse_yaml
from qa.errors import CalibrationError, RubricError, TooFewLabels
from qa.scoring.rubric import STATUSES, Item, Rubric, parse_rubric
from qa.scoring.score import score_item
from qa.scoring.timing import judged_findings, real_timing, untimed_items
from qa.types import Finding, Transcript

#: At least this many rated calls: 5 folds of 20, so each held-out Spearman has
#: a standard error near 1/sqrt(20-3) = 0.24 and the pooled one near 0.1.
MIN_RATINGS = 100
#: At least this many verdicts on an item, with two different verdicts among them,
#: before its rules are fitted to them (a kappa from fewer is noise).
MIN_ITEM_VERDICTS = 30
FOLDS = 5
WEIGHT_FLOOR = 0.25
WEIGHT_CAP = 4.0
MIN_GAIN = 0.005
NA_CHOICES = (None, "pass", "partial", "fail")
POINTS = {"pass": 1.0, "fail": 0.0, "n/a": 0.0}


# ---------------------------------------------------------------- labels
@dataclass(frozen=True)
class Label:
    call_id: str
    rating: float | None = None
    verdicts: dict[str, str] = field(default_factory=dict)


def _rating(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: rating {value!r} is not a number") from None
    if not math.isfinite(number):
        raise CalibrationError(f"{where}: rating {value!r} is not a finite number")
    return number


def _verdict(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    status = str(value).strip().lower()
    if status not in STATUSES:
        raise CalibrationError(f"{where}: verdict {value!r} is not one of {', '.join(STATUSES)}")
    return status


def _label(call_id: Any, rating: Any, verdicts: dict[str, Any], where: str) -> Label:
    if not isinstance(call_id, str) or not call_id.strip():
        raise CalibrationError(f"{where}: call_id is missing")
    checked = {}
    for item_id, value in verdicts.items():
        status = _verdict(value, f"{where} item {item_id}")
        if status is not None:
            checked[str(item_id)] = status
    return Label(call_id.strip(), _rating(rating, where), checked)


def read_labels(path: Path) -> list[Label]:
    """Labels from CSV (``call_id,rating,P1,P4,...``) or JSON (``[{"call_id", "rating", "verdicts": {...}}]``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read the labels file ({exc})") from exc
    labels: list[Label] = []
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise CalibrationError(f"{path}: not valid JSON ({exc})") from exc
        if isinstance(raw, dict):
            raw = [{"call_id": k, **(v if isinstance(v, dict) else {"rating": v})} for k, v in raw.items()]
        if not isinstance(raw, list):
            raise CalibrationError(f"{path}: expected a list of {{call_id, rating, verdicts}} objects")
        for n, entry in enumerate(raw):
            if not isinstance(entry, dict):
                raise CalibrationError(f"{path}: entry {n} is not an object")
            verdicts = entry.get("verdicts") or {}
            if not isinstance(verdicts, dict):
                raise CalibrationError(f"{path}: entry {n}: verdicts must map item IDs to statuses")
            labels.append(_label(entry.get("call_id"), entry.get("rating"), verdicts, f"{path}: entry {n}"))
    else:
        rows = csv.DictReader(text.splitlines())
        if not rows.fieldnames or "call_id" not in rows.fieldnames:
            raise CalibrationError(f"{path}: a CSV labels file needs a header with call_id (and rating and/or item IDs)")
        for n, row in enumerate(rows, start=2):
            if None in row:
                raise CalibrationError(f"{path}: line {n} has more cells than the header")
            verdicts = {k: v for k, v in row.items() if k not in ("call_id", "rating")}
            labels.append(_label(row.get("call_id"), row.get("rating"), verdicts, f"{path}: line {n}"))
    seen: set[str] = set()
    for label in labels:
        if label.call_id in seen:
            raise CalibrationError(f"{path}: call {label.call_id!r} is labelled twice")
        seen.add(label.call_id)
    return labels


def labels_from_store(store) -> list[Label]:
    """The latest reviewer verdict per call and item (``callqa dispute``)."""
    latest: dict[str, dict[str, str]] = {}
    for d in store.disputes():  # oldest first: later verdicts win
        latest.setdefault(d.call_id, {})[d.item_id] = d.status
    return [Label(call_id, None, verdicts) for call_id, verdicts in sorted(latest.items())]


@dataclass
class Case:
    """One labelled call, ready to re-score with any rubric."""

    transcript: Transcript
    findings: list[Finding]
    label: Label

    def __post_init__(self) -> None:
        findings = judged_findings(self.transcript, self.findings)
        if not real_timing(self.transcript):
            findings += [Finding(id=i, kind="not_applicable", value=None, role="unknown", start=0.0, end=0.0,
                                 text="", detail={"reason": f"timing: {self.transcript.timing}: {why}"})
                         for i, why in untimed_items().items()]
        self.findings = findings
        self.na_ids = {f.id for f in findings if f.kind == "not_applicable"}


# ---------------------------------------------------------------- the score as numbers
def _status_column(item: Item, rubric: Rubric, cases: list[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points 0..1, applicable 0/1, auto-fail 0/1) of one item over the cases."""
    points, applicable, auto = [], [], []
    for c in cases:
        s = score_item(item, c.findings, rubric, c.transcript.language, c.na_ids)
        points.append(rubric.partial_credit if s.status == "partial" else POINTS[s.status])
        applicable.append(s.status != "n/a")
        auto.append(s.auto_fail)
    return np.array(points), np.array(applicable, dtype=float), np.array(auto, dtype=bool)


def _statuses(item: Item, rubric: Rubric, cases: list[Case]) -> list[str]:
    return [score_item(item, c.findings, rubric, c.transcript.language, c.na_ids).status for c in cases]


@dataclass
class Table:
    """Every item's points and applicability over a set of cases, for fast re-weighting."""

    points: np.ndarray  # cases x items
    applicable: np.ndarray
    auto_fail: np.ndarray  # cases

    @classmethod
    def build(cls, rubric: Rubric, cases: list[Case]) -> "Table":
        cols = [_status_column(item, rubric, cases) for item in rubric.items]
        return cls(np.stack([c[0] for c in cols], axis=1), np.stack([c[1] for c in cols], axis=1),
                   np.any(np.stack([c[2] for c in cols], axis=1), axis=1))

    def with_column(self, k: int, column: tuple[np.ndarray, np.ndarray, np.ndarray]) -> "Table":
        points, applicable = self.points.copy(), self.applicable.copy()
        points[:, k], applicable[:, k] = column[0], column[1]
        return Table(points, applicable, self.auto_fail)  # auto-fail rules are never changed here

    def scores(self, weights: np.ndarray) -> np.ndarray:
        total = self.applicable @ weights
        earned = (self.points * self.applicable) @ weights
        score = np.where(total > 0, 100.0 * earned / np.where(total > 0, total, 1.0), 0.0)
        return np.where(self.auto_fail, 0.0, score)

    def rows(self, index: np.ndarray) -> "Table":
        return Table(self.points[index], self.applicable[index], self.auto_fail[index])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def _fit_weights(table: Table, target_ranks: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Weights in [floor, cap] x base that maximise the correlation of the score with the ratings' ranks."""
    y = (target_ranks - target_ranks.mean()) / (target_ranks.std() or 1.0)

    def loss(w: np.ndarray) -> float:
        s = table.scores(w)
        sd = s.std()
        return 0.0 if sd == 0 else -float(np.mean((s - s.mean()) / sd * y))

    bounds = [(WEIGHT_FLOOR * b, WEIGHT_CAP * b) for b in base]
    result = minimize(loss, base.copy(), method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 200, "eps": 1e-3 * float(base.mean())})
    return np.clip(result.x, [lo for lo, _ in bounds], [hi for _, hi in bounds])


# ---------------------------------------------------------------- rule choices
@dataclass(frozen=True)
class Variant:
    """One candidate change to one item's rules, on the rubric's raw YAML."""

    item_index: int
    description: str
    raw_item: dict[str, Any]


def _numeric_matchers(raw_item: dict[str, Any]) -> Iterable[tuple[str, int, int | None, dict]]:
    for list_name in ("fail_if", "partial_if", "pass_if"):
        for r, rule in enumerate(raw_item.get(list_name) or []):
            if isinstance(rule, dict) and "all" in rule:
                for m, matcher in enumerate(rule["all"]):
                    yield list_name, r, m, matcher
            elif isinstance(rule, dict):
                yield list_name, r, None, rule


def _values_seen(item: Item, matcher: dict, cases: list[Case]) -> list[float]:
    kinds = matcher["kind"] if isinstance(matcher["kind"], list) else [matcher["kind"]]
    course_id = matcher.get("id", item.id)
    return [float(f.value) for c in cases for f in c.findings
            if f.id == course_id and f.kind in kinds and isinstance(f.value, (int, float))
            and not isinstance(f.value, bool) and math.isfinite(float(f.value))]


def _variants(raw: dict[str, Any], rubric: Rubric, cases: list[Case], only: int | None = None) -> list[Variant]:
    out: list[Variant] = []
    for k, (raw_item, item) in enumerate(zip(raw["items"], rubric.items)):
        if only is not None and k != only:
            continue
        if item.applies_if is not None:
            for choice in NA_CHOICES:
                if choice != item.na_status:
                    changed = copy.deepcopy(raw_item)
                    changed.pop("na_status", None)
                    if choice is not None:
                        changed["na_status"] = choice
                    out.append(Variant(k, f"{item.id}: when it does not apply, count {choice or 'n/a'}", changed))
        for list_name, r, m, matcher in _numeric_matchers(raw_item):
            for key in ("value_min", "value_max", "count_min"):
                if key not in matcher:
                    continue
                if key == "count_min":
                    candidates = sorted({1, 2, 3, 4} - {int(matcher[key])})
                else:
                    seen = _values_seen(item, matcher, cases)
                    if len(seen) < MIN_ITEM_VERDICTS:
                        continue  # too few values to place a threshold
                    lo, hi = min(seen), max(seen)  # a threshold every value passes turns the rule into "always"
                    candidates = sorted({round(float(q), 3) for q in np.quantile(seen, [0.1, 0.25, 0.5, 0.75, 0.9])
                                         if (key == "value_min" and q > lo) or (key == "value_max" and q < hi)}
                                        - {float(matcher[key])})
                for value in candidates:
                    changed = copy.deepcopy(raw_item)
                    rule = changed[list_name][r]
                    target = rule["all"][m] if m is not None else rule
                    target[key] = int(value) if key == "count_min" else value
                    out.append(Variant(k, f"{item.id}: {list_name}[{r}] {key} {matcher[key]} -> {target[key]}", changed))
    return out


def _item_of(raw_item: dict[str, Any]) -> Item:
    return Item.model_validate(raw_item)


# ---------------------------------------------------------------- fitting
@dataclass
class Fit:
    raw: dict[str, Any]
    changes: list[str]


def _rated(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.label.rating is not None]


def _verdict_items(cases: list[Case]) -> dict[str, int]:
    counts: dict[str, list[str]] = {}
    for c in cases:
        for item_id, status in c.label.verdicts.items():
            counts.setdefault(item_id, []).append(status)
    return {i: len(v) for i, v in counts.items() if len(v) >= MIN_ITEM_VERDICTS and len(set(v)) > 1}


def _agreement(statuses: list[str], truth: list[str]) -> float:
    return sum(a == b for a, b in zip(statuses, truth)) / len(truth) if truth else 0.0


def fit(raw_base: dict[str, Any], cases: list[Case]) -> Fit:
    """A rubric (raw YAML dict) fitted on ``cases``: rule choices, then weights."""
    raw = copy.deepcopy(raw_base)
    rubric = Rubric.model_validate(raw)
    changes: list[str] = []
    # 1. per-item verdicts: pick, per item, the rule variant that agrees most with the reviewers.
    for item_id in _verdict_items(cases):
        k = next((n for n, i in enumerate(rubric.items) if i.id == item_id), None)
        if k is None:
            continue
        judged = [c for c in cases if item_id in c.label.verdicts]
        truth = [c.label.verdicts[item_id] for c in judged]
        best, chosen = _agreement(_statuses(rubric.items[k], rubric, judged), truth), None
        for v in _variants(raw, rubric, judged, only=k):
            score = _agreement(_statuses(_item_of(v.raw_item), rubric, judged), truth)
            if score > best + MIN_GAIN:
                best, chosen = score, v
        if chosen is not None:
            raw["items"][k] = chosen.raw_item
            rubric = Rubric.model_validate(raw)
            changes.append(f"{chosen.description} (verdict agreement {best:.3f} on the training calls)")
    # 2. overall ratings: rule choices by the fitted score's Spearman, then the weights.
    rated = _rated(cases)
    if len(rated) >= 3:
        ranks = rankdata([c.label.rating for c in rated])
        base = np.array([i.weight for i in Rubric.model_validate(raw_base).items])
        table = Table.build(rubric, rated)
        weights = _fit_weights(table, ranks, base)
        best = spearman(table.scores(weights), ranks)
        verdict_fixed = set(_verdict_items(cases))
        for k, item in enumerate(rubric.items):
            if item.id in verdict_fixed:
                continue  # the reviewers' verdicts already decided this item's rules
            chosen = None
            for v in _variants(raw, rubric, rated, only=k):  # judged with the current weights (fast)...
                trial = table.with_column(k, _status_column(_item_of(v.raw_item), rubric, rated))
                score = spearman(trial.scores(weights), ranks)
                if score > best + MIN_GAIN:
                    chosen, best, best_table = v, score, trial
            if chosen is not None:  # ...and the weights refitted once a change is kept
                raw["items"][k] = chosen.raw_item
                rubric = Rubric.model_validate(raw)
                table = best_table
                weights = _fit_weights(table, ranks, base)
                best = spearman(table.scores(weights), ranks)
                changes.append(f"{chosen.description} (training Spearman {best:.3f})")
        for item, w, b in zip(raw["items"], weights, base):
            item["weight"] = round(float(w), 2)
        changes.append("weights fitted to the ratings: " + ", ".join(
            f"{i['id']} {b:g}->{i['weight']:g}" for i, b in zip(raw["items"], base) if abs(i["weight"] - b) >= 0.01))
    return Fit(raw, changes)


# ---------------------------------------------------------------- cross-validation
@dataclass
class Report:
    n_calls: int
    n_rated: int
    folds: int
    spearman_before: float | None = None  # pooled over the held-out folds
    spearman_after: float | None = None
    fold_spearman_before: list[float] = field(default_factory=list)
    fold_spearman_after: list[float] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # per item verdict agreement/kappa
    changes: list[str] = field(default_factory=list)
    #: each call's score by the base rubric and by the rubric fitted without its fold (for other measures)
    scores_before: list[float] = field(default_factory=list, repr=False)
    scores_after: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("scores_")}


def _kappa(a: list[str], b: list[str]) -> float | None:
    if len(set(a) | set(b)) < 2:
        return None
    value = cohen_kappa_score(a, b, labels=list(STATUSES))
    return None if value != value else round(float(value), 3)


def score_with(raw: dict[str, Any], cases: list[Case]) -> np.ndarray:
    rubric = Rubric.model_validate(raw)
    return Table.build(rubric, cases).scores(np.array([i.weight for i in rubric.items]))


def check_enough(cases: list[Case]) -> None:
    rated = len(_rated(cases))
    items = _verdict_items(cases)
    if rated >= MIN_RATINGS or items:
        return
    per_item: dict[str, int] = {}
    for c in cases:
        for item_id in c.label.verdicts:
            per_item[item_id] = per_item.get(item_id, 0) + 1
    most = max(per_item.items(), key=lambda kv: kv[1], default=("-", 0))
    raise TooFewLabels(
        f"too few labels to calibrate: {rated} rated call(s) (needs {MIN_RATINGS}: {FOLDS} held-out folds of "
        f"{MIN_RATINGS // FOLDS}, so a cross-validated Spearman is more than noise) and at most {most[1]} verdict(s) "
        f"on one item ({most[0]}; needs {MIN_ITEM_VERDICTS} with two different verdicts among them). "
        f"Label more calls, or review more items with `callqa dispute`."
    )


def cross_validate(raw_base: dict[str, Any], cases: list[Case], folds: int = FOLDS, seed: int = 0) -> Report:
    """Before/after agreement, each call scored by a rubric fitted without it."""
    check_enough(cases)
    base_rubric = Rubric.model_validate(raw_base)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    after_scores = np.zeros(len(cases))
    after_status: dict[str, dict[int, str]] = {}
    report = Report(len(cases), len(_rated(cases)), folds)
    index = np.arange(len(cases))
    before_scores = score_with(raw_base, cases)
    for train, test in splitter.split(index):
        fitted = fit(raw_base, [cases[i] for i in train])
        test_cases = [cases[i] for i in test]
        after_scores[test] = score_with(fitted.raw, test_cases)
        rubric = Rubric.model_validate(fitted.raw)
        for item_id in _verdict_items(cases):
            k = next((n for n, i in enumerate(rubric.items) if i.id == item_id), None)
            if k is None:
                continue
            for i, status in zip(test, _statuses(rubric.items[k], rubric, test_cases)):
                after_status.setdefault(item_id, {})[int(i)] = status
        rated_test = [i for i in test if cases[i].label.rating is not None]
        if len(rated_test) >= 3:
            y = [cases[i].label.rating for i in rated_test]
            report.fold_spearman_before.append(round(spearman(before_scores[rated_test], np.array(y)), 3))
            report.fold_spearman_after.append(round(spearman(after_scores[rated_test], np.array(y)), 3))
    report.scores_before, report.scores_after = before_scores.tolist(), after_scores.tolist()
    rated = [i for i in index if cases[i].label.rating is not None]
    if rated:
        y = np.array([cases[i].label.rating for i in rated])
        report.spearman_before = round(spearman(before_scores[rated], y), 3)
        report.spearman_after = round(spearman(after_scores[rated], y), 3)
    for item_id in _verdict_items(cases):
        k = next((n for n, i in enumerate(base_rubric.items) if i.id == item_id), None)
        if k is None:
            continue
        judged = [i for i in index if item_id in cases[i].label.verdicts]
        truth = [cases[i].label.verdicts[item_id] for i in judged]
        before = _statuses(base_rubric.items[k], base_rubric, [cases[i] for i in judged])
        after = [after_status[item_id][int(i)] for i in judged]
        report.items[item_id] = {"n": len(judged), "agreement_before": round(_agreement(before, truth), 3),
                                 "agreement_after": round(_agreement(after, truth), 3),
                                 "kappa_before": _kappa(before, truth), "kappa_after": _kappa(after, truth)}
    return report


# ---------------------------------------------------------------- the new rubric file
@dataclass
class Calibration:
    rubric: Rubric
    text: str
    report: Report


def calibrate(base_text: str, cases: list[Case], data: str, base_source: str = "<rubric>",
              attribution: str = "", folds: int = FOLDS, seed: int = 0) -> Calibration:
    """Cross-validate, then fit on every label and return the new rubric (text and parsed)."""
    base = parse_rubric(base_text, base_source)  # checked first: a bad rubric is a RubricError with file:line
    raw_base = parse_yaml(base_text, base_source, RubricError).data  # the same bounded parse, as plain data
    raw_base.pop("calibration", None)
    report = cross_validate(raw_base, cases, folds, seed)
    final = fit(raw_base, cases)
    report.changes = final.changes
    raw = final.raw
    raw["version"] = int(base.version) + 1
    raw["name"] = f"{base.name.split(' (calibrated')[0]} (calibrated v{raw['version']})"
    raw["calibration"] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "callqa_version": __version__,
        "base_rubric": f"{base_source} {base.version_tag}",
        "data": data,
        "attribution": attribution or None,
        "n_calls": report.n_calls,
        "n_rated": report.n_rated,
        "folds": f"{folds}-fold cross-validation by call (scikit-learn KFold, shuffled, seed {seed})",
        "spearman_cv_before": report.spearman_before,
        "spearman_cv_after": report.spearman_after,
        "fold_spearman_before": report.fold_spearman_before,
        "fold_spearman_after": report.fold_spearman_after,
        "item_verdicts_cv": report.items or None,
        "weight_bounds": f"{WEIGHT_FLOOR:g}x to {WEIGHT_CAP:g}x the base rubric's weight",
        "changes": final.changes,
    }
    leading = []  # the base file's opening comment block (how to read a rubric) stays on top
    for line in base_text.splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# Written by `callqa calibrate`") and not line.startswith("# end for the data"):
            leading.append(line + "\n")
    base_header = "".join(leading)
    header = base_header + (f"# Written by `callqa calibrate` (callqa {__version__}) from {base_source}; see `calibration:` at the\n"
              f"# end for the data, the cross-validated agreement and every change. Edit freely: its sha256 is its version.\n")
    text = header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=120)
    return Calibration(parse_rubric(text, "<calibrated>"), text, report)


def write_rubric(calibration: Calibration, out: Path, in_use: Path, force: bool = False) -> Path:
    """Write the new rubric; never over the rubric in use, never over another file unless ``force``."""
    out, in_use = Path(out), Path(in_use)
    if out.resolve() == in_use.resolve():
        raise CalibrationError(f"{out} is the rubric in use: write the calibrated rubric to a new file "
                               f"and switch to it with --rubric when you are ready")
    if out.exists() and not force:
        raise CalibrationError(f"{out} exists: choose another --out, or pass --force to replace it")
    from qa.intake.transcript_io import write_atomic

    write_atomic(out, calibration.text)
    return out


def cases_from_store(store, labels: list[Label]) -> list[Case]:
    """Each labelled call's transcript and findings from the store (calls not stored are an error)."""
    from qa.errors import NotFound

    cases, missing = [], []
    for label in labels:
        try:
            cases.append(Case(store.load_transcript(label.call_id), store.load_findings(label.call_id), label))
        except NotFound:
            missing.append(label.call_id)
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise CalibrationError(f"{len(missing)} labelled call(s) are not in the store ({shown}): "
                               f"review them first (callqa review / nightly)")
    return cases


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
