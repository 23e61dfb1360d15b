"""Every course ID the rubric scores has lexicon entries, test cases and a line in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.scoring.rubric import load_rubric
from qa.text.lexicon import load_lexicon

REPO = Path(__file__).resolve().parents[1]
#: Items judged from timings, audio or other items' findings rather than from words of their own.
NO_LEXICON_OF_THEIR_OWN = {"T-RATE", "P4", "R1", "R5"}
ITEMS = [i.id for i in load_rubric().items]


@pytest.mark.parametrize("course_id", ITEMS)
def test_rubric_item_has_a_line_in_the_readme(course_id):
    assert f"| {course_id} |" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["zh", "es", "en"])
@pytest.mark.parametrize("course_id", sorted(set(ITEMS) - NO_LEXICON_OF_THEIR_OWN))
def test_rubric_item_has_lexicon_entries(course_id, language):
    assert load_lexicon(language).by_id(course_id), f"no {language} lexicon entry for {course_id}"


@pytest.mark.parametrize("course_id", ITEMS)
def test_rubric_item_has_test_cases(course_id):
    cases = "\n".join(p.read_text(encoding="utf-8") for folder in ("tagger_cases", "scoring_cases")
                      for p in (REPO / "tests" / "data" / folder).glob("*.yaml"))
    assert f"id: {course_id}," in cases or f"{course_id}: {{status" in cases, f"no test case names {course_id}"
