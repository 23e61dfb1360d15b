"""A coaching report as CSV tables (items, weekly, agents, examples, stages), and its file-name slug."""

from __future__ import annotations

import re
from typing import Any

from qa.reports.coaching.records import CoachingReport, Counts


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
