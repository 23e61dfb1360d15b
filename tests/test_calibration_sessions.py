"""Calibration sessions: a lead picks calls and reviewers, each evaluates blind, the session shows kappa.

Over HTTP (TestClient) on a real SQLite store seeded through the review path
(tests.web_support): roles, blindness (the call page, the API, the list), the
audit log, the agreement figures against scikit-learn, and the labels that
``callqa calibrate --session`` reads.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from qa.errors import BlindReview, CalibrationSessionError, NotFound
from qa.scoring.agreement import consensus, session_agreement
from qa.store.calibration_sessions import CalibrationStore
from qa.store.workspace import WorkspaceStore
from tests.web_support import HOSTILE_ID, OTHER_ID, PASSWORD, SAMPLE_ID
from tests.web_support import app, store  # noqa: F401 (fixtures)


def login(app, user: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    answer = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def start(client: TestClient, csrf: str, calls: list[str], reviewers: list[str], name: str = "December") -> int:
    answer = client.post("/calibration", data={"csrf_token": csrf, "name": name, "calls": "\n".join(calls),
                                               "reviewer": reviewers}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def items_of(client: TestClient, session_id: int, call_id: str) -> list[str]:
    html = client.get(f"/calibration/{session_id}/calls/{call_id}").text
    return re.findall(r'name="status-([^"]+)" value="pass"', html)


def evaluate(client, csrf, session_id, call_id, verdicts: dict[str, str], action="submit"):
    data = {"csrf_token": csrf, "action": action}
    for item, status in verdicts.items():
        data[f"status-{item}"] = status
        data[f"note-{item}"] = f"{item} by ear"
    return client.post(f"/calibration/{session_id}/calls/{call_id}", data=data, follow_redirects=False)


# ---------------------------------------------------------------- agreement arithmetic
def test_two_reviewers_get_cohens_kappa_and_machine_kappa_pools_reviewers():
    machine = {"c1": {"P1": "pass"}, "c2": {"P1": "fail"}, "c3": {"P1": "pass"}, "c4": {"P1": "fail"}}
    a = {"c1": {"P1": "pass"}, "c2": {"P1": "fail"}, "c3": {"P1": "fail"}, "c4": {"P1": "fail"}}
    b = {"c1": {"P1": "pass"}, "c2": {"P1": "fail"}, "c3": {"P1": "pass"}, "c4": {"P1": "partial"}}
    per_item, overall, per_reviewer = session_agreement(machine, {"a": a, "b": b}, ["P1"])
    row = per_item[0]
    order = ["c1", "c2", "c3", "c4"]
    expected = cohen_kappa_score([a[c]["P1"] for c in order], [b[c]["P1"] for c in order],
                                 labels=["pass", "partial", "fail", "n/a"])
    assert row.reviewers.pairs == 4 and row.reviewers.agreed == 2
    assert row.reviewers.kappa == pytest.approx(expected, abs=1e-3)
    pooled = cohen_kappa_score([machine[c]["P1"] for c in order] * 2,
                               [a[c]["P1"] for c in order] + [b[c]["P1"] for c in order],
                               labels=["pass", "partial", "fail", "n/a"])
    assert row.machine.pairs == 8 and row.machine.agreed == 6
    assert row.machine.kappa == pytest.approx(pooled, abs=1e-3)
    assert overall.calls == 4 and [r.key for r in per_reviewer] == ["a", "b"]
    assert per_reviewer[0].machine.agreed == 3 and per_reviewer[1].machine.agreed == 3


def test_three_reviewers_use_the_mean_of_pairwise_kappas():
    calls = [f"c{i}" for i in range(6)]
    a = ["pass", "fail", "pass", "fail", "pass", "partial"]
    b = ["pass", "fail", "fail", "fail", "pass", "partial"]
    c = ["pass", "pass", "pass", "fail", "fail", "partial"]
    verdicts = {name: {call: {"P1": s} for call, s in zip(calls, seq)} for name, seq in (("a", a), ("b", b), ("c", c))}
    machine = {call: {"P1": "pass"} for call in calls}
    row = session_agreement(machine, verdicts, ["P1"])[0][0]
    labels = ["pass", "partial", "fail", "n/a"]
    mean = (cohen_kappa_score(a, b, labels=labels) + cohen_kappa_score(a, c, labels=labels)
            + cohen_kappa_score(b, c, labels=labels)) / 3
    assert row.reviewers.kappa == pytest.approx(mean, abs=1e-3) and row.reviewers.pairs == 18


def test_kappa_is_undefined_when_everyone_says_the_same_and_ties_are_left_out_of_the_labels():
    machine = {"c1": {"P1": "pass"}, "c2": {"P1": "pass"}}
    same = {"c1": {"P1": "pass"}, "c2": {"P1": "pass"}}
    row = session_agreement(machine, {"a": same, "b": dict(same)}, ["P1"])[0][0]
    assert row.reviewers.kappa is None and row.reviewers.rate == 1.0
    labels, ties = consensus({"a": {"c1": {"P1": "pass", "P4": "fail"}}, "b": {"c1": {"P1": "pass", "P4": "pass"}},
                              "c": {"c1": {"P1": "fail"}}})
    assert labels == {"c1": {"P1": "pass"}} and ties == 1


# ---------------------------------------------------------------- roles
def test_only_leads_and_admins_start_sessions_within_their_scope(app, store):
    rita, csrf = login(app, "rita")
    refused = rita.post("/calibration", data={"csrf_token": csrf, "name": "x", "calls": SAMPLE_ID,
                                              "reviewer": ["rita", "sam"]})
    assert refused.status_code == 403
    leo, csrf = login(app, "leo")  # lead of team demo
    other_team = leo.post("/calibration", data={"csrf_token": csrf, "name": "x", "calls": OTHER_ID,
                                                "reviewer": ["rita", "sam"]})
    assert other_team.status_code == 400 and "outside what you may see" in other_team.text
    one_reviewer = leo.post("/calibration", data={"csrf_token": csrf, "name": "x", "calls": SAMPLE_ID,
                                                  "reviewer": ["rita"]})
    assert one_reviewer.status_code == 400 and "2-20 reviewers" in one_reviewer.text
    an_agent = leo.post("/calibration", data={"csrf_token": csrf, "name": "x", "calls": SAMPLE_ID,
                                              "reviewer": ["rita", "alice"]})
    assert an_agent.status_code == 400 and "alice is an agent" in an_agent.text
    no_token = leo.post("/calibration", data={"name": "x", "calls": SAMPLE_ID, "reviewer": ["rita", "sam"]})
    assert no_token.status_code == 403
    session_id = start(leo, csrf, [SAMPLE_ID, HOSTILE_ID], ["rita", "sam"])
    assert leo.get(f"/calibration/{session_id}").status_code == 200


def test_reviewers_see_only_their_assignments(app, store):
    ws = WorkspaceStore(store)
    leo, csrf = login(app, "leo")
    mine = start(leo, csrf, [SAMPLE_ID], ["rita", "sam"], name="with rita")
    ana, acsrf = login(app, "ana")
    others = start(ana, acsrf, [OTHER_ID], ["sam", "ana"], name="without rita")
    rita, _ = login(app, "rita")
    listing = rita.get("/calibration").text
    assert "with rita" in listing and "without rita" not in listing
    assert rita.get(f"/calibration/{others}").status_code == 404
    assert rita.get(f"/calibration/{others}/calls/{OTHER_ID}").status_code == 404
    assert rita.get(f"/api/calibration/{others}").status_code == 404
    assert rita.get(f"/calibration/{mine}").status_code == 200
    alice, _ = login(app, "alice")
    assert alice.get(f"/calibration/{mine}").status_code == 404
    assert alice.get("/calibration").status_code == 403
    assert "Start a session" not in listing
    assert [e.action for e in ws.audit_log(target=f"calibration:{mine}")] == ["calibration.create"]


# ---------------------------------------------------------------- blind evaluation
def test_a_reviewer_evaluates_blind_and_the_lead_sees_kappa(app, store):
    ws = WorkspaceStore(store)
    leo, csrf = login(app, "leo")
    session_id = start(leo, csrf, [SAMPLE_ID, HOSTILE_ID], ["rita", "sam"])
    rita, rcsrf = login(app, "rita")
    sam, scsrf = login(app, "sam")

    # the normal call page sends rita to the blind page; the API, the timeline and verdicts are refused
    moved = rita.get(f"/calls/{SAMPLE_ID}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == f"/calibration/{session_id}/calls/{SAMPLE_ID}"
    refused = rita.get(f"/api/calls/{SAMPLE_ID}")
    assert refused.status_code == 403 and refused.json()["error"] == BlindReview.code
    assert rita.get(f"/calls/{SAMPLE_ID}/timeline.png").status_code == 403
    assert rita.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass"},
                     headers={"X-CSRF-Token": rcsrf}).status_code == 403
    listed = {c["call_id"]: c for c in rita.get("/api/calls").json()["calls"]}
    assert listed[SAMPLE_ID]["blind"] is True and listed[SAMPLE_ID]["score"] is None
    assert listed[OTHER_ID]["blind"] is False and listed[OTHER_ID]["score"] is not None
    assert "st-blind" in rita.get("/calls").text
    # a reviewer not in the session still sees the scorecard
    assert login(app, "ana")[0].get(f"/api/calls/{SAMPLE_ID}").status_code == 200

    blind = rita.get(f"/calibration/{session_id}/calls/{SAMPLE_ID}")
    assert blind.status_code == 200
    machine_card = leo.get(f"/api/calls/{SAMPLE_ID}").json()
    items = items_of(rita, session_id, SAMPLE_ID)
    assert items == [i["id"] for i in machine_card["items"]]
    assert "这是规定" in blind.text  # the words are there ...
    for hidden in ("AUTO-FAIL", "pill s-", "Automatic", "auto-score", "points"):  # ... the machine's verdicts are not
        assert hidden not in blind.text

    # rita submits everything "pass" on the sample call; a half-rated submit is refused and loses nothing
    half = evaluate(rita, rcsrf, session_id, SAMPLE_ID, {items[0]: "fail"})
    assert half.status_code == 400 and "rate every item" in half.text
    assert evaluate(rita, rcsrf, session_id, SAMPLE_ID, {items[0]: "fail"}, action="save").status_code == 303
    assert 'value="fail" checked' in rita.get(f"/calibration/{session_id}/calls/{SAMPLE_ID}").text
    rita_says = {i: "pass" for i in items}
    done = evaluate(rita, rcsrf, session_id, SAMPLE_ID, rita_says)
    assert done.status_code == 303 and done.headers["location"].endswith(f"/calls/{HOSTILE_ID}")
    # sam sees none of rita's verdicts on the same call
    assert "checked" not in sam.get(f"/calibration/{session_id}/calls/{SAMPLE_ID}").text
    sam_says = {i: ("fail" if n % 3 == 0 else "pass") for n, i in enumerate(items)}
    assert evaluate(sam, scsrf, session_id, SAMPLE_ID, sam_says).status_code == 303
    # the session page hides the results from its reviewers while open, shows them to the lead
    assert "agreement-items" not in rita.get(f"/calibration/{session_id}").text
    assert "agreement" not in rita.get(f"/api/calibration/{session_id}").json()
    page = leo.get(f"/calibration/{session_id}").text
    assert 'id="agreement-items"' in page and "Cohen&#39;s kappa" in page
    data = leo.get(f"/api/calibration/{session_id}").json()
    by_item = {r["key"]: r for r in data["agreement"]["items"]}
    auto = {i["id"]: i["status"] for i in machine_card["items"]}
    pairs = [(rita_says[i], sam_says[i]) for i in items]
    assert data["agreement"]["overall"]["reviewer_vs_reviewer"]["pairs"] == len(items)
    assert data["agreement"]["overall"]["reviewer_vs_reviewer"]["agreed"] == sum(a == b for a, b in pairs)
    expected = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs], labels=["pass", "partial", "fail", "n/a"])
    assert data["agreement"]["overall"]["reviewer_vs_reviewer"]["kappa"] == pytest.approx(expected, abs=1e-3)
    assert data["agreement"]["overall"]["machine_vs_reviewer"]["agreed"] == \
        sum(auto[i] == rita_says[i] for i in items) + sum(auto[i] == sam_says[i] for i in items)
    assert by_item[items[0]]["reviewer_vs_reviewer"]["agreed"] == 0  # pass vs fail
    assert data["submitted"] == {"rita": 1, "sam": 1}

    # closing: verdicts final, the reviewers see the results, the normal call page is back
    refused_close = rita.post(f"/calibration/{session_id}/close", data={"csrf_token": rcsrf})
    assert refused_close.status_code == 400
    assert leo.post(f"/calibration/{session_id}/close", data={"csrf_token": csrf}, follow_redirects=False
                    ).status_code == 303
    assert 'id="agreement-items"' in rita.get(f"/calibration/{session_id}").text
    assert rita.get(f"/calls/{SAMPLE_ID}").status_code == 200
    late = evaluate(rita, rcsrf, session_id, HOSTILE_ID, {i: "pass" for i in items_of(rita, session_id, HOSTILE_ID)})
    assert late.status_code == 400 and evaluate(
        rita, rcsrf, session_id, SAMPLE_ID, rita_says).status_code == 400
    actions = [e.action for e in ws.audit_log(target=f"calibration:{session_id}")]
    assert actions[0] == "calibration.close" and actions[-1] == "calibration.create"
    assert actions.count("calibration.submit") == 2 and "calibration.verdicts" in actions
    # session verdicts never touch the call's reviewed score
    assert leo.get(f"/api/calls/{SAMPLE_ID}").json()["reviewed_score"] is None

    # the labels in callqa calibrate's format: majority per item, ties (rita vs sam disagreements) left out
    text = leo.get(f"/calibration/{session_id}/labels.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["call_id"] for r in rows] == [SAMPLE_ID]
    assert all(rows[0][i] == ("pass" if rita_says[i] == sam_says[i] else "") for i in items)


def test_session_labels_feed_callqa_calibrate(app, store, tmp_path):
    from qa.pipeline.calibration import labels_from_sessions
    from qa.scoring.calibrate import read_labels

    leo, csrf = login(app, "leo")
    session_id = start(leo, csrf, [SAMPLE_ID], ["rita", "sam"])
    for user in ("rita", "sam"):
        client, token = login(app, user)
        evaluate(client, token, session_id, SAMPLE_ID, {i: "pass" for i in items_of(client, session_id, SAMPLE_ID)})
    with pytest.raises(CalibrationSessionError, match="still open"):
        labels_from_sessions(store, [session_id])
    leo.post(f"/calibration/{session_id}/close", data={"csrf_token": csrf})
    labels = labels_from_sessions(store, [session_id])
    assert [label.call_id for label in labels] == [SAMPLE_ID]
    assert set(labels[0].verdicts.values()) == {"pass"} and len(labels[0].verdicts) > 5
    with pytest.raises(NotFound):
        labels_from_sessions(store, [session_id + 99])
    exported = tmp_path / "labels.csv"
    exported.write_text(leo.get(f"/calibration/{session_id}/labels.csv").text, encoding="utf-8")
    assert read_labels(exported) == labels


def test_a_lead_cannot_assign_a_lead_outside_the_calls_team(store):
    ws = WorkspaceStore(store)
    cal = CalibrationStore(ws)
    ana = ws.find_user("ana")[0]
    with pytest.raises(CalibrationSessionError, match="nora"):
        cal.create(ana, "mixed", [SAMPLE_ID], ["rita", "nora"])  # nora leads team north, the call is team demo
    with pytest.raises(CalibrationSessionError, match="1-200 calls"):
        cal.create(ana, "none", ["", " "], ["rita", "sam"])


def test_callqa_calibrate_session_option_reads_the_session(store, tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app as cli

    ws = WorkspaceStore(store)
    cal = CalibrationStore(ws)
    session = cal.create(ws.find_user("leo")[0], "cli", [SAMPLE_ID], ["rita", "sam"])
    args = ["calibrate", "--store", store.url, "--out", str(tmp_path / "new.yaml"), "--session"]
    still_open = CliRunner().invoke(cli, args + [str(session.session_id)])
    assert still_open.exit_code == 1 and "still open" in still_open.output
    missing = CliRunner().invoke(cli, args + ["999"])
    assert missing.exit_code == 1 and "no calibration session 999" in missing.output
    cal.close(ws.find_user("leo")[0], session.session_id)
    too_few = CliRunner().invoke(cli, args + [str(session.session_id)])  # nothing submitted: no labels
    assert too_few.exit_code == 1 and "E461" in too_few.output, too_few.output
