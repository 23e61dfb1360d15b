"""Coaching reports: what a team lead plans from, per team and per agent over a date range.

``build_report`` reads the store (``Store.scores_frame`` rows, plus scorecards
for complaint stages and the evidence of example calls) and hands everything
to pure functions that count. Every number in the report is a count of stored
item statuses or a ratio of two such counts, so it can be checked against the
store row by row (tests/test_coaching.py does exactly that).

Definitions (also printed in the report's footnotes):

* An item is *applicable* to a call when its status is pass, partial or fail;
  ``n/a`` calls are left out of every rate.
* *Pass rate* = pass / applicable. Partial is counted separately (partial
  rate = partial / applicable), never as half a pass.
* A call belongs to the calendar day written in its ``started_at`` (the contact
  centre's local time, whatever its UTC offset). ``start`` and ``end`` are both
  included. Calls without a readable start time are in no date range.
* Weeks are ISO weeks, Monday to Sunday; the first and last week of a range
  may be partial.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import CallqaError, ConfigError
from .overrides import with_override
from .paths import DATA_FILES
from .rubric import Rubric, load_rubric
from .types import Evidence, Scorecard

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; the pure functions do not need it
    from .store import Store

__all__ = [
    "SETTINGS_FILE", "STAGES",
    "CoachingError", "CoachingConfigError", "CoachingSettings", "load_settings",
    "Counts", "CourseWords", "CallRow", "CallFacts", "Week", "ItemReport", "Example", "WeakItem",
    "GroupRow", "StageDistribution", "Scope", "CoachingReport",
    "call_day", "calls_from_rows", "summarise", "example_candidates", "make_example", "scorecard_link",
    "build_report", "report_tables", "report_slug", "write_report",
]

SETTINGS_FILE = DATA_FILES / "coaching.yaml"
#: The customer's complaint stages in course order (COURSE.md section 5).
STAGES = ("S1", "S2", "S3", "S4", "S5", "S6")
#: Label for calls whose scorecard names no stage or class.
NONE_LABEL = "none"


# ---------------------------------------------------------------- errors
class CoachingError(CallqaError):
    """A coaching report cannot be built as asked; the message says what to change."""

    code = "E600"


class CoachingConfigError(ConfigError):
    """``coaching.yaml`` (or an override of it) is malformed."""

    code = "E440"


# ---------------------------------------------------------------- settings
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Weakest(_Strict):
    min_applicable: int = Field(ge=1)
    count: int = Field(ge=0)
    pass_rate_below: float = Field(gt=0, le=1)


class _Agents(_Strict):
    min_applicable: int = Field(ge=1)


class _Trend(_Strict):
    min_applicable: int = Field(ge=1)


class _Examples(_Strict):
    best: int = Field(ge=0)
    worst: int = Field(ge=0)
    candidates: int = Field(ge=1)


class _Links(_Strict):
    scorecard_base: str


class _Texts(_Strict):
    zh: str
    en: str
    es: str

    def get(self, language: str) -> str:
        return getattr(self, language, self.en)


class _Bands(_Strict):
    good: float = Field(ge=0, le=1)
    poor: float = Field(ge=0, le=1)


class _Plots(_Strict):
    dpi: int = Field(ge=50, le=400)
    width: float = Field(gt=2, le=30)


class CoachingSettings(_Strict):
    """The thresholds of ``qa/data/coaching.yaml``, validated."""

    weakest: _Weakest
    agents: _Agents
    trend: _Trend
    examples: _Examples
    links: _Links
    stages: dict[str, _Texts]
    bands: _Bands
    plots: _Plots


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))


def load_settings(override: Path | Mapping[str, Any] | None = None) -> CoachingSettings:
    """The defaults of ``coaching.yaml`` with the keys of ``override`` (a YAML file or a mapping) replaced."""
    merged, where = with_override(_defaults(), override, "coaching settings", CoachingConfigError,
                                  hint=f"; see {SETTINGS_FILE}")
    try:
        return CoachingSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CoachingConfigError(f"{where}: {problems}") from exc


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Counts:
    """How many calls got each status on one item (or on all items together)."""

    passed: int = 0
    partial: int = 0
    failed: int = 0
    na: int = 0
    other: int = 0  # statuses outside pass/partial/fail/n/a: excluded like n/a, and reported

    @property
    def applicable(self) -> int:
        return self.passed + self.partial + self.failed

    def _rate(self, part: int) -> float | None:
        return part / self.applicable if self.applicable else None

    @property
    def pass_rate(self) -> float | None:
        return self._rate(self.passed)

    @property
    def partial_rate(self) -> float | None:
        return self._rate(self.partial)

    @property
    def fail_rate(self) -> float | None:
        return self._rate(self.failed)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.partial + other.partial, self.failed + other.failed,
                      self.na + other.na, self.other + other.other)


def tally(statuses: Iterable[str]) -> Counts:
    seen = Counter(statuses)
    known = seen["pass"] + seen["partial"] + seen["fail"] + seen["n/a"]
    return Counts(seen["pass"], seen["partial"], seen["fail"], seen["n/a"], sum(seen.values()) - known)


@dataclass(frozen=True)
class CourseWords:
    """An item in the course's own words: the seed's Chinese title, its translation, section and tip."""

    title_zh: str
    title_en: str
    title_es: str
    course: str
    tip: str  # in the report's language
    tip_en: str
    language: str

    @property
    def title_local(self) -> str:
        """The translation shown under the Chinese title: Spanish for Spanish teams, else English."""
        return self.title_es if self.language == "es" else self.title_en


@dataclass(frozen=True)
class CallRow:
    """One scored call, folded from its ``scores_frame`` rows."""

    call_id: str
    agent_id: str | None
    team: str | None
    started_at: str | None
    day: date | None
    score: float
    rubric_version: str
    statuses: dict[str, str]  # item_id -> status, in scorecard order


@dataclass(frozen=True)
class CallFacts:
    """What the scorecard says beyond its items: language and complaint stages."""

    language: str | None
    peak_stage: str | None
    final_stage: str | None
    complaint_class: str | None


@dataclass(frozen=True)
class Week:
    """One ISO week (Monday start); ``first``/``last`` are the days of it inside the report's range."""

    label: str  # e.g. 2024-W19
    monday: date
    first: date
    last: date
    calls: int
    mean_score: float | None
    items: dict[str, Counts]
    call_ids: tuple[str, ...] = ()  # which calls made these numbers, for audits

    @property
    def partial(self) -> bool:
        return (self.last - self.first).days < 6


@dataclass(frozen=True)
class ItemReport:
    item_id: str
    words: CourseWords
    counts: Counts
    comparison: Counts | None  # the team's counts beside an agent's; None in a team report
    weekly: list[tuple[str, Counts]]  # (week label, counts) for every week of the range


@dataclass(frozen=True)
class Example:
    """A call to listen to for one item, with the moment to start at."""

    item_id: str
    kind: str  # best | worst
    call_id: str
    agent_id: str | None
    team: str | None
    started_at: str | None
    score: float
    status: str
    quote: Evidence | None
    second: int | None  # whole second where the quote starts (floor), None without a quote
    link: str


@dataclass(frozen=True)
class WeakItem:
    rank: int
    item: ItemReport
    best: list[Example]
    worst: list[Example]
    trend_first: tuple[str, float] | None  # (week label, pass rate) of the first week with enough calls
    trend_last: tuple[str, float] | None

    @property
    def trend_change(self) -> float | None:
        if self.trend_first is None or self.trend_last is None or self.trend_first[0] == self.trend_last[0]:
            return None
        return self.trend_last[1] - self.trend_first[1]


@dataclass(frozen=True)
class GroupRow:
    """One agent (or team) in a team (or centre) report."""

    key: str | None  # agent id or team name
    team: str | None
    calls: int
    mean_score: float | None
    overall: Counts
    weakest_item: str | None
    weakest: Counts | None
    focus: dict[str, Counts]  # the report's weakest items, for this agent


@dataclass(frozen=True)
class StageDistribution:
    peak: dict[str, int]  # S1..S6 (all present, maybe 0), then other labels, then "none"
    final: dict[str, int]
    classes: dict[str, int]
    calls: int


@dataclass(frozen=True)
class Scope:
    start: date  # inclusive
    end: date  # inclusive
    team: str | None
    agent: str | None
    language: str
    comparison_team: str | None = None  # an agent report compares against this team ...
    compare_all: bool = False  # ... or against all calls when the agent's calls have no team

    @property
    def kind(self) -> str:
        return "agent" if self.agent is not None else "team" if self.team is not None else "all"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def comparison_label(self) -> str | None:
        if self.kind != "agent":
            return None
        if self.comparison_team is not None:
            return f"team {self.comparison_team}"
        return "all teams" if self.compare_all else None


@dataclass
class CoachingReport:
    scope: Scope
    generated_at: datetime
    calls: int
    mean_score: float | None
    overall: Counts
    items: list[ItemReport]
    weeks: list[Week]
    weakest: list[WeakItem]
    agents: list[GroupRow]
    teams: list[GroupRow]
    stages: StageDistribution
    comparison_calls: int | None
    comparison_mean_score: float | None
    rubric_versions: dict[str, int]
    rubric_used: str
    settings: CoachingSettings
    notes: list[str] = field(default_factory=list)

    def item(self, item_id: str) -> ItemReport:
        for it in self.items:
            if it.item_id == item_id:
                return it
        raise KeyError(f"item {item_id!r} is not in this report (items: {', '.join(i.item_id for i in self.items)})")


# ---------------------------------------------------------------- pure functions
def call_day(started_at: str | None) -> date | None:
    """The calendar day written in a start time (local to the call, any UTC offset ignored)."""
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(str(started_at).strip()).date()
    except ValueError:
        return None


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise CoachingError(f"{name}={value!r} is not a date; give it as YYYY-MM-DD (e.g. 2024-05-06)") from exc


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


def _in_range(calls: Iterable[CallRow], start: date, end: date) -> list[CallRow]:
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
            key=k, team=_majority(teams), calls=len(group), mean_score=_mean([c.score for c in group]),
            overall=sum(counts.values(), Counts()),
            weakest_item=weakest[0] if weakest else None,
            weakest=counts[weakest[0]] if weakest else None,
            focus={i: counts[i] for i in focus_ids},
        ))
    # Lowest mean score first: who to sit with first.
    return sorted(out, key=lambda g: (g.mean_score if g.mean_score is not None else 101.0, str(g.key)))


def _majority(counter: Counter) -> Any:
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


def _language(facts: Mapping[str, CallFacts], calls: list[CallRow]) -> str:
    languages = Counter(facts[c.call_id].language for c in calls if c.call_id in facts and facts[c.call_id].language)
    return _majority(languages) or "en"


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


def _pick_examples(calls: list[CallRow], item_id: str, kind: str, wanted: int, candidates: int,
                   load: Callable[[str], Scorecard | None], link_base: str) -> list[Example]:
    """Up to ``wanted`` examples, preferring calls whose item has quoted evidence."""
    pool = [make_example(c, load(c.call_id), item_id, kind, link_base)
            for c in example_candidates(calls, item_id, kind, max(wanted, candidates))]
    quoted = [e for e in pool if e.quote is not None]
    return (quoted + [e for e in pool if e.quote is None])[:wanted]


# ---------------------------------------------------------------- reading the store
_FACT_KEYS = ("language", "peak_stage", "final_stage", "complaint_class")


class _Scorecards:
    """Scorecards read once each (stages for every call, evidence for the examples)."""

    def __init__(self, store: Store):
        self._store = store
        self._cache: dict[str, Scorecard | None] = {}

    def __call__(self, call_id: str) -> Scorecard | None:
        if call_id not in self._cache:
            from .store import NotFound
            try:
                self._cache[call_id] = self._store.load_scorecard(call_id)
            except NotFound:  # re-saved or removed since the rows were read
                self._cache[call_id] = None
        return self._cache[call_id]


def _facts(rows: list[Mapping[str, Any]], calls: list[CallRow], load: Callable[[str], Scorecard | None]
           ) -> dict[str, CallFacts]:
    """Stages and language per call: from the rows if the store provides them, else from the scorecards."""
    if rows and all(k in rows[0] for k in _FACT_KEYS):
        first = {}
        for r in rows:
            first.setdefault(r["call_id"], r)
        return {c.call_id: CallFacts(*(first[c.call_id][k] for k in _FACT_KEYS)) for c in calls}
    out = {}
    for c in calls:
        card = load(c.call_id)
        if card is not None:
            out[c.call_id] = CallFacts(card.language, card.peak_stage, card.final_stage, card.complaint_class)
    return out


def _fetch(store: Store, start: date, end: date, team: str | None, agent: str | None
           ) -> tuple[list[dict[str, Any]], list[CallRow]]:
    # The store filters on UTC; a call's local day is at most 14 h from it, so
    # read one day more on each side and keep the calls whose local day is in range.
    rows = store.scores_frame(start - timedelta(days=1), end + timedelta(days=2), team=team, agent=agent)
    calls = _in_range(calls_from_rows(rows), start, end)
    keep = {c.call_id for c in calls}
    return [r for r in rows if r["call_id"] in keep], calls


def build_report(store: Store, start: date | str, end: date | str, team: str | None = None,
                 agent: str | None = None, rubric: Rubric | None = None, *, language: str | None = None,
                 settings: CoachingSettings | None = None, link_base: str | None = None,
                 generated_at: datetime | None = None) -> CoachingReport:
    """The coaching report for calls started from ``start`` through ``end`` (both days included).

    ``team`` and/or ``agent`` narrow the scope; an agent report is compared with
    the agent's team over the same days (given ``team``, else the team most of the
    agent's calls belong to). ``language`` (zh/es/en) picks the tips' language;
    by default the most common language of the calls. ``link_base`` overrides
    ``links.scorecard_base`` of the settings.
    """
    start, end = _as_date(start, "start"), _as_date(end, "end")
    if end < start:
        raise CoachingError(f"end {end} is before start {start}; both days are included, so a one-day "
                            f"report has start == end")
    rubric = rubric or load_rubric()
    settings = settings or load_settings()
    base = settings.links.scorecard_base if link_base is None else link_base
    load = _Scorecards(store)
    rows, calls = _fetch(store, start, end, team, agent)
    facts = _facts(rows, calls, load)
    comparison, comparison_team, compare_all = None, None, False
    if agent is not None:
        comparison_team = team if team is not None else _majority(Counter(c.team for c in calls))
        compare_all = comparison_team is None and bool(calls)
        if comparison_team is not None or compare_all:
            comparison = _fetch(store, start, end, comparison_team, None)[1]
    scope = Scope(start=start, end=end, team=team, agent=agent,
                  language=language or _language(facts, calls),
                  comparison_team=comparison_team, compare_all=compare_all)
    report = summarise(calls, facts, scope, rubric, settings, comparison, generated_at)
    ex = settings.examples
    report.weakest = [
        WeakItem(w.rank, w.item,
                 _pick_examples(calls, w.item.item_id, "best", ex.best, ex.candidates, load, base),
                 _pick_examples(calls, w.item.item_id, "worst", ex.worst, ex.candidates, load, base),
                 w.trend_first, w.trend_last)
        for w in report.weakest
    ]
    if agent is not None and len({c.team for c in calls}) > 1:
        report.notes.append(f"Agent {agent} took calls for {len({c.team for c in calls})} teams in this period; "
                            f"compared with {scope.comparison_label}, where most of the calls were.")
    return report


# ---------------------------------------------------------------- tables (CSV)
def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _opt(value: Any) -> str:
    return "" if value is None else str(value)


def report_tables(report: CoachingReport) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The CSV exports as (header, rows) per file name: rates to 4 decimals, scores to 2."""
    cmp = report.scope.kind == "agent"
    items_header = ["item_id", "title_zh", "title_en", "title_es", "course", "applicable", "pass", "partial",
                    "fail", "n/a", "pass_rate", "partial_rate", "fail_rate"]
    if cmp:
        items_header += ["team_applicable", "team_pass", "team_partial", "team_fail", "team_pass_rate"]
    items_rows = []
    for it in report.items:
        c, w = it.counts, it.words
        row = [it.item_id, w.title_zh, w.title_en, w.title_es, w.course, c.applicable, c.passed, c.partial,
               c.failed, c.na, _rate(c.pass_rate), _rate(c.partial_rate), _rate(c.fail_rate)]
        if cmp:
            t = it.comparison or Counts()
            row += [t.applicable, t.passed, t.partial, t.failed, _rate(t.pass_rate)]
        items_rows.append(row)

    weekly_header = ["week", "week_start", "first_day", "last_day", "calls", "mean_score", "item_id",
                     "applicable", "pass", "partial", "fail", "n/a", "pass_rate"]
    weekly_rows = [[w.label, w.monday.isoformat(), w.first.isoformat(), w.last.isoformat(), w.calls,
                    _score(w.mean_score), i, c.applicable, c.passed, c.partial, c.failed, c.na, _rate(c.pass_rate)]
                   for w in report.weeks for i, c in w.items.items()]

    focus = [w.item.item_id for w in report.weakest]
    agents_header = ["agent_id", "team", "calls", "mean_score", "applicable", "pass", "pass_rate", "weakest_item",
                     "weakest_applicable", "weakest_pass_rate"] + [f"{i}_pass_rate" for i in focus]
    agents_rows = [[_opt(g.key), _opt(g.team), g.calls, _score(g.mean_score), g.overall.applicable,
                    g.overall.passed, _rate(g.overall.pass_rate), _opt(g.weakest_item),
                    g.weakest.applicable if g.weakest else "", _rate(g.weakest.pass_rate if g.weakest else None)]
                   + [_rate(g.focus[i].pass_rate) for i in focus] for g in report.agents]

    examples_header = ["item_id", "kind", "call_id", "agent_id", "team", "started_at", "score", "status",
                       "role", "second", "quote", "link"]
    examples_rows = [[e.item_id, e.kind, e.call_id, _opt(e.agent_id), _opt(e.team), _opt(e.started_at),
                      _score(e.score), e.status, e.quote.role if e.quote else "", _opt(e.second),
                      e.quote.text if e.quote else "", e.link]
                     for w in report.weakest for e in w.worst + w.best]

    st = report.stages
    stages_rows = ([["peak_stage", k, v] for k, v in st.peak.items()]
                   + [["final_stage", k, v] for k, v in st.final.items()]
                   + [["complaint_class", k, v] for k, v in st.classes.items()])
    return {
        "items.csv": (items_header, items_rows),
        "weekly.csv": (weekly_header, weekly_rows),
        "agents.csv": (agents_header, agents_rows),
        "examples.csv": (examples_header, examples_rows),
        "stages.csv": (["field", "value", "calls"], stages_rows),
    }


def report_slug(report: CoachingReport) -> str:
    """A file-name-safe name for the report, e.g. ``team-north_2024-05-06_2024-06-02``."""
    s = report.scope
    who = f"agent-{s.agent}" if s.kind == "agent" else f"team-{s.team}" if s.kind == "team" else "all"
    who = re.sub(r"[^\w.-]+", "_", who, flags=re.UNICODE).strip("_.") or "report"
    return f"{who}_{s.start.isoformat()}_{s.end.isoformat()}"


def write_report(report: CoachingReport, out_dir: Path) -> list[Path]:
    """HTML and CSVs into ``out_dir``; see ``qa.render.coaching_html.write_report``."""
    from .render.coaching_html import write_report as write
    return write(report, out_dir)
