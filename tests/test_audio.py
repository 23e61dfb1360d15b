"""Every format FFmpeg decodes is read; bad recordings get a clear, specific error."""

from __future__ import annotations

import av
import numpy as np
import pytest

from qa.errors import (
    ChannelLayoutError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    TruncatedAudioError,
    UnsupportedLanguageError,
)
from qa.speech.audio import SAMPLE_RATE, iter_chunks, load_audio, probe
from qa.speech.transcribe import TranscribeOptions, transcribe
from tests.wavs import write_wav


def _convert(src, dst, codec, rate=None, layout=None, fmt=None):
    """Re-encode ``src`` with PyAV (the same FFmpeg callqa decodes with)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        in_stream = inp.streams.audio[0]
        stream = out.add_stream(codec, rate=rate or in_stream.codec_context.sample_rate)
        if layout:
            stream.layout = layout
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=stream.layout.name,
                                      rate=stream.codec_context.sample_rate)
        for frame in inp.decode(audio=0):
            frame.pts = None
            for f in resampler.resample(frame):
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))


CLIP = "zh/paddlespeech_zh.wav"


@pytest.mark.parametrize("suffix,codec,rate,fmt", [
    (".flac", "flac", None, None),
    (".mp3", "libmp3lame", None, None),
    (".ogg", "libopus", 48000, "ogg"),
    (".m4a", "aac", None, "mp4"),
    (".ulaw.wav", "pcm_mulaw", 8000, "wav"),
    (".alaw.wav", "pcm_alaw", 8000, "wav"),
])
def test_common_call_formats_decode_to_the_same_length(data_dir, tmp_path, suffix, codec, rate, fmt):
    src = data_dir / CLIP
    dst = tmp_path / f"clip{suffix}"
    _convert(src, dst, codec, rate=rate, layout="mono", fmt=fmt)
    original = load_audio(probe(src))
    decoded = load_audio(probe(dst))
    assert decoded.shape[0] == 1
    assert abs(decoded.shape[1] - original.shape[1]) / SAMPLE_RATE < 0.15  # encoder priming/padding only
    assert np.abs(decoded).max() > 0.05


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        probe(tmp_path / "empty.wav")


def test_text_file_named_wav_is_refused(tmp_path):
    (tmp_path / "notes.wav").write_text("this is not audio\n" * 20)
    with pytest.raises(NotAudioError, match="not a recording"):
        probe(tmp_path / "notes.wav")


def test_truncated_wav_is_refused_with_both_lengths(data_dir, tmp_path):
    data = (data_dir / CLIP).read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    with pytest.raises(TruncatedAudioError, match=r"ends at 1\.\d s but its header says 5\.0 s"):
        probe(tmp_path / "cut.wav")


def test_zero_length_wav_is_refused(tmp_path):
    write_wav(tmp_path / "zero.wav", np.zeros(0))
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        list(iter_chunks(probe(tmp_path / "zero.wav")))


def test_six_channel_recording_is_refused_with_a_fix(tmp_path):
    write_wav(tmp_path / "six.wav", np.zeros(16000 * 6), channels=6)
    with pytest.raises(ChannelLayoutError, match="6 channels.*ffmpeg"):
        probe(tmp_path / "six.wav")


def test_silence_only_recording_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "silence.wav", rng.normal(0, 1e-4, 16000 * 20))
    with pytest.raises(SilentAudioError, match="no speech"):
        transcribe(probe(tmp_path / "silence.wav"), TranscribeOptions(language="zh"))


def test_forced_unsupported_language_is_refused(data_dir):
    with pytest.raises(UnsupportedLanguageError, match="'fr'"):
        transcribe(probe(data_dir / CLIP), TranscribeOptions(language="fr"))


def test_long_recordings_are_read_in_bounded_chunks_cut_in_quiet(tmp_path):
    rng = np.random.default_rng(1)
    seconds = 300
    t = np.arange(seconds * 8000) / 8000
    # a tone that pauses for 0.5 s every 7 s: cuts must land in the pauses
    signal = 0.3 * np.sin(2 * np.pi * 220 * t) * ((t % 7) < 6.5) + rng.normal(0, 1e-3, t.size)
    write_wav(tmp_path / "long.wav", signal, rate=8000)
    recording = probe(tmp_path / "long.wav")
    chunks = list(iter_chunks(recording, chunk_seconds=60, search_seconds=10))
    assert sum(c.duration for c in chunks) == pytest.approx(seconds, abs=0.01)
    assert all(c.duration <= 70 for c in chunks) and len(chunks) >= 4
    for c in chunks[1:]:
        assert (c.offset % 7) >= 6.5 - 0.06, f"cut at {c.offset:.2f} s is not in a pause"
