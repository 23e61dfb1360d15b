"""One entry point from a file on disk to a Transcript: audio is transcribed, text is read.

Every input gets the same metadata (``qa.intake.meta``: sidecar, manifest row, file
name) and the same call-id rule (``qa.privacy.callid``), whether it is a recording, a
timed-text or a JSON transcript. Warnings about missing metadata travel in
``transcript.source["metadata_warnings"]`` to the scorecard.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qa.errors import CallqaError
from qa.intake.meta import MetaLookup, lookup_meta
from qa.intake.transcript_io import TRANSCRIPT_SUFFIXES, read_transcript
from qa.privacy.callid import mask_text, settle_call_id
from qa.speech.audio import probe
from qa.speech.decoded import copy_path
from qa.speech.transcribe import Progress, TranscribeOptions, transcribe
from qa.types import CallMeta, Recording, Transcript

#: Claims a transcript file may make about itself that callqa never trusts.
_UNTRUSTED_SOURCE_KEYS = ("redacted", "redaction", "metadata_warnings")


def is_transcript_file(path: Path) -> bool:
    return Path(path).suffix.lower() in TRANSCRIPT_SUFFIXES


def read_or_transcribe(
    path: Path, options: TranscribeOptions | None = None, progress: Progress | None = None,
    content: Path | None = None, decoded_in: Path | None = None,
) -> tuple[Transcript, Recording | None]:
    """The transcript for ``path`` and, for audio, the probed recording (so callers need not probe it again).

    ``content`` is where the bytes are read when not from ``path`` itself: the
    nightly run passes the file it opened once inside the archive
    (``/proc/self/fd/N``, see ``qa.pipeline.archive.pinned``); the name,
    the sidecars and every message still come from ``path``. ``decoded_in``:
    a folder where the recording is kept decoded for the caller's later passes
    over it (``qa.speech.decoded``).
    """
    path = Path(path)
    found = settle_meta(lookup_meta(path), path)
    if is_transcript_file(path):
        return with_meta(read_transcript(path, content=content), found, path), None
    try:
        recording = dataclasses.replace(probe(content or path, found.meta), decoded=copy_path(decoded_in))
        transcript = transcribe(recording, options, progress)
    except CallqaError as exc:
        if content is not None:  # say the file's name, not /proc/self/fd/N
            exc.args = tuple(a.replace(str(content), str(path)) if isinstance(a, str) else a for a in exc.args)
        raise
    source = {**transcript.source, "path": mask_text(str(path), personal_only=True)}
    if found.warnings:
        source["metadata_warnings"] = list(found.warnings)
    return dataclasses.replace(transcript, source=source), recording


def settle_meta(found: MetaLookup, path: Path) -> MetaLookup:
    """The lookup with the call-id rule applied (qa.privacy.callid) and agent, team, extras and warnings masked."""
    raw_id = found.meta.call_id
    if found.explicit_id:
        call_id = settle_call_id(raw_id, f"{_shown(path.name)}: call_id", from_name=False, content=path)
    else:
        call_id = settle_call_id(path.stem, f"{_shown(path.name)}: file name", from_name=True, content=path)
    extra = {k: _masked(v) if isinstance(v, str) else v for k, v in found.meta.extra.items()}
    meta = dataclasses.replace(found.meta, call_id=call_id, agent_id=_masked(found.meta.agent_id),
                               team=_masked(found.meta.team), extra=extra)
    return dataclasses.replace(found, meta=meta, warnings=tuple(_shown(w) for w in found.warnings))


def _shown(text: str) -> str:
    return mask_text(text, personal_only=True)


def with_meta(transcript: Transcript, found: MetaLookup, path: Path) -> Transcript:
    """A read transcript with its call id settled and the sidecar/manifest filling what the file leaves empty.

    The file's own header (``# agent_id:``) or JSON ``meta`` wins over a sidecar;
    a call id the file does not set (or sets to its own file name) comes from
    the sidecar or manifest, else from the file name.
    """
    own = transcript.meta or CallMeta(call_id=transcript.call_id)
    if transcript.call_id == path.stem or not isinstance(transcript.call_id, str):
        call_id = found.meta.call_id
    else:
        call_id = settle_call_id(transcript.call_id, f"{path.name}: call_id", from_name=False, content=path)
    extra = {**found.meta.extra, **(own.extra if isinstance(own.extra, dict) else {})}
    meta = CallMeta(
        call_id=call_id,
        agent_id=_masked(own.agent_id) or found.meta.agent_id,
        team=_masked(own.team) or found.meta.team,
        started_at=own.started_at or found.meta.started_at,
        language=transcript.language,
        channel_map=own.channel_map or found.meta.channel_map,
        extra=extra,
    )
    raw_source = transcript.source if isinstance(transcript.source, dict) else {}
    source = {k: v for k, v in raw_source.items() if k not in _UNTRUSTED_SOURCE_KEYS}
    source["path"] = mask_text(str(path), personal_only=True)
    if found.warnings and not (own.agent_id and own.team and own.started_at):
        source["metadata_warnings"] = list(found.warnings)
    return dataclasses.replace(transcript, call_id=call_id, meta=meta, source=source)


def _masked(value: object) -> str | None:
    return mask_text(value, personal_only=True) if isinstance(value, str) and value else None


def load_call(path: Path, options: TranscribeOptions | None = None, progress: Progress | None = None) -> Transcript:
    """A transcript for ``path``: read if it is one (JSON or timed text), else transcribed from audio."""
    return read_or_transcribe(path, options, progress)[0]
