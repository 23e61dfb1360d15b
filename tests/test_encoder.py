"""Encoder windows fitted to their audio (qa/speech/encoder.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa.speech.encoder import fit_window


def _window(audio_frames: int, frames: int = 3000, mels: int = 80) -> np.ndarray:
    """A window as faster-whisper pads it: log-mel values, then exact zeros."""
    window = np.zeros((mels, frames), np.float32)
    window[:, :audio_frames] = np.random.default_rng(audio_frames).uniform(-1.5, 1.0, (mels, audio_frames))
    window[:3, audio_frames - 1] = 0.0  # a frame partly zero is still audio
    return window


def test_a_window_is_cut_margin_frames_after_its_audio():
    fitted = fit_window(_window(700), (200, 0))
    assert fitted.shape == (80, 900)
    np.testing.assert_array_equal(fitted, _window(700)[:, :900])
    assert fitted.flags.c_contiguous  # CTranslate2 reads the buffer as it lies


def test_the_cut_keeps_an_even_length_and_the_floor():
    assert fit_window(_window(701), (200, 0)).shape[-1] == 902  # the encoder's convolution halves it
    assert fit_window(_window(300), (200, 1000)).shape[-1] == 1000
    assert fit_window(np.zeros((80, 3000), np.float32), (0, 0)).shape[-1] == 2  # no audio at all: the least window


def test_a_full_window_and_no_rule_leave_the_window_as_it_is():
    full = _window(2900)
    assert fit_window(full, (200, 0)) is full  # 2900 + 200 frames do not fit: the 30 s window
    assert fit_window(_window(700), None).shape[-1] == 3000


def test_a_batch_is_cut_after_the_audio_of_its_longest_window():
    batch = np.stack([_window(400), _window(1200), _window(50)])
    fitted = fit_window(batch, (100, 0))
    assert fitted.shape == (3, 80, 1300)
    np.testing.assert_array_equal(fitted[1], _window(1200)[:, :1300])


@pytest.mark.slow
def test_a_fitted_window_is_shorter_and_decodes_the_same_words(data_dir):
    """The real model on a real clip: the fitted encoder output is shorter, the words are the same."""
    from qa.speech import asr
    from qa.speech.audio import load_audio, probe
    from qa.speech.model import ModelOptions, load_model

    model = load_model(ModelOptions())
    clip = data_dir / "en/jfk.flac"
    audio = np.ascontiguousarray(load_audio(probe(clip))[0])
    features = model.feature_extractor(audio)[:, :3000]
    features = np.pad(features, ((0, 0), (0, 3000 - features.shape[1])))
    with model.fitted(2.0):
        short = model.encode(features)
    full = model.encode(features)
    assert short.shape[1] < full.shape[1] == 1500  # 11 s of audio + 2 s: 650 of 1500 encoder positions
    audio_frames = int(np.any(features != 0, axis=0).sum())  # 100 a second
    assert short.shape[1] == (audio_frames + 200 + 1) // 2

    def words(margin):
        settings = dataclasses.replace(asr.default_settings(), window_margin=margin)
        segments = asr._run_model(model, audio, "en", settings, vad=False, temperature=(0.0,))
        return [w.word.strip(" ,.").lower() for s in segments for w in s.words]

    fitted, whole = words(2.0), words(None)
    assert fitted == whole
    assert "country" in fitted and "ask" in fitted
