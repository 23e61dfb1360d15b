"""The labelled real sets (datasets/real/): references resolve, splits hold, licences are kept, figures hold."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qa.errors import RealSetError
from qa.intake import realsets
from qa.intake.realsets import (QUESTION_COLUMNS, SHIPPABLE, load_real_dialogues, load_real_questions,
                                shared_data_dir, split_of)
from qa.types import Transcript, Utterance

REPO = Path(__file__).resolve().parents[1]
needs_shared = pytest.mark.skipif(shared_data_dir() is None, reason=realsets.MISSING_DATA)


def test_shippable_questions_load_without_the_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv(realsets.SHARED_ENV, str(tmp_path / "absent"))
    realsets.dialogues.cache_clear()
    found, skipped = load_real_questions()
    assert found and {q.ref.source for q in found} <= set(SHIPPABLE)
    assert all(q.text.strip() for q in found)
    assert "stc3_zh" in skipped and "dihana" in skipped
    dialogues, skipped = load_real_dialogues()
    assert dialogues == [] and "stc3_zh" in skipped
    realsets.dialogues.cache_clear()


def test_a_row_moved_to_the_other_split_is_refused(tmp_path):
    line = (REPO / "datasets/real/questions.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")
    line[-1] = "train" if line[-1] == "test" else "test"
    bad = tmp_path / "q.tsv"
    bad.write_text("\t".join(QUESTION_COLUMNS) + "\n" + "\t".join(line) + "\n", encoding="utf-8")
    with pytest.raises(RealSetError, match="splits are by dialogue"):
        load_real_questions(bad)


def test_split_is_by_dialogue_and_salted():
    assert split_of("stc3_zh", "123") == split_of("stc3_zh", "123")
    shares = [split_of("x", str(n)) == "test" for n in range(2000)]
    assert 0.25 < sum(shares) / len(shares) < 0.35
    salted = [split_of("x", str(n), "dialogues") == "test" for n in range(2000)]
    assert salted != shares


def test_shipped_classifier_trains_on_shippable_train_rows_only():
    from qa.tagging.questions.model import shippable_real_rows

    rows = shippable_real_rows()
    assert rows and all(r.split == "train" and r.source_note.startswith("real: ") for r in rows)
    assert {r.source_note[6:] for r in rows} <= set(SHIPPABLE)


def _stages(texts: list[tuple[str, str]]):
    from qa.tagging.runner import tag

    utterances = [Utterance(role=r, start=2.0 * i, end=2.0 * i + 1.5, text=t, speaker=r) for i, (r, t) in
                  enumerate(texts)]
    findings = tag(Transcript(call_id="t", language="zh", duration=2.0 * len(texts), utterances=utterances))
    return {f.kind: f.value for f in findings if f.kind in ("peak_stage", "final_stage")}


def test_final_stage_reads_the_ending_as_a_reviewer_would():
    angry = ("customer", "联通宽带太垃圾了,三天两头上不了网")
    reply = ("agent", "您好,很抱歉给您带来不便,请问错误代码是多少？")
    assert _stages([angry, reply, ("customer", "好的,谢谢")]) == {"peak_stage": "S3", "final_stage": "S0"}
    assert _stages([angry, reply, ("customer", "651")]) == {"peak_stage": "S3", "final_stage": "S1"}
    assert _stages([angry, reply, ("customer", "解决不了问题,还能不能用了")])["final_stage"] == "S3"


@needs_shared
def test_question_types_on_the_real_test_split_meet_the_target():
    sys.path.insert(0, str(REPO))
    from bench.validity import question_section

    section = question_section("test")
    macro = {row[0]: row[-1] for row in section.rows if row[1] == "macro-F1"}
    assert set(macro) == {"zh", "es", "en"}
    assert all(value >= 0.80 for value in macro.values()), macro


def test_a_problem_report_is_latent_and_a_fix_that_failed_is_pressing():
    reply = ("agent", "您好,请您重启一下手机试试")
    assert _stages([("customer", "手机无法开机了"), reply, ("customer", "是的")]) == {
        "peak_stage": "S1", "final_stage": "S1"}
    # a calm word (没了) inside a problem report is not an ending with thanks
    assert _stages([("customer", "手机无法开机了"), reply, ("customer", "半小时电就没了,无法开机")])[
        "final_stage"] == "S1"
    assert _stages([("customer", "手机无法开机了"), reply, ("customer", "试过了,还是不行")])["final_stage"] == "S2"
    assert _stages([("customer", "请问你们几点营业"), ("agent", "您好,九点"), ("customer", "好的")]) == {
        "peak_stage": "S0", "final_stage": "S0"}


def _p2(agent_first: str, timing: str = "text") -> dict:
    from qa.tagging.runner import tag

    texts = [("customer", "我的订单还没到"), ("agent", agent_first), ("customer", "好的")]
    utterances = [Utterance(role=r, start=2.0 * i, end=2.0 * i + 1.5, text=t, speaker=r) for i, (r, t) in
                  enumerate(texts)]
    found = tag(Transcript(call_id="t", language="zh", duration=6.0, utterances=utterances, timing=timing))
    return {f.kind: f.value for f in found if f.id == "P2" and f.kind in ("greeting", "no_greeting", "no_closing")}


def test_p2_a_courteous_first_reply_opens_the_call_and_a_chat_has_no_goodbye_to_miss():
    assert _p2("亲,已经帮您催促快递了") == {"greeting": "亲"}
    assert _p2("非常抱歉,已经帮您催促快递了") == {"greeting": "非常抱歉"}
    assert _p2("请问您的订单号是多少") == {"no_greeting": None}  # a bare request marker
    assert _p2("已经帮您催促快递了,谢谢") == {"no_greeting": None}  # thanks at the end opens nothing
    assert _p2("您好,已经帮您催促快递了", timing="audio") == {"greeting": "您好", "no_closing": None}
