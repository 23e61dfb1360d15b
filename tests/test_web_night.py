"""The workspace over a store a nightly run filled (issue 14's Done-when): a reviewer, a lead and an agent.

The night is the real one (plan, review, finish: `qa.pipeline.nightly`, as the
Prefect flow calls it) over timed-text calls in day folders; the pages and the
API are the real app. The browser tests do the same day's work on the sample call.
"""

from __future__ import annotations

import argon2
import pytest
from fastapi.testclient import TestClient

from qa.pipeline import nightly
from qa.store.database import Store
from qa.web.app import create_app
from tests.test_nightly import backdate, make_calls
from tests.web_support import PASSWORD, add_users


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("night")
    calls = make_calls(root / "archive", count=6)
    for call_id in ("call-0004", "call-0005"):  # another team; call-0004 is agent-1's, like call-0001
        path = calls[call_id]
        path.write_text(path.read_text(encoding="utf-8").replace("# team: north", "# team: south"), encoding="utf-8")
        backdate(path)
    store = Store.open(f"sqlite:///{root / 'callqa.db'}")
    plan = nightly.plan_night(store, root / "archive")
    outcomes = [nightly.review_job(store, job, None, plan.run_id, root / "reports") for job in plan.jobs]
    summary = nightly.finish_night(store, plan, outcomes, 1.0, root / "reports")
    assert summary["counts"]["reviewed"] == 6, summary
    ws = add_users(store)  # rita reviewer, nora lead of "north", ...; and the night's agent-1:
    ws.add_user("ada", "agent", argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD),
                agent_id="agent-1", actor="test")
    yield create_app(store), sorted(calls)
    store.close()


def _client(app, user: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app)
    answer = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def test_a_reviewer_finds_opens_and_evaluates_a_call_the_night_stored(night):
    app, ids = night
    rita, csrf = _client(app, "rita")
    listed = rita.get("/api/calls").json()
    assert listed["total"] == 6 and sorted(r["call_id"] for r in listed["calls"]) == ids
    page = rita.get("/calls")
    assert page.status_code == 200 and all(call_id in page.text for call_id in ids)
    found = rita.get("/api/calls", params={"q": "harto"}).json()  # Spanish calls: "¡estoy harto!"
    assert sorted(r["call_id"] for r in found["calls"]) == ["call-0001", "call-0004"]
    call_page = rita.get("/calls/call-0003")
    assert call_page.status_code == 200 and "call-0003" in call_page.text
    before = rita.get("/api/calls/call-0003").json()
    assert before["reviewed_score"] is None and before["automatic_score"] is not None
    item = next(i for i in before["items"] if i["status"] != "n/a")
    flipped = "fail" if item["status"] == "pass" else "pass"
    after = rita.post("/api/calls/call-0003/verdicts", json={"item": item["id"], "status": flipped, "note": "listened"},
                      headers=csrf)
    assert after.status_code == 200, after.text
    after = after.json()
    assert after["reviewed_score"] is not None and after["reviewed_score"] != before["automatic_score"]
    assert next(i for i in after["items"] if i["id"] == item["id"])["human"]["status"] == flipped


def test_a_lead_sees_only_their_team_from_the_night(night):
    app, ids = night
    nora, _ = _client(app, "nora")  # lead of "north"
    listed = nora.get("/api/calls").json()
    assert sorted(r["call_id"] for r in listed["calls"]) == ["call-0000", "call-0001", "call-0002", "call-0003"]
    assert nora.get("/calls/call-0004").status_code == 404 and nora.get("/api/calls/call-0005").status_code == 404
    assert nora.get("/coaching").status_code == 200


def test_an_agent_sees_their_own_calls_from_the_night_and_appeals_one(night):
    app, _ = night
    rita, rita_csrf = _client(app, "rita")
    ada, csrf = _client(app, "ada")
    mine = ada.get("/api/calls").json()
    assert sorted(r["call_id"] for r in mine["calls"]) == ["call-0001", "call-0004"]
    assert ada.get("/api/calls/call-0000").status_code == 404 and ada.get("/calls/call-0004").status_code == 200
    appeal = ada.post("/api/calls/call-0001/appeals", json={"item": "P2", "reason": "I greeted them"}, headers=csrf)
    assert appeal.status_code == 200 and appeal.json()["state"] == "open"
    resolved = rita.post(f"/api/appeals/{appeal.json()['appeal_id']}/resolve",
                         json={"decision": "reject", "note": "the greeting came late"}, headers=rita_csrf)
    assert resolved.status_code == 200 and resolved.json()["state"] == "rejected"
