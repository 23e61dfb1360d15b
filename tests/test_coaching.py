"""Coaching reports: every number reconciles with the stored scores; the page is safe and readable.

The store is populated with real reviews: timed-text calls in Mandarin and
Spanish, hand-written findings, scored by ``qa.scoring.score.score_call`` with the
default rubric and saved with ``Store.save_review``. The checks recompute
every count from the SQLite tables directly (not through ``scores_frame``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from qa.intake.transcript_io import parse_timed_text
from qa.pipeline import coaching
from qa.pipeline.coaching import (
    CoachingConfigError,
    CoachingError,
    build_report,
    load_settings,
    report_slug,
    report_tables,
    scorecard_link,
)
from qa.reports.coaching_html import HTML_NAME, render_html, render_plots, write_report
from qa.scoring.rubric import load_rubric
from qa.scoring.score import score_call
from qa.store.database import Store
from qa.types import Finding

START, END = date(2024, 5, 6), date(2024, 6, 2)  # Monday of 2024-W19 .. Sunday of 2024-W22
HOSTILE = '<img src=x onerror=alert(1)>'
FORMULA_AGENT = "=cmd|'/C calc'!A0"
TEAMS = {"N-Li": "north", "N-Wang": "north", "S-Garcia": "south", HOSTILE: "south"}
LANG = {"north": "zh", "south": "es"}
#: How often each agent does the right thing, per course item (default for the rest).
SKILL = {
    "N-Li": {"default": 0.85},
    "N-Wang": {"default": 0.6, "P1": 0.25},
    "S-Garcia": {"default": 0.75, "R4": 0.25},
    HOSTILE: {"default": 0.5},
}
PHRASES = {
    "zh": {
        "greeting": "您好，工号1024为您服务，请问有什么可以帮您？", "no_greeting": "喂，说吧。",
        "impatience": "我刚才已经说过了。", "anger": "你们这是什么服务！我要投诉！",
        "acknowledged_first": "非常理解您的心情，真的很抱歉给您带来不便。", "solution_before_feelings": "按照规定需要先提交申请。",
        "empathy": "如果是我也会着急的。", "blame": "这是你自己没填对地址。",
        "concrete_action": "我现在就为您补发，24小时内给您回复。", "no_concrete_action": "这个我们再看看吧。",
        "hold": "请您稍等一分钟，我查一下。", "hold_without_estimate": "您等一下。", "dead_air": "……",
        "anything_else": "请问您还有其他问题吗？", "no_anything_else": "好，就这样。",
        "closed_question": "是这个订单号吗？", "polite": "麻烦您提供一下订单号，谢谢。",
        "controlling_question": "您看我们先补发，再给您优惠券，这样可以吗？", "open_question": "您能说说具体是什么情况吗？",
        "forbidden": "这不归我管。", "open_question_then_restatement": "我确认一下，您的意思是包裹没收到，对吗？",
        "explicit_steps": "第一，我先登记；第二，明天补发；最后短信通知您。", "phase_order": "那我们就这样约定，明天补发。",
        "phase": "我给您补发。", "deescalated": "好吧，那谢谢你。", "escalated_during_call": "我要打12315！",
    },
    "es": {
        "greeting": "Buenos días, le atiende Ana, ¿en qué puedo ayudarle?", "no_greeting": "Diga.",
        "impatience": "Como ya le dije antes.", "anger": "¡Quiero poner una queja, esto es inaceptable!",
        "acknowledged_first": "Entiendo su molestia y lo siento mucho.", "solution_before_feelings": "Según la norma debe enviar un formulario.",
        "empathy": "En su lugar yo también estaría preocupado.", "blame": "Usted no escribió bien la dirección.",
        "concrete_action": "Le llamaremos mañana antes de las 12.", "no_concrete_action": "Ya veremos qué se puede hacer.",
        "hold": "Un minuto, por favor, lo compruebo.", "hold_without_estimate": "Espere.", "dead_air": "…",
        "anything_else": "¿Hay algo más en que pueda ayudarle?", "no_anything_else": "Bueno, adiós.",
        "closed_question": "¿Es este su número de pedido?", "polite": "Por favor, ¿me indica su número de pedido?",
        "controlling_question": "¿Le parece bien si se lo reenviamos mañana?", "open_question": "¿Qué pasó exactamente?",
        "forbidden": "No es mi problema.", "open_question_then_restatement": "Para confirmar, ¿no le llegó el paquete?",
        "explicit_steps": "Primero lo registro, después lo reenviamos y por último le avisamos.",
        "phase_order": "Entonces quedamos así: lo reenviamos mañana.", "phase": "Se lo reenviamos.", "deescalated": "Vale, gracias.", "escalated_during_call": "¡Quiero hablar con un abogado!",
    },
}


# ---------------------------------------------------------------- building real reviews
class CallBuilder:
    """A call as timed text plus the findings taggers would have made on it."""

    def __init__(self, language: str):
        self.language, self.lines, self.findings, self.t = language, [], [], 0.0

    def say(self, role: str, text: str, seconds: float = 3.0) -> tuple[float, float]:
        start = self.t
        self.lines.append((start, start + seconds, role, text))
        self.t = start + seconds + 0.75
        return start, start + seconds

    def find(self, course_id: str, kind: str, role: str = "agent", value: object = True,
             phrase: str | None = None, seconds: float = 3.0) -> None:
        text = PHRASES[self.language][phrase or kind]
        start, end = self.say(role, text, seconds)
        self.findings.append(Finding(course_id, kind, value, role, start, end, text, "test@1", {}))

    def timed_text(self, call_id: str, agent: str, team: str, started_at: str | None) -> str:
        head = [f"# language: {self.language}", f"# call_id: {call_id}", f"# agent_id: {agent}", f"# team: {team}"]
        if started_at is not None:
            head.append(f"# started_at: {started_at}")
        return "\n".join(head + [f"{s:.2f} {e:.2f} {role} {text}" for s, e, role, text in self.lines]) + "\n"


def make_call(call_id: str, agent: str, started_at: str | None):
    team = TEAMS.get(agent, "south")
    rng = random.Random(call_id)
    skill = SKILL.get(agent, {"default": 0.5})

    def good(item: str) -> bool:
        return rng.random() < skill.get(item, skill["default"])

    b = CallBuilder(LANG[team])
    if good("P2"):
        b.find("P2", "greeting")
    else:
        b.find("P2", rng.choice(["impatience", "no_greeting"]))
    upset = rng.random() < 0.65
    if upset:
        b.find("T-TONE", "anger_keyword", role="customer", value="投诉", phrase="anger", seconds=4.25)
        b.find("S3", "stage", role="customer", value="S3", phrase="anger")
        b.find("P1", "acknowledged_first" if good("P1") else "solution_before_feelings")
    if good("T-TONE"):
        b.find("T-TONE", "polite")
    if good("T-QUESTION"):
        b.find("T-QUESTION", "closed_question")
        b.find("T-QUESTION", "controlling_question")
    elif rng.random() < 0.5:
        b.find("T-QUESTION", "open_question")
    if good("P5"):
        b.find("P5", "empathy")
    elif rng.random() < 0.5:
        b.find("P5", "blame")
    b.find("P6", "concrete_action" if good("P6") else "no_concrete_action")
    if not good("K1"):
        if rng.random() < 0.5:
            b.find("K1", "dead_air", seconds=2.0)
            b.find("K1", "dead_air", seconds=2.0)
        else:
            b.find("K1", "hold_without_estimate")
    elif rng.random() < 0.5:
        b.find("K1", "hold")
    if rng.random() < 0.2:  # the taggers could not judge K3 on this call
        b.findings.append(Finding("K3", "not_applicable", None, "agent", 0.0, 0.0, "", "test@1",
                                  {"reason": "too short to judge"}))
    if good("R2"):
        b.find("R2", "open_question_then_restatement")
    if good("R3"):
        b.find("R3", "explicit_steps")
    b.find("R4", "anything_else" if good("R4") else "no_anything_else")
    b.find("IDL+PPC", "phase_order" if good("IDL+PPC") else "phase", value=True)
    if upset:
        peak = rng.choice(["S3", "S4", "S5", "S6"])
        calmed = good("P4")
        b.find("P4", "deescalated" if calmed else "escalated_during_call", role="customer")
        final = "S2" if calmed else peak
        b.findings += [Finding(peak, "peak_stage", peak, "customer", 0.0, 0.0, "", "test@1", {}),
                       Finding(final, "final_stage", final, "customer", 0.0, 0.0, "", "test@1", {}),
                       Finding(peak, "complaint_class", "升级投诉" if peak == "S6" else "普通投诉", "customer",
                               0.0, 0.0, "", "test@1", {})]
    if call_id == "c-forbidden":
        b.find("R6", "forbidden")
    transcript = parse_timed_text(b.timed_text(call_id, agent, team, started_at), source=call_id)
    return transcript, b.findings


def regular_calls() -> list[tuple[str, str, str]]:
    """32 calls spread over the four weeks, 8 per agent, at +08:00 or -05:00 local times."""
    agents = list(TEAMS)
    out = []
    for i in range(32):
        day = START + timedelta(days=(i * 5 + i // 7) % 28)
        agent = agents[i % 4]
        offset = "+08:00" if TEAMS[agent] == "north" else "-05:00"
        out.append((f"c-{i:02d}", agent, f"{day.isoformat()}T{9 + i % 8:02d}:{(i * 7) % 60:02d}:00{offset}"))
    return out


#: Calls that sit on the edges of the range and of weeks: (call id, agent, started_at, expected week or None).
BOUNDARY = [
    ("c-before", "N-Li", "2024-05-05T23:50:00+08:00", None),  # Sunday before the start
    ("c-early-monday", "N-Li", "2024-05-06T07:30:00+08:00", "2024-W19"),  # UTC: still Sunday 5 May
    ("c-sunday-night", "N-Wang", "2024-05-12T23:59:00+08:00", "2024-W19"),
    ("c-monday-midnight", "N-Wang", "2024-05-13T00:00:00+08:00", "2024-W20"),  # UTC: Sunday 16:00
    ("c-naive", "S-Garcia", "2024-05-20 10:00:00", "2024-W21"),
    ("c-date-only", "S-Garcia", "2024-05-27", "2024-W22"),
    ("c-last-evening", HOSTILE, "2024-06-02T23:59:59-05:00", "2024-W22"),  # UTC: Monday 3 June
    ("c-after", HOSTILE, "2024-06-03T00:00:00+08:00", None),
    ("c-no-time", HOSTILE, None, None),
    ("c-unreadable-time", HOSTILE, "yesterday morning", None),
    ("c-forbidden", HOSTILE, "2024-05-22T15:00:00-05:00", "2024-W21"),
    ("c-formula", FORMULA_AGENT, "2024-05-23T11:00:00-05:00", "2024-W21"),
]


def sha(call_id: str) -> str:
    return hashlib.sha256(call_id.encode()).hexdigest()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("coaching") / "callqa.db"
    rubric = load_rubric()
    with Store.open(f"sqlite:///{path}") as store:
        for call_id, agent, started in regular_calls() + [b[:3] for b in BOUNDARY]:
            transcript, findings = make_call(call_id, agent, started)
            card = score_call(transcript, findings, rubric)
            if call_id == "c-03":
                # An older score of another rubric version, all passes: it must not count once re-scored.
                old = replace(card, rubric_version="v0-old", items=[replace(i, status="pass") for i in card.items],
                              score=100.0)
                store.save_review(transcript, findings, old, sha(call_id), f"/archive/{call_id}.txt")
                store.save_scorecard(card)
            else:
                store.save_review(transcript, findings, card, sha(call_id), f"/archive/{call_id}.txt")
    return path


@pytest.fixture(scope="module")
def store(store_path):
    with Store.open(f"sqlite:///{store_path}") as s:
        yield s


# ---------------------------------------------------------------- independent recomputation
def stored_rows(store_path: Path) -> list[dict]:
    """Current item verdicts straight from the SQLite tables, without callqa's code."""
    con = sqlite3.connect(store_path)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        "SELECT c.call_id, c.agent_id, c.team, c.started_at, s.score, s.peak_stage, s.final_stage, "
        "s.complaint_class, i.item_id, i.status, i.evidence FROM calls c "
        "JOIN scores s ON s.call_id = c.call_id AND s.is_current = 1 "
        "LEFT JOIN item_scores i ON i.score_id = s.score_id").fetchall()
    con.close()
    return [dict(r) for r in rows]


def local_day(started_at: str | None) -> date | None:
    if not started_at:
        return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", started_at)
    return date(*map(int, m.groups())) if m else None


def expected(store_path: Path, start: date = START, end: date = END, team: str | None = None,
             agent: str | None = None) -> dict:
    """Counts per item, per week, per agent, per call recomputed from the stored rows."""
    rows = [r for r in stored_rows(store_path)
            if local_day(r["started_at"]) is not None and start <= local_day(r["started_at"]) <= end
            and (team is None or r["team"] == team) and (agent is None or r["agent_id"] == agent)]
    items: dict[str, Counter] = defaultdict(Counter)
    weekly: dict[tuple[str, str], Counter] = defaultdict(Counter)
    agents: dict[str, Counter] = defaultdict(Counter)
    calls = {}
    for r in rows:
        d = local_day(r["started_at"])
        week = f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}"
        calls[r["call_id"]] = (r["score"], week, r["agent_id"], r)
        items[r["item_id"]][r["status"]] += 1
        weekly[(week, r["item_id"])][r["status"]] += 1
        agents[r["agent_id"]][r["status"]] += 1
    return {"items": items, "weekly": weekly, "agents": agents, "calls": calls}


def rate(c: Counter) -> float | None:
    applicable = c["pass"] + c["partial"] + c["fail"]
    return c["pass"] / applicable if applicable else None


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def fmt_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------- the numbers
@pytest.mark.parametrize("team", ["north", "south", None])
def test_item_counts_and_pass_rates_match_the_stored_verdicts(store, store_path, team):
    report = build_report(store, START, END, team=team)
    exp = expected(store_path, team=team)
    assert report.calls == len(exp["calls"]) > 10
    assert report.mean_score == pytest.approx(sum(s for s, *_ in exp["calls"].values()) / len(exp["calls"]), abs=1e-9)
    for it in report.items:
        c = exp["items"][it.item_id]
        assert (it.counts.passed, it.counts.partial, it.counts.failed, it.counts.na) == \
            (c["pass"], c["partial"], c["fail"], c["n/a"]), it.item_id
        assert it.counts.applicable == c["pass"] + c["partial"] + c["fail"]
        assert it.counts.pass_rate == rate(c)
    assert {it.item_id for it in report.items} >= set(exp["items"])
    assert report.overall.passed == sum(c["pass"] for c in exp["items"].values())


def test_na_verdicts_are_left_out_of_the_pass_rate(store, store_path):
    report = build_report(store, START, END)
    k3, p1 = report.item("K3").counts, report.item("P1").counts
    assert k3.na > 0 and p1.na > 0  # tagger n/a (K3) and applies_if n/a (P1: the customer was never upset)
    for c in (k3, p1):
        assert c.applicable + c.na == report.calls
        assert c.pass_rate == c.passed / (c.passed + c.partial + c.failed)


def test_partial_is_counted_apart_from_pass(store):
    c = build_report(store, START, END).item("K1").counts
    assert c.partial > 0
    assert c.pass_rate == c.passed / c.applicable and c.partial_rate == c.partial / c.applicable
    assert c.pass_rate + c.partial_rate + c.fail_rate == pytest.approx(1.0)


def test_weekly_buckets_reconcile_and_sum_to_the_period(store, store_path):
    report = build_report(store, START, END)
    exp = expected(store_path)
    assert [w.label for w in report.weeks] == ["2024-W19", "2024-W20", "2024-W21", "2024-W22"]
    for w in report.weeks:
        members = [s for s, week, *_ in exp["calls"].values() if week == w.label]
        assert w.calls == len(members)
        assert w.mean_score == (pytest.approx(sum(members) / len(members), abs=1e-9) if members else None)
        for item_id, c in w.items.items():
            e = exp["weekly"][(w.label, item_id)]
            assert (c.passed, c.partial, c.failed, c.na) == (e["pass"], e["partial"], e["fail"], e["n/a"])
    assert sum(w.calls for w in report.weeks) == report.calls
    for it in report.items:
        assert sum(c.passed for _, c in it.weekly) == it.counts.passed


def test_a_call_belongs_to_its_local_day_at_week_and_range_boundaries(store):
    report = build_report(store, START, END)
    week_of = {cid: w.label for w in report.weeks for cid in w.call_ids}
    for call_id, _agent, _started, week in BOUNDARY:
        assert week_of.get(call_id) == week, call_id
    # The store's own UTC filter would have dropped the early-Monday call (Sunday in UTC)
    # and kept the last-evening one out (Monday in UTC): the report reads one day more each side.
    utc = {r["call_id"] for r in store.scores_frame(START, END + timedelta(days=1))}
    assert "c-early-monday" not in utc and "c-last-evening" not in utc


def test_both_end_days_are_included_and_nothing_outside(store, store_path):
    one_day = build_report(store, date(2024, 6, 2), date(2024, 6, 2))
    exp = expected(store_path, date(2024, 6, 2), date(2024, 6, 2))
    assert one_day.calls == len(exp["calls"]) and "c-last-evening" in exp["calls"]
    assert [w.label for w in one_day.weeks] == ["2024-W22"] and one_day.weeks[0].partial
    wide = build_report(store, date(2024, 5, 1), date(2024, 6, 30))
    assert wide.calls == len(expected(store_path, date(2024, 5, 1), date(2024, 6, 30))["calls"])
    assert wide.calls == build_report(store, START, END).calls + 2  # c-before and c-after; never the unreadable ones


def test_partial_weeks_at_the_edges_of_a_mid_week_range(store, store_path):
    report = build_report(store, date(2024, 5, 8), date(2024, 5, 21))  # Wednesday .. Tuesday
    assert [(w.label, w.first, w.last, w.partial) for w in report.weeks] == [
        ("2024-W19", date(2024, 5, 8), date(2024, 5, 12), True),
        ("2024-W20", date(2024, 5, 13), date(2024, 5, 19), False),
        ("2024-W21", date(2024, 5, 20), date(2024, 5, 21), True),
    ]
    exp = expected(store_path, date(2024, 5, 8), date(2024, 5, 21))
    assert [w.calls for w in report.weeks] == [sum(1 for _, wk, *_ in exp["calls"].values() if wk == w.label)
                                               for w in report.weeks]


def test_scores_of_an_older_rubric_version_are_not_counted(store, store_path):
    report = build_report(store, START, END)
    assert set(report.rubric_versions) == {load_rubric().version_tag}
    con = sqlite3.connect(store_path)
    assert con.execute("SELECT count(*) FROM scores WHERE call_id = 'c-03'").fetchone()[0] == 2
    con.close()
    assert expected(store_path)["calls"]["c-03"][0] < 100.0


def test_agent_report_sits_beside_its_whole_team_over_the_same_days(store, store_path):
    report = build_report(store, START, END, agent="N-Wang")
    mine, team = expected(store_path, agent="N-Wang"), expected(store_path, team="north")
    assert report.scope.comparison_team == "north" and report.scope.comparison_label == "team north"
    assert report.calls == len(mine["calls"]) and report.comparison_calls == len(team["calls"])
    assert report.comparison_mean_score == pytest.approx(
        sum(s for s, *_ in team["calls"].values()) / len(team["calls"]), abs=1e-9)
    assert report.items
    for it in report.items:
        assert it.counts.pass_rate == rate(mine["items"][it.item_id])
        assert it.comparison.pass_rate == rate(team["items"][it.item_id])
    assert report.agents == []
    p1 = report.item("P1")  # N-Wang rarely acknowledges feelings first
    assert p1.counts.pass_rate < p1.comparison.pass_rate


def test_team_report_lists_each_agent_with_their_own_weakest_item(store, store_path):
    report = build_report(store, START, END, team="south")
    exp = expected(store_path, team="south")
    assert {g.key for g in report.agents} == {a for *_, a, _r in exp["calls"].values()}
    for g in report.agents:
        calls = [c for c in exp["calls"].values() if c[2] == g.key]
        assert g.calls == len(calls)
        assert g.mean_score == pytest.approx(sum(c[0] for c in calls) / len(calls), abs=1e-9)
        assert g.overall.passed == exp["agents"][g.key]["pass"]
        if g.weakest_item is not None:
            mine = {cid for cid, c in exp["calls"].items() if c[2] == g.key}
            statuses = defaultdict(Counter)
            for r in stored_rows(store_path):
                if r["call_id"] in mine:
                    statuses[r["item_id"]][r["status"]] += 1
            eligible = {i: rate(c) for i, c in statuses.items()
                        if c["pass"] + c["partial"] + c["fail"] >= report.settings.agents.min_applicable}
            assert g.weakest.pass_rate == min(eligible.values())
            assert rate(statuses[g.weakest_item]) == min(eligible.values())
    means = [g.mean_score for g in report.agents]
    assert means == sorted(means)


def test_weakest_items_need_enough_applicable_calls_and_a_low_pass_rate(store):
    report = build_report(store, START, END, team="north")
    w = report.settings.weakest
    eligible = sorted((it.counts.pass_rate, -it.counts.failed, it.item_id) for it in report.items
                      if it.counts.applicable >= w.min_applicable and it.counts.pass_rate < w.pass_rate_below)
    assert report.weakest and len(report.weakest) <= w.count
    order = [i.id for i in load_rubric().items]
    eligible.sort(key=lambda e: (e[0], e[1], order.index(e[2])))
    assert [x.item.item_id for x in report.weakest] == [e[2] for e in eligible][:w.count]
    strict = build_report(store, START, END, team="north",
                          settings=load_settings({"weakest": {"min_applicable": 1000}}))
    assert strict.weakest == []
    lenient = build_report(store, START, END, team="north",
                           settings=load_settings({"weakest": {"pass_rate_below": 1.0, "count": 50}}))
    assert len(lenient.weakest) == sum(1 for it in report.items
                                       if it.counts.applicable >= w.min_applicable and it.counts.pass_rate < 1.0)


def _expected_example(rows: list[dict], item: str, kind: str, candidates: int) -> str | None:
    """The example call by the documented rule, from the stored rows and their evidence JSON."""
    mine = [r for r in rows if r["item_id"] == item]
    if kind == "best":
        pool = sorted((r for r in mine if r["status"] == "pass"),
                      key=lambda r: (-r["score"], -local_day(r["started_at"]).toordinal(), r["call_id"]))
    else:
        pool = [r for r in mine if r["status"] == "fail"] or [r for r in mine if r["status"] == "partial"]
        pool.sort(key=lambda r: (r["score"], -local_day(r["started_at"]).toordinal(), r["call_id"]))
    pool = pool[:candidates]
    quoted = [r for r in pool if any(e["text"].strip() for e in json.loads(r["evidence"]))]
    return (quoted + pool)[0]["call_id"] if pool else None


def test_examples_link_to_the_right_call_and_second(store, store_path):
    report = build_report(store, START, END, team="north")
    exp = expected(store_path, team="north")
    rows = [c[3] | {"item_id": r["item_id"], "status": r["status"], "evidence": r["evidence"]}
            for r in stored_rows(store_path) if r["call_id"] in exp["calls"] for c in [exp["calls"][r["call_id"]]]]
    n = report.settings.examples.candidates
    for w in report.weakest:
        item = w.item.item_id
        assert [e.call_id for e in w.best] == [x for x in [_expected_example(rows, item, "best", n)] if x]
        assert [e.call_id for e in w.worst] == [x for x in [_expected_example(rows, item, "worst", n)] if x]
        assert bool(w.best) == (w.item.counts.passed > 0)
        for e in w.worst + w.best:
            card = store.load_scorecard(e.call_id)
            verdict = next(i for i in card.items if i.id == item)
            assert e.status == verdict.status and e.score == card.score and card.meta.team == "north"
            assert e.status == ("pass" if e.kind == "best" else "fail" if w.item.counts.failed else "partial")
            if e.quote is not None:
                assert e.quote == next(ev for ev in verdict.evidence if ev.text.strip())
                assert e.second == math.floor(e.quote.start)
                assert e.link == f"{e.call_id}.html#t={e.second}"
            else:
                assert e.link == f"{e.call_id}.html" and not any(ev.text.strip() for ev in verdict.evidence)
    assert any(e.quote is not None for w in report.weakest for e in w.worst + w.best)


def test_example_link_base_comes_from_settings_or_argument(store):
    via_arg = build_report(store, START, END, team="north", link_base="../cards")
    via_settings = build_report(store, START, END, team="north",
                                settings=load_settings({"links": {"scorecard_base": "https://qa.example/c/"}}))
    e1, e2 = via_arg.weakest[0].worst[0], via_settings.weakest[0].worst[0]
    assert e1.link.startswith(f"../cards/{e1.call_id}.html")
    assert e2.link.startswith(f"https://qa.example/c/{e2.call_id}.html")
    assert scorecard_link("a b/c", 7) == "a%20b%2Fc.html#t=7"


def test_stage_distribution_counts_peak_final_and_class(store, store_path):
    report = build_report(store, START, END)
    rows = {cid: c[3] for cid, c in expected(store_path)["calls"].items()}
    for field_name, got in (("peak_stage", report.stages.peak), ("final_stage", report.stages.final),
                            ("complaint_class", report.stages.classes)):
        want = Counter(r[field_name] or "none" for r in rows.values())
        assert {k: v for k, v in got.items() if v} == dict(want), field_name
    assert list(report.stages.peak)[:6] == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert sum(report.stages.peak.values()) == report.calls


def test_stages_come_from_the_rows_when_the_store_provides_them(store):
    """The forward path: scores_frame rows that carry language and stages need no scorecard reads."""
    rows = store.scores_frame(START - timedelta(days=1), END + timedelta(days=2), team="north")
    cards = {cid: store.load_scorecard(cid) for cid in {r["call_id"] for r in rows}}
    rich = [r | {"language": cards[r["call_id"]].language, "peak_stage": cards[r["call_id"]].peak_stage,
                 "final_stage": cards[r["call_id"]].final_stage,
                 "complaint_class": cards[r["call_id"]].complaint_class} for r in rows]
    calls = [c for c in coaching.calls_from_rows(rich) if START <= c.day <= END]

    def no_scorecards(call_id):
        raise AssertionError(f"read the scorecard of {call_id} although the rows had its stages")

    facts = coaching._facts(rich, calls, no_scorecards)
    report = coaching.summarise(calls, facts, coaching.Scope(START, END, "north", None, "zh"), load_rubric(),
                                load_settings())
    assert report.stages == build_report(store, START, END, team="north").stages


def test_tips_and_titles_follow_the_team_language(store):
    rubric = load_rubric()
    south = build_report(store, START, END, team="south")
    north = build_report(store, START, END, team="north")
    assert south.scope.language == "es" and north.scope.language == "zh"
    p1 = rubric.item("P1")
    assert south.item("P1").words.tip == p1.tip.es and south.item("P1").words.title_local == p1.title.es
    assert north.item("P1").words.tip == p1.tip.zh and north.item("P1").words.title_local == p1.title.en
    assert north.item("P1").words.title_zh == p1.title.zh and north.item("P1").words.course == p1.course


# ---------------------------------------------------------------- the files
def test_csv_exports_reconcile_with_the_stored_verdicts(store, store_path, tmp_path):
    report = build_report(store, START, END, team="south")
    written = write_report(report, tmp_path)
    assert [p.name for p in written] == [HTML_NAME, "items.csv", "weekly.csv", "agents.csv", "examples.csv",
                                         "stages.csv"]
    exp = expected(store_path, team="south")
    items = {r["item_id"]: r for r in read_csv(tmp_path / "items.csv")}
    for item_id, c in exp["items"].items():
        row = items[item_id]
        assert (int(row["pass"]), int(row["partial"]), int(row["fail"]), int(row["n/a"])) == \
            (c["pass"], c["partial"], c["fail"], c["n/a"])
        assert int(row["applicable"]) == c["pass"] + c["partial"] + c["fail"]
        assert row["pass_rate"] == fmt_rate(rate(c))
    weekly = read_csv(tmp_path / "weekly.csv")
    for row in weekly:
        c = exp["weekly"][(row["week"], row["item_id"])]
        assert (int(row["pass"]), int(row["partial"]), int(row["fail"]), int(row["n/a"])) == \
            (c["pass"], c["partial"], c["fail"], c["n/a"])
        assert row["pass_rate"] == fmt_rate(rate(c))
    assert sum(int(r["calls"]) for r in weekly if r["item_id"] == "P1") == len(exp["calls"])
    agents = {r["agent_id"]: r for r in read_csv(tmp_path / "agents.csv")}
    assert set(agents) == {HOSTILE, "S-Garcia", "'" + FORMULA_AGENT}
    for agent_id, row in agents.items():
        key = agent_id.removeprefix("'")
        assert int(row["pass"]) == exp["agents"][key]["pass"]
        assert int(row["calls"]) == sum(1 for c in exp["calls"].values() if c[2] == key)
    examples = read_csv(tmp_path / "examples.csv")
    assert len(examples) == sum(len(w.best) + len(w.worst) for w in report.weakest) > 0
    for row in examples:
        assert row["link"].startswith(row["call_id"] + ".html")
        if row["second"]:
            assert row["link"].endswith(f"#t={row['second']}")


def test_csv_cells_cannot_become_spreadsheet_formulas(store, tmp_path):
    write_report(build_report(store, START, END, team="south"), tmp_path)
    text = (tmp_path / "agents.csv").read_text(encoding="utf-8-sig")
    assert "\n=cmd" not in text and "'=cmd" in text


def test_html_escapes_a_hostile_agent_id(store, tmp_path):
    write_report(build_report(store, START, END, team="south"), tmp_path)
    page = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    agent_page = render_html(build_report(store, START, END, agent=HOSTILE))
    assert HOSTILE not in agent_page and "Agent &lt;img src=x onerror=alert(1)&gt;" in agent_page
    assert re.fullmatch(r"[\w.-]+", report_slug(build_report(store, START, END, agent=HOSTILE)))


def test_html_is_self_contained_without_external_urls(store):
    page = render_html(build_report(store, START, END))
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert re.search(r"""<img [^>]*src="data:image/png;base64,""", page)
    assert "default-src 'none'" in page


def test_every_plot_is_an_embedded_png(store):
    report = build_report(store, START, END, agent="N-Wang")
    plots = render_plots(report)
    assert all(plots.values()), [k for k, v in plots.items() if not v]
    page = render_html(report, plots)
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == len(plots)
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_period_gives_a_page_that_says_so(store, tmp_path):
    report = build_report(store, date(2023, 1, 2), date(2023, 1, 8), team="north")
    assert report.calls == 0 and report.weakest == [] and report.mean_score is None
    assert report_slug(report) == "team-north_2023-01-02_2023-01-08"
    paths = coaching.write_report(report, tmp_path)  # the convenience entry point delegates to the renderer
    assert "No scored calls in this period" in paths[0].read_text(encoding="utf-8")
    assert read_csv(tmp_path / "examples.csv") == []


def test_end_before_start_is_refused_with_a_hint(store):
    with pytest.raises(CoachingError, match="start == end"):
        build_report(store, END, START)
    with pytest.raises(CoachingError, match="YYYY-MM-DD"):
        build_report(store, "6 May", END)


@pytest.mark.parametrize("override,message", [
    ({"weakest": {"count": -1}}, r"weakest\.count"),
    ({"weakest": {"colour": 1}}, r"unknown setting 'colour'"),
    ({"links": "x"}, r"'links' must be a mapping"),
])
def test_bad_coaching_settings_are_refused_with_the_key(override, message):
    with pytest.raises(CoachingConfigError, match=message):
        load_settings(override)


def test_tables_and_report_agree_on_every_item(store):
    report = build_report(store, START, END, agent="S-Garcia")
    header, rows = report_tables(report)["items.csv"]
    assert "team_pass_rate" in header
    for row, it in zip(rows, report.items):
        record = dict(zip(header, row))
        assert record["item_id"] == it.item_id and record["pass"] == it.counts.passed
        assert record["team_pass"] == it.comparison.passed


# ---------------------------------------------------------------- in a real browser
def _chromium() -> str | None:
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if found:
        return found
    if os.environ.get("CI") == "true" or os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=False,
                       capture_output=True, timeout=900)
        return shutil.which("chromium")
    return None


def test_page_renders_in_headless_chromium(store, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    paths = write_report(build_report(store, START, END, team="north"), tmp_path / "report")
    shot = tmp_path / "coaching.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    "--virtual-time-budget=3000",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2400",
                    paths[0].as_uri()], check=True, capture_output=True, timeout=120)
    from PIL import Image
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.resize((160, 300)).getcolors(maxcolors=160 * 300)
    assert len(colours) > 50  # text, plots and header, not a blank page
    dark = sum(n for n, (r, g, b) in colours if r + g + b < 200)
    assert dark > 500  # the dark header band and text are drawn
    keep = os.environ.get("CALLQA_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
