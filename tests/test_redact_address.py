"""Street addresses and postcodes masked as [ADDRESS] in zh/es/en (rules in qa/data/redact.yaml).

The case sets (tests/data/address_cases.yaml) hold real-looking addresses in
sentences and ordinary sentences that must stay as they are: a city named in
passing, "第3号方案", a street without a number. Targets: recall >= 0.9 and
>= 95 % of ordinary sentences kept, per language; the figures are printed
(pytest -s).
"""

from __future__ import annotations

import pytest
import yaml

from qa.errors import RedactConfigError
from qa.privacy.redact import find_spans, redact_text, redact_transcript
from qa.privacy.address import address_patterns, find_addresses
from qa.types import Transcript, Utterance, Word

from .conftest import DATA

CASES = yaml.safe_load((DATA / "address_cases.yaml").read_text(encoding="utf-8"))


def _found(text: str, address: str, language: str) -> bool:
    """At least 90 % of the address's characters are under an address mask."""
    a = text.index(address)
    b = a + len(address)
    covered = set()
    for sp in find_spans(text, language):
        if sp.category == "address":
            covered |= {i for i in range(max(a, sp.start), min(b, sp.end)) if not text[i].isspace()}
    return len(covered) >= 0.9 * sum(not c.isspace() for c in address)


@pytest.mark.parametrize("language", ["zh", "es", "en"])
def test_addresses_are_masked_and_ordinary_text_is_kept(language):
    cases = CASES[language]
    assert len(cases["addresses"]) >= 20 and len(cases["ordinary"]) >= 20
    missed = [text for text, address in cases["addresses"] if not _found(text, address, language)]
    changed = [text for text in cases["ordinary"] if redact_text(text, language).text != text]
    recall = 1 - len(missed) / len(cases["addresses"])
    kept = 1 - len(changed) / len(cases["ordinary"])
    print(f"\n{language}: address recall {recall:.3f} ({len(cases['addresses'])}), "
          f"ordinary text kept {kept:.3f} ({len(cases['ordinary'])}); missed {missed}; changed {changed}")
    assert recall >= 0.9, missed
    assert kept >= 0.95, changed


@pytest.mark.parametrize("text,language,expected", [
    ("我住在杭州市西湖区文三路478号华星大厦3栋1201室", "zh", "我住在[ADDRESS]"),
    ("收货地址在上海市浦东新区，对吗？", "zh", "收货地址在[ADDRESS]，对吗？"),
    ("你知道3号线怎么走吗？", "zh", "你知道3号线怎么走吗？"),
    ("我们推荐第3号方案。", "zh", "我们推荐第3号方案。"),
    ("Vivo en la Calle Mayor 12, 3º B, 28013 Madrid.", "es", "Vivo en la [ADDRESS]."),
    ("Send it to 221B Baker Street, London NW1 6XE please.", "en", "Send it to [ADDRESS] please."),
])
def test_the_whole_address_becomes_one_mask_and_the_words_around_it_stay(text, language, expected):
    assert redact_text(text, language).text == expected


def test_an_address_and_a_phone_number_in_one_turn_are_both_masked_and_redacting_twice_changes_nothing():
    text = "地址是北京市朝阳区建国路93号，电话13812345678"
    once = redact_text(text, "zh").text
    assert once == "地址是[ADDRESS]，电话[PHONE ••••5678]"
    assert redact_text(once, "zh").text == once


def test_transcript_words_of_an_address_merge_into_one_masked_word_with_their_times():
    words = [Word(0.0, 0.5, "寄到"), Word(0.5, 1.2, "杭州市"), Word(1.2, 1.9, "西湖区"), Word(1.9, 2.6, "文三路"),
             Word(2.6, 3.4, "478号")]
    t = Transcript("c", "zh", 4.0, [Utterance("customer", 0.0, 3.4, "".join(w.text for w in words), words, "ch1")])
    out = redact_transcript(t)
    assert out.utterances[0].text == "寄到[ADDRESS]"
    masked = [w for w in out.utterances[0].words if "[ADDRESS]" in w.text]
    assert [(w.start, w.end) for w in masked] == [(0.5, 3.4)]
    assert out.source["redaction"] == {"address": 1}


def test_a_bad_address_pattern_is_a_coded_config_error(tmp_path):
    bad = tmp_path / "redact.yaml"
    bad.write_text("addresses:\n  en:\n    words: {}\n    patterns: ['{missing} street']\n", encoding="utf-8")
    with pytest.raises(RedactConfigError, match="missing"):
        address_patterns(bad)
    bad.write_text("addresses:\n  en:\n    patterns: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(RedactConfigError, match="not a valid pattern"):
        address_patterns(bad)
    assert find_addresses("10 Downing Street", "de") == []
