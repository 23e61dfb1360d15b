"""One call end to end: file -> transcript (redacted) -> acoustics -> findings -> scorecard -> files and store.

The command line, the Prefect flows and the benchmarks all review a call
through ``review_file``, and both ``callqa review`` and the nightly run keep
one through ``review_and_store``, so there is one definition of what a review
is and of how it is kept: every output file written (all or none), then the
store, which refuses a call id another existing file already holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.common.outputs import OutputSet
from qa.pipeline.ingest import is_transcript_file, read_or_transcribe
from qa.privacy.callid import output_path
from qa.scoring.rubric import Rubric, load_rubric
from qa.scoring.score import score_call
from qa.speech.decoded import decoded_copies
from qa.speech.transcribe import Progress, TranscribeOptions
from qa.tagging.runner import tag
from qa.tagging.versions import tagging_versions
from qa.types import Finding, Scorecard, Transcript, UtteranceAcoustics


@dataclass
class Review:
    transcript: Transcript
    findings: list[Finding]
    scorecard: Scorecard
    acoustics: list[UtteranceAcoustics] | None = None
    audio_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    rubric: Rubric | None = None  # the rubric that scored the call (its titles go on the page)


@dataclass(frozen=True)
class ReviewOptions:
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    rubric: Path | None = None
    thresholds: Path | None = None
    redact: bool = True  # mask phone, ID, card numbers and e-mails (keep only for authorised use)
    acoustics: bool = True
    # Where the redacted copy of the recording goes (beside the page); None: the cache.
    audio_dir: Path | None = None


def review_transcript(
    transcript: Transcript,
    options: ReviewOptions | None = None,
    acoustics: list[UtteranceAcoustics] | None = None,
    rubric: Rubric | None = None,
) -> tuple[Transcript, list[Finding], Scorecard]:
    """Tag and score a transcript already in hand, masking it first unless told not to.

    Masking always runs: a transcript's own claim to be redacted
    (``source.redacted``) is not trusted, and masking twice changes nothing.
    Metadata warnings found on the way in (``source.metadata_warnings``) join
    the scorecard's warnings.
    """
    options = options or ReviewOptions()
    if options.redact:
        from qa.privacy.redact import redact_transcript

        transcript = redact_transcript(transcript)
    findings = tag(transcript, acoustics=acoustics, thresholds=options.thresholds)
    versions = tagging_versions(transcript.language, options.thresholds)
    scorecard = score_call(transcript, findings, rubric or load_rubric(options.rubric), versions)
    extra = [w for w in (transcript.source or {}).get("metadata_warnings") or () if w not in scorecard.warnings]
    if extra:
        scorecard.warnings = [*scorecard.warnings, *extra]
    return transcript, findings, scorecard


def review_file(path: Path, options: ReviewOptions | None = None, progress: Progress | None = None,
                content: Path | None = None) -> Review:
    """Review one call; ``content`` (see ``read_or_transcribe``) is where its bytes are read when not ``path``."""
    options = options or ReviewOptions()
    path = Path(path)
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    # a recording is decoded once, for all three passes over it; a transcript file needs no folder
    with contextlib.nullcontext() if is_transcript_file(path) else decoded_copies() as scratch:
        transcript, recording = read_or_transcribe(path, options.transcribe, progress, content=content,
                                                   decoded_in=scratch)
        timings["transcribe"] = time.perf_counter() - started
        acoustics = None
        if recording is not None and options.acoustics:
            from qa.speech.acoustics import measure_utterances

            t0 = time.perf_counter()
            acoustics = measure_utterances(recording, transcript)
            timings["acoustics"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rubric = load_rubric(options.rubric)
        transcript, findings, scorecard = review_transcript(transcript, options, acoustics, rubric)
        timings["tag_and_score"] = time.perf_counter() - t0
        audio = recording.path if recording is not None else None
        if audio is not None and options.redact:  # the page plays, and a reviewer is served, only the masked copy
            audio = _redacted_audio(recording, transcript, options.audio_dir)
    return Review(transcript, findings, scorecard, acoustics, audio, {k: round(v, 3) for k, v in timings.items()},
                  rubric)


def _redacted_audio(recording, transcript: Transcript, where: Path | None) -> Path:
    from qa.common.paths import cache_dir
    from qa.privacy.audio import write_redacted_audio

    folder = where if where is not None else cache_dir() / "redacted-audio"
    return write_redacted_audio(recording, transcript, output_path(folder, transcript.call_id, ".redacted.wav"))


# ---------------------------------------------------------------- keeping a review
@dataclass(frozen=True)
class Outputs:
    """Which files a kept review leaves in ``directory`` (named ``<call_id>.*``, see qa.callid)."""

    directory: Path
    transcript: bool = True  # <call_id>.transcript.json
    html: bool = True  # <call_id>.html
    embed_audio: bool = True


@dataclass
class Kept:
    review: Review
    files: list[Path]
    stored: bool
    disputes: dict[str, Any]


def review_and_store(path: Path, options: ReviewOptions | None = None, store: Any = None,
                     outputs: Outputs | None = None, progress: Progress | None = None,
                     sha256: str | None = None, content: Path | None = None) -> Kept:
    """Review ``path``, write its files as one set, then store it; the files are rolled back if the store refuses.

    ``store`` is a ``qa.store.Store`` or None. ``sha256`` is the content hash
    when the caller has it (the nightly scan); else it is computed.
    ``content`` is the already opened file to read (``qa.pipeline.archive.pinned``).
    """
    review = review_file(path, options, progress, content)
    return keep(review, path, store, outputs, sha256)


def keep(review: Review, path: Path, store: Any = None, outputs: Outputs | None = None,
         sha256: str | None = None) -> Kept:
    """Write the files of a finished review (all or none), then save it in ``store`` (see review_and_store)."""
    call_id = review.transcript.call_id
    disputes = store.dispute_overlay(call_id) if store is not None else {}
    files = OutputSet()
    if outputs is not None:
        _add_files(files, review, outputs, disputes)
    files.commit()
    try:
        if store is not None:
            from qa.speech.audio import file_sha256

            sha = review.transcript.source.get("sha256") or sha256 or file_sha256(Path(path))
            store.save_review(review.transcript, review.findings, review.scorecard, sha256=sha,
                              path=os.path.abspath(Path(path).expanduser()), acoustics=review.acoustics)
    except BaseException:
        files.rollback()
        raise
    files.finish()
    return Kept(review, files.paths, store is not None, disputes)


def _add_files(files: OutputSet, r: Review, outputs: Outputs, disputes: dict[str, Any]) -> None:
    from qa.reports.export import scorecard_to_dict

    call_id = r.transcript.call_id
    directory = Path(outputs.directory)
    files.add(output_path(directory, call_id, ".scorecard.json"),
              json.dumps(scorecard_to_dict(r.scorecard, disputes), ensure_ascii=False, indent=1))
    if outputs.transcript:
        from qa.intake.transcript_io import dumps

        files.add(output_path(directory, call_id, ".transcript.json"), dumps(r.transcript))
    if outputs.html:
        from qa.reports import render_scorecard_html

        human = {k: {"status": d.status, "note": d.note, "reviewer": d.reviewer} for k, d in disputes.items()}
        files.add(output_path(directory, call_id, ".html"), render_scorecard_html(
            r.scorecard, r.transcript, r.findings, audio_path=r.audio_path, acoustics=r.acoustics, disputes=human,
            embed_audio=outputs.embed_audio, rubric=r.rubric))
