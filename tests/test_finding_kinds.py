"""The registry of finding kinds (qa/data/finding_kinds.yaml) and the taggers stay in step.

The rubric refuses a matcher whose kind is not registered (issue 12: a typo
such as ``rate_rsie`` matched nothing and the item passed silently), so a
tagger that starts writing a new kind must register it, and a kind no tagger
writes any more must leave the list.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from qa.errors import RubricError
from qa.intake.transcript_io import parse_timed_text
from qa.scoring.rubric import DEFAULT_RUBRIC, finding_kinds, load_rubric, parse_rubric
from qa.tagging.runner import tag

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "tests" / "data" / "tagger_cases").glob("*.yaml"))


def _emitted_on_the_tagger_cases() -> set[str]:
    kinds: set[str] = set()
    for path in CASES:
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            transcript = parse_timed_text(f"# language: {case['language']}\n# call_id: c\n{case['transcript']}")
            kinds |= {f.kind for f in tag(transcript, thresholds=case.get("thresholds"))}
    return kinds


def test_every_kind_a_tagger_writes_on_the_cases_is_registered():
    emitted = _emitted_on_the_tagger_cases()
    assert len(emitted) > 50  # the cases exercise nearly every tagger
    assert sorted(emitted - finding_kinds()) == []


def test_every_registered_kind_is_written_by_a_tagger():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "qa" / "tagging").rglob("*.py"))
    literals = set(re.findall(r'"([a-z][a-z0-9_]+)"', sources))
    stale = sorted(finding_kinds() - literals - _emitted_on_the_tagger_cases())
    assert stale == []


def test_the_shipped_rubrics_name_only_registered_kinds():
    for path in (DEFAULT_RUBRIC, REPO / "rubrics" / "course.yaml"):
        rubric = load_rubric(path)
        assert rubric.items


def test_an_unknown_kind_in_a_list_of_kinds_is_named_with_its_line():
    text = Path(DEFAULT_RUBRIC).read_text(encoding="utf-8")
    assert "    - repeat_request\n" in text
    with pytest.raises(RubricError, match=r":\d+.*repaet_request") as err:
        parse_rubric(text.replace("    - repeat_request\n", "    - repaet_request\n", 1), source="mine.yaml")
    assert str(err.value).startswith("[E") and "\n" not in str(err.value).strip()
