"""Edge cases of the lexicon taggers that YAML cases cannot express.

Empty calls, one speaker, a language without a lexicon, garbage text, and the
audio-driven parts (voice rises, rising pitch) that need ``UtteranceAcoustics``.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from qa.errors import AcousticsAlignmentError
from qa.tagging.context import make_context
from qa.tagging.runner import tag
from qa.tagging.taggers import TAGGERS
from qa.tagging.taggers.t_tone import tag as tag_tone
from qa.text.lexicon import DEFAULT_ROOT
from qa.types import Transcript, Utterance, UtteranceAcoustics

CUES = ["p1_feelings_first", "p2_first_contact", "p5_empathy", "p6_remedy", "r2_restatement", "r3_steps",
        "r4_anything_else", "r6_self_protection", "k2_transfers", "k3_clarity", "x1_x3_x4_x6_cues"]
MINE = ["t_tone", "t_address", "t_question", "s1_s6_stages", *CUES, "idl_ppc_phases"]


def _call(rows, language="zh", call_id="edge") -> Transcript:
    utterances = [Utterance(role=r, start=s, end=e, text=t, speaker=r) for s, e, r, t in rows]
    return Transcript(call_id=call_id, language=language, duration=max((u.end for u in utterances), default=0.0),
                      utterances=utterances)


def _kinds(findings, course_id=None):
    return {f.kind for f in findings if course_id is None or f.id == course_id}


COMPLAINT = [
    (0.0, 3.0, "agent", "您好，请问有什么可以帮您？"),
    (3.5, 9.0, "customer", "你们太过分了，我要投诉！"),
    (9.5, 14.0, "agent", "非常抱歉给您带来不便，我马上为您处理。"),
    (14.5, 17.0, "customer", "快点。"),
    (17.5, 21.0, "agent", "好的，请您稍等。"),
    (21.5, 24.0, "customer", "好的。"),
]


def test_empty_transcript_gives_only_not_applicable():
    findings = tag(_call([]), only=MINE)
    assert all(f.kind == "not_applicable" for f in findings)


def test_customer_only_call_says_agent_items_not_applicable():
    findings = tag(_call([r for r in COMPLAINT if r[2] == "customer"]), only=MINE)
    na = {f.id for f in findings if f.kind == "not_applicable"}
    assert {"P1", "P2", "P6", "R4", "IDL+PPC"} <= na
    assert "stage" in _kinds(findings)  # the customer's stages are still tracked


def test_agent_only_call_says_stages_and_p1_not_applicable():
    findings = tag(_call([r for r in COMPLAINT if r[2] == "agent"]), only=MINE)
    na = {f.id for f in findings if f.kind == "not_applicable"}
    assert {"S1", "S6", "P4", "P1", "P6"} <= na
    assert "greeting" in _kinds(findings, "P2")


@pytest.fixture
def lexicons_without_zh(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "lexicons"
    shutil.copytree(DEFAULT_ROOT, root)
    shutil.rmtree(root / "zh")
    monkeypatch.setenv("CALLQA_LEXICONS", str(root))
    return root


def test_language_without_lexicon_gives_not_applicable_per_course_id(lexicons_without_zh):
    findings = tag(_call(COMPLAINT), only=MINE)
    mine = [f for f in findings if f.tagger.split("@")[0] in MINE]
    assert mine and all(f.kind == "not_applicable" for f in mine)
    ids = [f.id for f in mine]
    assert len(ids) == len(set(ids)), "one not_applicable per course ID"
    assert {"T-TONE", "T-ADDRESS", "T-QUESTION", "S3", "P1", "R6", "IDL+PPC"} <= set(ids)
    assert "no lexicon" in mine[0].detail["reason"]


def test_malformed_lexicon_is_an_error_not_a_silent_not_applicable(tmp_path, monkeypatch):
    from qa.errors import LexiconError

    root = tmp_path / "lexicons"
    shutil.copytree(DEFAULT_ROOT, root)
    with (root / "zh" / "tone.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  - {phrase: 投诉, id: P99, kind: anger, role: customer}\n")
    monkeypatch.setenv("CALLQA_LEXICONS", str(root))
    with pytest.raises(LexiconError, match=r"tone\.yaml.*P99"):
        tag(_call(COMPLAINT), only=MINE)


def test_garbage_and_very_long_lines_do_not_crash():
    rng = random.Random(7)
    symbols = "!@#$%^&*()_+{}|:<>?~`-=[]\\;',./。，？！…“”、\u3000\t"
    junk = "".join(rng.choice(symbols) for _ in range(2000))
    long_zh = "我们你您他们请稍等太过分了投诉首先然后" * 500  # 10,000 characters in one line
    rows = [(0.0, 2.0, "customer", junk), (2.5, 300.0, "agent", long_zh), (300.5, 301.0, "customer", "？？？"),
            (301.5, 302.0, "agent", "\u200b\ufeff")]
    findings = tag(_call(rows), only=MINE)
    assert any(f.kind == "address_counts" for f in findings)
    findings = tag(_call([(0.0, 5.0, "customer", "¿¿¿???!!! " * 500), (5.5, 9.0, "agent", "x" * 5000)], "es"), only=MINE)
    assert all(f.start <= f.end for f in findings)


def _acoustic_call():
    rows = [(i * 4.0, i * 4.0 + 3.0, "customer" if i % 2 else "agent", "嗯，好的。") for i in range(10)]
    rows.append((40.0, 44.0, "customer", "你们到底什么时候处理？"))
    calm = [UtteranceAcoustics(loudness_db=-30.0, pitch_hz=180.0 if i % 2 else 120.0) for i in range(10)]
    return _call(rows), calm


def test_customer_voice_rising_over_own_baseline_fires_loudness_and_pitch_rise():
    transcript, acoustics = _acoustic_call()
    acoustics = acoustics + [UtteranceAcoustics(loudness_db=-20.0, pitch_hz=240.0)]
    ctx = make_context(transcript, acoustics)
    found = {(f.kind, f.start) for f in tag_tone(ctx)}
    assert ("loudness_rise", 40.0) in found and ("pitch_rise", 40.0) in found
    assert not any(k in ("loudness_rise", "pitch_rise") and t < 40.0 for k, t in found)
    stages = tag(transcript, acoustics, only=["s1_s6_stages"])
    loud = [f for f in stages if f.kind == "stage" and f.start == 40.0]
    assert loud and loud[0].detail["loud"] and loud[0].detail["level"] >= 2


def test_agent_raising_voice_is_a_tone_finding_too():
    transcript, acoustics = _acoustic_call()
    transcript.utterances.append(Utterance("agent", 45.0, 48.0, "你听清楚！", speaker="agent"))
    acoustics = acoustics + [UtteranceAcoustics(-30.0, 180.0), UtteranceAcoustics(-21.0, 125.0)]
    rises = [f for f in tag_tone(make_context(transcript, acoustics)) if f.kind == "loudness_rise"]
    assert [(f.role, f.start) for f in rises] == [("agent", 45.0)]
    assert rises[0].detail["rising_anger"] is False


def test_too_few_measured_utterances_give_no_voice_baseline():
    transcript = _call([(0, 3, "customer", "好的。"), (4, 7, "customer", "我要投诉！")])
    acoustics = [UtteranceAcoustics(-40.0, 150.0), UtteranceAcoustics(-10.0, 300.0)]
    kinds = _kinds(tag_tone(make_context(transcript, acoustics)))
    assert not kinds & {"loudness_rise", "pitch_rise"}


def test_misaligned_acoustics_are_refused_with_a_fix():
    transcript, acoustics = _acoustic_call()
    with pytest.raises(AcousticsAlignmentError, match="measure the same transcript"):
        tag_tone(make_context(transcript, acoustics[:3]))


def test_rising_pitch_turns_an_unpunctuated_statement_into_a_question():
    transcript = _call([(0.0, 3.0, "agent", "您是昨天下的单"), (3.5, 5.0, "customer", "对")])
    flat = tag(transcript, only=["t_question"])
    rising = tag(transcript, [UtteranceAcoustics(-30.0, 150.0, final_pitch_slope=6.0),
                              UtteranceAcoustics(-30.0, 150.0)], only=["t_question"])
    assert not any(f.kind.endswith("_question") and f.start == 0.0 for f in flat)
    asked = [f for f in rising if f.kind.endswith("_question")]
    assert asked and asked[0].detail["rising_pitch"] is True


def test_every_lexicon_tagger_is_registered():
    assert {name.split("@")[0] for name in TAGGERS} >= set(MINE)
