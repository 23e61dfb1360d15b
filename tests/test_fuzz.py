"""Fuzzing in the test suite: every reader and loader answers hostile input with a coded error, fast.

A few hundred examples per target here (``CALLQA_FUZZ_EXAMPLES`` changes it);
``bench/fuzz.py`` runs 10^5 per target and prints the counts. Targets and
strategies: tests/fuzz_targets.py.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz_targets import TARGETS, outcome

EXAMPLES = int(os.environ.get("CALLQA_FUZZ_EXAMPLES", "200"))
#: The rubric loader (qa.scoring.rubric) parses with the pure-Python YAML loader: ~0.5-1.5 s a file, so fewer.
RUBRIC_EXAMPLES = int(os.environ.get("CALLQA_FUZZ_RUBRIC_EXAMPLES", "12"))
settings.register_profile("callqa-ci", max_examples=EXAMPLES, deadline=10_000, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])


def _check(name: str, examples: int = EXAMPLES):
    target = TARGETS[name]
    seen: dict[str, int] = {}

    @settings(settings.get_profile("callqa-ci"), max_examples=examples)
    @given(target.strategy)
    def run(value):
        result, crash = outcome(target, value)
        seen[result] = seen.get(result, 0) + 1
        if crash is not None:
            raise AssertionError(f"{name}: {result} ({crash}) is not a callqa error") from crash
        assert result == "accepted" or (len(result) == 4 and result.startswith("E")), result

    run()
    return seen


@pytest.mark.parametrize("name", sorted(set(TARGETS) - {"rubric"}))
def test_readers_and_loaders_raise_only_coded_errors(name):
    seen = _check(name)
    # the strategies reach both sides: some inputs accepted, some refused with a code
    assert sum(seen.values()) >= min(EXAMPLES, 50) * 0.9
    assert any(code != "accepted" for code in seen), seen


def test_rubric_loader_raises_only_coded_errors():
    from tests.fuzz_targets import REPO

    target = TARGETS["rubric"]
    assert outcome(target, (REPO / "rubrics" / "default.yaml").read_text(encoding="utf-8")) == ("accepted", None)
    seen = _check("rubric", RUBRIC_EXAMPLES)
    assert seen and set(seen) <= {"accepted", "E420"}, seen
