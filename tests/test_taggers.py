"""Tagger behaviour pinned as data: tests/data/tagger_cases/*.yaml.

Each case is a short call in the timed text form, the tagger(s) to run, the
findings that must appear (``expect``: a subset of fields; ``value_min`` /
``value_max`` bound the value) and those that must not (``expect_not``).
A QA analyst can add a case without writing Python.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qa.intake.transcript_io import parse_timed_text
from qa.tagging.runner import tag

CASES_DIR = Path(__file__).parent / "data" / "tagger_cases"


def _cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            yield pytest.param(case, id=f"{path.stem}:{case['name']}")


def _matches(finding, want: dict) -> bool:
    for key, expected in want.items():
        if key == "value_min":
            if not (isinstance(finding.value, (int, float)) and finding.value >= expected):
                return False
        elif key == "value_max":
            if not (isinstance(finding.value, (int, float)) and finding.value <= expected):
                return False
        elif key == "text_contains":
            if expected not in finding.text:
                return False
        elif key == "detail":
            if any(finding.detail.get(k) != v for k, v in expected.items()):
                return False
        elif key in ("start", "end"):
            if abs(getattr(finding, key) - float(expected)) > 0.05:
                return False
        elif getattr(finding, key) != expected:
            return False
    return True


@pytest.mark.parametrize("case", list(_cases()))
def test_tagger_case(case):
    header = f"# language: {case['language']}\n# call_id: {case['name']}\n"
    transcript = parse_timed_text(header + case["transcript"])
    findings = tag(transcript, thresholds=case.get("thresholds"), only=case.get("taggers"))
    shown = "\n".join(f"  {f.id} {f.kind} {f.value!r} {f.role} {f.start}-{f.end} {f.text}" for f in findings)
    for want in case.get("expect", []):
        assert any(_matches(f, want) for f in findings), f"missing {want}\nfindings:\n{shown}"
    for unwanted in case.get("expect_not", []):
        assert not any(_matches(f, unwanted) for f in findings), f"unexpected {unwanted}\nfindings:\n{shown}"


def test_an_unknown_tagger_name_is_an_error_not_an_empty_run():
    from qa.errors import UnknownTaggerError

    transcript = parse_timed_text("# language: zh\n0 2 agent 您好\n")
    with pytest.raises(UnknownTaggerError, match="stagess"):
        tag(transcript, only=["stagess"])
    assert tag(transcript, only=["t_rate"])  # a known name still runs


@pytest.mark.parametrize("case", [c for c in _cases() if c.values[0].get("expect_not")])
def test_every_negative_case_also_expects_a_finding(case):
    """A case with only ``expect_not`` passes when the tagger found nothing at all: pair it with what must fire."""
    assert case.get("expect"), f"{case['name']}: add an `expect` (what this tagger must find in the same call)"
