"""One entry point from a file on disk to a Transcript: audio is transcribed, text is read."""

from __future__ import annotations

from pathlib import Path

from qa.intake.meta import meta_for
from qa.intake.transcript_io import TRANSCRIPT_SUFFIXES, read_transcript
from qa.speech.audio import probe
from qa.speech.transcribe import Progress, TranscribeOptions, transcribe
from qa.types import Recording, Transcript


def is_transcript_file(path: Path) -> bool:
    return Path(path).suffix.lower() in TRANSCRIPT_SUFFIXES


def read_or_transcribe(
    path: Path, options: TranscribeOptions | None = None, progress: Progress | None = None
) -> tuple[Transcript, Recording | None]:
    """The transcript for ``path`` and, for audio, the probed recording (so callers need not probe it again)."""
    path = Path(path)
    if is_transcript_file(path):
        return read_transcript(path), None
    recording = probe(path, meta_for(path))
    return transcribe(recording, options, progress), recording


def load_call(path: Path, options: TranscribeOptions | None = None, progress: Progress | None = None) -> Transcript:
    """A transcript for ``path``: read if it is one (JSON or timed text), else transcribed from audio."""
    return read_or_transcribe(path, options, progress)[0]
