"""Text vs audio timings, how the customer ends the call (P4/R5), and absurd rubric weights."""

from __future__ import annotations

import pytest

from qa.errors import RubricError, TranscriptFormatError
from qa.intake.transcript_io import loads, dumps, parse_timed_text
from qa.scoring.rubric import DEFAULT_RUBRIC, parse_rubric
from qa.scoring.score import score_call
from qa.tagging.runner import tag

CHAT = """# language: zh
# call_id: chat-1
# timing: {timing}
00:00.0 00:03.0 agent 您好，请问有什么可以帮您？
00:03.5 00:08.0 customer 我的宽带又断了，太差了，怎么回事
00:08.5 00:11.0 agent 非常抱歉，请您稍等，我帮您查一下
00:41.0 00:47.0 agent 已经为您重新开通，今天下午三点前恢复
00:47.5 00:50.0 customer {ending}
"""


def items(text: str) -> dict:
    t = parse_timed_text(text)
    return {i.id: i for i in score_call(t, tag(t)).items}, t


def test_text_timings_leave_holds_and_speech_rate_unjudged_and_audio_timings_do_not():
    text_items, t = items(CHAT.format(timing="text", ending="好的，谢谢"))
    assert t.timing == "text"
    assert text_items["K1"].status == "n/a" and "timing: text" in text_items["K1"].reason
    assert text_items["T-RATE"].status == "n/a" and text_items["K1"].max_points == 0
    # P3 listens by times alone (overlap, share of talk, monologues): on text it used to pass every chat
    assert text_items["P3"].status == "n/a" and "times are not real" in text_items["P3"].reason
    card = score_call(t, tag(t))
    assert any("times are not real" in w for w in card.warnings)
    audio_items, _ = items(CHAT.format(timing="audio", ending="好的，谢谢"))
    assert audio_items["K1"].status != "n/a"  # the 30 s hold after 请您稍等 is judged on real times
    assert audio_items["P3"].status != "n/a"
    assert any(e.text.startswith("非常抱歉") for e in audio_items["K1"].evidence)


def test_timing_round_trips_and_bad_values_are_coded_errors():
    t = parse_timed_text(CHAT.format(timing="text", ending="好的"))
    assert loads(dumps(t)).timing == "text"
    with pytest.raises(TranscriptFormatError, match="timing"):
        parse_timed_text(CHAT.format(timing="approximate", ending="好的"))
    with pytest.raises(TranscriptFormatError, match="timing"):
        loads(dumps(t).replace('"timing": "text"', '"timing": "video"'))


@pytest.mark.parametrize("ending, outcome, p4, r5", [
    ("好的，谢谢", "thanks", "pass", "pass"),
    ("还是不行啊", "unresolved", "fail", "partial"),  # P4: still not solved is S2, pressing; R5 grades it
    ("是的，型号是X1", "open", "pass", "pass"),  # a bare answer after a complaint is latent (S1), down from S3
    ("我要投诉你们，打12315", "threat", "fail", "fail"),
])
def test_p4_and_r5_judge_how_the_customer_ends_a_complaint(ending, outcome, p4, r5):
    t = parse_timed_text(CHAT.format(timing="text", ending=ending))
    findings = tag(t)
    (found,) = [f for f in findings if f.kind == "call_outcome"]
    assert found.value == outcome and found.detail["complaint"] is True and ending in found.text
    scored = {i.id: i.status for i in score_call(t, findings).items}
    assert (scored["P4"], scored["R5"]) == (p4, r5)


def test_p4_is_na_when_the_customer_never_answers_the_agent_and_p5_when_there_is_no_problem():
    """One complaint post answered once has no ending to judge; an enquiry owes no empathy."""
    once = parse_timed_text("""# language: zh
# timing: text
00:00.0 00:05.0 customer 你们的宽带又断了，太差了
00:05.5 00:09.0 agent 您好，非常抱歉，已为您报修，今天下午三点前恢复
""")
    found = tag(once)
    (outcome,) = [f for f in found if f.kind == "call_outcome"]
    assert outcome.detail["complaint"] is True and outcome.detail["customer_replied"] is False
    scored = {i.id: i for i in score_call(once, found).items}
    assert scored["P4"].status == "n/a" and "never answered" in scored["P4"].reason
    assert scored["R5"].status != "n/a" and scored["P5"].status == "fail"
    enquiry = parse_timed_text("""# language: zh
# timing: text
00:00.0 00:03.0 customer 请问你们周末营业吗
00:03.5 00:06.0 agent 您好，周末正常营业
00:06.5 00:08.0 customer 好的，谢谢
""")
    scored = {i.id: i for i in score_call(enquiry, tag(enquiry)).items}
    assert scored["P5"].status == "n/a" and scored["P4"].status == "n/a"


@pytest.mark.parametrize("bad", [".inf", "1e308", ".nan", "-3"])
def test_absurd_weights_are_refused_naming_file_and_key(bad):
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.strip().startswith("weight:"))
    with pytest.raises(RubricError) as exc:
        parse_rubric(text.replace(first, first.split("weight:")[0] + f"weight: {bad}", 1), "team.yaml")
    assert exc.value.code == "E420" and "team.yaml" in str(exc.value) and "item P1" in str(exc.value)
    assert "weight" in str(exc.value)
