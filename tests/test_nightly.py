"""The nightly review without Prefect: plan, review each job, classify failures, sum up, re-score."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa.pipeline import nightly
from qa.pipeline.archive import load_settings
from qa.pipeline.review import ReviewOptions
from qa.speech.model import ModelOptions
from qa.speech.transcribe import TranscribeOptions
from qa.store.database import Store

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]

# Six short calls as timed text (fast: no speech model), in the three languages.
_LINES = {
    "zh": ["您好，工号{n}为您服务，请问有什么可以帮您？", "我的宽带第{n}次断了，你们到底管不管！",
           "非常抱歉给您添麻烦了，我马上帮您查。", "已经为您报修，师傅今天下午联系您，还有别的问题吗？",
           "没有了，谢谢。"],
    "es": ["Buenos días, le atiende el agente {n}, ¿en qué puedo ayudarle?",
           "Es la {n} vez que me cortan la línea, ¡estoy harto!",
           "Lamento mucho las molestias, lo reviso ahora mismo.",
           "Ya está abierta la avería, un técnico le llamará esta tarde. ¿Algo más?", "No, gracias."],
    "en": ["Good morning, this is agent {n}, how can I help you?", "My internet dropped {n} times today!",
           "I am really sorry about that, let me check right away.",
           "I have opened a repair ticket; a technician will call you this afternoon. Anything else?",
           "No, thank you."],
}
CALL_LANGUAGES = ("zh", "es", "en", "zh", "es", "en")


def timed_text(call_id: str, language: str, n: int) -> str:
    roles = ("agent", "customer", "agent", "agent", "customer")
    lines = [f"# language: {language}", f"# call_id: {call_id}", f"# agent_id: agent-{n % 3}", "# team: north"]
    for i, (role, text) in enumerate(zip(roles, _LINES[language])):
        lines.append(f"{i * 5}.0 {i * 5 + 4}.0 {role} {text.format(n=n)}")
    return "\n".join(lines) + "\n"


def backdate(path: Path, age: float = 3600) -> Path:
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def make_calls(root: Path, count: int = 6, start: int = 0) -> dict[str, Path]:
    """``count`` timed-text calls in day folders of ``root``; returns call_id -> path."""
    made = {}
    for n in range(start, start + count):
        call_id = f"call-{n:04d}"
        path = root / f"day{n % 2}" / f"{call_id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(timed_text(call_id, CALL_LANGUAGES[n % len(CALL_LANGUAGES)], n), encoding="utf-8")
        made[call_id] = backdate(path)
    return made


def add_corrupt(root: Path) -> dict[str, str]:
    """Recordings that cannot be reviewed: name -> the error class expected for it."""
    bad = root / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    (bad / "noise.wav").write_bytes(os.urandom(20_000))
    (bad / "empty.mp3").write_bytes(b"")
    full = (DATA / "zh" / "paddlespeech_zh.wav").read_bytes()
    (bad / "truncated.wav").write_bytes(full[: len(full) * 2 // 5])
    for p in bad.iterdir():
        backdate(p)
    return {"bad/noise.wav": "NotAudioError", "bad/empty.mp3": "EmptyAudioError",
            "bad/truncated.wav": "TruncatedAudioError"}


def run_night(store: Store, root: Path, options: ReviewOptions | None = None) -> dict:
    """A night without Prefect: the same library calls the flow makes, one job after another."""
    started = time.perf_counter()
    plan = nightly.plan_night(store, root)
    outcomes = [nightly.review_job(store, job, options, plan.run_id) for job in plan.jobs]
    return nightly.finish_night(store, plan, outcomes, time.perf_counter() - started)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'callqa.db'}")
    yield s
    s.close()


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def test_good_calls_are_reviewed_and_bad_files_quarantined_with_reasons(store, archive_dir) -> None:
    calls = make_calls(archive_dir)
    expected_bad = add_corrupt(archive_dir)
    summary = run_night(store, archive_dir)
    c = summary["counts"]
    assert (c["reviewed"], c["quarantined"], c["failed"], c["errors"]) == (6, 3, 3, 0)
    assert store.row_counts()["calls"] == 6
    assert set(nightly.stored_call_ids(store)) == set(calls)
    quarantined = {Path(e.path).relative_to(archive_dir).as_posix(): e for e in store.quarantined()}
    assert {k: e.error_class for k, e in quarantined.items()} == expected_bad
    assert "cut short" in quarantined["bad/truncated.wav"].reason
    assert summary["final_line"].startswith("nightly review: 6 reviewed, 0 skipped, 3 failed")
    run = store.get_run(summary["run_id"])
    assert run.finished_at is not None and run.counts["reviewed"] == 6
    assert len(summary["slowest"]) == 5 and summary["weakest_items"]


def test_second_night_reviews_nothing_and_hashes_nothing(store, archive_dir) -> None:
    make_calls(archive_dir)
    add_corrupt(archive_dir)
    run_night(store, archive_dir)
    again = run_night(store, archive_dir)["counts"]
    assert (again["jobs"], again["reviewed"], again["rehashed"]) == (0, 0, 0)
    # Quarantined files are counted as such on later nights, not as "skipped".
    assert (again["already_reviewed"], again["quarantined_before"], again["skipped"]) == (6, 3, 6)
    assert (again["still_quarantined"], again["quarantined"]) == (3, 0)
    assert [e.attempts for e in store.quarantined()] == [1, 1, 1]


def test_renamed_or_moved_file_is_not_reviewed_again(store, archive_dir) -> None:
    calls = make_calls(archive_dir)
    run_night(store, archive_dir)
    (archive_dir / "moved" / "deep").mkdir(parents=True)
    shutil.move(calls["call-0001"], archive_dir / "moved" / "deep" / "renamed.txt")
    shutil.copy2(calls["call-0002"], archive_dir / "copy-of-0002.txt")
    counts = run_night(store, archive_dir)["counts"]
    assert (counts["reviewed"], counts["already_reviewed"]) == (0, 7)
    assert store.row_counts()["calls"] == 6


def test_changed_file_is_reviewed_again_under_its_call_id(store, archive_dir) -> None:
    calls = make_calls(archive_dir)
    run_night(store, archive_dir)
    before = store.load_transcript("call-0002").utterances[1].text
    path = calls["call-0002"]
    text = path.read_text(encoding="utf-8")
    assert "My internet dropped" in text
    path.write_text(text.replace("My internet dropped", "My phone died"), encoding="utf-8")
    backdate(path, 1800)
    counts = run_night(store, archive_dir)["counts"]
    assert (counts["reviewed"], counts["rehashed"]) == (1, 1)
    assert store.row_counts()["calls"] == 6
    after = store.load_transcript("call-0002").utterances[1].text
    assert "phone died" in after and after != before


def test_quarantined_file_is_retried_only_when_changed_or_released(store, archive_dir) -> None:
    make_calls(archive_dir, 1)
    add_corrupt(archive_dir)
    run_night(store, archive_dir)
    assert run_night(store, archive_dir)["counts"]["jobs"] == 0

    noise = archive_dir / "bad" / "noise.wav"
    noise.write_bytes(os.urandom(20_000))  # changed (still bad): a new hash, tried again
    backdate(noise, 1800)
    counts = run_night(store, archive_dir)["counts"]
    assert (counts["jobs"], counts["quarantined"]) == (1, 1)

    entry = next(e for e in store.quarantined() if e.path.endswith("empty.mp3"))
    assert store.release_quarantine(sha256=entry.sha256) == 1
    counts = run_night(store, archive_dir)["counts"]
    assert (counts["jobs"], counts["quarantined"]) == (1, 1)
    assert next(e for e in store.quarantined() if e.path.endswith("empty.mp3")).attempts == 1


def test_two_files_claiming_one_call_id_are_not_merged(store, archive_dir) -> None:
    """Day folders often reuse names: the second 0001 must not overwrite the first call."""
    for day in ("2024-05-01", "2024-05-02"):
        path = archive_dir / day / "0001.txt"
        path.parent.mkdir(parents=True)
        path.write_text(timed_text("x", "en", int(day[-1])).replace("# call_id: x\n", ""), encoding="utf-8")
        backdate(path)
    summary = run_night(store, archive_dir)
    assert summary["counts"]["reviewed"] == 1 and summary["counts"]["quarantined"] == 1
    (entry,) = store.quarantined()
    assert "already stored for another file" in entry.reason and entry.error_class == "CallIdTaken"
    assert "2024-05-01/0001.txt" in entry.reason and "2024-05-02/0001.txt" in entry.reason


def test_missing_speech_model_fails_the_call_without_quarantining_it(store, archive_dir, tmp_path) -> None:
    archive_dir.mkdir()
    backdate(Path(shutil.copy(DATA / "en" / "jfk.flac", archive_dir / "jfk.flac")))
    no_model = tmp_path / "not-a-model"
    no_model.mkdir()
    options = ReviewOptions(transcribe=TranscribeOptions(model=ModelOptions(model=str(no_model))))
    summary = run_night(store, archive_dir, options)
    assert (summary["counts"]["errors"], summary["counts"]["quarantined"]) == (1, 0)
    assert summary["failures"][0]["error"] == "ModelError"
    assert store.quarantined() == []
    assert run_night(store, archive_dir, options)["counts"]["jobs"] == 1  # tried again next night


def test_unreachable_database_is_raised_as_transient_for_a_retry(tmp_path, archive_dir) -> None:
    make_calls(archive_dir, 1)
    (job,) = nightly.plan_night(Store.open(f"sqlite:///{tmp_path / 'ok.db'}"), archive_dir).jobs
    gone = Store(sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'callqa.db'}"))
    with pytest.raises(nightly.TransientFailure, match="retried") as caught:
        nightly.review_job(gone, job)
    assert nightly.is_transient(caught.value.__cause__)


def test_settling_files_are_counted_as_skipped(store, archive_dir) -> None:
    make_calls(archive_dir, 2)
    (archive_dir / "day0" / "call-0009.txt.part").write_text("partial", encoding="utf-8")
    summary = run_night(store, archive_dir)
    assert (summary["counts"]["settling"], summary["counts"]["skipped"]) == (1, 1)
    assert load_settings().settle_seconds > 0


def test_rescore_all_keeps_old_scores_and_disputes(store, archive_dir, tmp_path) -> None:
    make_calls(archive_dir, 3)
    run_night(store, archive_dir)
    card = store.load_scorecard("call-0000")
    item = card.items[0].id
    store.add_dispute("call-0000", item, "pass", note="heard it myself", reviewer="qa-lead")
    new_rubric = tmp_path / "rubric-v2.yaml"
    text = (REPO / "rubrics" / "default.yaml").read_text(encoding="utf-8")
    shipped = int(re.search(r"^version: (\d+)$", text, re.MULTILINE).group(1))
    new_rubric.write_text(text.replace(f"\nversion: {shipped}\n", f"\nversion: {shipped + 1}\n", 1),
                          encoding="utf-8")

    assert nightly.rescore_all(store, new_rubric) == 3
    versions = store.score_versions("call-0000")
    assert [v.startswith(f"v{shipped}-") for v, _ in versions] == [True, False]
    assert [current for _, current in versions] == [False, True]
    assert store.load_scorecard("call-0000").rubric_version.startswith(f"v{shipped + 1}-")
    assert [d.note for d in store.disputes("call-0000")] == ["heard it myself"]
    assert store.row_counts()["utterances"] == 15  # transcripts untouched: nothing transcribed again
