"""The Prefect flows end to end: real store, real review pipeline, one temporary Prefect API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.store.database import Store
from tests.prefect_harness import prefect_api  # noqa: F401  - fixture
from tests.test_nightly import DATA, add_corrupt, backdate, make_calls

REPO = Path(__file__).resolve().parents[1]


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'callqa.db'}"


def _task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


@pytest.mark.slow
def test_nightly_flow_reviews_each_new_call_once_and_quarantines_bad_files(prefect_api, tmp_path) -> None:
    from prefect.artifacts import Artifact

    from flows.review import nightly_review

    root = tmp_path / "archive"
    calls = make_calls(root)
    bad = add_corrupt(root)
    backdate(Path(shutil.copy(DATA / "en" / "jfk.flac", root / "day0" / "jfk.flac")))  # the real model, once
    url, reports = _sqlite(tmp_path), tmp_path / "reports"

    summary = nightly_review(str(root), url, str(reports))
    c = summary["counts"]
    assert (c["reviewed"], c["quarantined"], c["errors"], c["skipped"]) == (7, 3, 0, 0), summary["failures"]
    store = Store.open(url)
    assert store.row_counts()["calls"] == 7
    assert {Path(e.path).relative_to(root).as_posix(): e.error_class for e in store.quarantined()} == bad
    assert store.load_transcript("jfk").source["codec"] == "flac"
    assert (reports / f"nightly-{summary['run_id']}.md").is_file()
    assert {p.name for p in reports.glob("*.scorecard.json")} == {f"{k}.scorecard.json" for k in [*calls, "jfk"]}
    artifact = Artifact.get("nightly-review-summary")
    assert artifact is not None and summary["final_line"] in artifact.data

    started = time.perf_counter()
    again = nightly_review(str(root), url, str(reports))["counts"]
    assert (again["reviewed"], again["jobs"], again["already_reviewed"], again["quarantined_before"]) == (0, 0, 7, 3)
    assert time.perf_counter() - started < 15
    assert store.row_counts()["calls"] == 7


def test_review_call_flow_stores_one_scorecard(prefect_api, tmp_path) -> None:
    from flows.review import review_call

    (path,) = make_calls(tmp_path / "in", 1).values()
    result = review_call(str(path), _sqlite(tmp_path))
    assert result["status"] == "reviewed" and result["call_id"] == "call-0000"
    assert Store.open(_sqlite(tmp_path)).load_scorecard("call-0000").items


def test_killed_run_resumes_with_every_call_reviewed_exactly_once(prefect_api, tmp_path) -> None:
    """SIGKILL the nightly run part way, add a dispute, run again: nothing duplicated, lost or touched."""
    root, url = tmp_path / "archive", _sqlite(tmp_path)
    calls = make_calls(root, 60)
    store = Store.open(url)
    script = ("import sys; from flows.review import nightly_review; "
              "nightly_review(sys.argv[1], sys.argv[2], concurrency=1)")
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen([sys.executable, "-c", script, str(root), url], env=env, cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while store.row_counts()["calls"] < 5:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the nightly run stored nothing within 90 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and anything it started, like a power cut
        proc.wait()
    stored = store.row_counts()["calls"]
    assert 5 <= stored < 60, "the run must be killed part way"

    first = sorted(store.scores_frame(), key=lambda r: r["call_id"])[0]["call_id"]
    item = store.load_scorecard(first).items[0].id
    store.add_dispute(first, item, "pass", note="kept through the re-run", reviewer="qa")

    from flows.review import nightly_review

    summary = nightly_review(str(root), url)
    counts = store.row_counts()
    assert summary["counts"]["reviewed"] + summary["counts"]["already_reviewed"] == 60
    assert summary["counts"]["already_reviewed"] >= stored
    assert (counts["calls"], counts["scores"]) == (60, 60)
    assert {r["call_id"] for r in store.scores_frame()} == set(calls)
    assert [(d.call_id, d.note) for d in store.disputes()] == [(first, "kept through the re-run")]
    assert counts["utterances"] == 60 * 5


@pytest.mark.postgres
def test_nightly_flow_runs_against_postgresql(prefect_api, fresh_pg_url, tmp_path) -> None:
    from flows.review import nightly_review

    root = tmp_path / "archive"
    make_calls(root, 4)
    add_corrupt(root)
    summary = nightly_review(str(root), fresh_pg_url, concurrency=2)
    assert (summary["counts"]["reviewed"], summary["counts"]["quarantined"]) == (4, 3)
    assert nightly_review(str(root), fresh_pg_url)["counts"]["jobs"] == 0
    store = Store.open(fresh_pg_url)
    assert store.row_counts()["calls"] == 4 and len(store.quarantined()) == 3


@pytest.mark.slow
def test_dask_workers_report_to_this_runs_prefect_api(prefect_api, tmp_path) -> None:
    """Slow (about a minute): starts a local two-process Dask cluster, each worker importing callqa.

    Without a Prefect server each worker would start its own temporary API (23 s
    each) and its task runs would be lost to this run; the flow points them at
    this process's API instead.
    """
    from flows.review import nightly_review

    root, url = tmp_path / "archive", _sqlite(tmp_path)
    make_calls(root, 4)
    add_corrupt(root)
    state = nightly_review(str(root), url, concurrency=2, task_runner="dask", return_state=True)
    summary = state.result()
    assert (summary["counts"]["reviewed"], summary["counts"]["quarantined"]) == (4, 3)
    reviews = [t for t in _task_runs(state.state_details.flow_run_id) if t.name.startswith("review ")]
    assert len(reviews) == 7 and all(t.state.is_completed() for t in reviews)
    assert Store.open(url).row_counts()["calls"] == 4


def test_prefect_retries_transient_failures_but_never_a_bad_file() -> None:
    from prefect.states import Failed

    from flows.review import _only_transient, review_task
    from qa.errors import NotAudioError
    from qa.pipeline.nightly import TransientFailure

    assert review_task.retries == 2 and review_task.retry_delay_seconds == [2.0, 10.0]
    assert _only_transient(review_task, None, Failed(data=TransientFailure("database is locked")))
    assert _only_transient(review_task, None, Failed(data=MemoryError()))
    assert not _only_transient(review_task, None, Failed(data=NotAudioError("noise.wav: not audio")))
    assert not _only_transient(review_task, None, Failed(data=KeyError("a bug")))


def test_deployment_runs_nightly_at_two_one_night_at_a_time(tmp_path) -> None:
    from flows.deploy import build_deployment, parse_args

    deployment = build_deployment(parse_args([str(tmp_path), "--store", "postgresql://qa@db/callqa", "--dask"]))
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *"
    assert deployment.concurrency_limit == 1
    assert deployment.parameters["archive"] == str(tmp_path)
    assert deployment.parameters["task_runner"] == "dask"
    shanghai = build_deployment(parse_args([str(tmp_path), "--cron", "30 1 * * *", "--timezone", "Asia/Shanghai"]))
    assert (shanghai.schedules[0].schedule.cron, shanghai.schedules[0].schedule.timezone) == ("30 1 * * *",
                                                                                                "Asia/Shanghai")


def test_run_nightly_prints_the_final_line_for_the_command_line(prefect_api, tmp_path, capsys) -> None:
    from flows.review import run_nightly

    make_calls(tmp_path / "archive", 2)
    summary = run_nightly(tmp_path / "archive", _sqlite(tmp_path), tmp_path / "reports", concurrency=2)
    assert summary["counts"]["reviewed"] == 2
    assert "nightly review: 2 reviewed, 0 skipped, 0 failed" in capsys.readouterr().err
    assert (tmp_path / "reports" / f"nightly-{summary['run_id']}.json").is_file()
