"""The reviewer workspace over HTTP (FastAPI's TestClient, a real SQLite or PostgreSQL store).

Security cases first: each is a request that must be refused, and each test
also checks that an allowed request of the same shape works, so a test
cannot pass because the route is broken.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa.errors import StoreError
from qa.store.database import Store
from qa.web.app import create_app
from qa.store.workspace import WorkspaceStore
from tests.web_support import (HOSTILE, HOSTILE_ID, OTHER_ID, PASSWORD, SAMPLE_AUDIO, SAMPLE_ID, add_users,
                               fill_store)
from tests.web_support import app, store  # noqa: F401 (fixtures)



def client_for(app, user: str | None) -> tuple[TestClient, str]:
    """A client signed in as ``user`` (via the API) and its CSRF token."""
    client = TestClient(app)
    if user is None:
        return client, ""
    answer = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- sign in
def test_login_sets_a_strict_httponly_cookie_and_returns_the_csrf_token(app):
    client = TestClient(app)
    answer = client.post("/api/login", json={"username": "rita", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["user"] == {"username": "rita", "role": "reviewer", "teams": [], "agent_id": None}
    assert len(answer.json()["csrf_token"]) >= 32
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert client.get("/api/me").json()["username"] == "rita"


def test_secure_cookies_are_marked_secure(store):
    answer = TestClient(create_app(store, secure_cookies=True)).post(
        "/api/login", json={"username": "rita", "password": PASSWORD})
    assert "secure" in answer.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(app):
    client = TestClient(app)
    wrong = client.post("/api/login", json={"username": "rita", "password": "not the password"})
    nobody = client.post("/api/login", json={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["message"] == nobody.json()["message"]
    assert client.get("/api/me").status_code == 401


def test_logins_are_rate_limited_per_user_and_address(app):
    client = TestClient(app)
    for _ in range(5):
        assert client.post("/api/login", json={"username": "rita", "password": "guess"}).status_code == 401
    locked = client.post("/api/login", json={"username": "rita", "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["error"] == "E804"
    # another user from the same address is not locked out by rita's failures
    assert client.post("/api/login", json={"username": "leo", "password": PASSWORD}).status_code == 200


def test_rate_limit_is_shared_by_two_server_processes_on_one_store(store):
    first, second = TestClient(create_app(store)), TestClient(create_app(Store.open(store.url)))
    for i in range(5):
        client = first if i % 2 else second
        assert client.post("/api/login", json={"username": "rita", "password": "guess"}).status_code == 401
    assert first.post("/api/login", json={"username": "rita", "password": PASSWORD}).status_code == 429
    assert second.post("/api/login", json={"username": "rita", "password": PASSWORD}).status_code == 429


def test_login_page_form_signs_in_and_redirects_only_within_the_site(app):
    client = TestClient(app)
    page = client.get("/login?next=//evil.example/x")
    form = {"csrf_token": page_csrf(page.text), "username": "rita", "password": PASSWORD,
            "next": "//evil.example/x"}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/calls"
    assert client.get("/calls").status_code == 200


def test_login_form_without_its_token_is_refused(app):
    client = TestClient(app)
    answer = client.post("/login", data={"username": "rita", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/api/me").status_code == 401


def test_pages_redirect_to_login_and_the_api_answers_401(app):
    client = TestClient(app)
    page = client.get(f"/calls/{SAMPLE_ID}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fcalls%2F")
    assert client.get("/api/calls").status_code == 401


# ---------------------------------------------------------------- scope
def test_an_agent_sees_only_their_own_calls_and_another_call_is_404(app):
    client, _ = client_for(app, "alice")  # agent 1024
    listed = client.get("/api/calls").json()
    assert sorted(c["call_id"] for c in listed["calls"]) == [HOSTILE_ID, SAMPLE_ID] and listed["total"] == 2
    assert client.get(f"/api/calls/{SAMPLE_ID}").status_code == 200
    other = client.get(f"/api/calls/{OTHER_ID}")
    missing = client.get("/api/calls/no-such-call")
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"] == missing.json()["error"] == "E501"
    assert client.get(f"/calls/{OTHER_ID}").status_code == 404
    assert client.get(f"/calls/{OTHER_ID}/audio").status_code == 404
    assert client.get(f"/calls/{SAMPLE_ID}/audio").status_code == 200
    assert client.get(f"/calls/{OTHER_ID}/timeline.png").status_code == 404
    png = client.get(f"/calls/{SAMPLE_ID}/timeline.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_a_lead_sees_only_their_teams(app):
    north, _ = client_for(app, "nora")
    assert [c["call_id"] for c in north.get("/api/calls").json()["calls"]] == [OTHER_ID]
    assert north.get(f"/api/calls/{SAMPLE_ID}").status_code == 404
    assert north.get(f"/calls/{SAMPLE_ID}").status_code == 404
    assert north.get(f"/api/calls?team=demo").json()["total"] == 0
    demo, _ = client_for(app, "leo")
    assert demo.get(f"/api/calls/{SAMPLE_ID}").status_code == 200
    assert demo.get(f"/api/calls/{OTHER_ID}").status_code == 404


def test_a_lead_cannot_set_a_verdict_on_another_teams_call(app, store):
    north, csrf = client_for(app, "nora")
    answer = north.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "x"},
                        headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 404
    assert store.disputes(SAMPLE_ID) == []
    mine = north.post(f"/api/calls/{OTHER_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "x"},
                      headers={"X-CSRF-Token": csrf})
    assert mine.status_code == 200


def test_an_agent_cannot_set_verdicts(app, store):
    client, csrf = client_for(app, "alice")
    answer = client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": ""},
                         headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 403 and store.disputes(SAMPLE_ID) == []


# ---------------------------------------------------------------- CSRF
def test_state_changing_requests_without_the_csrf_token_are_refused(app, store):
    client, csrf = client_for(app, "rita")
    body = {"item": "R6", "status": "pass", "note": "misheard"}
    assert client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json=body).status_code == 403
    assert client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json=body,
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    form = {"item": "R6", "status": "pass", "note": "misheard"}
    assert client.post(f"/calls/{SAMPLE_ID}/verdict", data=form, follow_redirects=False).status_code == 403
    assert client.post(f"/calls/{SAMPLE_ID}/evaluation", data={"state": "reviewed"},
                       follow_redirects=False).status_code == 403
    assert client.post("/api/logout").status_code == 403
    assert store.disputes(SAMPLE_ID) == []
    # the same requests with the token go through
    assert client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    page = client.get(f"/calls/{SAMPLE_ID}")
    answer = client.post(f"/calls/{SAMPLE_ID}/verdict", data={**form, "csrf_token": page_csrf(page.text)},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("#item-R6")
    assert len(store.disputes(SAMPLE_ID)) == 2


def test_the_csrf_token_of_one_session_does_not_work_in_another(app, store):
    rita, rita_csrf = client_for(app, "rita")
    ana, _ = client_for(app, "ana")
    answer = ana.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": ""},
                      headers={"X-CSRF-Token": rita_csrf})
    assert answer.status_code == 403 and store.disputes(SAMPLE_ID) == []


# ---------------------------------------------------------------- disabled users, sessions
def test_a_disabled_users_old_session_stops_working(app, store):
    client, csrf = client_for(app, "bob")
    assert client.get(f"/api/calls/{OTHER_ID}").status_code == 200
    WorkspaceStore(store).disable_user("bob", actor="ana")
    assert client.get(f"/api/calls/{OTHER_ID}").status_code == 401
    assert client.get(f"/calls/{OTHER_ID}", follow_redirects=False).status_code == 303
    again = TestClient(app).post("/api/login", json={"username": "bob", "password": PASSWORD})
    assert again.status_code == 401


def test_a_session_works_on_another_server_process_and_logout_ends_it_everywhere(store):
    first = TestClient(create_app(store))
    answer = first.post("/api/login", json={"username": "rita", "password": PASSWORD})
    second = TestClient(create_app(Store.open(store.url)))
    second.cookies.set("callqa_session", first.cookies.get("callqa_session"))
    assert second.get("/api/me").json()["username"] == "rita"
    assert first.post("/api/logout", headers={"X-CSRF-Token": answer.json()["csrf_token"]}).status_code == 200
    assert second.get("/api/me").status_code == 401


# ---------------------------------------------------------------- hostile text
def test_hostile_text_in_a_transcript_and_a_note_is_escaped(app):
    client, csrf = client_for(app, "rita")
    answer = client.post(f"/api/calls/{HOSTILE_ID}/verdicts",
                         json={"item": "P1", "status": "fail", "note": f"note {HOSTILE}"},
                         headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    page = client.get(f"/calls/{HOSTILE_ID}")
    assert page.status_code == 200
    assert "&lt;script&gt;document.title" in page.text  # the words are there, as text
    assert "<script>document.title" not in page.text and "<img src=x" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    listed = client.get("/calls?q=complain")
    assert HOSTILE_ID in listed.text and "<script>document" not in listed.text


# ---------------------------------------------------------------- audio
def test_audio_is_streamed_with_range_to_allowed_users_and_only_masked(app, store):
    import io
    import wave

    import numpy as np

    from qa.privacy.audio import audio_mask_settings, masked_times
    from qa.speech.audio import SAMPLE_RATE, load_audio, probe

    client, _ = client_for(app, "leo")
    whole = client.get(f"/calls/{SAMPLE_ID}/audio")
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
    assert whole.content != SAMPLE_AUDIO.read_bytes()
    part = client.get(f"/calls/{SAMPLE_ID}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    # what is served is the recording with every masked word a 1 kHz tone (the customer's phone number)
    with wave.open(io.BytesIO(whole.content)) as w:
        served = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels()).T / 32767
    original = load_audio(probe(SAMPLE_AUDIO))
    times = masked_times(store.load_transcript(SAMPLE_ID), audio_mask_settings().pad_seconds)
    assert served.shape == original.shape and len(times) >= 1
    inside = np.zeros(served.shape[1], bool)
    for start, end in times:
        inside[int(start * SAMPLE_RATE):int(np.ceil(end * SAMPLE_RATE))] = True
        stretch = served[0, int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        peak = np.fft.rfftfreq(stretch.size, 1 / SAMPLE_RATE)[np.argmax(np.abs(np.fft.rfft(stretch)))]
        assert abs(peak - 1000) < 5 and not np.allclose(stretch, original[0, int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)], atol=0.01)
    assert np.abs(served[:, ~inside] - np.clip(original[:, ~inside], -1, 1)).max() <= 1.01 / 32767
    again = client.get(f"/calls/{SAMPLE_ID}/audio")  # made once, then served from the cache
    assert again.content == whole.content


@pytest.mark.parametrize("path", [
    "/calls/..%2F..%2F..%2Fetc%2Fpasswd/audio",
    "/calls/%2e%2e/audio",
    "/calls/../../etc/passwd/audio",
    "/calls/sample-complaint-zh/audio/../../../../etc/passwd",
    "/calls/sample-complaint-zh%2F..%2F..%2Fetc%2Fpasswd/audio",
    "/calls/%2Fetc%2Fpasswd/audio",
])
def test_path_tricks_in_the_audio_url_are_refused(app, path):
    client, _ = client_for(app, "rita")
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"root:" not in answer.content


def test_audio_outside_the_allowed_folders_or_missing_is_refused(store, tmp_path):
    outside = TestClient(create_app(store, audio_roots=[tmp_path]))
    outside.post("/api/login", json={"username": "rita", "password": PASSWORD})
    assert outside.get(f"/calls/{SAMPLE_ID}/audio").status_code == 404
    assert outside.get(f"/calls/{HOSTILE_ID}/audio").status_code == 404  # its recording does not exist
    inside = TestClient(create_app(store, audio_roots=[SAMPLE_AUDIO.parent]))
    inside.post("/api/login", json={"username": "rita", "password": PASSWORD})
    assert inside.get(f"/calls/{SAMPLE_ID}/audio").status_code == 200


def test_a_symlink_out_of_the_audio_root_is_refused(store, tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "call.flac").symlink_to(SAMPLE_AUDIO)
    with store._tx("pointing the call at a link", write=True) as conn:  # as if the archive held the link
        conn.execute(sa.text("UPDATE calls SET path = :p WHERE call_id = :c"),
                     {"p": str(root / "call.flac"), "c": SAMPLE_ID})
    client = TestClient(create_app(store, audio_roots=[root]))
    client.post("/api/login", json={"username": "rita", "password": PASSWORD})
    assert client.get(f"/calls/{SAMPLE_ID}/audio").status_code == 404
    shutil.copyfile(SAMPLE_AUDIO, root / "copy.flac")
    with store._tx("pointing the call at a copy", write=True) as conn:
        conn.execute(sa.text("UPDATE calls SET path = :p WHERE call_id = :c"),
                     {"p": str(root / "copy.flac"), "c": SAMPLE_ID})
    assert client.get(f"/calls/{SAMPLE_ID}/audio").status_code == 200


# ---------------------------------------------------------------- evaluation
def test_a_verdict_gives_a_reviewed_score_beside_the_automatic_one(app, store):
    client, csrf = client_for(app, "rita")
    before = client.get(f"/api/calls/{SAMPLE_ID}").json()
    assert before["automatic_score"] == 0.0 and before["reviewed_score"] is None  # R6 auto-fail
    assert before["evaluation"]["state"] == "automatic"
    r6 = next(i for i in before["items"] if i["id"] == "R6")
    assert r6["status"] == "fail" and r6["auto_fail"]
    after = client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "misheard"},
                        headers={"X-CSRF-Token": csrf}).json()
    assert after["automatic_score"] == 0.0
    items = after["items"]
    earned = sum(i["max_points"] if (i.get("human") or i)["status"] == "pass" else
                 i["max_points"] * 0.5 if (i.get("human") or i)["status"] == "partial" else 0
                 for i in items if (i.get("human") or i)["status"] != "n/a")
    total = sum(i["max_points"] for i in items if (i.get("human") or i)["status"] != "n/a")
    assert after["reviewed_score"] == round(100 * earned / total, 1) > 0
    assert next(i for i in items if i["id"] == "R6")["human"]["reviewer"] == "rita"
    assert after["evaluation"]["state"] == "in_review"
    done = client.post(f"/api/calls/{SAMPLE_ID}/evaluation", json={"state": "reviewed", "comment": "good call"},
                       headers={"X-CSRF-Token": csrf}).json()
    assert done["evaluation"] == {**done["evaluation"], "state": "reviewed", "comment": "good call"}
    listed = client.get("/api/calls?review=reviewed").json()["calls"]
    assert [c["call_id"] for c in listed] == [SAMPLE_ID] and listed[0]["score"] == after["reviewed_score"]
    page = client.get(f"/calls/{SAMPLE_ID}").text
    assert "R6: fail → pass — misheard" in page and "in review → reviewed — good call" in page
    log = WorkspaceStore(store).audit_log(target=f"call:{SAMPLE_ID}")
    assert [e.action for e in log] == ["evaluation.set", "verdict.set"]
    assert log[1].before["status"] == "fail" and log[1].after["status"] == "pass" and log[1].actor == "rita"
    assert log[0].before["state"] == "in_review" and log[0].after["state"] == "reviewed"


def test_a_nightly_re_review_never_overwrites_a_reviewer_verdict(app, store):
    client, csrf = client_for(app, "rita")
    reviewed = client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "ok"},
                           headers={"X-CSRF-Token": csrf}).json()["reviewed_score"]
    transcript, findings = store.load_transcript(SAMPLE_ID), store.load_findings(SAMPLE_ID)
    card = store.load_scorecard(SAMPLE_ID)
    store.save_review(transcript, findings, card, sha256="a" * 64, path=str(SAMPLE_AUDIO))  # the night again
    store.save_scorecard(card)  # and a re-score
    again = client.get(f"/api/calls/{SAMPLE_ID}").json()
    assert next(i for i in again["items"] if i["id"] == "R6")["human"]["status"] == "pass"
    assert again["reviewed_score"] == reviewed and again["automatic_score"] == 0.0


def test_a_verdict_on_an_unknown_item_or_status_is_refused(app, store):
    client, csrf = client_for(app, "rita")
    headers = {"X-CSRF-Token": csrf}
    assert client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "Z9", "status": "pass"},
                       headers=headers).status_code == 400
    assert client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "great"},
                       headers=headers).status_code == 422
    assert store.disputes(SAMPLE_ID) == []


def test_the_call_page_shows_both_scores_forms_and_deep_link_help(app):
    client, csrf = client_for(app, "rita")
    client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "misheard"},
                headers={"X-CSRF-Token": csrf})
    page = client.get(f"/calls/{SAMPLE_ID}").text
    auto = re.search(r'id="auto-score">([^<]+)<', page).group(1)
    reviewed = re.search(r'id="reviewed-score">([^<]+)<', page).group(1)
    assert auto == "0" and float(reviewed) > 0
    assert f'src="/calls/{SAMPLE_ID}/audio"' in page and 'action="/calls/sample-complaint-zh/verdict"' in page
    assert "#t=SECONDS" in page and '<script src="/static/workspace.js">' in page
    assert "misheard" in page


def test_coaching_links_to_call_html_open_the_call_page(app):
    client, _ = client_for(app, "rita")
    assert client.get(f"/calls/{SAMPLE_ID}.html").status_code == 200


# ---------------------------------------------------------------- appeals
def test_an_agent_appeals_and_a_reviewer_resolves(app, store):
    alice, alice_csrf = client_for(app, "alice")
    appeal = alice.post(f"/api/calls/{SAMPLE_ID}/appeals", json={"item": "R6", "reason": "I never said that"},
                        headers={"X-CSRF-Token": alice_csrf})
    assert appeal.status_code == 200 and appeal.json()["state"] == "open"
    twice = alice.post(f"/api/calls/{SAMPLE_ID}/appeals", json={"item": "R6", "reason": "again"},
                       headers={"X-CSRF-Token": alice_csrf})
    assert twice.status_code == 400
    bob, bob_csrf = client_for(app, "bob")
    assert bob.post(f"/api/calls/{SAMPLE_ID}/appeals", json={"item": "R6", "reason": "x"},
                    headers={"X-CSRF-Token": bob_csrf}).status_code == 404
    assert bob.get("/api/appeals").json() == []
    nora, nora_csrf = client_for(app, "nora")
    appeal_id = appeal.json()["appeal_id"]
    assert nora.get("/api/appeals").json() == []
    assert nora.post(f"/api/appeals/{appeal_id}/resolve", json={"decision": "accept", "status": "pass", "note": "x"},
                     headers={"X-CSRF-Token": nora_csrf}).status_code == 404
    leo, _ = client_for(app, "leo")
    assert [a["appeal_id"] for a in leo.get("/api/appeals").json()] == [appeal_id]
    rita, rita_csrf = client_for(app, "rita")
    assert "I never said that" in rita.get("/disputes").text
    assert rita.get("/api/calls?review=disputed").json()["total"] == 1
    resolved = rita.post(f"/api/appeals/{appeal_id}/resolve",
                         json={"decision": "accept", "status": "pass", "note": "the recording says 这是规划"},
                         headers={"X-CSRF-Token": rita_csrf})
    assert resolved.status_code == 200 and resolved.json()["state"] == "accepted"
    call = alice.get(f"/api/calls/{SAMPLE_ID}").json()
    assert next(i for i in call["items"] if i["id"] == "R6")["human"]["status"] == "pass"
    assert call["reviewed_score"] > call["automatic_score"]
    assert call["appeals"][0]["resolution_note"] == "the recording says 这是规划"
    again = rita.post(f"/api/appeals/{appeal_id}/resolve", json={"decision": "reject", "note": "no"},
                      headers={"X-CSRF-Token": rita_csrf})
    assert again.status_code == 400
    assert rita.get("/api/calls?review=disputed").json()["total"] == 0
    history = [e.action for e in WorkspaceStore(store).audit_log(target=f"call:{SAMPLE_ID}")]
    assert history == ["appeal.resolve", "verdict.set", "appeal.open"]


def test_an_appeal_rejected_keeps_the_score(app):
    alice, alice_csrf = client_for(app, "alice")
    appeal_id = alice.post(f"/api/calls/{SAMPLE_ID}/appeals", json={"item": "P3", "reason": "I waited"},
                           headers={"X-CSRF-Token": alice_csrf}).json()["appeal_id"]
    rita, csrf = client_for(app, "rita")
    answer = rita.post(f"/api/appeals/{appeal_id}/resolve", json={"decision": "reject", "note": "you talked over"},
                       headers={"X-CSRF-Token": csrf})
    assert answer.json()["state"] == "rejected"
    call = alice.get(f"/api/calls/{SAMPLE_ID}").json()
    assert call["reviewed_score"] is None and "human" not in next(i for i in call["items"] if i["id"] == "P3")


# ---------------------------------------------------------------- audit log
def test_the_audit_log_is_append_only_in_the_database(app, store):
    client, csrf = client_for(app, "rita")
    client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": ""},
                headers={"X-CSRF-Token": csrf})
    for statement in ("UPDATE ws_audit SET actor = 'someone else'", "DELETE FROM ws_audit"):
        with pytest.raises(StoreError, match="append-only"):
            with store._tx("tampering", write=True) as conn:
                conn.execute(sa.text(statement))
    assert WorkspaceStore(store).audit_log(target=f"call:{SAMPLE_ID}")[0].actor == "rita"
    assert client.get("/api/audit").status_code == 403
    admin, _ = client_for(app, "ana")
    assert admin.get("/api/audit?target=call:" + SAMPLE_ID).json()[0]["after"]["status"] == "pass"
    assert "verdict.set" in admin.get("/audit").text


# ---------------------------------------------------------------- list, filters, search
def test_list_filters(app, store):
    client, csrf = client_for(app, "rita")

    def ids(query: str) -> list[str]:
        answer = client.get("/api/calls" + query)
        assert answer.status_code == 200, answer.text
        return [c["call_id"] for c in answer.json()["calls"]]

    assert ids("") == [HOSTILE_ID, OTHER_ID, SAMPLE_ID]  # newest first
    assert ids("?sort=date&order=asc") == [SAMPLE_ID, OTHER_ID, HOSTILE_ID]
    assert ids("?team=north") == [OTHER_ID]
    assert ids("?agent=1024") == [HOSTILE_ID, SAMPLE_ID]
    assert ids("?from=2026-11-21&to=2026-11-21") == [OTHER_ID]
    assert ids("?language=en") == [HOSTILE_ID]
    assert ids("?item=R6&status=fail") == [OTHER_ID, SAMPLE_ID]
    assert ids("?max_score=0") == [OTHER_ID, SAMPLE_ID]
    client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": ""},
                headers={"X-CSRF-Token": csrf})
    assert ids("?max_score=0") == [OTHER_ID]  # the reviewed score counts
    hostile = client.get(f"/api/calls/{HOSTILE_ID}").json()["automatic_score"]
    assert ids("?min_score=0.1") == ([HOSTILE_ID, SAMPLE_ID] if hostile >= 0.1 else [SAMPLE_ID])
    assert ids("?review=in_review") == [SAMPLE_ID]
    assert ids("?review=unreviewed") == [HOSTILE_ID, OTHER_ID]
    assert ids("?per_page=1&page=2") == [OTHER_ID]
    assert client.get("/api/calls?from=yesterday").status_code == 400
    page = client.get("/calls?team=north")
    assert OTHER_ID in page.text and f"/calls/{SAMPLE_ID}" not in page.text


def test_full_text_search_over_masked_transcripts(app, store):
    client, _ = client_for(app, "rita")

    def ids(q: str) -> list[str]:
        answer = client.get("/api/calls", params={"q": q})
        assert answer.status_code == 200, answer.text
        return sorted(c["call_id"] for c in answer.json()["calls"])

    assert ids("洗衣机") == [OTHER_ID, SAMPLE_ID]
    assert ids("机洗") == []  # the characters in order, not anywhere
    assert ids("COMPLAIN order") == [HOSTILE_ID]
    assert ids("complain 洗衣机") == []
    assert ids('" * ( ) :') == [HOSTILE_ID, OTHER_ID, SAMPLE_ID]  # nothing to search for: no filter
    assert ids("order OR 洗衣机") == []  # OR is a word here, not an operator
    assert ids('"order') == [HOSTILE_ID]
    text = " ".join(u.text for u in store.load_transcript(SAMPLE_ID).utterances)
    assert "[PHONE" in text and ids("5678") == [OTHER_ID, SAMPLE_ID]  # the masked form is what is indexed
    alice, _ = client_for(app, "alice")
    assert [c["call_id"] for c in alice.get("/api/calls", params={"q": "洗衣机"}).json()["calls"]] == [SAMPLE_ID]


def test_a_re_reviewed_call_is_indexed_again(app, store):
    ws = WorkspaceStore(store)
    ws.sync_search()
    transcript = store.load_transcript(HOSTILE_ID)
    changed = transcript.__class__(**{**transcript.__dict__, "utterances": [
        u.__class__(**{**u.__dict__, "text": u.text.replace("late", "delayed")}) for u in transcript.utterances]})
    store.save_review(changed, store.load_findings(HOSTILE_ID), store.load_scorecard(HOSTILE_ID),
                      sha256="b" * 64, path="x.txt")
    assert ws.sync_search() == 1
    client, _ = client_for(app, "rita")
    assert client.get("/api/calls", params={"q": "delayed"}).json()["total"] == 1
    assert client.get("/api/calls", params={"q": "late"}).json()["total"] == 0


# ---------------------------------------------------------------- API docs, static, commands
def test_openapi_and_docs_need_no_internet(app):
    client = TestClient(app)
    schema = client.get("/openapi.json").json()
    assert {"/api/login", "/api/calls", "/api/calls/{call_id}", "/api/calls/{call_id}/verdicts"} <= set(schema["paths"])
    docs = client.get("/docs").text
    assert "/api/calls/{call_id}/verdicts" in docs and "cdn" not in docs.lower()
    for src in re.findall(r'(?:src|href)="([^"]+)"', docs):
        assert src.startswith(("/", "#")), src
    assert client.get("/static/workspace.js").status_code == 200


def test_users_commands(tmp_path: Path):
    from flows.cli import app as cli

    url = f"sqlite:///{tmp_path / 'u.db'}"
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "zoe", "--role", "lead", "--team", "south", "--team", "east",
                                "--store", url], input="a long enough password\n")
    assert added.exit_code == 0, added.output
    assert "teams east, south" in added.output
    no_team = runner.invoke(cli, ["users", "add", "yan", "--role", "lead", "--store", url], input="a long password\n")
    assert no_team.exit_code == 1 and "--team" in no_team.output
    short = runner.invoke(cli, ["users", "add", "yan", "--role", "reviewer", "--store", url], input="short\n")
    assert short.exit_code == 1 and "too short" in short.output
    assert runner.invoke(cli, ["users", "add", "zoe", "--role", "reviewer", "--store", url],
                         input="a long enough password\n").exit_code == 1
    assert runner.invoke(cli, ["users", "add", "x", "--role", "admin", "--password", "p", "--store", url]).exit_code == 2
    listed = runner.invoke(cli, ["users", "list", "--store", url])
    assert "zoe" in listed.output and "east, south" in listed.output and "active" in listed.output
    assert runner.invoke(cli, ["users", "disable", "zoe", "--store", url]).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["users", "list", "--store", url]).output
    app = create_app(url)
    assert TestClient(app).post("/api/login", json={"username": "zoe", "password": "a long enough password"}
                                ).status_code == 401
    assert WorkspaceStore(app.state.ws.store).find_user("zoe")[1].startswith("$argon2id$")


# ---------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_the_workspace_on_postgresql(fresh_pg_url: str):
    store = Store.open(fresh_pg_url)
    try:
        fill_store(store)
        add_users(store)
        first = create_app(store)
        second = create_app(Store.open(fresh_pg_url))  # a second server process on the same database
        alice, _ = client_for(first, "alice")
        assert sorted(c["call_id"] for c in alice.get("/api/calls").json()["calls"]) == [HOSTILE_ID, SAMPLE_ID]
        assert alice.get(f"/api/calls/{OTHER_ID}").status_code == 404
        rita, csrf = client_for(first, "rita")
        elsewhere = TestClient(second)
        elsewhere.cookies.set("callqa_session", rita.cookies.get("callqa_session"))
        after = elsewhere.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "ok"},
                               headers={"X-CSRF-Token": csrf}).json()
        assert after["reviewed_score"] > 0 and after["evaluation"]["state"] == "in_review"
        assert sorted(c["call_id"] for c in rita.get("/api/calls", params={"q": "洗衣机"}).json()["calls"]) == \
            [OTHER_ID, SAMPLE_ID]
        assert [c["call_id"] for c in rita.get("/api/calls", params={"q": "complain order"}).json()["calls"]] == \
            [HOSTILE_ID]
        assert rita.get("/api/calls?item=R6&status=fail&max_score=0").json()["total"] == 1
        with pytest.raises(StoreError, match="append-only"):
            with store._tx("tampering", write=True) as conn:
                conn.execute(sa.text("DELETE FROM ws_audit"))
        for _ in range(5):
            TestClient(first).post("/api/login", json={"username": "leo", "password": "guess"})
        assert TestClient(second).post("/api/login", json={"username": "leo", "password": PASSWORD}).status_code == 429
    finally:
        store.close()


# ---------------------------------------------------------------- coaching dashboard
def test_coaching_dashboard_respects_scope(app):
    lead, _ = client_for(app, "leo")
    page = lead.get("/coaching?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200 and "Coaching report" in page.text and 'href="/static/workspace.css"' in page.text
    assert lead.get("/coaching?start=2026-11-01&end=2026-11-30&team=north").status_code == 404
    agent, _ = client_for(app, "alice")
    mine = agent.get("/coaching?start=2026-11-01&end=2026-11-30&agent=2048")  # asks for bob: gets herself
    assert mine.status_code == 200 and "1024" in mine.text and "2048" not in mine.text
    reviewer, _ = client_for(app, "rita")
    assert reviewer.get("/coaching?start=2026-11-01&end=2026-11-30&team=north").status_code == 200


def test_coaching_reports_use_the_reviewed_score_and_verdicts(app, store):
    """A verdict set in the workspace changes the coaching report: its mean score and the item's pass rate."""
    from qa.pipeline.coaching import build_report

    def sample_rows():
        return [r for r in store.scores_frame(team="demo") if r["call_id"] == SAMPLE_ID]

    before = sample_rows()
    r6 = next(r for r in before if r["item_id"] == "R6")
    assert r6["status"] == "fail" and r6["auto_fail"] and before[0]["score"] == 0.0  # the machine's auto-fail
    mean_before = build_report(store, "2026-11-01", "2026-11-30", team="demo").mean_score
    client, csrf = client_for(app, "rita")
    answer = client.post(f"/api/calls/{SAMPLE_ID}/verdicts", json={"item": "R6", "status": "pass", "note": "misheard"},
                         headers={"X-CSRF-Token": csrf})
    reviewed = answer.json()["reviewed_score"]
    assert answer.status_code == 200 and reviewed > 0
    after = sample_rows()
    r6 = next(r for r in after if r["item_id"] == "R6")
    assert r6["status"] == "pass" and not r6["auto_fail"] and r6["points"] == r6["max_points"]
    assert {r["score"] for r in after} == {reviewed}
    assert build_report(store, "2026-11-01", "2026-11-30", team="demo").mean_score > mean_before
