"""Keyset pagination of the call list: Next/Previous by cursor give exactly the OFFSET order, on both stores.

A few hundred calls from bench/web.py's filler (the real review of the sample
call, copied with other ids, agents, teams, dates and scores), with ties in
every sort key and calls without a start time (NULL), walked forward to the end
and back to the start for every sort and both directions; SQLite and
PostgreSQL sort NULLs at opposite ends, which the cursor must follow.
"""

from __future__ import annotations

import re
import uuid

import argon2

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.web import fill
from qa.errors import VerdictError
from qa.store.database import Store
from qa.store.schema import calls
from qa.store.workspace import MAX_NUMBERED_PAGE, CallFilter, WorkspaceStore, encode_cursor
from qa.web.app import create_app
from tests.web_support import PASSWORD

N = 137
PER_PAGE = 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module")
def listing(request, tmp_path_factory):
    pg, db_name = None, None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'callqa.db'}"
    else:  # one database for the module (fresh_pg_url is per test): from the session's server
        pg, db_name = request.getfixturevalue("pg_server"), f"callqa_pages_{uuid.uuid4().hex[:12]}"
        url = pg.create_database(db_name)
    store = Store.open(url)
    fill(store, N, verbose=False)
    with store._engine.begin() as conn:  # ties and holes: 9 calls without a start, 12 at one moment
        conn.execute(sa.update(calls).where(calls.c.call_id <= "bench-000008").values(started_utc=None, team=None))
        conn.execute(sa.update(calls).where(calls.c.call_id.between("bench-000050", "bench-000061"))
                     .values(started_utc="2026-07-01T00:00:00.000000"))
    ws = WorkspaceStore(store)
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    ws.add_user("pat", "reviewer", cheap, actor="test")
    yield ws, ws.find_user("pat")[0]
    store.close()
    if pg is not None:
        pg.drop_database(db_name)


def _all(ws, user, **f) -> list[str]:
    return [r.call_id for r in ws.list_calls(user, CallFilter(per_page=200, **f)).rows]


@pytest.mark.parametrize("sort", ["date", "score", "team", "agent", "duration"])
@pytest.mark.parametrize("descending", [True, False])
def test_next_and_previous_walk_the_same_order_as_offsets(listing, sort, descending):
    ws, user = listing
    expected = _all(ws, user, sort=sort, descending=descending)
    assert len(expected) == N and len(set(expected)) == N
    pages, page = [], ws.list_calls(user, CallFilter(sort=sort, descending=descending, per_page=PER_PAGE))
    assert page.prev_cursor is None
    while True:
        pages.append([r.call_id for r in page.rows])
        if page.next_cursor is None:
            break
        page = ws.list_calls(user, CallFilter(sort=sort, descending=descending, per_page=PER_PAGE,
                                              after=page.next_cursor))
    assert [c for p in pages for c in p] == expected
    assert len(pages) == -(-N // PER_PAGE)
    back = [pages[-1]]
    while page.prev_cursor is not None:
        page = ws.list_calls(user, CallFilter(sort=sort, descending=descending, per_page=PER_PAGE,
                                              before=page.prev_cursor))
        back.append([r.call_id for r in page.rows])
    assert back[::-1] == pages  # the same pages, in the same order, back to the first (which has no Previous)


def test_cursors_combine_with_filters_and_numbered_pages_are_capped(listing):
    ws, user = listing
    expected = _all(ws, user, language="zh", max_score=80)
    first = ws.list_calls(user, CallFilter(language="zh", max_score=80, per_page=10))
    second = ws.list_calls(user, CallFilter(language="zh", max_score=80, per_page=10, after=first.next_cursor))
    assert [r.call_id for r in first.rows + second.rows] == expected[:20]
    third = ws.list_calls(user, CallFilter(language="zh", max_score=80, per_page=10, page=3))
    assert [r.call_id for r in third.rows] == expected[20:30]
    with pytest.raises(VerdictError, match="numbered pages"):
        ws.list_calls(user, CallFilter(page=MAX_NUMBERED_PAGE + 1))
    for bad in ("%%%", "bm90IGpzb24", encode_cursor({"a": 1}, "x")[:-2] + "x", "A" * 5000,
                encode_cursor(True, "bench-000001")):
        with pytest.raises(VerdictError, match="list position"):
            ws.list_calls(user, CallFilter(after=bad))


def test_the_pages_next_link_carries_the_cursor_and_the_api_gives_it(listing):
    ws, user = listing
    client = TestClient(create_app(ws.store))
    assert client.post("/api/login", json={"username": "pat", "password": PASSWORD}).status_code == 200
    expected = _all(ws, user, sort="agent")
    html = client.get("/calls?sort=agent&order=desc&per_page=20").text
    nxt = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "after=" in nxt and "page=2" in nxt and 'rel="prev"' not in html
    second = client.get(nxt).text
    assert re.findall(r'class="ws-callid" href="/calls/([^"]+)"', second) == expected[20:40]
    assert 'rel="prev"' in second and '<b aria-current="page">2</b>' in second
    answer = client.get("/api/calls", params={"sort": "agent", "per_page": 20}).json()
    again = client.get("/api/calls", params={"sort": "agent", "per_page": 20, "after": answer["next_cursor"]}).json()
    assert [c["call_id"] for c in again["calls"]] == expected[20:40] and again["prev_cursor"]
    assert client.get("/api/calls", params={"page": MAX_NUMBERED_PAGE + 1}).status_code == 400
    assert client.get("/api/calls", params={"after": "!!"}).status_code == 400


@pytest.mark.parametrize("words", ["洗衣机", "refrigerator arrived damaged", "supervisor"])
def test_a_common_word_walks_the_list_and_finds_what_a_rare_one_finds(listing, monkeypatch, words):
    """Both search strategies (from the matches / along the list order) give the same calls and count."""
    import qa.store.workspace as workspace

    ws, user = listing
    if ws.store._pg:
        pytest.skip("one strategy on PostgreSQL (the planner chooses)")
    ws.sync_search()
    by_matches = ws.list_calls(user, CallFilter(q=words, per_page=200))
    filtered = ws.list_calls(user, CallFilter(q=words, language="zh", per_page=200))
    monkeypatch.setattr(workspace, "COMMON_HITS", -1)
    walked = ws.list_calls(user, CallFilter(q=words, per_page=200))
    walked_filtered = ws.list_calls(user, CallFilter(q=words, language="zh", per_page=200))
    assert [r.call_id for r in walked.rows] == [r.call_id for r in by_matches.rows]
    assert walked.total == by_matches.total == len(by_matches.rows)
    assert [r.call_id for r in walked_filtered.rows] == [r.call_id for r in filtered.rows]
    assert walked_filtered.total == filtered.total < walked.total or words == "refrigerator arrived damaged"
    if words == "洗衣机":
        assert 0 < len(by_matches.rows) < N


def _table_steps(conn, statement: str, params) -> list[str]:
    plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    return [row[3] for row in plan if re.match(r"(SCAN|SEARCH) (?!\(|CONSTANT)", row[3])]


@pytest.mark.parametrize("f", [{}, {"sort": "score"}, {"min_score": 40, "max_score": 60}, {"item": "R6", "status": "fail"},
                               {"team": "team-03"}, {"q": "洗衣机"}, {"start": "2026-08-01", "end": "2026-08-31"}])
def test_no_list_query_scans_every_call_for_each_score(tmp_path, f):
    # the count once joined scores to "+calls.call_id", so SQLite scanned all calls per score (8 s at 20k calls)
    store = Store.open(f"sqlite:///{tmp_path / 'plan.db'}")
    fill(store, 30, verbose=False)
    ws = WorkspaceStore(store)
    ws.sync_search()
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    ws.add_user("pat", "reviewer", cheap, actor="test")
    seen: list[tuple[str, object]] = []
    sa.event.listen(store._engine, "before_cursor_execute",
                    lambda conn, cursor, statement, params, context, many: seen.append((statement, params)))
    page = ws.list_calls(ws.find_user("pat")[0], CallFilter(**f))
    listing = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT") and "calls" in s]
    assert page.total >= len(page.rows) and len(listing) >= 1
    with store._engine.connect() as conn:
        for statement, params in listing:
            steps = _table_steps(conn, statement, params)
            inner = [s for s in steps[1:] if s.startswith("SCAN calls")]
            assert not inner, (steps, statement)
    store.close()


def test_planner_statistics_are_taken_once_and_again_when_the_calls_double(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'stats.db'}")
    fill(store, 40, verbose=False)
    assert store.refresh_statistics() is True  # none yet
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'calls'").scalar().startswith("40 ")
    assert store.refresh_statistics() is False
    fill(store, 179, verbose=False)  # < 2 x 40 + 100: not yet
    assert store.refresh_statistics() is False
    fill(store, 181, verbose=False)
    assert store.refresh_statistics() is True
    ws = WorkspaceStore(store)
    assert ws.refresh_statistics_if_due(300) is False  # checked, nothing to do; and not again within 300 s
    fill(store, 500, verbose=False)
    assert ws.refresh_statistics_if_due(300) is False and ws.refresh_statistics_if_due(0) is True
    store.close()
