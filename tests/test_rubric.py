"""The rubric is data: the default loads, a malformed one is refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.scoring.rubric import RubricError, load_rubric, parse_rubric
from qa.types import COURSE_IDS

REPO_RUBRIC = Path(__file__).resolve().parents[1] / "rubrics" / "default.yaml"

BAD = Path(__file__).parent / "data" / "rubric_bad"
SCORED_IDS = ["T-RATE", "T-TONE", "T-ADDRESS", "T-QUESTION", "P1", "P2", "P3", "P4", "P5", "P6",
              "K1", "K2", "K3", "K4", "R1", "R2", "R3", "R4", "R5", "R6", "IDL+PPC"]


def test_default_rubric_covers_every_scored_course_id():
    rubric = load_rubric()
    assert sorted(i.id for i in rubric.items) == sorted(SCORED_IDS)
    for item in rubric.items:
        assert item.title.zh and item.title.en and item.title.es
        assert item.tip.zh and item.tip.en and item.tip.es


def test_rubric_version_changes_with_its_content():
    text = load_rubric().source and Path(load_rubric().source).read_text(encoding="utf-8")
    a = parse_rubric(text)
    b = parse_rubric(text.replace("partial_credit: 0.5", "partial_credit: 0.6", 1))
    assert a.version_tag != b.version_tag and a.version_tag.startswith(f"v{a.version}-")


@pytest.mark.parametrize("name,message", [
    ("unknown_id.yaml", r"unknown_id\.yaml:5: item P9: id: .*unknown course ID 'P9'"),
    ("bad_matcher.yaml", r"item P1.*colour.*Extra inputs"),
    ("negative_weight.yaml", r"item P1.*weight.*greater than 0"),
    ("missing_tip_language.yaml", r"item P1.*otherwise.*tip\.es"),
    ("not_yaml.yaml", r"not valid YAML"),
])
def test_malformed_rubric_is_rejected_with_a_clear_message(name, message):
    with pytest.raises(RubricError, match=message):
        load_rubric(BAD / name)


def test_missing_rubric_file_is_reported(tmp_path):
    with pytest.raises(RubricError, match="no such rubric"):
        load_rubric(tmp_path / "nope.yaml")


def test_course_ids_used_by_the_rubric_exist():
    for item in load_rubric().items:
        assert item.id in COURSE_IDS


@pytest.mark.parametrize("old,new,message", [
    ("  weight: 2.5\n", "  weight: .inf\n", r"P1.*weight"),
    ("  weight: 2.5\n", "  weight: 1e308\n", r"P1.*weight"),
    ("  weight: 2.5\n", "  weight: .nan\n", r"P1.*weight"),
    ("    kind: rate_rise\n", "    kind: rate_rsie\n", r"P1.*rate_rsie"),
])
def test_non_finite_or_huge_weights_and_a_mistyped_matcher_kind_are_refused(old, new, message):
    # issue 12: .inf / 1e308 weights gave NaN or Infinity scores that rescore stored; a typo was accepted
    text = (REPO_RUBRIC).read_text(encoding="utf-8")
    assert text.count(old) >= 1
    with pytest.raises(RubricError, match=message) as err:
        parse_rubric(text.replace(old, new, 1))
    assert str(err.value).startswith("[E") and "\n" not in str(err.value).strip()
