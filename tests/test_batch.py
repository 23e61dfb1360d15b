"""Batched decoding (qa/speech/batch.py): how pieces are cut into batches, what counts as a decoder loop,
and, on the real model and real audio, that batching changes neither the text nor what is kept."""

from __future__ import annotations

import re

import pytest

from qa.intake.transcript_io import read_transcript
from qa.speech import asr
from qa.speech.audio import probe
from qa.speech.asr import looping
from qa.speech.batch import _Item, batches
from qa.speech.metrics import error_rate
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "complaint_zh" / "call.flac"


def _item(job: int, seconds: float) -> _Item:
    return _Item(job, [{"start": 0, "end": int(seconds * 16000)}])


def test_batches_hold_at_most_batch_size_items_longest_first_and_lose_none():
    items = [_item(k % 2, s) for k, s in enumerate([3, 27, 9, 14, 1, 20, 5, 11, 8, 2, 16])]
    parts = batches(items, batch_size=4, workers=2)
    assert all(len(p) <= 4 for p in parts)
    assert sorted(id(i) for p in parts for i in p) == sorted(id(i) for i in items)
    flat = [i.samples for p in parts for i in p]
    assert flat == sorted(flat, reverse=True)  # similar lengths share a batch
    assert [len(p) for p in parts] == [4, 4, 3]


def test_every_worker_gets_a_batch_when_there_are_enough_items():
    items = [_item(0, s) for s in (5, 6, 7)]
    assert [len(p) for p in batches(items, batch_size=8, workers=2)] == [2, 1]
    assert [len(p) for p in batches(items, batch_size=1, workers=2)] == [1, 1, 1]
    assert batches([], batch_size=8, workers=2) == []


def test_a_loop_writes_more_tokens_than_the_speech_holds_a_repeated_sentence_does_not():
    settings = asr.default_settings()
    per_second = settings.loop_tokens_per_second
    assert looping(int(4.8 * 10), 10.0, 444, settings) is False  # said three times: 4.8 tokens/s
    assert looping(int(per_second * 10) + 1, 10.0, 444, settings) is True
    assert looping(444, 100.0, 444, settings) is True  # ran to the length limit


@pytest.mark.slow
def test_batched_and_piece_by_piece_text_agree_on_the_sample_call():
    from qa.speech.transcribe import TranscribeOptions, transcribe

    reference = read_transcript(REPO / "samples" / "complaint_zh" / "reference.txt")
    one = transcribe(probe(SAMPLE), TranscribeOptions(batch_size=1))
    many = transcribe(probe(SAMPLE), TranscribeOptions(batch_size=8))
    for role in ("agent", "customer"):
        ref = "".join(u.text for u in reference.by_role(role))
        cer_one = error_rate(ref, "".join(u.text for u in one.by_role(role)), "zh")
        cer_many = error_rate(ref, "".join(u.text for u in many.by_role(role)), "zh")
        assert abs(cer_many - cer_one) <= 0.02, (role, cer_one, cer_many)
    for t in (one, many):  # "手机号后四位是5678" is kept (Whisper base hears "后4位是567吧" either way)
        agent = "".join(u.text for u in t.by_role("agent"))
        assert re.search("后[4四]位是5?67", agent), agent


@pytest.mark.slow
def test_batched_decoding_keeps_every_repeat_of_a_sentence(tmp_path):
    from qa.speech.transcribe import TranscribeOptions, transcribe
    from tests.repeated_call import build_call, sentence_hits

    call = build_call(seed=0, minutes=1.6)
    t = transcribe(probe(call.write(tmp_path / "repeated.wav")), TranscribeOptions(language="zh", batch_size=8))
    hits = sentence_hits(call, t.utterances)
    assert len(hits) >= 10
    lost = [(s.role, s.start, s.text) for s, c in hits if c > 0.5
            and not any(d.role == s.role and d.start < s.end and d.end > s.start for d in t.dropped)]
    assert lost == []
    for role in ("agent", "customer"):
        assert error_rate(call.reference(role), "".join(u.text for u in t.by_role(role)), "zh") <= 0.15
