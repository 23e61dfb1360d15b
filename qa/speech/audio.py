"""Decode any recording PyAV/FFmpeg reads into 16 kHz float32, channel by channel.

Long recordings are yielded in chunks cut at the quietest moment near each
chunk's end, so a three-hour call never sits in memory at once and no word is
cut in half. Every failure is raised as a specific ``AudioError`` that says
what is wrong with the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from qa.common.limits import limits
from qa.errors import (
    AudioError,
    AudioTooLongError,
    ChannelLayoutError,
    EmptyAudioError,
    NotAudioError,
    TruncatedAudioError,
)
from qa.speech import decoded
from qa.types import CallMeta, Recording

SAMPLE_RATE = 16000
MAX_CHANNELS = 2
_HASH_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _open(path: Path):
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise NotAudioError(f"{path}: not a recording FFmpeg can read ({exc})") from exc
    if not container.streams.audio:
        container.close()
        raise NotAudioError(f"{path}: has no audio stream")
    return container


def probe(path: Path, meta: CallMeta | None = None) -> Recording:
    """Check that ``path`` is a usable recording and describe it (without decoding it all)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path}: the file is empty (0 bytes)")
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels
        if channels < 1 or channels > MAX_CHANNELS:
            raise ChannelLayoutError(
                f"{path}: has {channels} channels; callqa reads mono (both sides mixed) or "
                "stereo (one side per channel) recordings. Remix it, e.g. "
                "`ffmpeg -i IN -af 'pan=stereo|c0=c0|c1=c1' OUT.wav`"
            )
        duration = _declared_duration(container, stream)
        longest = limits().calls.max_duration
        if duration > longest:
            raise AudioTooLongError(f"{path}: {duration:.1f} s long, more than the {longest:g} s allowed "
                                    f"(calls.max_duration in qa/data/limits.yaml)")
        if container.format.name == "wav":
            _check_wav_length(path)
        codec = stream.codec_context.name
        sample_rate = stream.codec_context.sample_rate or 0
    finally:
        container.close()
    from qa.intake.meta import meta_for

    return Recording(
        path=path,
        meta=meta or meta_for(path),
        sha256=file_sha256(path),
        duration=duration,
        sample_rate=sample_rate,
        channels=channels,
        codec=codec,
    )


def _check_wav_length(path: Path) -> None:
    """FFmpeg sizes a WAV by its file length; the header says how long it should be."""
    import struct

    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return
        byte_rate = 0
        while chunk := fh.read(8):
            if len(chunk) < 8:
                return
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt ":
                fmt = fh.read(size + (size & 1))
                byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
            elif kind == b"data":
                if size in (0, 0xFFFFFFFF) or not byte_rate:  # streamed / RF64: size unknown here
                    return
                present = path.stat().st_size - fh.tell()
                if present < size:
                    raise TruncatedAudioError(
                        f"{path}: the file ends at {present / byte_rate:.1f} s but its header says "
                        f"{size / byte_rate:.1f} s; it was cut short (copy it again from the recorder)"
                    )
                return
            else:
                fh.seek(size + (size & 1), 1)


def _declared_duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


@dataclass(frozen=True)
class AudioChunk:
    """``samples`` has shape (channels, n) at 16 kHz; ``offset`` is its start in seconds."""

    offset: float
    samples: np.ndarray

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def _frames(recording: Recording) -> Iterator[np.ndarray]:
    """The recording's samples as (channels, k) blocks: from the review's decoded copy when it has one,
    else decoded from the file (and kept as that copy when the review wants one: qa/speech/decoded.py)."""
    copy = recording.decoded
    if copy is not None and copy.is_file():
        return decoded.stored_blocks(copy, recording.channels)
    blocks = _decoded(recording.path, recording.channels)
    return decoded.kept(blocks, copy) if decoded.worth_keeping(recording) else blocks


def _decoded(path: Path, channels: int) -> Iterator[np.ndarray]:
    container = _open(path)
    layout = "mono" if channels == 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    try:
        try:
            for frame in container.decode(audio=0):
                frame.pts = None
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(channels, -1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(channels, -1)
        except av.error.FFmpegError as exc:
            raise TruncatedAudioError(f"{path}: decoding failed part way ({exc}); the file is damaged") from exc
    finally:
        container.close()


def _quiet_cut(buffer: np.ndarray, lo: int, hi: int) -> int:
    """Index of the quietest 100 ms between ``lo`` and ``hi`` samples."""
    hop = SAMPLE_RATE // 10
    region = np.abs(buffer[:, lo:hi]).sum(axis=0)
    n = region.shape[0] // hop
    if n < 2:
        return hi
    energy = region[: n * hop].reshape(n, hop).sum(axis=1)
    return lo + int(np.argmin(energy)) * hop + hop // 2


def iter_chunks(
    recording: Recording, chunk_seconds: float = 600.0, search_seconds: float = 30.0
) -> Iterator[AudioChunk]:
    """Yield the recording in chunks of about ``chunk_seconds``, cut where it is quiet.

    Raises ``TruncatedAudioError`` after the last chunk when the file ends well
    before its header says it should.
    """
    chunk = int(chunk_seconds * SAMPLE_RATE)
    search = int(min(search_seconds, chunk_seconds / 2) * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_len = 0
    offset = 0
    for block in _frames(recording):
        pending.append(block.astype(np.float32, copy=False))
        pending_len += block.shape[1]
        while pending_len >= chunk + search:
            buffer = np.concatenate(pending, axis=1)
            cut = _quiet_cut(buffer, chunk - search, chunk + search)
            yield AudioChunk(offset / SAMPLE_RATE, buffer[:, :cut].copy())
            offset += cut
            rest = buffer[:, cut:].copy()
            pending, pending_len = [rest], rest.shape[1]
    if pending_len:
        yield AudioChunk(offset / SAMPLE_RATE, np.concatenate(pending, axis=1))
    decoded = (offset + pending_len) / SAMPLE_RATE
    if decoded == 0:
        raise EmptyAudioError(f"{recording.path}: contains no audio samples (zero-length recording)")
    declared = recording.duration
    if declared > 0 and decoded < declared * 0.98 - 0.5:
        raise TruncatedAudioError(
            f"{recording.path}: the audio stops at {decoded:.1f} s but its header says "
            f"{declared:.1f} s; the file was cut short (copy it again from the recorder)"
        )


def load_audio(recording: Recording) -> np.ndarray:
    """The whole recording as (channels, n) float32 — for short files and tests."""
    return np.concatenate([c.samples for c in iter_chunks(recording, chunk_seconds=1e9)], axis=1)
