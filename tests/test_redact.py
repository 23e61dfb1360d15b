"""Privacy redaction: what is masked, what is kept, and how ASR words follow the text."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from qa.errors import ConfigError, UnsupportedLanguageError
from qa.privacy.redact import (
    RedactConfigError,
    Redacted,
    load_redact_settings,
    redact_finding_text,
    redact_findings,
    redact_scorecard,
    redact_text,
    redact_transcript,
)
from qa.types import Evidence, Finding, ItemScore, Scorecard, Transcript, Utterance, Word

CASES = yaml.safe_load((Path(__file__).parent / "data" / "redact_cases.yaml").read_text(encoding="utf-8"))
DEFAULT_YAML = Path(__file__).resolve().parents[1] / "qa" / "data" / "redact.yaml"


def _transcript(case: dict) -> Transcript:
    utterances = [
        Utterance(role=u["role"], speaker=u["speaker"], start=u["start"], end=u["end"], text=u["text"],
                  words=[Word(start=a, end=b, text=t, probability=0.9) for a, b, t in u["words"]])
        for u in case["utterances"]
    ]
    return Transcript(call_id=case["id"], language=case["lang"], duration=utterances[-1].end,
                      utterances=utterances, source={"path": "call.wav"})


@pytest.mark.parametrize("case", CASES["texts"], ids=[c["id"] for c in CASES["texts"]])
def test_redaction_case(case):
    result = redact_text(case["text"], case["lang"])
    expected = case["text"] if case.get("unchanged") else case["masked"]
    assert result.text == expected
    if "categories" in case:
        assert [s.category for s in result.spans] == case["categories"]
    for span in result.spans:  # spans point into the original text
        assert 0 <= span.start < span.end <= len(case["text"])
        assert span.replacement in result.text


@pytest.mark.parametrize("case", CASES["transcripts"], ids=[c["id"] for c in CASES["transcripts"]])
def test_transcript_case_masks_text_and_words(case):
    out = redact_transcript(_transcript(case))
    assert [u.text for u in out.utterances] == [e["text"] for e in case["expect"]]
    assert [[w.text for w in u.words] for u in out.utterances] == [e["words"] for e in case["expect"]]


@pytest.mark.parametrize("case", CASES["transcripts"], ids=[c["id"] for c in CASES["transcripts"]])
def test_redacted_words_keep_valid_timings(case):
    before = _transcript(case)
    out = redact_transcript(before)
    assert len(out.utterances) == len(before.utterances) > 0
    for old, new in zip(before.utterances, out.utterances):
        assert all(w.start <= w.end for w in new.words)
        assert all(a.end <= b.start for a, b in zip(new.words, new.words[1:]))
        if new.words:  # merging never moves the utterance's first or last timing
            assert (new.words[0].start, new.words[-1].end) == (old.words[0].start, old.words[-1].end)


def test_words_of_one_number_merge_into_one_timed_word():
    case = next(c for c in CASES["transcripts"] if c["id"] == "en_number_over_several_words")
    out = redact_transcript(_transcript(case))
    masked = out.utterances[0].words[-1]
    assert (masked.start, masked.end) == (1.8, 4.0)  # first "five" to "four."
    assert masked.probability == 0.9


def test_redact_transcript_leaves_input_untouched():
    case = next(c for c in CASES["transcripts"] if c["id"] == "es_number_split_by_a_pause")
    before = _transcript(case)
    snapshot = copy.deepcopy(before)
    out = redact_transcript(before)
    assert before == snapshot
    assert "redacted" not in before.source
    assert out.source["redacted"] is True and out.source["path"] == "call.wav"
    assert out.source["redaction"] == {"phone": 2}
    assert out.utterances is not before.utterances and out.utterances[0] is not before.utterances[0]
    out.utterances[1].words.append(Word(9.0, 9.1, " x"))
    out.gaps.append(None)
    assert before == snapshot


def test_transcript_without_words_is_masked_by_text():
    t = Transcript("c1", "zh", 3.0, [Utterance("customer", 0.0, 3.0, "电话13812345678")])
    out = redact_transcript(t)
    assert out.utterances[0].text == "电话[PHONE ••••5678]" and out.utterances[0].words == []


def test_other_speaker_does_not_join_a_number():
    agent = Utterance("agent", 0.0, 1.0, "工号一二三四", speaker="ch0")
    customer = Utterance("customer", 1.2, 2.0, "五六七八好的", speaker="ch1")
    out = redact_transcript(Transcript("c2", "zh", 2.0, [agent, customer]))
    assert [u.text for u in out.utterances] == ["工号一二三四", "五六七八好的"]


def test_mask_format_comes_from_settings(tmp_path):
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    raw["mask_with_last"] = "<{label}:{last}>"
    raw["categories"]["phone"]["keep_last"] = 2
    raw["categories"]["id_number"]["label"] = "证件"
    path = tmp_path / "redact.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings = load_redact_settings(path)
    assert redact_text("手机13812345678", "zh", settings).text == "手机<PHONE:78>"
    assert redact_text("身份证11010519491231002X", "zh", settings).text == "身份证[证件]"


def test_min_digits_threshold_comes_from_settings(tmp_path):
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    raw["min_digits"] = 4
    path = tmp_path / "redact.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert redact_text("工号1024", "zh", load_redact_settings(path)).text == "工号[NUMBER]"
    assert redact_text("工号1024", "zh").text == "工号1024"


def test_broken_pattern_in_settings_names_the_entry(tmp_path):
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    raw["phone_plans"]["cn"][0]["pattern"] = "1[3-9"
    path = tmp_path / "redact.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RedactConfigError, match="cn_mobile") as err:
        load_redact_settings(path)
    assert isinstance(err.value, ConfigError)


def test_mask_without_label_is_refused(tmp_path):
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    raw["mask_plain"] = "***"
    path = tmp_path / "redact.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RedactConfigError, match="label"):
        load_redact_settings(path)


def test_unknown_language_says_where_to_add_it():
    with pytest.raises(UnsupportedLanguageError, match="redact.yaml"):
        redact_text("555 1234", "fr")


def test_clean_text_comes_back_as_is():
    assert redact_text("您好，请问有什么可以帮您？", "zh") == Redacted("您好，请问有什么可以帮您？", ())


def test_findings_and_scorecards_are_masked_as_copies():
    finding = Finding("R3", "restatement", True, "agent", 1.0, 2.0, "您的号码是13812345678对吗", detail={"k": [1]})
    [masked] = redact_findings([finding], "zh")
    assert masked.text == "您的号码是[PHONE ••••5678]对吗" and finding.text.endswith("5678对吗")
    assert redact_finding_text("mail me at ana@example.org", "en") == "mail me at [EMAIL]"
    item = ItemScore("R3", "pass", 1.0, 1.0, evidence=[Evidence("agent", 1.0, 2.0, finding.text)],
                     reason="客户留了13812345678")
    card = Scorecard("c1", "zh", 90.0, [item], "v1")
    out = redact_scorecard(card)
    assert out.items[0].evidence[0].text == masked.text
    assert out.items[0].reason == "客户留了[PHONE ••••5678]"
    assert card.items[0].evidence[0].text == finding.text


@pytest.mark.parametrize("case", [c for c in CASES["texts"] if not c.get("unchanged")],
                         ids=[c["id"] for c in CASES["texts"] if not c.get("unchanged")])
def test_masked_text_is_not_masked_again(case):
    once = redact_text(case["text"], case["lang"]).text
    assert redact_text(once, case["lang"]).text == once
