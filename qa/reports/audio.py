"""The recording for the page's player: embedded as a data URI, or linked.

A page that carries its audio can be mailed or opened from a share and still
play every piece of evidence. Large or browser-unfriendly files are
re-encoded to Opus in Ogg first (PyAV, already a dependency through
faster-whisper), keeping the channels so a stereo call still has the agent on
the left and the customer on the right.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av


@dataclass(frozen=True)
class AudioSource:
    src: str  # data: URI or file: URI
    mime: str
    embedded: bool
    note: str = ""  # why it was linked rather than embedded, or how it was re-encoded
    size_bytes: int = 0


def _duration(path: Path) -> float | None:
    with av.open(str(path)) as container:
        if container.duration is not None:
            return container.duration / 1_000_000
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    return None


def encode_opus(path: Path, sample_rate: int, bitrate_per_channel: int) -> tuple[bytes, int]:
    """The first audio stream of ``path`` as Ogg Opus bytes, mono or stereo as the original (more: downmixed)."""
    with av.open(str(path)) as inp:
        if not inp.streams.audio:
            raise ValueError(f"{path} has no audio stream")
        stream = inp.streams.audio[0]
        channels = 1 if stream.channels == 1 else 2
        layout = "mono" if channels == 1 else "stereo"
        buf = io.BytesIO()
        with av.open(buf, "w", format="ogg") as out:
            enc = out.add_stream("libopus", rate=sample_rate)
            enc.layout = layout
            enc.bit_rate = bitrate_per_channel * channels
            resampler = av.AudioResampler(format="s16", layout=layout, rate=sample_rate)
            for frame in inp.decode(stream):
                for chunk in resampler.resample(frame):
                    out.mux(enc.encode(chunk))
            for chunk in resampler.resample(None):
                out.mux(enc.encode(chunk))
            out.mux(enc.encode(None))
    return buf.getvalue(), channels


def audio_source(path: Path, settings: dict[str, Any], embed: bool = True) -> AudioSource:
    """What the <audio> element plays; falls back to a link (with the reason) when embedding is not possible."""
    path = Path(path)
    link = AudioSource(path.resolve().as_uri(), settings["raw_types"].get(path.suffix.lower(), ""), False)
    if not embed:
        return link
    if not path.is_file():
        return AudioSource(link.src, link.mime, False, f"{path} was not found when this page was made")
    size = path.stat().st_size
    raw_mime = settings["raw_types"].get(path.suffix.lower())
    if raw_mime and size <= settings["embed_raw_max_bytes"]:
        data = path.read_bytes()
        return AudioSource(f"data:{raw_mime};base64,{base64.b64encode(data).decode('ascii')}", raw_mime, True,
                           f"embedded as recorded ({size / 1024:.0f} KB)", len(data))
    try:
        duration = _duration(path)
        if duration is not None and duration > settings["embed_max_seconds"]:
            return AudioSource(link.src, link.mime, False,
                               f"linked, not embedded: {duration / 60:.0f} min is longer than the "
                               f"{settings['embed_max_seconds'] / 60:.0f} min the page embeds")
        data, channels = encode_opus(path, int(settings["opus_sample_rate"]), int(settings["opus_bitrate_per_channel"]))
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        return AudioSource(link.src, link.mime, False, f"linked, not embedded: could not re-encode ({exc})")
    return AudioSource(f"data:audio/ogg;base64,{base64.b64encode(data).decode('ascii')}", "audio/ogg", True,
                       f"embedded as Opus, {'mono' if channels == 1 else 'stereo'} "
                       f"{int(settings['opus_sample_rate']) // 1000} kHz ({len(data) / 1024:.0f} KB)", len(data))
