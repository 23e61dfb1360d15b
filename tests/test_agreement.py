"""Reviewer agreement per item: the share of agreeing verdicts and Cohen's kappa."""

from __future__ import annotations

import pytest

from qa.scoring.agreement import agreement_report


def test_kappa_matches_a_hand_computation():
    # 10 calls reviewed on P1: 8 agree. Auto: 6 pass 4 fail; human: 6 pass 4 fail, two swapped.
    pairs = [("P1", "pass", "pass")] * 5 + [("P1", "fail", "fail")] * 3 + [("P1", "pass", "fail"), ("P1", "fail", "pass")]
    (row,) = agreement_report(pairs)
    assert (row.reviewed, row.agreed, row.rate) == (10, 8, 0.8)
    # p_o = 0.8, p_e = 0.6*0.6 + 0.4*0.4 = 0.52, kappa = (0.8 - 0.52) / 0.48
    assert row.kappa == pytest.approx((0.8 - 0.52) / 0.48, abs=1e-3)
    assert row.overturned == {"pass->fail": 1, "fail->pass": 1}


def test_items_are_reported_separately_and_all_agreeing_has_no_kappa():
    pairs = [("R6", "fail", "fail"), ("R6", "fail", "fail"), ("K1", "pass", "partial")]
    report = {r.item_id: r for r in agreement_report(pairs)}
    assert report["R6"].rate == 1.0 and report["R6"].kappa is None  # one label only: kappa undefined
    assert report["K1"].rate == 0.0 and report["K1"].overturned == {"pass->partial": 1}
