"""The recording a reviewer hears has the masked numbers replaced by a tone (qa/redact_audio.py)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from qa.privacy.audio import AudioMaskSettings, mask_samples, masked_times
from qa.types import Transcript, Utterance, Word

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "complaint_zh" / "call.flac"


def test_masked_words_become_padded_merged_time_ranges_and_only_those_samples_change():
    words = [Word(1.0, 1.5, "订单号是"), Word(1.5, 3.0, "[NUMBER]"), Word(3.1, 4.0, "[PHONE ••••5678]"),
             Word(6.0, 6.5, "好的")]
    t = Transcript("c", "zh", 8.0, [Utterance("customer", 1.0, 6.5, "", words, "ch1")])
    times = masked_times(t, 0.3)
    assert times == [(1.2, 4.3)]
    samples = np.full((2, 8 * 16000), 0.5, np.float32)
    out = mask_samples(samples, times, AudioMaskSettings(fill="silence"))
    assert not out[:, int(1.2 * 16000):int(4.3 * 16000)].any()
    assert (out[:, :int(1.2 * 16000)] == 0.5).all() and (out[:, int(4.3 * 16000) + 1:] == 0.5).all()
    tone = mask_samples(samples, times, AudioMaskSettings(fill="tone", tone_level=0.1))
    assert np.abs(tone[:, 20000:60000]).max() <= 0.1 + 1e-6 and tone[:, 20000:60000].std() > 0.05
    assert (samples == 0.5).all()  # the input is not changed



def test_a_masked_turn_without_word_times_is_masked_whole():
    # a transcript imported without word times: the reviewer used to hear the phone number
    t = Transcript("c", "zh", 20.0, [Utterance("agent", 1.0, 3.0, "请问您的电话？", [], "ch0"),
                                     Utterance("customer", 4.0, 9.5, "是[PHONE ••••5678]，对", [], "ch1"),
                                     Utterance("agent", 10.0, 12.0, "好的", [Word(10.0, 12.0, "好的")], "ch0")])
    assert masked_times(t, 0.3) == [(3.7, 9.8)]


@pytest.mark.slow
def test_the_page_plays_a_copy_in_which_the_model_hears_none_of_the_masked_digits(tmp_path):
    from qa.speech.audio import probe
    from qa.pipeline.review import ReviewOptions, review_file
    from qa.speech.transcribe import transcribe

    review = review_file(SAMPLE, ReviewOptions(acoustics=False, audio_dir=tmp_path))
    assert review.audio_path == tmp_path / "sample-complaint-zh.redacted.wav"
    masked = "".join(w.text for u in review.transcript.utterances for w in u.words)
    assert "[PHONE" in masked and "[NUMBER]" in masked  # the call reads out an order and a phone number
    with wave.open(str(review.audio_path)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 16000
    heard = transcribe(probe(review.audio_path))
    text = "".join(u.text for u in heard.utterances)
    assert heard.utterances and "物流" in text  # the rest of the call is still there
    secrets = ["8802315764", "13812345678"]
    runs = re.findall(r"\d{5,}", text)
    assert not [r for r in runs if any(r in s or s in r for s in secrets)], runs
