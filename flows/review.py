"""Prefect flows: ``review_call`` (one file) and ``nightly_review`` (a whole archive).

Thin wiring only: what a night does is ``qa.pipeline.nightly``; here we decide where
tasks run (threads or Dask processes), how many at once, which failures
Prefect retries, and we publish the summary as artifacts and logs.

Caching: Prefect's result cache is off (``NO_CACHE``, no persisted results).
The store's content-hash index is the cache: a call is skipped when its
SHA-256 was reviewed, and results (which hold transcripts, i.e. personal
data) are not copied into Prefect's own storage.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

import flows  # noqa: F401  - Prefect environment defaults, before Prefect is imported
from qa.pipeline import archive as qa_archive
from qa.pipeline import nightly
from qa.errors import CallqaError, NightRunError
from qa.pipeline.ingest import is_transcript_file
from qa.privacy.callid import mask_text

SETTINGS = nightly.load_settings()


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def one_line(exc: BaseException) -> str:
    """An error as one masked line: callqa's own message, or the type, message and place of anything else."""
    if isinstance(exc, CallqaError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc} (at {_where(exc)})"
    return mask_text(" ".join(text.split()), personal_only=True)


class OneLineErrors(logging.Filter):
    """Prefect's run loggers write an exception as one masked line, never a traceback.

    Tracebacks go to the terminal, cron mail and Prefect's database (the API
    log handler), and their exception messages and chained causes can quote
    a call's content; the place in the code is kept, as ``(at file:line)``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if exc is not None and not isinstance(exc, CallqaError) and "(at " not in message:
            message += f" (at {_where(exc)})"
        record.msg, record.args = mask_text(message, personal_only=True), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


#: The loggers Prefect writes flow and task runs (and their failures) to.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
for _name in RUN_LOGGERS:
    if not any(isinstance(f, OneLineErrors) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(OneLineErrors())


def night_stopped(exc: BaseException) -> NightRunError:
    """E650 for a bug that stopped the night part way, as one masked line."""
    return NightRunError(f"the nightly run stopped part way: {one_line(exc)}; calls already stored stay stored, "
                         f"the next night carries on")


def _masked_failures(fn=None, *, stops_night: bool = True):
    """A task's failure as a callqa error with one masked line, so Prefect's state message quotes nothing raw.

    Prefect writes ``Task run encountered an exception <type>: <message>`` into
    the task run's state (its database); a bug whose message quotes a file
    name or a line would land there unmasked. Errors that may pass stay
    retryable (``TransientFailure``); anything else is ``NightRunError``
    (for one call's task, whose failure the night records and carries past,
    without saying the night stopped).
    """
    if fn is None:
        return functools.partial(_masked_failures, stops_night=stops_night)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CallqaError:
            raise
        except Exception as exc:
            if nightly.is_transient(exc):
                raise nightly.TransientFailure(one_line(exc)) from None
            raise (night_stopped(exc) if stops_night else NightRunError(one_line(exc))) from None

    return wrapper


def _only_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed task only when its error may pass (database busy, out of memory); never a bad file."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(exc, nightly.TransientFailure) or (isinstance(exc, BaseException) and nightly.is_transient(exc))


_TASK = dict(retries=len(SETTINGS.retry_delays), retry_delay_seconds=list(SETTINGS.retry_delays),
             retry_condition_fn=_only_transient, cache_policy=NO_CACHE, persist_result=False)


@task(name="plan-night", **_TASK)
@_masked_failures
def plan_task(archive_dir: str, store_url: str | None, settle_seconds: float | None) -> nightly.Plan:
    settings = qa_archive.load_settings(settle_seconds=settle_seconds)
    plan = nightly.plan_night(nightly.open_store(store_url), archive_dir, settings)
    get_run_logger().info("run %s: %s new of %s call files (%s already reviewed, %s quarantined, %s settling)",
                          plan.run_id, plan.counts["jobs"], plan.counts["found"], plan.counts["already_reviewed"],
                          plan.counts["quarantined_before"], plan.counts["settling"],
                          extra={"run_id": plan.run_id, **plan.counts})
    return plan


@task(name="review-call", task_run_name="review {job.shown}", **_TASK)
@_masked_failures(stops_night=False)
def review_task(job: nightly.Job, store_url: str | None, model_threads: int | None, run_id: int | None,
                reports_dir: str | None, model_workers: int | None = None) -> nightly.Outcome:
    outcome = nightly.review_job(nightly.open_store(store_url), job, nightly.review_options(model_threads, model_workers),
                                 run_id, Path(reports_dir) if reports_dir else None)
    fields = {"call_id": outcome.call_id, "path": outcome.path, "seconds": outcome.seconds, "status": outcome.status,
              "audio_seconds": outcome.audio_seconds, "score": outcome.score, "error": outcome.error_class}
    logger = get_run_logger()
    if outcome.status == "reviewed":
        logger.info("reviewed call_id=%s path=%s seconds=%.2f audio_seconds=%.1f score=%s", outcome.call_id,
                    outcome.rel, outcome.seconds, outcome.audio_seconds, outcome.score, extra=fields)
    else:
        logger.warning("%s path=%s seconds=%.2f: %s", outcome.status, outcome.rel, outcome.seconds, outcome.reason,
                       extra=fields)
    return outcome


@task(name="finish-night", **_TASK)
@_masked_failures
def finish_task(store_url: str | None, plan: nightly.Plan, outcomes: list[nightly.Outcome], wall_seconds: float,
                reports_dir: str | None) -> dict[str, Any]:
    return nightly.finish_night(nightly.open_store(store_url), plan, outcomes, wall_seconds,
                                Path(reports_dir) if reports_dir else None)


def make_task_runner(kind: str, concurrency: int, dask_address: str | None = None):
    """Threads in this process (one shared speech model), or Dask worker processes (one model each)."""
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=concurrency)
    if kind != "dask":
        raise ValueError(f"task_runner must be 'threads' or 'dask', not {kind!r}")
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # Workers talk to this run's Prefect API. Without a server configured that is
    # the temporary one this process started; otherwise every worker process would
    # start its own temporary server (23 s each) and report to it instead.
    api_url = str(get_run_context().client.api_url)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": concurrency, "threads_per_worker": 1, "processes": True,
        "env": {"PREFECT_API_URL": api_url}, "dashboard_address": None,
    })


def _model_threads(kind: str, concurrency: int, model_threads: int | None) -> int | None:
    """Dask workers each load a model: share the cores between them. Threads share one model."""
    if model_threads is not None or kind != "dask":
        return model_threads
    import os

    return max(1, (os.cpu_count() or 1) // concurrency)


def _review_all(runner, jobs: list[nightly.Job], parameters: dict[str, Any], show_progress: bool):
    outcomes: list[nightly.Outcome] = []
    with runner, _progress_bar(show_progress, len(jobs)) as advance:
        futures = {runner.submit(review_task, {"job": job, **parameters}): job for job in jobs}
        for future in as_completed(list(futures)):
            future.wait()
            state = future.state
            if state.is_completed():
                outcomes.append(future.result())
            else:  # retries ran out, or the worker died: not quarantined, tried again next night
                exc = state.data if isinstance(state.data, BaseException) else None
                outcomes.append(nightly.failed_outcome(futures[future], exc))
            advance(outcomes[-1])
    return outcomes


class _progress_bar:
    """A rich progress bar on stderr for people watching; nothing for cron."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.bar = enabled, total, None

    def __enter__(self):
        if not self.enabled:
            return lambda outcome: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("reviewing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[last]}"), console=Console(stderr=True))
        self.bar.start()
        task_id = self.bar.add_task("calls", total=self.total, last="")
        return lambda outcome: self.bar.update(task_id, advance=1, last=f"{outcome.status} {outcome.rel}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@flow(name="nightly-review", persist_result=False)
def nightly_review(archive: str, store_url: str | None = None, reports_dir: str | None = None,
                   concurrency: int | None = None, task_runner: str = "threads", model_threads: int | None = None,
                   settle_seconds: float | None = None, dask_address: str | None = None,
                   progress: bool = False) -> dict[str, Any]:
    """Review every new call in ``archive`` (recursively) and store each result; returns the run summary.

    Anything but a callqa error that stops the run part way becomes ``NightRunError``
    (E650): one masked line in the run's state, logs and the command's stderr.
    """
    try:
        return _nightly_review(archive, store_url, reports_dir, concurrency, task_runner, model_threads,
                               settle_seconds, dask_address, progress)
    except CallqaError:
        raise
    except Exception as exc:
        raise night_stopped(exc) from None


def _nightly_review(archive: str, store_url: str | None, reports_dir: str | None, concurrency: int | None,
                    task_runner: str, model_threads: int | None, settle_seconds: float | None,
                    dask_address: str | None, progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    concurrency = concurrency or SETTINGS.concurrency
    plan = plan_task(str(archive), store_url, settle_seconds)
    outcomes: list[nightly.Outcome] = []
    if plan.jobs:
        parameters = {"store_url": store_url, "model_threads": _model_threads(task_runner, concurrency, model_threads),
                      # a Dask worker reviews one call at a time: one decoder worker for its model (two put
                      # four threads on two cores, and each encoder pass in flight holds ~120 MB: 1.1 GB peaks)
                      "model_workers": 1 if task_runner == "dask" else None,
                      "run_id": plan.run_id, "reports_dir": reports_dir}
        outcomes = _review_all(make_task_runner(task_runner, concurrency, dask_address), plan.jobs, parameters,
                               progress)
    summary = finish_task(store_url, plan, outcomes, time.perf_counter() - started, reports_dir)
    create_markdown_artifact(markdown=nightly.summary_markdown(summary), key="nightly-review-summary",
                             description=summary["final_line"])
    if outcomes:
        create_table_artifact(table=nightly.outcome_rows(outcomes), key="nightly-review-calls",
                              description=f"run {plan.run_id}: every file tried tonight")
    get_run_logger().info(summary["final_line"], extra={"run_id": plan.run_id, **summary["counts"]})
    return summary


@flow(name="review-call", persist_result=False)
def review_call(path: str, store_url: str | None = None, reports_dir: str | None = None,
                model_threads: int | None = None) -> dict[str, Any]:
    """Review one recording or transcript and store its scorecard; returns what happened to it."""
    from dataclasses import asdict

    from qa.speech.audio import file_sha256

    file = Path(path).expanduser().resolve()
    job = nightly.Job(str(file), file.name, "transcript" if is_transcript_file(file) else "audio",
                      file_sha256(file), file.stat().st_size)
    return asdict(review_task(job, store_url, model_threads, None, reports_dir))


def run_nightly(archive: str | Path, store_url: str | None = None, reports_dir: str | Path | None = None,
                concurrency: int | None = None, use_dask: bool = False, progress: bool = True) -> dict[str, Any]:
    """What ``callqa nightly`` calls: run the nightly flow in this process and return its summary.

    The progress bar is shown only when stderr is a terminal (not under cron).
    The archive and the store are checked before the flow starts, so a missing
    folder or an unreachable database is one coded error, not a failed flow's
    tracebacks.
    """
    from qa.errors import ArchiveError, OutputError

    root = Path(archive).expanduser()
    if not root.is_dir():
        raise ArchiveError(f"{root}: no such folder; pass the archive directory that holds the recordings")
    nightly.open_store(store_url)
    if reports_dir is not None:
        try:
            Path(reports_dir).expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--reports {reports_dir}: cannot be used as the reports folder "
                              f"({exc.strerror or exc})") from None
    summary = nightly_review(str(Path(archive).expanduser()), store_url,
                             str(reports_dir) if reports_dir is not None else None, concurrency,
                             "dask" if use_dask else "threads", progress=progress and sys.stderr.isatty())
    print(summary["final_line"], file=sys.stderr)
    return summary
