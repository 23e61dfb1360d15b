"""The counting: calls in a date range become a coaching report (pure functions, no store).

Every number is a count of item statuses or a ratio of two such counts; see
``qa.pipeline.coaching`` for the definitions the report prints.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from qa.reports.coaching.records import (
    NONE_LABEL,
    STAGES,
    CallFacts,
    CallRow,
    CoachingReport,
    Counts,
    CourseWords,
    Example,
    GroupRow,
    ItemReport,
    Scope,
    StageDistribution,
    WeakItem,
    Week,
    tally,
)
from qa.reports.coaching.settings import CoachingError, CoachingSettings
from qa.scoring.rubric import Rubric
from qa.types import Scorecard


def call_day(started_at: str | None) -> date | None:
    """The calendar day written in a start time (local to the call, any UTC offset ignored)."""
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(str(started_at).strip()).date()
    except ValueError:
        return None


def calls_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[CallRow]:
    """Fold per-item rows into one record per call, in the rows' order."""
    folded: dict[str, dict[str, Any]] = {}
    for r in rows:
        call = folded.get(r["call_id"])
        if call is None:
            call = folded[r["call_id"]] = {
                "call_id": r["call_id"], "agent_id": r["agent_id"], "team": r["team"],
                "started_at": r["started_at"], "day": call_day(r["started_at"]), "score": float(r["score"]),
                "rubric_version": r["rubric_version"], "statuses": {},
            }
        if r.get("item_id") is not None:
            call["statuses"][r["item_id"]] = r["status"]
    return [CallRow(**c) for c in folded.values()]


def in_range(calls: Iterable[CallRow], start: date, end: date) -> list[CallRow]:
    return [c for c in calls if c.day is not None and start <= c.day <= end]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _item_order(calls: Iterable[CallRow], rubric: Rubric) -> list[str]:
    order = [i.id for i in rubric.items]
    seen = set(order)
    for c in calls:
        for item_id in c.statuses:
            if item_id not in seen:
                seen.add(item_id)
                order.append(item_id)
    return order


def _counts_by_item(calls: Iterable[CallRow], item_ids: Iterable[str]) -> dict[str, Counts]:
    calls = list(calls)
    return {i: tally(c.statuses[i] for c in calls if i in c.statuses) for i in item_ids}


def _words(rubric: Rubric, item_id: str, language: str) -> CourseWords:
    item = next((i for i in rubric.items if i.id == item_id), None)
    if item is None:
        return CourseWords(item_id, item_id, item_id, "", "", "", language)
    return CourseWords(item.title.zh, item.title.en, item.title.es, item.course, item.tip.get(language),
                       item.tip.en, language)


def iso_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(calls: list[CallRow], start: date, end: date, item_ids: list[str]) -> list[Week]:
    by_monday: dict[date, list[CallRow]] = defaultdict(list)
    for c in calls:
        by_monday[c.day - timedelta(days=c.day.weekday())].append(c)
    weeks = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        members = by_monday.get(monday, [])
        weeks.append(Week(
            label=iso_label(monday), monday=monday, first=max(monday, start),
            last=min(monday + timedelta(days=6), end), calls=len(members),
            mean_score=_mean([c.score for c in members]), items=_counts_by_item(members, item_ids),
            call_ids=tuple(c.call_id for c in members),
        ))
        monday += timedelta(days=7)
    return weeks


def _rank_key(counts: Counts, position: int) -> tuple[float, int, int]:
    """Lowest pass rate first; among equals the one failed most often, then rubric order."""
    return (counts.pass_rate if counts.pass_rate is not None else 1.0, -counts.failed, position)


def _weakest_ids(counts: dict[str, Counts], order: list[str], min_applicable: int,
                 below: float | None = None) -> list[str]:
    eligible = [i for i in order
                if counts[i].applicable >= min_applicable and (below is None or counts[i].pass_rate < below)]
    return sorted(eligible, key=lambda i: _rank_key(counts[i], order.index(i)))


def _trend(weekly: list[tuple[str, Counts]], min_applicable: int) -> tuple[tuple[str, float] | None, ...]:
    usable = [(label, c.pass_rate) for label, c in weekly if c.applicable >= min_applicable]
    if not usable:
        return None, None
    return usable[0], usable[-1]


def _groups(calls: list[CallRow], key: Callable[[CallRow], str | None], order: list[str],
            focus_ids: list[str], min_applicable: int) -> list[GroupRow]:
    members: dict[str | None, list[CallRow]] = defaultdict(list)
    for c in calls:
        members[key(c)].append(c)
    out = []
    for k, group in members.items():
        counts = _counts_by_item(group, order)
        weakest = _weakest_ids(counts, order, min_applicable)
        teams = Counter(c.team for c in group)
        out.append(GroupRow(
            key=k, team=majority(teams), calls=len(group), mean_score=_mean([c.score for c in group]),
            overall=sum(counts.values(), Counts()),
            weakest_item=weakest[0] if weakest else None,
            weakest=counts[weakest[0]] if weakest else None,
            focus={i: counts[i] for i in focus_ids},
        ))
    # Lowest mean score first: who to sit with first.
    return sorted(out, key=lambda g: (g.mean_score if g.mean_score is not None else 101.0, str(g.key)))


def majority(counter: Counter) -> Any:
    """The most common value; ties go to the value that sorts first (None last)."""
    if not counter:
        return None
    return min(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, str(kv[0])))[0]


def _ordered_counts(counter: Counter, first: tuple[str, ...]) -> dict[str, int]:
    out = {s: counter.get(s, 0) for s in first}
    for label in sorted(k for k in counter if k not in first and k != NONE_LABEL):
        out[label] = counter[label]
    if counter.get(NONE_LABEL):
        out[NONE_LABEL] = counter[NONE_LABEL]
    return out


def _stages(calls: list[CallRow], facts: Mapping[str, CallFacts]) -> StageDistribution:
    peak, final, classes = Counter(), Counter(), Counter()
    for c in calls:
        f = facts.get(c.call_id)
        peak[(f.peak_stage if f else None) or NONE_LABEL] += 1
        final[(f.final_stage if f else None) or NONE_LABEL] += 1
        classes[(f.complaint_class if f else None) or NONE_LABEL] += 1
    return StageDistribution(_ordered_counts(peak, STAGES), _ordered_counts(final, STAGES),
                             _ordered_counts(classes, ()), len(calls))


def report_language(facts: Mapping[str, CallFacts], calls: list[CallRow]) -> str:
    languages = Counter(facts[c.call_id].language for c in calls if c.call_id in facts and facts[c.call_id].language)
    return majority(languages) or "en"


def summarise(calls: list[CallRow], facts: Mapping[str, CallFacts], scope: Scope, rubric: Rubric,
              settings: CoachingSettings, comparison: list[CallRow] | None = None,
              generated_at: datetime | None = None) -> CoachingReport:
    """The report's numbers from calls already restricted to the scope (examples are added later)."""
    calls = sorted(calls, key=lambda c: (c.day, c.started_at or "", c.call_id))
    order = _item_order(calls, rubric)
    counts = _counts_by_item(calls, order)
    team_counts = _counts_by_item(comparison, order) if comparison is not None else None
    weeks = _weeks(calls, scope.start, scope.end, order)
    items = [
        ItemReport(item_id=i, words=_words(rubric, i, scope.language), counts=counts[i],
                   comparison=team_counts[i] if team_counts is not None else None,
                   weekly=[(w.label, w.items[i]) for w in weeks])
        for i in order
    ]
    by_id = {it.item_id: it for it in items}
    w = settings.weakest
    weak_ids = _weakest_ids(counts, order, w.min_applicable, w.pass_rate_below)[:w.count]
    weakest = []
    for rank, i in enumerate(weak_ids, start=1):
        first, last = _trend(by_id[i].weekly, settings.trend.min_applicable)
        weakest.append(WeakItem(rank, by_id[i], [], [], first, last))
    agents = teams = []
    if scope.kind != "agent":
        agents = _groups(calls, lambda c: c.agent_id, order, weak_ids, settings.agents.min_applicable)
    if scope.kind == "all":
        teams = _groups(calls, lambda c: c.team, order, weak_ids, settings.weakest.min_applicable)
    versions = Counter(c.rubric_version for c in calls)
    notes = []
    if len(versions) > 1:
        notes.append(f"The calls were scored with {len(versions)} rubric versions "
                     f"({', '.join(f'{v}: {n} calls' for v, n in sorted(versions.items()))}); "
                     f"re-score them with one rubric for like-for-like rates.")
    if versions and rubric.version_tag not in versions:
        notes.append(f"Titles and tips come from rubric {rubric.version_tag}, which scored none of these calls.")
    other = sum(c.other for c in counts.values())
    if other:
        notes.append(f"{other} item verdicts had a status other than pass/partial/fail/n/a and are left out.")
    return CoachingReport(
        scope=scope, generated_at=generated_at or datetime.now(timezone.utc),
        calls=len(calls), mean_score=_mean([c.score for c in calls]),
        overall=sum(counts.values(), Counts()), items=items, weeks=weeks, weakest=weakest,
        agents=agents, teams=teams, stages=_stages(calls, facts),
        comparison_calls=len(comparison) if comparison is not None else None,
        comparison_mean_score=_mean([c.score for c in comparison]) if comparison is not None else None,
        rubric_versions=dict(sorted(versions.items())), rubric_used=rubric.version_tag,
        settings=settings, notes=notes,
    )


def example_candidates(calls: Iterable[CallRow], item_id: str, kind: str, limit: int) -> list[CallRow]:
    """Calls to take an example from: ``best`` passed with the highest score, ``worst`` failed with the lowest.

    Ties go to the most recent call. ``worst`` falls back to partial calls when none failed.
    """
    calls = list(calls)

    def recent(c: CallRow) -> int:
        return -(c.day.toordinal() if c.day else 0)

    if kind == "best":
        chosen = sorted((c for c in calls if c.statuses.get(item_id) == "pass"),
                        key=lambda c: (-c.score, recent(c), c.call_id))
    elif kind == "worst":
        failed = [c for c in calls if c.statuses.get(item_id) == "fail"]
        chosen = sorted(failed or [c for c in calls if c.statuses.get(item_id) == "partial"],
                        key=lambda c: (c.score, recent(c), c.call_id))
    else:
        raise CoachingError(f"example kind must be 'best' or 'worst', not {kind!r}")
    return chosen[:limit]


def scorecard_link(call_id: str, second: int | None, base: str = "") -> str:
    """``<base><call_id>.html#t=<second>``: the scorecard page, opened at the moment to listen to."""
    if base and not base.endswith("/"):
        base += "/"
    link = f"{base}{quote(call_id, safe='')}.html"
    return link if second is None else f"{link}#t={second}"


def make_example(call: CallRow, card: Scorecard | None, item_id: str, kind: str, link_base: str) -> Example:
    """An example call; its quote is the first piece of the item's evidence that has words."""
    quote_ev = None
    if card is not None:
        item = next((i for i in card.items if i.id == item_id), None)
        if item is not None:
            quote_ev = next((e for e in item.evidence if e.text.strip()), None)
    second = math.floor(quote_ev.start) if quote_ev is not None else None
    return Example(item_id=item_id, kind=kind, call_id=call.call_id, agent_id=call.agent_id, team=call.team,
                   started_at=call.started_at, score=call.score, status=call.statuses.get(item_id, ""),
                   quote=quote_ev, second=second, link=scorecard_link(call.call_id, second, link_base))


def pick_examples(calls: list[CallRow], item_id: str, kind: str, wanted: int, candidates: int,
                   load: Callable[[str], Scorecard | None], link_base: str) -> list[Example]:
    """Up to ``wanted`` examples, preferring calls whose item has quoted evidence."""
    pool = [make_example(c, load(c.call_id), item_id, kind, link_base)
            for c in example_candidates(calls, item_id, kind, max(wanted, candidates))]
    quoted = [e for e in pool if e.quote is not None]
    return (quoted + [e for e in pool if e.quote is None])[:wanted]
