"""One call end to end: file -> transcript (redacted) -> acoustics -> findings -> scorecard.

The command line, the Prefect flows and the benchmarks all review a call
through ``review_file``, so there is one definition of what a review is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.pipeline.ingest import read_or_transcribe
from qa.scoring.rubric import Rubric, load_rubric
from qa.scoring.score import score_call
from qa.speech.transcribe import Progress, TranscribeOptions
from qa.tagging.runner import tag
from qa.types import Finding, Scorecard, Transcript, UtteranceAcoustics


@dataclass
class Review:
    transcript: Transcript
    findings: list[Finding]
    scorecard: Scorecard
    acoustics: list[UtteranceAcoustics] | None = None
    audio_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewOptions:
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    rubric: Path | None = None
    thresholds: Path | None = None
    redact: bool = True  # mask phone, ID, card numbers and e-mails (keep only for authorised use)
    acoustics: bool = True


def review_transcript(
    transcript: Transcript,
    options: ReviewOptions | None = None,
    acoustics: list[UtteranceAcoustics] | None = None,
    rubric: Rubric | None = None,
) -> tuple[Transcript, list[Finding], Scorecard]:
    """Tag and score a transcript already in hand (redacting it first unless told not to)."""
    options = options or ReviewOptions()
    if options.redact and not transcript.source.get("redacted"):
        from qa.privacy.redact import redact_transcript

        transcript = redact_transcript(transcript)
    findings = tag(transcript, acoustics=acoustics, thresholds=options.thresholds)
    scorecard = score_call(transcript, findings, rubric or load_rubric(options.rubric))
    return transcript, findings, scorecard


def review_file(path: Path, options: ReviewOptions | None = None, progress: Progress | None = None) -> Review:
    options = options or ReviewOptions()
    path = Path(path)
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    transcript, recording = read_or_transcribe(path, options.transcribe, progress)
    timings["transcribe"] = time.perf_counter() - started
    acoustics = None
    if recording is not None and options.acoustics:
        from qa.speech.acoustics import measure_utterances

        t0 = time.perf_counter()
        acoustics = measure_utterances(recording, transcript)
        timings["acoustics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    transcript, findings, scorecard = review_transcript(transcript, options, acoustics)
    timings["tag_and_score"] = time.perf_counter() - t0
    audio = recording.path if recording is not None else None
    return Review(transcript, findings, scorecard, acoustics, audio, {k: round(v, 3) for k, v in timings.items()})
