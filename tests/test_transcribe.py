"""Real audio through the real embedded model: text, languages, roles, timings."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.intake.transcript_io import dumps, loads
from qa.speech import asr
from qa.speech.asr import normalise_word, pack_spans
from qa.speech.audio import probe
from qa.speech.metrics import error_rate
from qa.types import Word
from tests.wavs import write_wav


@pytest.mark.parametrize("clip,limit", [
    # limits are for the default (beam 1) decoding; bench/transcribe.py reports beam 5 too
    ("zh/aishell-BAC009S0724W0121.wav", 0.20),
    ("zh/paddlespeech_zh.wav", 0.15),
    ("zh/funasr_hotline_zh.wav", 0.25),  # spontaneous hotline speech
    ("es/leopard_test_es.wav", 0.35),  # beam 1 mishears two rare words; beam 5 gets 0.25
    ("en/jfk.flac", 0.10),
    ("en/leopard_test_en.wav", 0.10),
])
def test_clip_is_transcribed_within_error_rate(data_dir, references, transcribe_file, clip, limit):
    language, reference = references[clip]
    t = transcribe_file(data_dir / clip)
    assert t.language == language
    hypothesis = " ".join(u.text for u in t.utterances)
    assert error_rate(reference, hypothesis, language) <= limit, hypothesis


@pytest.mark.parametrize("clip", ["zh/paddlespeech_zh.wav", "zh/funasr_hotline_zh.wav", "zh/aishell-BAC009S0724W0121.wav"])
def test_mandarin_comes_out_in_simplified_characters(data_dir, transcribe_file, clip):
    t = transcribe_file(data_dir / clip)
    assert t.utterances
    for u in t.utterances:
        assert normalise_word(u.text, "zh") == u.text
        assert "".join(w.text for w in u.words).strip() == u.text


def test_stereo_channels_become_agent_and_customer(data_dir, transcribe_file):
    t = transcribe_file(data_dir / "en/stereo_diarization.wav")
    assert t.roles.method == "channel" and t.roles.separated
    agent = " ".join(u.text for u in t.by_role("agent"))
    customer = " ".join(u.text for u in t.by_role("customer"))
    assert error_rate("He began a confused complaint against the wizard, who had vanished behind the curtain on the left.", agent, "en") < 0.15
    assert error_rate("The horizon seems extremely distant.", customer, "en") < 0.15
    # both sides talk at the same time here: overlapping speech is kept, sorted by start
    starts = [u.start for u in t.utterances]
    assert starts == sorted(starts) and t.utterances[0].end > t.utterances[1].start


def test_channel_map_in_a_sidecar_swaps_roles(data_dir, tmp_path, transcribe_file):
    audio = tmp_path / "swapped.wav"
    shutil.copy(data_dir / "en/stereo_diarization.wav", audio)
    (tmp_path / "swapped.wav.json").write_text(json.dumps({"channel_map": "customer,agent"}))
    from qa.pipeline.ingest import load_call

    t = load_call(audio)
    assert "horizon" in " ".join(u.text for u in t.by_role("agent")).lower()
    assert "wizard" in " ".join(u.text for u in t.by_role("customer")).lower()


@pytest.mark.slow
def test_call_filed_under_the_wrong_language_is_transcribed_in_the_language_heard(data_dir, tmp_path):
    audio = tmp_path / "filed-as-mandarin.flac"
    shutil.copy(data_dir / "en/jfk.flac", audio)
    (tmp_path / "filed-as-mandarin.flac.json").write_text(json.dumps({"language": "zh"}))
    from qa.pipeline.ingest import load_call
    from qa.scoring.score import warnings_for

    t = load_call(audio)
    assert t.meta.language == "zh" and t.language == "en"
    assert t.language_probability >= 0.9
    assert "country" in " ".join(u.text for u in t.utterances).lower()
    assert any("metadata says its language is zh" in w and "scored as en" in w for w in warnings_for(t))
    assert any("heard as en" in note for note in t.roles.notes)


@pytest.mark.slow
@pytest.mark.parametrize("label", [None, "zh"])
def test_a_german_call_is_refused_with_the_language_heard(data_dir, tmp_path, label):
    from qa.errors import UnsupportedLanguageError
    from qa.pipeline.ingest import load_call

    audio = tmp_path / "german.flac"
    shutil.copy(data_dir / "de/espeak_de_service_call.flac", audio)
    if label:
        (tmp_path / "german.flac.json").write_text(json.dumps({"language": label}))
    with pytest.raises(UnsupportedLanguageError, match="sounds like language 'de'") as refused:
        load_call(audio)
    assert ("its metadata says zh" in str(refused.value)) == (label == "zh")


@pytest.mark.slow
def test_language_forced_on_the_command_line_is_never_second_guessed(data_dir, tmp_path):
    from qa.speech.transcribe import TranscribeOptions, transcribe
    from qa.types import CallMeta

    t = transcribe(probe(data_dir / "en/jfk.flac", CallMeta(call_id="forced", language="zh")),
                   TranscribeOptions(language="es"))
    assert t.language == "es" and t.language_probability == 1.0


@pytest.mark.parametrize("probs,label,expected", [
    ({"zh": 0.2, "es": 0.7, "en": 0.1}, None, ("es", 0.7)),  # no label: the language heard
    ({"zh": 0.97, "es": 0.02, "en": 0.01}, "zh", ("zh", 1.0)),  # label and model agree
    ({"zh": 0.01, "es": 0.98, "en": 0.01}, "zh", ("es", 0.98)),  # the model is sure of another: relabelled
    ({"zh": 0.35, "es": 0.60, "en": 0.05}, "zh", ("zh", 0.35)),  # not sure enough: the label stays, unsure
    # a foreign language leads but not surely: English is the likeliest of ours only relative to the others
    ({"de": 0.60, "en": 0.36, "zh": 0.04}, "zh", ("zh", 0.1)),
])
def test_the_language_heard_overrules_a_label_only_when_the_model_is_sure(probs, label, expected):
    import dataclasses

    from qa.speech.asr import default_settings, settle_language

    settings = default_settings()
    language, p = settle_language(probs, label, settings)
    assert (language, round(p, 6)) == expected
    trusting = dataclasses.replace(settings, relabel_probability=None)
    assert settle_language(probs, label, trusting)[0] == (expected[0] if label is None else label)


def test_a_call_surely_in_another_language_is_refused_labelled_or_not():
    from qa.errors import UnsupportedLanguageError
    from qa.speech.asr import default_settings, settle_language

    probs = {"de": 0.91, "en": 0.06, "zh": 0.03}
    with pytest.raises(UnsupportedLanguageError, match="sounds like language 'de'"):
        settle_language(probs, None, default_settings())
    with pytest.raises(UnsupportedLanguageError, match="its metadata says zh"):
        settle_language(probs, "zh", default_settings())


def test_word_timings_are_monotonic_and_inside_their_utterance(data_dir, transcribe_file):
    for clip in ("en/jfk.flac", "zh/funasr_hotline_zh.wav", "en/stereo_diarization.wav"):
        t = transcribe_file(data_dir / clip)
        duration = probe(data_dir / clip).duration
        assert t.utterances, clip
        for u in t.utterances:
            assert u.words, "every utterance carries word timings"
            assert 0 <= u.start <= u.end <= duration + 0.05
            starts = [w.start for w in u.words]
            assert starts == sorted(starts)
            assert u.words[0].start == u.start and u.words[-1].end == u.end


def test_real_transcript_round_trips_through_json(data_dir, transcribe_file):
    t = transcribe_file(data_dir / "en/stereo_diarization.wav")
    assert loads(dumps(t)) == t


def test_transcript_records_how_it_was_made(data_dir, transcribe_file):
    t = transcribe_file(data_dir / "en/jfk.flac")
    assert t.asr["beam_size"] == 1 and t.asr["vad_filter"] is True
    assert t.source["sha256"] == probe(data_dir / "en/jfk.flac").sha256


def test_single_voice_mono_call_is_flagged_not_guessed(data_dir, transcribe_file):
    t = transcribe_file(data_dir / "en/jfk.flac")
    assert not t.roles.separated
    assert {u.role for u in t.utterances} == {"unknown"}
    assert any("could not be separated" in n for n in t.roles.notes)


@pytest.mark.slow
def test_stereo_file_with_identical_channels_is_treated_as_mono(data_dir, tmp_path):
    from qa.speech.audio import load_audio
    from qa.speech.transcribe import transcribe

    mono = load_audio(probe(data_dir / "zh/paddlespeech_zh.wav"))[0]
    write_wav(tmp_path / "dup.wav", np.repeat(mono[:, None], 2, axis=1), channels=2)
    t = transcribe(probe(tmp_path / "dup.wav"))
    assert t.roles.method == "diarization"
    assert any("same signal" in n for n in t.roles.notes)
    assert len({u.text for u in t.utterances}) == len(t.utterances)  # not transcribed twice


@pytest.mark.slow
def test_cli_writes_each_good_file_and_names_each_failure(data_dir, tmp_path):
    (tmp_path / "broken.wav").write_text("not audio")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["transcribe", str(data_dir / "en/jfk.flac"), str(tmp_path / "broken.wav"),
                                      "--out", str(out), "--format", "json"])
    assert result.exit_code == 1
    assert "broken.wav" in result.output and "E102" in result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == ["jfk.json"]
    assert loads((out / "jfk.json").read_text()).language == "en"


def test_cli_converts_a_timed_text_transcript_to_srt(tmp_path):
    src = tmp_path / "chat.txt"
    src.write_text("# language: en\n# call_id: chat-9\n0 2.5 agent Hello, how can I help?\n3 5 customer My order is late.\n")
    result = CliRunner().invoke(app, ["transcribe", str(src), "--format", "srt"])
    assert result.exit_code == 0, result.output
    assert "00:00:03,000 --> 00:00:05,000" in result.output and "[customer] My order is late." in result.output


def test_mono_two_party_call_is_split_and_words_attributed(data_dir, transcribe_file):
    from qa.speech.metrics import read_stm, word_speaker_accuracy

    t = transcribe_file(data_dir / "en/pyannote_two_party_call.wav")
    assert t.roles.method == "diarization" and t.roles.separated
    assert {u.speaker for u in t.utterances} == {"spk0", "spk1"}
    accuracy = word_speaker_accuracy(t, read_stm(data_dir / "en/pyannote_two_party_call.stm"))
    assert accuracy >= 0.80  # measured 0.84 (bench/transcribe.py); all words on one speaker would be ~0.55
    # a casual call has no agent cues: the roles are assigned but flagged as uncertain
    assert t.roles.confidence < 0.65 and any("uncertain" in n for n in t.roles.notes)


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "complaint_zh"


def test_sample_call_is_transcribed_per_role_within_cer(transcribe_file):
    from qa.intake.transcript_io import read_transcript
    from qa.speech.metrics import cer

    t = transcribe_file(SAMPLE / "call.flac")
    reference = read_transcript(SAMPLE / "reference.txt")
    assert t.call_id == "sample-complaint-zh" and t.meta.agent_id == "1024"  # from the sidecar JSON
    assert t.language == "zh" and t.roles.method == "channel"
    for role in ("agent", "customer"):
        ref = "".join(u.text for u in reference.by_role(role))
        hyp = "".join(u.text for u in t.by_role(role))
        assert cer(ref, hyp) <= 0.15, (role, hyp)


def test_sample_call_keeps_the_hold_as_a_gap_and_the_overlap(transcribe_file):
    t = transcribe_file(SAMPLE / "call.flac")
    hold = [g for g in t.gaps if g.duration >= 10]
    assert len(hold) == 1 and 70 <= hold[0].start <= 73 and 85 <= hold[0].end <= 88
    assert not any(71.8 < u.start < 86.3 for u in t.utterances), "nothing invented during the silent hold"
    overlapping = [(a, b) for a in t.by_role("customer") for b in t.by_role("agent") if a.start < b.start < a.end]
    assert any(99 <= b.start <= 102 for _, b in overlapping), "the agent starting over the customer is kept"


@pytest.mark.slow
def test_sample_call_mixed_to_mono_is_split_into_agent_and_customer(tmp_path):
    """A three-minute mono call is decoded in several pieces at once; the voices and roles must still come out right."""
    from qa.intake.transcript_io import read_transcript
    from qa.speech.audio import load_audio
    from qa.speech.metrics import word_speaker_accuracy
    from qa.speech.transcribe import transcribe

    mono = tmp_path / "mono_call.wav"
    write_wav(mono, load_audio(probe(SAMPLE / "call.flac")).mean(axis=0))
    t = transcribe(probe(mono))
    assert t.roles.method == "diarization" and t.roles.separated
    starts = [w.start for u in t.utterances for w in u.words]
    assert starts == sorted(starts), "words are in time order across pieces"
    reference = [(u.start, u.end, u.role) for u in read_transcript(SAMPLE / "reference.txt").utterances]
    assert word_speaker_accuracy(t, reference) >= MONO_SAMPLE_MIN_ACCURACY
    agent = " ".join(u.text for u in t.by_role("agent"))
    assert "为您服务" in agent and "抱歉" in agent, "the agent is told from the customer by what they say"


#: bench/transcribe.py measures the sample call mixed to mono (1.000 of words to the right voice, 0.995 to the right role).
MONO_SAMPLE_MIN_ACCURACY = 0.90  # measured 1.000


def test_cli_masks_phone_numbers_unless_told_to_keep_them(tmp_path):
    src = tmp_path / "pii.txt"
    src.write_text("# language: en\n0 3 customer My number is 415 555 0134, call me back.\n3.5 5 agent Sure.\n")
    masked = CliRunner().invoke(app, ["transcribe", str(src), "--format", "txt"])
    kept = CliRunner().invoke(app, ["transcribe", str(src), "--format", "txt", "--keep-pii"])
    assert masked.exit_code == 0 and kept.exit_code == 0
    assert "555 0134" not in masked.stdout and "[PHONE ••••0134]" in masked.stdout
    assert "415 555 0134" in kept.stdout


def _span(start_s: float, end_s: float) -> dict:
    return {"start": int(start_s * 16000), "end": int(end_s * 16000)}


def test_speech_is_packed_into_window_sized_pieces_in_order():
    spans = [_span(0, 10), _span(12, 25), _span(30, 36), _span(40, 50), _span(51, 52)]
    pieces = pack_spans(spans, 28)
    assert [s for piece in pieces for s in piece] == spans  # nothing lost, order kept
    assert [len(p) for p in pieces] == [2, 3]
    assert all(sum(s["end"] - s["start"] for s in p) <= 28 * 16000 for p in pieces)


def test_speech_longer_than_a_window_is_a_piece_of_its_own():
    spans = [_span(0, 5), _span(6, 70), _span(71, 80)]
    assert [len(p) for p in pack_spans(spans, 28)] == [1, 1, 1]
    assert pack_spans([], 28) == []


def test_a_piece_counts_the_pauses_put_between_its_spans():
    spans = [_span(0, 10), _span(12, 21), _span(30, 39)]  # 28 s of speech
    assert [len(p) for p in pack_spans(spans, 28)] == [3]
    assert [len(p) for p in pack_spans(spans, 28, gap=0.5)] == [2, 1]  # 28 s + two pauses of 0.5 s: too long


def test_joined_speech_has_a_pause_between_spans_and_words_go_back_to_their_own_span():
    from faster_whisper.transcribe import Segment, Word

    audio = np.arange(1, 40 * 16000 + 1, dtype=np.float32)
    spans = [_span(1, 3), _span(10, 12), _span(30, 31)]
    joined = asr.speech_of(audio, spans, gap=0.5)
    assert joined.size == (2 + 2 + 1 + 0.5 + 0.5) * 16000
    np.testing.assert_array_equal(joined[: 2 * 16000], audio[16000: 3 * 16000])
    assert not joined[2 * 16000: int(2.5 * 16000)].any()  # the pause
    np.testing.assert_array_equal(joined[int(2.5 * 16000): int(4.5 * 16000)], audio[10 * 16000: 12 * 16000])

    def word(start, end):
        return Word(start=start, end=end, word="x", probability=0.9)

    words = [word(0.5, 1.0),   # inside span 1: 1.5-2.0 s
             word(1.9, 2.3),   # runs into the pause, middle in its first half: span 1, cut at its end (3 s)
             word(2.2, 2.7),   # middle in the pause's second half: span 2, from its start (10 s)
             word(4.45, 5.1)]  # from span 2's end into span 3: middle in the pause, later half -> span 3
    segment = Segment(id=0, seek=0, start=0.5, end=5.1, text="x", tokens=[], avg_logprob=-0.1,
                      compression_ratio=1.0, no_speech_prob=0.0, words=words, temperature=0.0)
    silent = Segment(id=1, seek=0, start=5.2, end=5.9, text="", tokens=[], avg_logprob=-0.1,
                     compression_ratio=1.0, no_speech_prob=0.9, words=None, temperature=0.0)
    restored = asr.restore_times([segment, silent], spans, gap=0.5)
    assert [(w.start, w.end) for w in restored[0].words] == [(1.5, 2.0), (2.9, 3.0), (10.0, 10.2), (30.0, 30.1)]
    assert (restored[0].start, restored[0].end) == (1.5, 30.1)
    assert (restored[1].start, restored[1].end) == (30.2, 30.9)
    # without pauses the times are the plain offsets of the spans (faster-whisper's own rule)
    plain = asr.restore_times([Segment(**{**segment.__dict__, "words": [word(2.5, 3.0)]})], spans)
    assert (plain[0].words[0].start, plain[0].words[0].end) == (10.5, 11.0)


@pytest.mark.slow
def test_piece_times_map_back_to_the_recording(data_dir):
    """Speech cut out of a channel and joined is decoded with times on the channel's own clock."""
    from qa.speech.asr import default_settings, speech_spans, transcribe_signal
    from qa.speech.audio import load_audio
    from qa.speech.model import ModelOptions

    audio = load_audio(probe(data_dir / "zh" / "paddlespeech_zh.wav"))[0]
    padded = np.concatenate([np.zeros(16000 * 7, dtype=np.float32), audio])
    settings = default_settings()
    spans = speech_spans(padded, settings)
    assert spans and spans[0]["start"] >= 6.5 * 16000
    utterances = transcribe_signal(padded, "zh", ModelOptions(), settings, offset=100.0, spans=spans).utterances
    assert utterances and utterances[0].start >= 106.5
    assert utterances[-1].end <= 100.0 + padded.size / 16000


def test_uncovered_finds_the_speech_no_word_covers():
    from qa.speech.asr import default_settings, uncovered

    settings = default_settings()  # coverage_pad 0.4 s, min_uncovered 0.5 s
    spans = [_span(0, 4), _span(10, 30)]
    words = [Word(0.5, 1.0, "a"), Word(1.2, 2.4, "b"), Word(2.4, 3.6, "b"), Word(10.1, 11.0, "c"),
             Word(11.0, 12.0, "c")]
    missed = uncovered(spans, words, settings)
    assert missed == [{"start": int(12.4 * 16000), "end": 30 * 16000}]  # the first span is covered, edges and all
    assert uncovered(spans, [], settings) == spans
    shifted = [Word(w.start + 100, w.end + 100, w.text, w.probability) for w in words]
    assert uncovered(spans, shifted, settings, offset=100.0) == missed


def test_a_span_covered_in_part_is_decoded_again_whole_and_its_words_are_let_go():
    """Seed 2 of tests/repeated_call.py: 我想问 was timed late in its span, the first 0.85 s left uncovered
    and decoded alone wrote 我想 again (我想我想问). Now the whole span is decoded again instead."""
    from qa.types import Utterance

    settings = asr.default_settings()  # coverage_pad 0.4 s, min_uncovered 0.5 s
    group = [_span(0, 4), _span(10, 13), _span(20, 24)]
    late = [Word(11.8, 12.2, "我想"), Word(12.2, 12.6, "问")]  # the second span's 1.8 s before 我想: uncovered
    said = [Word(0.2, 1.5, "您好"), Word(1.5, 3.8, "请讲")] + late + [Word(20.1, 22.0, "我在"), Word(22.0, 23.9, "有房")]
    found = [Utterance("customer", 100.2, 103.8, "您好请讲", [_shift(w, 100) for w in said[:2]], speaker="ch1"),
             Utterance("customer", 111.8, 123.9, "我想问我在有房", [_shift(w, 100) for w in said[2:]], speaker="ch1")]
    kept, missed, how = asr.leftovers(group, found, settings, 100.0, budget=3, language="zh")
    assert missed == [_span(10, 13)] and how == "pack"
    assert [u.text for u in kept] == ["您好请讲", "我在有房"]  # 我想问 goes: the span is decoded again
    assert kept[1].start == 120.1 and [w.text for w in kept[1].words] == ["我在", "有房"]
    # a piece of one span: decoding it again whole is no progress, so only its missing part is retried
    kept, missed, how = asr.leftovers(group[1:2], found[1:], settings, 100.0, budget=3, language="zh")
    assert kept == found[1:] and how == "pack"
    assert [(m["start"] / 16000, round(m["end"] / 16000, 3)) for m in missed] == [(10.0, 11.4)]  # to 我想 less the pad
    # nothing missing: nothing retried
    assert asr.leftovers(group[:1], found[:1], settings, 100.0, budget=3, language="zh") == (found[:1], [], None)


def _shift(word: Word, seconds: float) -> Word:
    return Word(word.start + seconds, word.end + seconds, word.text)


def test_uncovered_speech_is_packed_again_after_progress_each_part_alone_after_none_and_dropped_when_spent():
    group = [_span(0, 10), _span(12, 20)]
    assert asr.retry(group, [_span(3, 6)], budget=1) == "pack"  # 3 s of 18 missing: progress
    assert asr.retry(group, group, budget=1) == "alone"  # nothing found in two spans: each on its own
    assert asr.retry(group[:1], group[:1], budget=1) is None  # one span, nothing found: dropped
    assert asr.retry(group, [_span(3, 6)], budget=0) is None  # retries spent


def _decoded(words: list[tuple[float, float, str]]):
    """A faster-whisper segment as the greedy decode gives it, from (start, end, word) on the piece's clock."""
    from faster_whisper.transcribe import Segment, Word as FwWord

    return Segment(id=0, seek=0, start=words[0][0], end=words[-1][1], text="".join(w for _, _, w in words),
                   tokens=list(range(len(words))), avg_logprob=-0.3, compression_ratio=1.1, no_speech_prob=0.0,
                   temperature=0.0, words=[FwWord(start=a, end=b, word=w, probability=0.6) for a, b, w in words])


def test_a_segment_with_a_word_stretched_over_skipped_speech_is_set_apart(monkeypatch):
    """Seed 1 of tests/repeated_call.py: in a piece of eight customer spans the decoder skipped five
    sentences; 问 was stretched over them (3.98-22.50 s on the piece's clock) and the 我想 before it was
    timed on a sentence that says 我认为… Its whole segment is decoded again, not written."""
    said = _decoded([(0.0, 0.3, "您"), (0.3, 0.6, "好")])
    skipping = _decoded([(3.18, 3.98, "我"), (3.98, 22.50, "问"), (23.32, 23.66, "我"), (23.66, 23.94, "冰")])
    rules = asr.default_settings()  # stretched_word 1.5 s
    assert asr.stretched_ones([said, skipping], rules) == {id(skipping)}
    assert asr.stretched_ones([_decoded([(0.0, 1.5, "嗯"), (1.5, 1.8, "好")])], rules) == set()  # 1.5 s is still a word

    spans = [_span(0, 4), _span(10, 30)]  # joined with 0.3 s pauses: the second starts at 4.3 s on the piece
    monkeypatch.setattr(asr, "_decode", lambda *a, **k: [said, skipping])
    monkeypatch.setattr(asr, "looped_ones", lambda *a, **k: set())
    track = asr.Track(np.zeros(30 * 16000, np.float32), [], offset=100.0, speaker="ch1", role="customer")
    found, rejected = asr._decode_piece(track, spans, "zh", asr.ModelOptions(), rules)
    assert [u.text for u in found] == ["您好"]
    assert [why for _, _, why in rejected] == [asr.SKIPPED]
    missed = asr.uncovered(spans, [w for u in found for w in u.words], rules, offset=100.0)
    assert [(round(m["start"] / 16000, 2), round(m["end"] / 16000, 2)) for m in missed] == [(1.0, 4.0), (10.0, 30.0)]


def test_too_few_words_for_their_speech_are_set_apart_in_a_piece_of_several_spans_only(monkeypatch):
    """Seed 95 of tests/repeated_call.py: in a piece of several agent spans the decoder wrote the
    recurring 我想问 where 广州市… was said, 我想 10.10-11.50 s and 问 11.50-12.90 s (no word over
    stretched_word, but 0.93 s a character). In a piece of several spans it is decoded again; a piece of
    one span keeps it, so a slow speaker's words are never lost to the rule."""
    said = _decoded([(0.0, 0.9, "我想"), (0.9, 2.0, "问")])  # 0.67 s a character, as the test clip says it
    written_over = _decoded([(10.1, 11.5, "我想"), (11.5, 12.9, "问")])
    brief = _decoded([(14.0, 14.8, "嗯")])  # slow, but shorter than slow_text_span
    rules = asr.default_settings()  # slow_text 0.7 s a character, slow_text_span 1.5 s
    assert asr.slow_ones([said, written_over, brief], rules) == {id(written_over)}
    assert asr.misplaced([said, written_over], rules, several=True) == {id(written_over): asr.SLOW}
    assert asr.misplaced([said, written_over], rules) == {}

    monkeypatch.setattr(asr, "_decode", lambda *a, **k: [said, written_over])
    monkeypatch.setattr(asr, "looped_ones", lambda *a, **k: set())
    track = asr.Track(np.zeros(30 * 16000, np.float32), [], offset=0.0, speaker="ch0", role="agent")
    found, rejected = asr._decode_piece(track, [_span(0, 3), _span(8, 16)], "zh", asr.ModelOptions(), rules)
    assert [u.text for u in found] == ["我想问"] and [why for _, _, why in rejected] == [asr.SLOW]
    found, rejected = asr._decode_piece(track, [_span(0, 16)], "zh", asr.ModelOptions(), rules)
    assert [u.text for u in found] == ["我想问", "我想问"] and rejected == []


@pytest.mark.slow
@pytest.mark.parametrize("seed,minutes,limit", [
    (0, 1.6, 0.15),
    # a sentence skipped under a stretched word; four of its five sentences are the hotline clip, whose
    # 滨海新区 base hears as 冰海星区 or 冰台新区 (2 of 11 characters wrong each time, on every configuration:
    # 0.15 of the agent's 53); since the 0.3 s pauses between joined spans (join_gap) the second one
    # also loses 星区有房 under the next sentence's 我认, timed early by the alignment: 0.208; since spans
    # covered in part are decoded again whole (asr.leftovers), 0.189 / 0.182
    (4, 0.6, 0.20),
    # a piece of eight customer spans skipped five sentences under a stretched 问 (now set apart and decoded
    # again: asr.stretched_ones), and a span's words timed late left its start to be decoded alone, 我想
    # written twice (now the span is decoded again whole: asr.leftovers); one sentence was missing, customer
    # CER 0.200; now none, 0.159 / 0.136
    (1, 3.0, 0.17),
])
def test_repeated_sentences_are_all_transcribed_or_listed_as_dropped(tmp_path, seed, minutes, limit):
    """Issue 15: a call of real clips whose sentences recur. Whisper ended a 27 s piece holding eight
    customer sentences after the first one, and the other seven vanished (customer CER 0.58 over
    three minutes); now every sentence is in the transcript or in ``dropped``."""
    from qa.speech.transcribe import TranscribeOptions, transcribe
    from tests.repeated_call import build_call, sentence_hits

    call = build_call(seed=seed, minutes=minutes)
    t = transcribe(probe(call.write(tmp_path / "repeated.wav")), TranscribeOptions(language="zh"))
    hits = sentence_hits(call, t.utterances)
    assert len(hits) >= 5 and {s.role for s, _ in hits} == {"agent", "customer"}
    lost = [(s.role, s.start, s.text) for s, c in hits if c > 0.5
            and not any(d.role == s.role and d.start < s.end and d.end > s.start for d in t.dropped)]
    assert lost == []
    for role in ("agent", "customer"):
        heard = "".join(u.text for u in t.by_role(role))
        assert error_rate(call.reference(role), heard, "zh") <= limit, (role, heard)
    assert loads(dumps(t)).dropped == t.dropped


@pytest.mark.slow
def test_the_transcript_is_the_same_whatever_order_the_workers_finish_in(monkeypatch):
    """Each side starts its next round of leftovers as soon as its own round is over (no core idles while
    the other side finishes): what is packed with what must still depend on that side's results only."""
    from concurrent.futures import ThreadPoolExecutor

    from qa.speech.model import ModelOptions
    from tests.repeated_call import build_call

    call = build_call(seed=0, minutes=1.6)
    settings = asr.default_settings()
    decoded = []
    real = asr._decode_piece
    monkeypatch.setattr(asr, "_decode_piece", lambda *a: decoded.append(a[1]) or real(*a))
    tracks = []
    for channel, role in ((0, "agent"), (1, "customer")):
        audio = np.ascontiguousarray(call.samples[channel])
        tracks.append(asr.Track(audio, pack_spans(asr.speech_spans(audio, settings), settings.piece_seconds),
                                speaker=f"ch{channel}", role=role))
    alone = asr.decode_tracks(tracks, "zh", ModelOptions(), settings)
    assert len(decoded) > sum(len(t.pieces) for t in tracks)  # leftovers were decoded in later rounds
    with ThreadPoolExecutor(max_workers=2) as pool:
        side_by_side = asr.decode_tracks(tracks, "zh", ModelOptions(), settings, pool=pool, workers=2)
    assert side_by_side == alone and alone.utterances


def test_a_piece_is_halved_by_its_speech_in_order():
    group = [_span(0, 10), _span(12, 14), _span(20, 22), _span(30, 40)]
    assert asr.halves(group) == [group[:2], group[2:]]  # 12 s | 12 s
    assert asr.halves(group[:2]) == [group[:1], group[1:2]]
    assert asr.halves([_span(0, 2), _span(3, 30)]) == [[_span(0, 2)], [_span(3, 30)]]


@pytest.mark.slow
def test_a_looping_piece_is_decoded_again_in_two_windows_not_with_the_temperature_ladder(tmp_path, monkeypatch):
    """Seed 3 of tests/repeated_call.py: the customer's fourth piece (six spans, 17.8 s) loops greedy
    (我詳細地說, 224 tokens); its halves do not, and no window needs the ladder's sampling. The piece
    loops in a 30 s window of seamlessly joined spans (with the default fitted windows and pauses it
    happens not to loop), so the test decodes it that way."""
    from qa.speech.transcribe import TranscribeOptions, transcribe
    from tests.repeated_call import build_call, sentence_hits

    looping = replace(asr.default_settings(), window_margin=None, join_gap=0.0)
    monkeypatch.setattr(asr, "default_settings", lambda: looping)
    split, ladders = [], []
    real_halves, real_run = asr.halves, asr._run_model
    monkeypatch.setattr(asr, "halves", lambda group: split.append(group) or real_halves(group))
    monkeypatch.setattr(asr, "_run_model", lambda *a, **k: (len(a[-1]) > 1 and ladders.append(a[-1])) or real_run(*a, **k))
    call = build_call(seed=3, minutes=3.0)
    t = transcribe(probe(call.write(tmp_path / "looping.wav")), TranscribeOptions(language="zh"))
    assert len(split) >= 1 and all(len(group) > 1 for group in split)
    assert ladders == []
    lost = [s for s, c in sentence_hits(call, t.utterances) if c > 0.5]
    assert lost == [] and t.dropped == []


def _window(tokens: int, ratio: float, logprob: float, seek: int = 0) -> list:
    return [SimpleNamespace(seek=seek, tokens=list(range(tokens)), compression_ratio=ratio, avg_logprob=logprob)]


def test_only_an_unlikely_window_or_a_decoder_loop_is_decoded_again_with_the_temperature_ladder():
    settings = asr.default_settings()
    model = SimpleNamespace(frames_per_second=100, max_length=448)
    said_three_times = _window(48, 2.46, -0.3)  # 10 s of speech, 4.8 tokens/s (tests/repeated_call.py)
    assert asr._needs_fallback(said_three_times, 10.0, model, settings) is False
    assert asr._needs_fallback(_window(48, 1.5, -0.3), 10.0, model, settings) is False
    assert asr._needs_fallback(_window(48, 1.5, -1.4), 10.0, model, settings) is True  # unlikely text
    assert asr._needs_fallback(_window(120, 2.9, -0.2), 10.0, model, settings) is True  # 12 tokens/s: a loop
    assert asr._needs_fallback(_window(445, 2.9, -0.2), 100.0, model, settings) is True  # filled the window
    # the second window of a 40 s signal holds 10 s: 120 tokens there are a loop, in the first they are not
    assert asr._needs_fallback(_window(120, 2.9, -0.2, seek=3000), 40.0, model, settings) is True
    assert asr._needs_fallback(_window(120, 2.9, -0.2, seek=0), 40.0, model, settings) is False


@pytest.mark.slow
def test_the_language_pass_and_the_decode_of_the_same_piece_share_one_encoder_pass(data_dir):
    from qa.speech.model import ModelOptions, load_model
    from qa.speech.transcribe import TranscribeOptions, transcribe

    model = load_model(ModelOptions())
    clip = data_dir / "en/stereo_diarization.wav"
    before = model.reused
    t = transcribe(probe(clip), TranscribeOptions())  # no label: each side's first piece is heard, then decoded
    assert model.reused - before == 2
    assert t.language == "en" and t.language_probability > 0.9
    window = np.zeros((80, 3000), np.float32)
    model.encode(window), model.encode(window)  # a decoder's window is never asked for twice: not kept
    assert model.reused - before == 2
    # the language pass reads the decoder's frames (one fewer at the end): the verdict is the same as on the audio
    speech = load_audio_side(clip)
    by_audio = dict(model.detect_language(audio=speech, language_detection_segments=1)[2])
    by_frames = asr.language_probabilities([speech], ModelOptions())
    assert max(by_audio, key=by_audio.get) == max(by_frames, key=by_frames.get) == "en"
    assert abs(by_audio["en"] - by_frames["en"]) < 0.01


def load_audio_side(clip: Path) -> np.ndarray:
    from qa.speech.audio import load_audio

    return np.ascontiguousarray(load_audio(probe(clip))[0][: 30 * 16000])


@pytest.mark.slow  # the model's window and length limits come from the real model
def test_a_window_still_looping_after_the_ladder_is_listed_as_dropped_not_written(monkeypatch):
    """Seed 9 of tests/repeated_call.py in 20 s pieces: a single span looped at every temperature and the
    ladder's sampled text (agent CER 1.30 or 2.40, run to run) was written; now its speech is dropped, with why."""
    from faster_whisper.transcribe import Segment, Word

    def segment(seek, start, end, tokens, ratio, text):
        return Segment(id=0, seek=seek, start=start, end=end, text=text, tokens=list(range(tokens)),
                       avg_logprob=-0.4, compression_ratio=ratio, no_speech_prob=0.0, temperature=1.0,
                       words=[Word(start=start, end=end, word=text, probability=0.5)])

    decoded = [segment(0, 0.2, 1.0, 12, 1.2, "您好"),                # the first window: an ordinary sentence
               segment(3000, 30.5, 33.0, 300, 9.0, "我想我想我想")]    # the second: 300 tokens for ~4 s: a loop
    monkeypatch.setattr(asr, "_decode", lambda *a, **k: decoded)
    audio = np.zeros(34 * 16000, np.float32)
    track = asr.Track(audio, [], offset=100.0, speaker="ch0", role="agent")
    found, rejected = asr._decode_piece(track, [_span(0, 34)], "zh", asr.ModelOptions(), asr.default_settings())
    assert [u.text for u in found] == ["您好"] and found[0].start == 100.2
    assert rejected == [(130.5, 133.0, "decoder loop at every temperature")]


def test_a_segment_whose_words_have_no_length_is_unaligned():
    from faster_whisper.transcribe import Segment, Word

    def segment(times):
        return Segment(id=0, seek=0, start=times[0][0], end=times[-1][1], text="x", tokens=[], avg_logprob=-0.2,
                       compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0,
                       words=[Word(start=a, end=b, word="字", probability=0.5) for a, b in times])

    # seed 41 of tests/repeated_call.py: 我在冰台心区有房 written where 广州市… was said, most characters at 0 s
    flat = segment([(0.0, 0.54), (0.54, 0.54), (0.54, 0.54), (0.54, 0.70), (0.70, 1.56), (1.56, 1.56), (1.56, 1.56)])
    said = segment([(0.0, 0.22), (0.22, 0.38), (0.38, 0.80), (0.80, 1.20), (1.20, 1.40), (1.40, 1.64)])
    one_short = segment([(0.0, 0.3), (0.3, 0.3), (0.3, 0.6), (0.6, 0.9)])  # one word of four: still aligned
    rules = asr.default_settings()
    assert asr.unaligned(flat, rules) and not asr.unaligned(said, rules) and not asr.unaligned(one_short, rules)
    assert not asr.unaligned(segment([(0.5, 0.5), (0.5, 0.5)]), rules)  # two words are too few to judge
    assert asr.unaligned_ones([said, flat, one_short], rules) == {id(flat)}


@pytest.mark.slow  # the loop check reads the real model's limits
def test_unaligned_text_is_not_written_and_its_speech_is_accounted_for(monkeypatch):
    from faster_whisper.transcribe import Segment, Word

    def segment(start, times, text):
        return Segment(id=0, seek=0, start=start + times[0][0], end=start + times[-1][1], text=text,
                       tokens=list(range(len(times))), avg_logprob=-0.3, compression_ratio=1.1, no_speech_prob=0.0,
                       temperature=0.0, words=[Word(start=start + a, end=start + b, word=c, probability=0.6)
                                               for (a, b), c in zip(times, text)])

    decoded = [segment(0.2, [(0, 0.3), (0.3, 0.6)], "您好"),
               segment(5.0, [(0, 0), (0, 0), (0, 0.1), (0.1, 0.1)], "我在有房")]
    monkeypatch.setattr(asr, "_decode", lambda *a, **k: decoded)
    track = asr.Track(np.zeros(10 * 16000, np.float32), [], offset=100.0, speaker="ch1", role="customer")
    found, rejected = asr._decode_piece(track, [_span(0, 10)], "zh", asr.ModelOptions(), asr.default_settings())
    assert [u.text for u in found] == ["您好"]
    assert rejected == [(105.0, 105.1, asr.UNALIGNED)]
    missed = asr.uncovered([_span(0, 10)], [w for u in found for w in u.words], asr.default_settings())
    assert missed and missed[-1]["end"] == 10 * 16000  # the rest of the piece is decoded again, or dropped with why
    dropped = asr.dropped_parts(missed[-1:], [(5.0, 5.1, asr.UNALIGNED)], 0.0, "customer", "ch1", False)
    assert dropped[0].reason == asr.UNALIGNED
