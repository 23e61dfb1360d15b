"""A review decodes its recording once: later passes read the decoded copy and get the very same samples."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from qa.speech import audio, decoded
from qa.speech.audio import iter_chunks, probe
from qa.speech.decoded import copy_path, decoded_copies
from tests.test_audio import _convert

STEREO = Path(__file__).parents[1] / "samples" / "complaint_zh" / "call.flac"


@pytest.fixture(scope="module")
def opus_call(tmp_path_factory) -> Path:
    """The stereo sample call as Opus at 48 kHz: decoding it means decompressing and resampling."""
    path = tmp_path_factory.mktemp("opus") / "call.ogg"
    _convert(STEREO, path, "libopus", 48000, "stereo", "ogg")
    return path


def _chunks(recording, **kw) -> list[tuple[float, np.ndarray]]:
    return [(c.offset, c.samples) for c in iter_chunks(recording, **kw)]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(x[0] == y[0] and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def test_the_copy_gives_the_decoded_samples_and_the_same_chunks(opus_call, tmp_path, monkeypatch):
    plain = probe(opus_call)
    kept = dataclasses.replace(plain, decoded=copy_path(tmp_path))
    expected = _chunks(plain, chunk_seconds=40, search_seconds=10)
    assert len(expected) >= 4 and expected[0][1].shape[0] == 2

    first = _chunks(kept, chunk_seconds=40, search_seconds=10)  # decodes, and writes the copy on the way
    assert kept.decoded.is_file() and kept.decoded.stat().st_size == 4 * 2 * sum(c.shape[1] for _, c in expected)
    assert _same(first, expected)
    calls = []
    real = audio._decoded
    monkeypatch.setattr(audio, "_decoded", lambda *a: calls.append(a) or real(*a))
    again = _chunks(kept, chunk_seconds=40, search_seconds=10)
    whole = audio.load_audio(kept)
    assert calls == []  # read from the copy, not decoded again
    assert _same(again, expected)
    assert np.array_equal(whole, np.concatenate([c for _, c in expected], axis=1))


def test_a_pass_that_stops_part_way_leaves_no_copy(opus_call, tmp_path):
    kept = dataclasses.replace(probe(opus_call), decoded=copy_path(tmp_path))
    chunks = iter_chunks(kept, chunk_seconds=40, search_seconds=10)
    next(chunks)
    chunks.close()
    assert list(tmp_path.iterdir()) == []
    assert _same(_chunks(kept), _chunks(probe(opus_call)))  # decoded in full the next time
    assert kept.decoded.is_file()


def test_a_copy_that_cannot_be_written_costs_the_copy_not_the_pass(opus_call, tmp_path):
    """A full disk (/dev/full) while writing the copy: every sample still comes through, no copy is left."""
    kept = dataclasses.replace(probe(opus_call), decoded=copy_path(tmp_path))
    partial = kept.decoded.with_name(f"{kept.decoded.name}.{os.getpid()}-{threading.get_ident()}.part")
    partial.symlink_to("/dev/full")
    assert _same(_chunks(kept), _chunks(probe(opus_call)))
    assert list(tmp_path.iterdir()) == []


def test_no_copy_past_the_limit_or_without_a_folder(opus_call, tmp_path, monkeypatch):
    from qa.common.limits import limits

    bounds = limits()
    short = bounds.model_copy(update={"calls": bounds.calls.model_copy(update={"max_decoded_copy_seconds": 100})})
    monkeypatch.setattr(decoded, "limits", lambda: short)
    recording = probe(opus_call)
    assert recording.duration * 2 > 100
    kept = dataclasses.replace(recording, decoded=copy_path(tmp_path))
    assert not decoded.worth_keeping(kept)
    assert _same(_chunks(kept), _chunks(recording))
    assert list(tmp_path.iterdir()) == []
    gone = dataclasses.replace(recording, decoded=tmp_path / "removed" / "decoded.f32")
    assert not decoded.worth_keeping(gone) and audio.load_audio(gone).shape[1] > 0


def test_the_folder_goes_with_the_review(tmp_path):
    with decoded_copies() as folder:
        assert folder.is_dir() and folder.name.startswith("callqa-decoded-")
        assert oct(folder.stat().st_mode & 0o777) == "0o700"  # the copy holds the call's audio
        (folder / "decoded.f32").write_bytes(b"\0" * 8)
    assert not folder.exists()
    with pytest.raises(RuntimeError), decoded_copies() as folder:
        raise RuntimeError("a stage failed")
    assert not folder.exists()


def test_a_killed_reviews_copy_is_removed_by_the_next_review(tmp_path, monkeypatch):
    """The copy is the call's audio unmasked: a folder whose process is gone does not outlive the next review."""
    import subprocess
    import sys

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    dead = tmp_path / f"callqa-decoded-{int(ended.stdout)}-abc123"
    dead.mkdir()
    (dead / "decoded.f32").write_bytes(b"\1" * 64)
    alive = tmp_path / f"callqa-decoded-{os.getpid()}-def456"  # another review of this process, in flight
    alive.mkdir()
    other = tmp_path / "callqa-decoded-notapid-x"
    other.mkdir()
    with decoded_copies() as folder:
        assert folder.parent == tmp_path and folder.name.startswith(f"callqa-decoded-{os.getpid()}-")
        assert not dead.exists()
        assert alive.is_dir() and other.is_dir()
    assert not folder.exists()


@pytest.mark.slow
def test_a_review_decodes_its_recording_once(opus_call, tmp_path, monkeypatch):
    """Transcription, acoustics and the redacted copy: one decode, and nothing left in the temporary folder."""
    from qa.pipeline.review import ReviewOptions, review_file

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    calls = []
    real = audio._decoded
    monkeypatch.setattr(audio, "_decoded", lambda *a: calls.append(a) or real(*a))
    review = review_file(opus_call, ReviewOptions(audio_dir=tmp_path / "audio"))
    assert review.acoustics and any(a.pitch_hz for a in review.acoustics)
    assert review.audio_path.is_file() and review.audio_path.parent == tmp_path / "audio"
    assert len(calls) == 1  # three passes read the audio; with no copy each would decode it
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("callqa-decoded-")]


def test_a_transcript_file_is_reviewed_without_a_decoded_copy_folder(tmp_path, monkeypatch):
    """No audio, nothing to decode: no temporary folder is made (nor /tmp swept) for a transcript file."""
    import qa.pipeline.review as review

    def refused():
        raise AssertionError("a transcript file asked for a decoded-copy folder")

    monkeypatch.setattr(review, "decoded_copies", refused)
    path = tmp_path / "call.txt"
    path.write_text("# language: en\n0 3 agent Hello, how can I help?\n3.5 6 customer My order is late.\n",
                    encoding="utf-8")
    done = review.review_file(path)
    assert [u.role for u in done.transcript.utterances] == ["agent", "customer"] and done.audio_path is None
