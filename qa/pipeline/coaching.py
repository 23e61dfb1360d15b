"""Coaching reports: what a team lead plans from, per team and per agent over a date range.

``build_report`` reads the store (``Store.scores_frame`` rows, plus scorecards
for complaint stages and the evidence of example calls) and hands everything
to pure functions that count. Every number in the report is a count of stored
item statuses or a ratio of two such counts, so it can be checked against the
store row by row (tests/test_coaching.py does exactly that).

The parts: ``settings`` (coaching.yaml, checked), ``records`` (what a report
is made of), ``summary`` (the counting, pure functions), ``tables`` (the CSV
exports); ``qa.reports.coaching_html`` draws the page.

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

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.reports.coaching.records import (
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
)
from qa.reports.coaching.settings import (
    SETTINGS_FILE,
    CoachingConfigError,
    CoachingError,
    CoachingSettings,
    load_settings,
)
from qa.reports.coaching.summary import (
    call_day,
    calls_from_rows,
    example_candidates,
    in_range,
    majority,
    make_example,
    pick_examples,
    report_language,
    scorecard_link,
    summarise,
)
from qa.reports.coaching.tables import report_slug, report_tables
from qa.scoring.rubric import Rubric, load_rubric
from qa.types import Scorecard

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; the pure functions do not need it
    from qa.store.database import Store

__all__ = [
    "SETTINGS_FILE",
    "STAGES",
    "CallFacts",
    "CallRow",
    "CoachingConfigError",
    "CoachingError",
    "CoachingReport",
    "CoachingSettings",
    "Counts",
    "CourseWords",
    "Example",
    "GroupRow",
    "ItemReport",
    "Scope",
    "StageDistribution",
    "WeakItem",
    "Week",
    "build_report",
    "call_day",
    "calls_from_rows",
    "example_candidates",
    "load_settings",
    "make_example",
    "report_slug",
    "report_tables",
    "scorecard_link",
    "summarise",
    "write_report",
]


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise CoachingError(f"{name}={value!r} is not a date; give it as YYYY-MM-DD (e.g. 2024-05-06)") from exc


_FACT_KEYS = ("language", "peak_stage", "final_stage", "complaint_class")


class _Scorecards:
    """Scorecards read once each (stages for every call, evidence for the examples)."""

    def __init__(self, store: Store):
        self._store = store
        self._cache: dict[str, Scorecard | None] = {}

    def __call__(self, call_id: str) -> Scorecard | None:
        if call_id not in self._cache:
            from qa.store.database import NotFound
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
    calls = in_range(calls_from_rows(rows), start, end)
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
        comparison_team = team if team is not None else majority(Counter(c.team for c in calls))
        compare_all = comparison_team is None and bool(calls)
        if comparison_team is not None or compare_all:
            comparison = _fetch(store, start, end, comparison_team, None)[1]
    scope = Scope(start=start, end=end, team=team, agent=agent,
                  language=language or report_language(facts, calls),
                  comparison_team=comparison_team, compare_all=compare_all)
    report = summarise(calls, facts, scope, rubric, settings, comparison, generated_at)
    ex = settings.examples
    report.weakest = [
        WeakItem(w.rank, w.item,
                 pick_examples(calls, w.item.item_id, "best", ex.best, ex.candidates, load, base),
                 pick_examples(calls, w.item.item_id, "worst", ex.worst, ex.candidates, load, base),
                 w.trend_first, w.trend_last)
        for w in report.weakest
    ]
    if agent is not None and len({c.team for c in calls}) > 1:
        report.notes.append(f"Agent {agent} took calls for {len({c.team for c in calls})} teams in this period; "
                            f"compared with {scope.comparison_label}, where most of the calls were.")
    return report


def write_report(report: CoachingReport, out_dir: Path) -> list[Path]:
    """HTML and CSVs into ``out_dir``; see ``qa.reports.coaching_html.write_report``."""
    from qa.reports.coaching_html import write_report as write
    return write(report, out_dir)
