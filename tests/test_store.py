"""The store keeps every reviewed call exactly once, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.store.database import MIGRATIONS, DuplicateContent, NotFound, SchemaTooNew, Store, StoreError
from qa.types import CallMeta, Evidence, Finding, Gap, ItemScore, RoleAssignment, Scorecard, Transcript, Utterance, Word
from tests.threads import run_together

REPO = Path(__file__).resolve().parents[1]
MIGRATION_NAMES = [name for name, _ in MIGRATIONS]
AGENT_LINES = [
    "您好，工号1024为您服务，请问有什么可以帮您？",
    "非常抱歉给您带来不便，我马上帮您查一下。",
    "请您稍等两分钟，我核实一下订单。",
    "感谢您的耐心等待，问题已经处理好了。",
]
CUSTOMER_LINES = ["我的快递三天了还没到！", "你们每次都这么说。", "好吧，那我再等等。", "谢谢。"]


# ---------------------------------------------------------------- test data
def sha_of(i: int) -> str:
    return hashlib.sha256(f"recording-{i}".encode()).hexdigest()


def make_transcript(i: int, n_utterances: int = 8, agent: str = "A1024", team: str = "north",
                    started_at: str = "2024-05-06T09:30:00+08:00") -> Transcript:
    utterances = []
    for k in range(n_utterances):
        role = "agent" if k % 2 == 0 else "customer"
        text = (AGENT_LINES if role == "agent" else CUSTOMER_LINES)[k // 2 % 4]
        start = k * 3.25
        words = [Word(start + j * 0.4, start + j * 0.4 + 0.35, ch, 0.9 - j * 0.01)
                 for j, ch in enumerate(text[:5])]
        utterances.append(Utterance(role=role, start=start, end=start + 2.9, text=text, words=words,
                                    speaker=f"ch{k % 2}", confidence=0.87 + k % 3 * 0.01, no_speech_prob=0.02))
    meta = CallMeta(call_id=f"call-{i:05d}", agent_id=agent, team=team, started_at=started_at, language="zh",
                    channel_map={0: "agent", 1: "customer"}, extra={"queue": "complaints", "ticket": i})
    return Transcript(call_id=f"call-{i:05d}", language="zh", duration=n_utterances * 3.25 + 1.0,
                      utterances=utterances, gaps=[Gap(2.9, 3.25), Gap(6.15, 6.5)],
                      roles=RoleAssignment("channel", 0.98, True, {"ch0": "agent", "ch1": "customer"}, ["stereo"]),
                      meta=meta, language_probability=0.97, source={"path": f"/archive/{i}.wav", "format": "wav"},
                      asr={"model": "whisper-base", "beam_size": 5})


def make_findings(n: int = 5) -> list[Finding]:
    values: list[object] = [0.75, "closed_question", {"wpm": 212.5, "ok": False}, [1, 2, 3], None, True, 3]
    ids = ["T-RATE", "T-QUESTION", "K1", "P2", "S4", "R3", "T-TONE"]
    return [Finding(id=ids[k % len(ids)], kind=f"kind{k % 4}", value=values[k % len(values)],
                    role="agent" if k % 3 else "customer", start=k * 1.5, end=k * 1.5 + 1.2,
                    text=AGENT_LINES[k % 4], tagger="lexicon@1", detail={"matched": AGENT_LINES[k % 4][:4], "n": k})
            for k in range(n)]


def make_scorecard(i: int, version: str = "rubric-1", score: float = 82.5) -> Scorecard:
    ev = Evidence("agent", 0.0, 2.9, AGENT_LINES[0])
    items = [
        ItemScore("P1", "pass", 10.0, 10.0, [ev], tip="", reason="greeting with name"),
        ItemScore("K1", "partial", 2.5, 5.0, [Evidence("agent", 6.5, 9.4, AGENT_LINES[2])],
                  tip="说明需要等待多久", tip_en="say how long the hold will be", reason="hold without estimate"),
        ItemScore("T-TONE", "fail", 0.0, 5.0, [], tip="保持平和语气", auto_fail=True),
        ItemScore("S6", "n/a", 0.0, 0.0),
    ]
    meta = make_transcript(i).meta
    return Scorecard(call_id=f"call-{i:05d}", language="zh", score=score, items=items, rubric_version=version,
                     peak_stage="angry", final_stage="calm", complaint_class="delivery",
                     warnings=["mono split uncertain"], summary={"talk_ratio": 0.61, "holds": 1}, meta=meta)


def make_review(i: int, n_utterances: int = 8, n_findings: int = 5, **meta: str):
    """(transcript, findings, scorecard, sha256, path) for call number ``i``."""
    return (make_transcript(i, n_utterances, **meta), make_findings(n_findings), make_scorecard(i), sha_of(i),
            f"/archive/2024/05/{i:05d}.wav")


# ---------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'callqa.db'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def store(db_url: str):
    s = Store.open(db_url)
    yield s
    s.close()


# ---------------------------------------------------------------- migrations
def test_migrations_apply_once_and_reapply_as_noops(db_url: str):
    with Store.open(db_url) as first:
        assert first.applied_migrations() == MIGRATION_NAMES
        assert first.migrate() == []
    with Store.open(db_url) as again:
        assert again.migrate() == []
        assert again.applied_migrations() == MIGRATION_NAMES


def _open_and_list_migrations(url: str) -> list[str]:
    with Store.open(url) as s:
        return s.applied_migrations()


def test_two_processes_opening_a_fresh_database_migrate_it_once(db_url: str):
    applied, errors = run_together(lambda: _open_and_list_migrations(db_url), 4)
    assert errors == []
    assert applied == [MIGRATION_NAMES] * 4


def test_fresh_sqlite_files_opened_by_four_at_once_all_switch_to_wal(tmp_path: Path):
    # Switching to WAL skips SQLite's busy handler: before the retry, about one
    # fresh file in forty failed with "database is locked" for one opener.
    for i in range(40):
        db = tmp_path / f"race{i}.db"
        applied, errors = run_together(lambda: _open_and_list_migrations(f"sqlite:///{db}"), 4)
        assert errors == []
        assert applied == [MIGRATION_NAMES] * 4
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_database_from_newer_callqa_is_refused(tmp_path: Path):
    db = tmp_path / "callqa.db"
    Store.open(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', '2030-01-01')")
    with pytest.raises(SchemaTooNew, match="upgrade callqa"):
        Store.open(f"sqlite:///{db}")


# ---------------------------------------------------------------- opening
def test_open_without_url_puts_callqa_db_in_callqa_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CALLQA_DB_URL", raising=False)
    monkeypatch.setenv("CALLQA_DATA_DIR", str(tmp_path / "data"))
    with Store.open() as s:
        s.save_review(*make_review(1))
        assert (tmp_path / "data" / "callqa.db").exists()
        assert (tmp_path / "data" / "callqa.db-wal").exists()  # WAL mode


def test_open_with_data_dir_argument_uses_it_even_when_a_url_is_in_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALLQA_DB_URL", "postgresql://nobody@127.0.0.1:1/none")
    with Store.open(data_dir=tmp_path / "elsewhere") as s:
        assert s.url.endswith("elsewhere/callqa.db")


@pytest.mark.postgres
def test_plain_postgresql_url_is_opened_with_psycopg(fresh_pg_url: str):
    plain = fresh_pg_url.replace("postgresql+psycopg://", "postgresql://")
    with Store.open(plain) as s:
        assert s.url.startswith("postgresql+psycopg://")
        assert s.applied_migrations() == MIGRATION_NAMES


def test_unreachable_postgresql_says_to_check_the_server():
    with pytest.raises(StoreError, match="reachable"):
        Store.open("postgresql://postgres@127.0.0.1:1/callqa")


def test_unsupported_url_says_which_urls_work():
    with pytest.raises(StoreError, match="postgresql://user@host/db"):
        Store.open("mysql://root@localhost/callqa")


# ---------------------------------------------------------------- reviews
def test_save_review_round_trips_transcript_findings_and_scorecard_exactly(store: Store):
    transcript, findings, card, sha, path = make_review(7)
    store.save_review(transcript, findings, card, sha, path)
    assert store.load_transcript("call-00007") == transcript
    assert store.load_findings("call-00007") == findings
    assert store.load_scorecard("call-00007") == card
    assert store.is_reviewed(sha)
    assert not store.is_reviewed(sha_of(8))
    assert store.reviewed_hashes() == {sha}


def test_saving_the_same_call_twice_does_not_duplicate_rows(store: Store):
    review = make_review(3)
    store.save_review(*review)
    once = store.row_counts()
    store.save_review(*review)
    assert store.row_counts() == once
    assert once["calls"] == 1 and once["utterances"] == 8 and once["findings"] == 5
    assert once["scores"] == 1 and once["item_scores"] == 4


def test_resaving_a_call_replaces_its_utterances_and_findings(store: Store):
    store.save_review(*make_review(3))
    transcript, _, card, sha, path = make_review(3, n_utterances=4)
    store.save_review(transcript, make_findings(2), card, sha, path)
    counts = store.row_counts()
    assert (counts["utterances"], counts["findings"], counts["scores"]) == (4, 2, 1)
    assert store.load_transcript("call-00003") == transcript


def test_rescore_with_new_rubric_keeps_old_score_and_makes_new_one_current(store: Store):
    store.save_review(*make_review(5))
    old = store.load_scorecard("call-00005")
    new = make_scorecard(5, version="rubric-2", score=64.0)
    store.save_scorecard(new)
    assert store.load_scorecard("call-00005") == new
    assert store.load_scorecard("call-00005", version="rubric-1") == old
    assert store.score_versions("call-00005") == [("rubric-1", False), ("rubric-2", True)]
    store.save_scorecard(new)  # same rubric again: replaced, not added
    assert store.row_counts()["scores"] == 2
    assert {r["score"] for r in store.scores_frame()} == {64.0}


def test_resave_with_an_older_rubric_version_reuses_that_score_row(store: Store):
    transcript, findings, card, sha, path = make_review(5)
    store.save_review(transcript, findings, card, sha, path)
    store.save_scorecard(make_scorecard(5, version="rubric-2"))
    store.save_review(transcript, findings, card, sha, path)
    assert store.score_versions("call-00005") == [("rubric-1", True), ("rubric-2", False)]


def test_loading_an_unknown_call_or_version_raises_not_found(store: Store):
    with pytest.raises(NotFound, match="not in the store"):
        store.load_transcript("call-missing")
    store.save_review(*make_review(1))
    with pytest.raises(NotFound, match="stored rubric versions: rubric-1"):
        store.load_scorecard("call-00001", version="rubric-9")
    with pytest.raises(NotFound):
        store.save_scorecard(make_scorecard(2))


def test_same_recording_under_another_call_id_is_refused(store: Store):
    transcript, findings, card, sha, path = make_review(1)
    store.save_review(transcript, findings, card, sha, path)
    other, _, other_card, _, _ = make_review(2)
    with pytest.raises(DuplicateContent, match="call-00001"):
        store.save_review(other, findings, other_card, sha, "/archive/renamed.wav")
    assert store.row_counts()["calls"] == 1


def test_changed_recording_of_a_call_replaces_its_hash(store: Store):
    transcript, findings, card, old_sha, path = make_review(1)
    store.save_review(transcript, findings, card, old_sha, path)
    new_sha = hashlib.sha256(b"re-exported recording").hexdigest()
    store.save_review(transcript, findings, card, new_sha, path)
    assert store.reviewed_hashes() == {new_sha}
    assert store.row_counts()["calls"] == 1


def test_failure_inside_save_review_rolls_the_whole_call_back(store: Store):
    transcript, findings, card, sha, path = make_review(9)
    broken = findings + [Finding("K1", "hold", object(), "agent", 1.0, 2.0, "请稍等")]
    with pytest.raises(StoreError, match="rolled back"):
        store.save_review(transcript, broken, card, sha, path)
    assert set(store.row_counts().values()) == {0}
    assert not store.is_reviewed(sha)

    store.save_review(transcript, findings, card, sha, path)
    before = store.row_counts()
    shorter, _, _, _, _ = make_review(9, n_utterances=2)
    with pytest.raises(StoreError):
        store.save_review(shorter, broken, card, sha, path)
    assert store.row_counts() == before
    assert store.load_transcript("call-00009") == transcript


# ---------------------------------------------------------------- disputes
def test_disputes_survive_resave_and_rescore(store: Store):
    review = make_review(4)
    store.save_review(*review)
    dispute = store.add_dispute("call-00004", "K1", "pass", "he gave an estimate at 01:05", "qa-lead")
    store.save_review(*review)
    store.save_scorecard(make_scorecard(4, version="rubric-2"))
    assert store.disputes("call-00004") == [dispute]
    assert store.dispute_overlay("call-00004") == {"K1": dispute}
    assert store.disputes() == [dispute]


def test_dispute_of_an_item_the_call_was_not_scored_on_is_refused(store: Store):
    store.save_review(*make_review(4))
    with pytest.raises(StoreError, match="no rubric item 'R6'"):
        store.add_dispute("call-00004", "R6", "fail", "", "qa-lead")
    with pytest.raises(NotFound):
        store.add_dispute("call-99999", "K1", "fail", "", "qa-lead")


# ---------------------------------------------------------------- quarantine and runs
def test_quarantine_upsert_increments_attempts_and_keeps_first_seen(store: Store):
    run1, run2 = store.start_run("/archive"), store.start_run("/archive")
    first = store.quarantine("/archive/bad.wav", sha_of(50), "truncated header", "TruncatedAudioError", run1)
    again = store.quarantine("/archive/bad.wav", sha_of(50), "still truncated", "TruncatedAudioError", run2)
    unreadable = store.quarantine("/archive/locked.wav", None, "permission denied", "PermissionError", run2)
    assert (first.attempts, again.attempts, unreadable.attempts) == (1, 2, 1)
    assert again.first_seen == first.first_seen and again.reason == "still truncated" and again.run_id == run2
    assert [q.path for q in store.quarantined()] == ["/archive/bad.wav", "/archive/locked.wav"]
    assert store.release_quarantine(path="/archive/locked.wav") == 1
    assert [q.sha256 for q in store.quarantined()] == [sha_of(50)]


def test_successful_review_clears_the_quarantine_entry_of_its_hash(store: Store):
    transcript, findings, card, sha, path = make_review(6)
    store.quarantine(path, sha, "model timeout", "ModelError")
    store.save_review(transcript, findings, card, sha, path)
    assert store.quarantined() == []


def test_run_records_its_archive_counts_and_summary(store: Store):
    run_id = store.start_run(Path("/archive/2024"))
    assert store.get_run(run_id).finished_at is None
    store.finish_run(run_id, {"reviewed": 12, "skipped": 9988, "quarantined": 1}, {"mean_score": 77.1})
    run = store.get_run(run_id)
    assert (run.archive, run.counts["skipped"], run.summary) == ("/archive/2024", 9988, {"mean_score": 77.1})
    assert run.finished_at >= run.started_at
    with pytest.raises(NotFound, match="start_run"):
        store.finish_run(run_id + 100, {}, {})


# ---------------------------------------------------------------- file index
def test_file_index_returns_hash_only_for_unchanged_size_and_mtime(store: Store):
    store.remember_files([("/a/1.wav", 1000, 111, sha_of(1)), ("/a/2.wav", 2000, 222, sha_of(2))])
    assert store.known_file("/a/1.wav", 1000, 111) == sha_of(1)
    assert store.known_file("/a/1.wav", 1000, 112) is None  # touched
    assert store.known_file("/a/1.wav", 1001, 111) is None  # rewritten
    assert store.known_file("/a/3.wav", 1000, 111) is None  # new
    stats = [("/a/1.wav", 1000, 111), ("/a/2.wav", 2000, 999), ("/a/3.wav", 5, 5)]
    assert store.known_files(stats) == {"/a/1.wav": sha_of(1)}
    store.remember_file("/a/2.wav", 2000, 999, sha_of(22))
    assert store.known_files(stats) == {"/a/1.wav": sha_of(1), "/a/2.wav": sha_of(22)}
    assert store.row_counts()["files"] == 2


def test_file_index_batch_lookup_covers_thousands_of_files(store: Store):
    entries = [(f"/archive/{k:05d}.wav", 10_000 + k, 1_700_000_000_000_000_000 + k, sha_of(k)) for k in range(2500)]
    store.remember_files(entries)
    found = store.known_files([(p, size, mtime) for p, size, mtime, _ in entries])
    assert found == {p: sha for p, _, _, sha in entries}


# ---------------------------------------------------------------- reports
def test_scores_frame_filters_by_time_team_and_agent(store: Store):
    store.save_review(*make_review(1, agent="A1", team="north", started_at="2024-05-06T23:30:00+08:00"))
    store.save_review(*make_review(2, agent="A2", team="south", started_at="2024-05-13T15:30:00Z"))
    store.save_review(*make_review(3, agent="A1", team="north", started_at="2024-05-12T23:59:00-05:00"))
    rows = store.scores_frame()
    assert len(rows) == 3 * 4
    assert set(rows[0]) >= {"call_id", "agent_id", "team", "started_at", "score", "item_id", "status", "points"}
    week = store.scores_frame(start="2024-05-06", end="2024-05-13T00:00:00+00:00")
    assert sorted({r["call_id"] for r in week}) == ["call-00001"]  # call 3 is 05-13 04:59 UTC
    assert {r["call_id"] for r in store.scores_frame(team="north")} == {"call-00001", "call-00003"}
    assert {r["call_id"] for r in store.scores_frame(agent="A2")} == {"call-00002"}
    k1 = [r for r in rows if r["call_id"] == "call-00002" and r["item_id"] == "K1"]
    assert [(r["status"], r["points"], r["max_points"]) for r in k1] == [("partial", 2.5, 5.0)]
    with pytest.raises(StoreError, match="ISO 8601"):
        store.scores_frame(start="last tuesday")


# ---------------------------------------------------------------- concurrency and crashes
def test_two_connections_write_different_calls_concurrently_on_sqlite_wal(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'callqa.db'}"
    stores = [Store.open(url), Store.open(url)]
    errors: list[BaseException] = []

    def write(s: Store, first: int) -> None:
        try:
            for i in range(first, first + 15):
                s.save_review(*make_review(i, n_utterances=40, n_findings=20))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n * 100)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    with Store.open(url) as s:
        assert len(s.reviewed_hashes()) == 30
        assert s.row_counts()["utterances"] == 30 * 40


NIGHTLY = """
import sys
from qa.store.database import Store
from tests.test_store import make_review
store = Store.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    review = make_review(i, n_utterances=100, n_findings=50)
    if store.is_reviewed(review[3]):
        continue
    store.save_review(*review)
    print(i, flush=True)
"""


def test_run_killed_mid_write_then_rerun_stores_every_call_exactly_once(db_url: str):
    calls = 24
    cmd = [sys.executable, "-c", NIGHTLY, db_url, str(calls)]
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    saved = [child.stdout.readline() for _ in range(5)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert all(line.strip() for line in saved), "the nightly child died before saving 5 calls"

    with Store.open(db_url) as s:
        survivors = s.reviewed_hashes()
        assert 5 <= len(survivors) <= calls
        counts = s.row_counts()
        n = len(survivors)
        assert (counts["utterances"], counts["findings"], counts["item_scores"]) == (n * 100, n * 50, n * 4)
        s.add_dispute("call-00002", "T-TONE", "pass", "tone was fine", "qa-lead")

    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert len(rerun.stdout.split()) == calls - len(survivors)  # only the missing calls were reviewed

    with Store.open(db_url) as s:
        assert s.reviewed_hashes() == {sha_of(i) for i in range(calls)}
        counts = s.row_counts()
        assert (counts["calls"], counts["utterances"], counts["findings"], counts["scores"]) == \
            (calls, calls * 100, calls * 50, calls)
        assert [d.note for d in s.disputes()] == ["tone was fine"]
        transcript, findings, card, _, _ = make_review(calls - 1, n_utterances=100, n_findings=50)
        assert s.load_transcript(transcript.call_id) == transcript
        assert s.load_scorecard(card.call_id) == card
