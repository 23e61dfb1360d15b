"""Mono speaker split (qa.speech.diarize) on real recordings.

The accuracy floor (0.80) comes from bench/diarization.py: the split reaches
0.85 frame attribution accuracy on the two-party call, so 0.80 leaves room for
numeric noise across platforms but still fails if the split degrades to a
one-speaker guess (0.53 = the larger speaker's share of single-speaker frames).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio

from qa.errors import ConfigError
from qa.speech.diarize import (
    DiarizeInputError,
    DiarizeOptions,
    SpeakerTurn,
    assign_words,
    default_options,
    speech_regions,
    split_speakers,
)
from qa.types import Word

DATA = Path(__file__).parent / "data" / "en"
SR = 16000
ACCURACY_FLOOR = 0.80


def load(name: str) -> np.ndarray:
    return decode_audio(str(DATA / name), sampling_rate=SR)


@pytest.fixture(scope="module")
def call() -> np.ndarray:
    return load("pyannote_two_party_call.wav")


@pytest.fixture(scope="module")
def call_split(call):
    return split_speakers(call)


def rttm_frames(path: Path, duration: float, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(grid times, [frames, speakers] activity) from an RTTM file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.startswith("SPEAKER")]
    names = sorted({r[7] for r in rows})
    t = np.arange(0.0, duration, step) + step / 2
    ref = np.zeros((len(t), len(names)), dtype=bool)
    for r in rows:
        start, length = float(r[3]), float(r[4])
        ref[(t >= start) & (t < start + length), names.index(r[7])] = True
    return t, ref


def attribution_accuracy(turns: list[SpeakerTurn], t: np.ndarray, ref: np.ndarray) -> float:
    """Best-mapping accuracy over frames with exactly one reference speaker and a hypothesis."""
    hyp = np.full(len(t), -1)
    for turn in turns:
        hyp[(t >= turn.start) & (t < turn.end)] = int(turn.speaker[-1])
    single = (ref.sum(axis=1) == 1) & (hyp >= 0)
    truth = ref[single].argmax(axis=1)
    same = float((hyp[single] == truth).mean())
    return max(same, 1.0 - same)


def test_two_party_call_splits_into_two_speakers_above_accuracy_floor(call, call_split):
    assert call_split.separated, call_split.notes
    assert call_split.num_speakers == 2
    assert {turn.speaker for turn in call_split.turns} == {"spk0", "spk1"}
    t, ref = rttm_frames(DATA / "pyannote_two_party_call.rttm", len(call) / SR)
    assert attribution_accuracy(call_split.turns, t, ref) >= ACCURACY_FLOOR
    assert 0.5 <= call_split.confidence <= 1.0


def test_two_party_call_turns_are_ordered_disjoint_and_named_by_first_speaker(call_split):
    turns = call_split.turns
    assert turns[0].speaker == "spk0"
    assert all(a.end <= b.start + 1e-9 for a, b in zip(turns, turns[1:]))
    assert all(turn.end > turn.start for turn in turns)


def test_two_party_call_second_speaker_holds_the_stm_reply(call_split):
    # .stm: Sheila says "And I'm Sheila in Texas, originally from Chicago." 14.444-17.769,
    # Diane says "Oh, I'm originally from Chicago also." 17.789-20.113.
    sheila = assign_words([Word(15.0, 17.0, "Sheila")], call_split.turns)[0]
    diane = assign_words([Word(18.5, 20.0, "Chicago")], call_split.turns)[0]
    assert sheila != diane


@pytest.mark.parametrize("name", ["jfk.flac", "librispeech-1995-1837-0001.wav"])
def test_single_speaker_recording_is_not_separated(name):
    result = split_speakers(load(name))
    assert not result.separated
    assert result.num_speakers == 1
    assert result.confidence == 0.0
    assert result.notes and "not" in result.notes[0]
    assert {turn.speaker for turn in result.turns} == {"spk0"}
    # decided by the voice test, not merely by the clip being short
    assert "bic_ratio" in result.stats


def test_two_real_voices_interleaved_are_separated():
    jfk, libri = load("jfk.flac"), load("librispeech-1995-1837-0001.wav")
    mixed = np.concatenate([jfk[:5 * SR], libri[:4 * SR], jfk[5 * SR:], libri[4 * SR:]])
    result = split_speakers(mixed)
    assert result.separated, result.notes
    first_jfk = assign_words([Word(1.0, 1.5, "fellow")], result.turns)[0]
    first_libri = assign_words([Word(6.5, 7.0, "sorrow")], result.turns)[0]
    assert first_jfk != first_libri


def test_silence_reports_no_speaker_with_a_note():
    result = split_speakers(np.zeros(3 * SR, dtype=np.float32))
    assert (result.separated, result.num_speakers, result.turns) == (False, 0, [])
    assert "no speech" in result.notes[0]


@pytest.mark.parametrize("length", [0, 100, SR // 2])
def test_very_short_audio_is_not_separated_with_a_note(length):
    result = split_speakers(load("jfk.flac")[SR:SR + length])
    assert not result.separated
    assert result.num_speakers in (0, 1)
    assert result.notes


def test_split_is_deterministic(call, call_split):
    again = split_speakers(call.copy())
    assert again.turns == call_split.turns
    assert again.confidence == call_split.confidence
    assert again.stats == call_split.stats


def test_speech_regions_lie_inside_the_audio_and_skip_the_leading_silence(call):
    regions = speech_regions(call)
    assert regions
    assert all(0.0 <= s < e <= len(call) / SR for s, e in regions)
    # the call's first words start at 6.69 s (rttm); nothing before 6 s is speech
    assert regions[0][0] > 6.0


def test_assign_words_uses_most_overlap_then_nearest_turn():
    turns = [SpeakerTurn(0.0, 2.0, "spk0"), SpeakerTurn(2.0, 4.0, "spk1"),
             SpeakerTurn(6.0, 8.0, "spk0")]
    words = [
        Word(0.5, 1.0, "inside-first"),
        Word(1.8, 2.6, "mostly-second"),  # 0.2 s in spk0, 0.6 s in spk1
        Word(4.2, 4.5, "gap-near-second"),  # no overlap, 0.2 s after spk1
        Word(5.6, 5.9, "gap-near-third"),  # no overlap, 0.1 s before spk0
        Word(9.0, 9.5, "after-everything"),
    ]
    assert assign_words(words, turns) == ["spk0", "spk1", "spk1", "spk0", "spk0"]


def test_assign_words_without_turns_leaves_speakers_empty():
    assert assign_words([Word(0.0, 1.0, "hello")], []) == [""]


def test_wrong_sample_rate_is_refused_with_the_fix():
    with pytest.raises(DiarizeInputError, match="sampling_rate=16000"):
        split_speakers(np.zeros(8000, dtype=np.float32), sample_rate=8000)


def test_stereo_array_is_refused_with_the_fix():
    with pytest.raises(DiarizeInputError, match="mono"):
        split_speakers(np.zeros((2, SR), dtype=np.float32))


def test_settings_file_with_a_missing_key_is_refused(tmp_path):
    text = (Path(__file__).parents[1] / "qa" / "data" / "diarize.yaml").read_text()
    broken = tmp_path / "diarize.yaml"
    broken.write_text(text.replace("min_bic_ratio:", "min_bic_ratio_typo:"))
    with pytest.raises(ConfigError, match="min_bic_ratio"):
        DiarizeOptions.load(broken)


def test_shipped_settings_load():
    options = default_options()
    assert options.min_bic_ratio > 1.0  # stricter than plain BIC: content splits gain too
    assert options.length_s > options.hop_s
