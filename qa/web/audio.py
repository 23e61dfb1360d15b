"""The call's recording, streamed from the archive with HTTP Range, only to users who may see the call.

The file comes from the store (``calls.path``), never from the URL, so a
request can only name a call id; the id is checked against the user's scope
first. With ``audio_roots`` set (``callqa serve --audio-root``), the resolved
file (symlinks followed) must also lie inside one of them.
"""

from __future__ import annotations

from pathlib import Path

from qa.errors import AudioAccessError


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
