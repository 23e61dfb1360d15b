"""The call's recording, masked, streamed with HTTP Range, only to users who may see the call.

The file comes from the store (``calls.path``), never from the URL, so a
request can only name a call id; the id is checked against the user's scope
first. With ``audio_roots`` set (``callqa serve --audio-root``), the resolved
file (symlinks followed) must also lie inside one of them. A reviewer never
hears the archive's file itself: it is served as a copy in which every word
the stored transcript masks is a tone (``qa.privacy.audio``), made on first
request and kept in a cache folder under a name derived from nothing the call says.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

from qa.errors import AudioAccessError, AudioError
from qa.types import Transcript

_making = threading.Lock()  # one copy made at a time per process (each is a whole decode of the call)


def playable_type(path: str | None, audio_types: dict[str, str]) -> str | None:
    """The MIME type a browser plays this file as, or None."""
    if not path:
        return None
    return audio_types.get(Path(path).suffix.lower().lstrip("."))


def recording_file(path: str | None, audio_types: dict[str, str], roots: list[Path] | None) -> tuple[Path, str]:
    """(the resolved file, its MIME type) or AudioAccessError saying why it cannot be streamed."""
    media_type = playable_type(path, audio_types)
    if media_type is None:
        raise AudioAccessError("this call has no recording a browser can play (it was reviewed from a transcript, "
                               "or its format is not one of qa/web/workspace.yaml's audio_types)")
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise AudioAccessError(f"the recording is no longer in the archive ({type(exc).__name__})") from exc
    if roots is not None and not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise AudioAccessError("the recording lies outside the archive folders this server may read (--audio-root)")
    if not resolved.is_file():
        raise AudioAccessError("the recording is not a regular file")
    return resolved, media_type


def masked_recording(original: Path, reviewed_at: str | None, transcript: Callable[[], Transcript],
                     folder: Path) -> Path:
    """The masked copy of ``original`` (16 kHz WAV) for the call as last reviewed; made once, then reused.

    The name is a digest of the file, its size and time and the review's time, so a re-review
    or a changed recording makes a new copy and the name says nothing about the call.
    """
    from qa.privacy.audio import write_redacted_audio
    from qa.speech.audio import probe

    stat = original.stat()
    key = f"{original}|{stat.st_size}|{stat.st_mtime_ns}|{reviewed_at}".encode("utf-8", "surrogatepass")
    target = Path(folder) / f"{hashlib.sha256(key).hexdigest()[:32]}.redacted.wav"
    if target.is_file():
        return target
    with _making:
        if not target.is_file():
            try:
                write_redacted_audio(probe(original), transcript(), target)
            except AudioError as exc:
                raise AudioAccessError(f"the recording cannot be decoded to mask it ({exc.code})") from exc
    return target
