"""The nightly review as plain functions: plan the night, review one job, sum up the run.

The Prefect flows (``flows/review.py``) only call these and decide retries and
concurrency; everything about *what* a night does lives here, so it can be
tested and run without Prefect.

A night never reviews content twice (the store's SHA-256 index decides) and
one bad file never stops it. Each failure is classified once, here:

* the file's fault (undecodable, empty, truncated, silent, malformed transcript
  or metadata, unsupported language): quarantined with the reason, and not
  tried again until the file changes or ``Store.release_quarantine``;
* transient (database locked or unreachable, out of memory): raised as
  ``TransientFailure`` so the caller retries it;
* our fault (a bug, a missing model): reported as failed and tried again on
  the next night, since the file itself may be fine.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from qa.common.settings import Settings, shipped
from qa.common.settings import load_settings as load_yaml_settings
from qa.errors import (
    AudioError,
    CallIdTaken,
    ConfigError,
    DuplicateContent,
    MetadataError,
    OutsideArchiveError,
    StoreUnavailable,
    TranscriptFormatError,
    TransientFailure,
    UnsupportedLanguageError,
)
from qa.pipeline import archive
from qa.pipeline.review import Outputs, ReviewOptions, review_and_store
from qa.privacy.callid import mask_text
from qa.speech.model import ModelOptions
from qa.speech.transcribe import TranscribeOptions
from qa.store.database import Store

SETTINGS_FILE = shipped("nightly.yaml")

#: Failures that are the file's own: quarantine, do not retry.
QUARANTINE_ERRORS: tuple[type[BaseException], ...] = (
    AudioError, TranscriptFormatError, MetadataError, UnsupportedLanguageError, PermissionError, UnicodeError,
    CallIdTaken, OutsideArchiveError,
)

#: ``callqa nightly`` exit codes (README, "Running every night"): every file reviewed or skipped ...
EXIT_OK = 0
#: ... the run itself failed (archive, store or settings; one line on stderr) ...
EXIT_RUN_FAILED = 1
#: ... some files were quarantined tonight (their reasons are in the night's summary) ...
EXIT_QUARANTINED = 3
#: ... some files failed for a reason that is not theirs (a bug, a missing model): tried again next night.
EXIT_CALLS_FAILED = 4

__all__ = ["EXIT_CALLS_FAILED", "EXIT_OK", "EXIT_QUARANTINED", "EXIT_RUN_FAILED", "TransientFailure"]


@dataclass(frozen=True)
class NightlySettings:
    concurrency: int
    model_threads: int
    retry_delays: tuple[float, ...]
    slowest_calls: int
    weakest_items: int


class _NightlyFile(Settings):
    """``qa/data/nightly.yaml``."""

    concurrency: int = Field(ge=1, le=256)
    model_threads: int = Field(ge=0, le=256)
    retry_delays: list[float] = Field(max_length=20)
    slowest_calls: int = Field(ge=0, le=10_000)
    weakest_items: int = Field(ge=0, le=10_000)


@functools.lru_cache(maxsize=4)
def load_settings(path: Path | None = None) -> NightlySettings:
    """Read ``qa/data/nightly.yaml`` (or ``path``) through the one settings loader (file:line in errors)."""
    raw = load_yaml_settings(Path(path) if path is not None else SETTINGS_FILE, _NightlyFile)
    if any(not 0 <= d <= 86_400 for d in raw.retry_delays):
        raise ConfigError(f"{path or SETTINGS_FILE}: retry_delays must be seconds between 0 and 86400")
    return NightlySettings(concurrency=raw.concurrency, model_threads=raw.model_threads,
                           retry_delays=tuple(raw.retry_delays), slowest_calls=raw.slowest_calls,
                           weakest_items=raw.weakest_items)


@functools.lru_cache(maxsize=8)
def open_store(url: str | None = None) -> Store:
    """One store per process and URL: tasks on the same worker share its connection pool."""
    return Store.open(url)


def review_options(model_threads: int | None = None, model_workers: int | None = None) -> ReviewOptions:
    """``model_workers``: pieces the speech model decodes at once (None: ModelOptions' default)."""
    threads = load_settings().model_threads if model_threads is None else model_threads
    model = ModelOptions(threads=threads) if model_workers is None else ModelOptions(threads=threads,
                                                                                     workers=model_workers)
    return ReviewOptions(transcribe=TranscribeOptions(model=model))


# ---------------------------------------------------------------- planning
@dataclass(frozen=True)
class Job:
    """One file to review tonight (``path`` and ``rel`` stay inside callqa; ``shown`` is masked)."""

    path: str
    rel: str
    kind: str  # audio | transcript
    sha256: str
    size: int
    shown: str = ""  # rel with phone/card/ID numbers masked: what logs and Prefect see
    root: str = ""  # the archive: the file is read only inside it (default: the file's folder)

    def __post_init__(self) -> None:
        if not self.shown:
            object.__setattr__(self, "shown", mask_text(self.rel, personal_only=True))
        if not self.root:
            object.__setattr__(self, "root", str(Path(self.path).parent))


@dataclass
class Plan:
    run_id: int
    archive: str
    jobs: list[Job]
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # links not followed, folders not read (masked)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (masked rel, why)


def plan_night(store: Store, archive_dir: Path | str, settings: archive.ArchiveSettings | None = None) -> Plan:
    """Start a run and list tonight's jobs: files whose content was neither reviewed nor quarantined."""
    started = time.perf_counter()
    root = str(Path(archive_dir).expanduser().resolve())
    found = archive.scan(root, settings)
    run_id = store.start_run(root)
    indexed = archive.index(store, found.files, found.root)
    for f, why in indexed.unreadable:
        store.quarantine(f.path, None, mask_text(why), "UnreadableFile", run_id)
    reviewed = store.reviewed_hashes()
    quarantined = {e.sha256 for e in store.quarantined() if e.sha256}
    jobs: list[Job] = []
    seen: set[str] = set()
    counts = Counter(found=len(found.files), settling=len(found.settling), sidecars=found.sidecars,
                     rehashed=indexed.hashed, unreadable=len(indexed.unreadable), links_skipped=found.links_skipped)
    for h in indexed.files:
        if h.sha256 in reviewed:
            counts["already_reviewed"] += 1
        elif h.sha256 in quarantined:
            counts["quarantined_before"] += 1
        elif h.sha256 in seen:
            counts["duplicates"] += 1  # same content twice in the archive: review it once
        else:
            seen.add(h.sha256)
            jobs.append(Job(h.file.path, h.file.rel, h.file.kind, h.sha256, h.file.size, root=found.root))
    counts["jobs"] = len(jobs)
    for key in ("already_reviewed", "quarantined_before", "duplicates"):
        counts.setdefault(key, 0)
    return Plan(run_id, root, jobs, dict(counts),
                {"scan": round(found.seconds, 3), "index": round(indexed.seconds, 3),
                 "plan": round(time.perf_counter() - started, 3)},
                [mask_text(n, personal_only=True) for n in found.notes],
                [(mask_text(f.rel, personal_only=True), mask_text(why)) for f, why in indexed.unreadable])


# ---------------------------------------------------------------- one job
@dataclass
class Outcome:
    """What happened to one job; ``status`` is reviewed, quarantined, failed, duplicate or vanished."""

    status: str
    path: str
    rel: str
    sha256: str
    call_id: str | None = None
    seconds: float = 0.0
    audio_seconds: float = 0.0
    score: float | None = None
    items: dict[str, str] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage (review_file's timings)
    error_class: str | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)  # metadata expected but missing
    pages: list[str] = field(default_factory=list)  # the HTML written to --reports


def is_transient(exc: BaseException) -> bool:
    """Worth retrying in a moment: the database was busy or unreachable, or memory ran out."""
    return isinstance(exc, (MemoryError, ConnectionError, TimeoutError, StoreUnavailable))


def review_job(store: Store, job: Job, options: ReviewOptions | None = None, run_id: int | None = None,
               reports_dir: Path | None = None) -> Outcome:
    """Review one file, write its pages (with ``reports_dir``) and store it; never raises except ``TransientFailure``.

    The same keeping path as ``callqa review`` (``qa.review.review_and_store``):
    the pages appear as one set, the call is stored after them, and a call id
    already held by another existing file is refused and quarantined.
    Everything the outcome says about the file is masked.
    """
    started = time.perf_counter()
    outcome = Outcome("reviewed", mask_text(job.path, personal_only=True), mask_text(job.rel, personal_only=True),
                      job.sha256)
    try:
        outputs = Outputs(Path(reports_dir), transcript=False) if reports_dir is not None else None
        # Read through the file opened once, inside the archive (archive.pinned): no swap for a link counts.
        with archive.pinned(job.path, job.root) as content:
            kept = review_and_store(Path(job.path), options or review_options(), store, outputs, sha256=job.sha256,
                                    content=content)
        transcript, card = kept.review.transcript, kept.review.scorecard
        outcome.call_id = transcript.call_id
        outcome.sha256 = transcript.source.get("sha256") or job.sha256  # audio is hashed again while probed
        # Text imports have a duration but no audio: they do not count as audio hours.
        outcome.audio_seconds = float(transcript.duration or 0.0) if kept.review.audio_path is not None else 0.0
        outcome.score = card.score
        outcome.items = {i.id: i.status for i in card.items}
        outcome.stages = dict(kept.review.timings)
        outcome.warnings = [w for w in card.warnings if w.startswith("metadata missing")]
        outcome.pages = [p.name for p in kept.files if p.suffix == ".html"]
    except DuplicateContent as exc:
        outcome.status, outcome.error_class, outcome.reason = "duplicate", type(exc).__name__, mask_text(str(exc))
    except QUARANTINE_ERRORS as exc:
        if not Path(job.path).exists():
            outcome.status, outcome.reason = "vanished", "the file was removed during the run"
        else:
            entry = store.quarantine(job.path, job.sha256, mask_text(_clip(str(exc))), type(exc).__name__, run_id)
            outcome.status, outcome.error_class = "quarantined", entry.error_class
            outcome.reason = entry.reason
    except Exception as exc:
        if is_transient(exc):
            raise TransientFailure(f"{outcome.rel}: {type(exc).__name__}: {mask_text(str(exc))}; "
                                   f"it will be retried") from exc
        where = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.status, outcome.error_class = "failed", type(exc).__name__
        outcome.reason = (f"{mask_text(_clip(str(exc)))} (at {Path(where.filename).name}:{where.lineno}); "
                          f"tried again next night")
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


def _clip(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


def failed_outcome(job: Job, exc: BaseException | None) -> Outcome:
    """The outcome of a job whose retries ran out (it stays unquarantined: next night tries again)."""
    reason = (f"{mask_text(_clip(str(exc)))}; retries exhausted, tried again next night" if exc
              else "the task did not finish")
    return Outcome("failed", mask_text(job.path, personal_only=True), mask_text(job.rel, personal_only=True),
                   job.sha256, error_class=type(exc).__name__ if exc else "Unknown",
                   reason=reason)


# ---------------------------------------------------------------- the run's summary
def _weakest(outcomes: list[Outcome], limit: int) -> list[dict[str, Any]]:
    """Items failed most often tonight (partial counts half), among calls where they applied."""
    tally: dict[str, Counter] = {}
    for o in outcomes:
        for item, status in o.items.items():
            if status != "n/a":
                tally.setdefault(item, Counter())[status] += 1
    rows = []
    for item, c in tally.items():
        applied = sum(c.values())
        rows.append({"item": item, "applied": applied, "fail": c["fail"], "partial": c["partial"],
                     "weakness": round((c["fail"] + 0.5 * c["partial"]) / applied, 3)})
    rows.sort(key=lambda r: (-r["weakness"], -r["applied"], r["item"]))
    return [r for r in rows if r["weakness"] > 0][:limit]


def summarise(plan: Plan, outcomes: list[Outcome], wall_seconds: float,
              settings: NightlySettings | None = None) -> dict[str, Any]:
    """Counts, failures, slowest calls and weakest items of one night, as plain JSON-able data."""
    settings = settings or load_settings()
    by_status = Counter(o.status for o in outcomes)
    reviewed = [o for o in outcomes if o.status == "reviewed"]
    audio = sum(o.audio_seconds for o in reviewed)
    skipped = (plan.counts["already_reviewed"] + plan.counts["duplicates"]
               + plan.counts["settling"] + by_status["duplicate"] + by_status["vanished"])
    failed = by_status["quarantined"] + by_status["failed"] + plan.counts["unreadable"]
    hours = wall_seconds / 3600 if wall_seconds > 0 else 0.0
    counts = {
        **plan.counts, "reviewed": len(reviewed), "skipped": skipped, "failed": failed,
        "quarantined": by_status["quarantined"] + plan.counts["unreadable"], "errors": by_status["failed"],
        "still_quarantined": plan.counts["quarantined_before"],
        "metadata_warnings": sum(1 for o in reviewed if o.warnings),
        "audio_seconds": round(audio, 1), "wall_seconds": round(wall_seconds, 2),
        "calls_per_hour": round(len(reviewed) / hours, 1) if hours else 0.0,
        "audio_hours_per_wall_hour": round(audio / wall_seconds, 2) if wall_seconds > 0 else 0.0,
    }
    failures = [{"file": o.rel, "status": o.status, "error": o.error_class, "reason": o.reason}
                for o in outcomes if o.status in ("quarantined", "failed")]
    failures += [{"file": rel, "status": "quarantined", "error": "UnreadableFile", "reason": why}
                 for rel, why in plan.unreadable]
    slowest = sorted(reviewed, key=lambda o: -o.seconds)[: settings.slowest_calls]
    return {
        "run_id": plan.run_id, "archive": plan.archive, "counts": counts, "timings": plan.seconds,
        "failures": failures,
        "slowest": [{"call_id": o.call_id, "file": o.rel, "seconds": o.seconds, "audio_seconds": o.audio_seconds,
                     "stages": o.stages} for o in slowest],
        "weakest_items": _weakest(reviewed, settings.weakest_items),
        "metadata_warnings": [{"file": o.rel, "call_id": o.call_id, "warnings": o.warnings}
                              for o in reviewed if o.warnings],
        "scan_notes": list(plan.notes),
        "final_line": final_line(counts),
    }


def final_line(counts: dict[str, Any]) -> str:
    return (f"nightly review: {counts['reviewed']} reviewed, {counts['skipped']} skipped, "
            f"{counts['failed']} failed ({counts['quarantined']} quarantined tonight), "
            f"{counts.get('still_quarantined', 0)} still quarantined in {counts['wall_seconds']:.1f} s")


def exit_code(summary: dict[str, Any]) -> int:
    """What ``callqa nightly`` exits with (EXIT_*): failed calls outrank quarantined files."""
    counts = summary.get("counts", {})
    if counts.get("errors"):
        return EXIT_CALLS_FAILED
    if counts.get("quarantined"):
        return EXIT_QUARANTINED
    return EXIT_OK


def summary_markdown(summary: dict[str, Any]) -> str:
    """The run summary for people: Prefect's artifact page and the reports folder."""
    c = summary["counts"]
    lines = [f"# Nightly review, run {summary['run_id']}", "", f"Archive: `{summary['archive']}`", "",
             f"**{summary['final_line']}**", "",
             f"- found {c['found']} call files; {c['jobs']} new tonight, {c['already_reviewed']} already reviewed, "
             f"{c['quarantined_before']} still quarantined, {c['duplicates']} duplicate copies, "
             f"{c['settling']} still being copied in",
             f"- {c['metadata_warnings']} reviewed call(s) with metadata missing" if c.get("metadata_warnings")
             else "- every reviewed call had its metadata",
             f"- audio reviewed: {c['audio_seconds'] / 3600:.2f} h ({c['audio_hours_per_wall_hour']} audio hours "
             f"per wall hour, {c['calls_per_hour']} calls per hour)" if c["audio_seconds"]
             else f"- {c['calls_per_hour']} calls per hour (transcripts only: no audio)", ""]
    if summary["failures"]:
        lines += ["## Failures", "", "| file | status | error | reason |", "|---|---|---|---|"]
        lines += [f"| {_cell(f['file'])} | {f['status']} | {f['error']} | {_cell(f['reason'])} |"
                  for f in summary["failures"]]
        lines.append("")
    if summary.get("metadata_warnings"):
        lines += ["## Metadata missing", "", "| file | call | warning |", "|---|---|---|"]
        lines += [f"| {_cell(m['file'])} | {m['call_id']} | {_cell('; '.join(m['warnings']))} |"
                  for m in summary["metadata_warnings"]]
        lines.append("")
    if summary.get("scan_notes"):
        lines += ["## Not followed", ""] + [f"- {_cell(n)}" for n in summary["scan_notes"]] + [""]
    if summary["slowest"]:
        lines += ["## Slowest calls", "", "| call | file | seconds | audio seconds |", "|---|---|---|---|"]
        lines += [f"| {s['call_id']} | {s['file']} | {s['seconds']:.1f} | {s['audio_seconds']:.1f} |"
                  for s in summary["slowest"]]
        lines.append("")
    if summary["weakest_items"]:
        lines += ["## Weakest items tonight", "", "| item | calls | fail | partial |", "|---|---|---|---|"]
        lines += [f"| {w['item']} | {w['applied']} | {w['fail']} | {w['partial']} |" for w in summary["weakest_items"]]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:300]


def outcome_rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One row per file tried tonight, for a table artifact."""
    return [{"file": o.rel, "call_id": o.call_id, "status": o.status, "seconds": o.seconds,
             "audio_seconds": round(o.audio_seconds, 1), "score": o.score, "error": o.error_class}
            for o in outcomes]


def finish_night(store: Store, plan: Plan, outcomes: list[Outcome], wall_seconds: float,
                 reports_dir: Path | None = None) -> dict[str, Any]:
    """Summarise, record the run in the store, and write the report files if asked."""
    summary = summarise(plan, outcomes, wall_seconds)
    store.finish_run(plan.run_id, summary["counts"], summary)
    store.refresh_statistics()  # a night can double a young store: the planner's statistics follow it
    if reports_dir is not None:
        import json

        from qa.common.outputs import OutputSet
        from qa.reports.night_html import render_night_html

        base = Path(reports_dir) / f"nightly-{plan.run_id}"
        page = render_night_html(summary, outcomes)
        files = OutputSet()
        files.add(base.with_suffix(".md"), summary_markdown(summary))
        files.add(base.with_suffix(".json"), json.dumps(
            {**summary, "outcomes": [asdict(o) for o in outcomes]}, ensure_ascii=False, indent=1))
        files.add(base.with_suffix(".html"), page)
        files.add(Path(reports_dir) / "index.html", page)  # the latest night
        files.commit()
        files.finish()
    return summary


# ---------------------------------------------------------------- re-scoring
def stored_call_ids(store: Store) -> list[str]:
    return list(dict.fromkeys(row["call_id"] for row in store.scores_frame()))


def rescore_all(store: Store, rubric_path: Path | None = None) -> int:
    """Score every stored call again with ``rubric_path`` from its stored transcript and findings.

    Nothing is transcribed or tagged again; the old scores stay in the store
    under their rubric version and disputes are untouched. Returns the number
    of calls re-scored.
    """
    from qa.scoring.rubric import load_rubric
    from qa.scoring.score import score_call

    rubric = load_rubric(rubric_path)
    done = 0
    for call_id in stored_call_ids(store):
        made_with = store.load_scorecard(call_id).versions or None  # the findings are the stored ones
        card = score_call(store.load_transcript(call_id), store.load_findings(call_id), rubric, made_with)
        store.save_scorecard(card)
        done += 1
    return done
