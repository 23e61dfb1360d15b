"""What Prefect keeps of a night: one masked line per failure, nothing of a call's content (issue 12, items 1 and 6).

``callqa nightly`` runs as a separate process reporting to the session's
temporary Prefect API, so its stderr is exactly what cron mails, and the
API's database is read back afterwards: flow and task run names, states,
logs and artifacts. Transcripts only: no speech model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prefect_harness import prefect_api  # noqa: F401  - fixture
from tests.test_nightly import backdate, timed_text

REPO = Path(__file__).resolve().parents[1]
PHONE = "13812345678"
CARD = "4111111111111111"

#: ``callqa nightly`` with the night's summary failing part way (after every call was reviewed and stored),
#: by a bug whose message quotes a file name made of a phone number.
_FAIL_PART_WAY = f"""
import sys
import qa.pipeline.nightly as nightly
def broken(*args, **kwargs):
    raise RuntimeError("could not sum up {PHONE}.txt")
nightly.finish_night = broken
from flows.cli import app
sys.argv = ["callqa", *sys.argv[1:]]
app()
"""


def _night(prefect_url: str, *args: str, fail_part_way: bool = False) -> subprocess.CompletedProcess:
    code = _FAIL_PART_WAY if fail_part_way else "import sys; from flows.cli import app; sys.argv[0] = 'callqa'; app()"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": prefect_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", code, "nightly", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO, env=env, check=False)


def _call_with_personal_data(call_id_line: str = "") -> str:
    lines = timed_text("unused", "en", 3).splitlines()[4:]
    lines.append(f"30.0 33.0 customer my number is {PHONE} and my card {CARD}")
    return "\n".join(["# language: en", *([call_id_line] if call_id_line else []), *lines]) + "\n"


def _what_prefect_keeps(archive: Path) -> tuple[list, list, list, list]:
    """(flow runs, task runs, logs, artifacts) of every run over ``archive``, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs(limit=200) if r.parameters.get("archive") == str(archive)]
        ids = [r.id for r in runs]
        by_run = FlowRunFilter(id=FlowRunFilterId(any_=ids))
        tasks = client.read_task_runs(flow_run_filter=by_run, limit=200)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), limit=200)
        artifacts = client.read_artifacts(flow_run_filter=by_run, limit=200)
    return runs, tasks, logs, artifacts


def test_prefect_and_cron_see_one_masked_line_per_failure_and_nothing_of_a_calls_content(prefect_api, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / f"{PHONE}.txt").write_text(_call_with_personal_data(), encoding="utf-8")
    (archive / "bad.txt").write_text(f"# language: en\n0 2 agent hello\n0 1 card:{CARD},tel:{PHONE}\n",
                                     encoding="utf-8")
    for p in archive.iterdir():
        backdate(p)
    store = f"sqlite:///{tmp_path / 'callqa.db'}"

    first = _night(prefect_api, str(archive), "--store", store, "--reports", str(tmp_path / "reports"))
    assert first.returncode == 3, first.stderr[-3000:]  # 3: a file was quarantined tonight
    assert "1 reviewed" in first.stderr and "1 quarantined" in first.stderr

    (archive / "second.txt").write_text(_call_with_personal_data("# call_id: second"), encoding="utf-8")
    backdate(archive / "second.txt")
    second = _night(prefect_api, str(archive), "--store", store, fail_part_way=True)
    assert second.returncode == 1, second.stderr[-3000:]
    last = second.stderr.strip().splitlines()[-1] if "Stopping temporary" not in second.stderr else ""
    error_lines = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "[E650]" in error_lines[0] and "(at " in error_lines[0], second.stderr[-3000:]
    assert "RuntimeError: could not sum up [PHONE" in error_lines[0] and last == error_lines[0]
    for run in (first, second):
        assert "Traceback" not in run.stderr and PHONE not in run.stderr and CARD not in run.stderr, run.stderr

    runs, tasks, logs, artifacts = _what_prefect_keeps(archive)
    assert sorted(r.state.type.value for r in runs) == ["COMPLETED", "FAILED"]
    failed = next(r for r in runs if r.state.is_failed())
    assert "E650" in failed.state.message and "[PHONE" in failed.state.message
    assert any("••••5678" in t.name for t in tasks)  # the review task is named after the masked file
    assert any("Traceback" not in m.message and "E650" in m.message for m in logs)
    assert {a.key for a in artifacts} >= {"nightly-review-summary", "nightly-review-calls"}
    kept = json.dumps({
        "flow_runs": [[r.name, r.state.message, r.parameters] for r in runs],
        "task_runs": [[t.name, t.state.message if t.state else None] for t in tasks],
        "logs": [m.message for m in logs],
        "artifacts": [[a.key, a.description, a.data] for a in artifacts],
    }, default=str, ensure_ascii=False)
    assert len(logs) >= 8 and "quarantined" in kept
    for secret in (PHONE, CARD, "Traceback"):
        assert secret not in kept, kept[max(0, kept.find(secret) - 400): kept.find(secret) + 100]
    assert "my number is" not in kept  # no utterance text at all


def test_a_task_failure_becomes_one_masked_coded_line_and_transient_errors_stay_retryable():
    from flows.review import _masked_failures, _only_transient
    from qa.errors import NightRunError, OutputError, TransientFailure

    @_masked_failures
    def night_step(exc):
        raise exc

    @_masked_failures(stops_night=False)
    def call_step(exc):
        raise exc

    with pytest.raises(NightRunError) as stopped:
        night_step(KeyError(f"{PHONE}.txt"))
    text = str(stopped.value)
    assert text.startswith("[E650] the nightly run stopped part way: KeyError:") and "(at test_nightly_prefect.py:" in text
    assert PHONE not in text and "\n" not in text and stopped.value.__cause__ is None
    with pytest.raises(NightRunError) as one_call:
        call_step(ValueError(f"card {CARD}"))
    assert "stopped part way" not in str(one_call.value) and CARD not in str(one_call.value)
    with pytest.raises(TransientFailure) as busy:
        call_step(ConnectionError(f"database at {PHONE} busy"))
    assert PHONE not in str(busy.value)

    class _State:
        def __init__(self, exc):
            self.data = exc
    assert _only_transient(None, None, _State(busy.value)) and not _only_transient(None, None, _State(one_call.value))
    coded = OutputError("disk full")
    with pytest.raises(OutputError) as kept:
        call_step(coded)
    assert kept.value is coded  # callqa's own errors pass unchanged


@pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted to send logs")
def test_prefect_run_loggers_drop_the_traceback_and_mask_the_message():
    import logging

    from flows.review import RUN_LOGGERS, OneLineErrors

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append((self.format(record), record.exc_info))

    logger = logging.getLogger(RUN_LOGGERS[1])
    assert any(isinstance(f, OneLineErrors) for f in logger.filters)
    handler = Keep()
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"line was: tel {PHONE}")
        except RuntimeError:
            logger.exception("Task run failed with %s", f"{CARD}")
    finally:
        logger.removeHandler(handler)
    (text, exc_info), = records
    assert exc_info is None and "Traceback" not in text and "\n" not in text
    assert PHONE not in text and CARD not in text and "(at test_nightly_prefect.py:" in text
