"""The reviewed score: the automatic scorecard with a reviewer's verdicts put in place of the machine's.

Pure functions, so the store, the web pages and the tests compute it the same
way. Points follow the rubric (qa.scoring.score.score_item): pass = the item's
weight, partial = weight x the rubric's ``partial_credit``, fail = 0, and
``n/a`` items leave the total. An auto-fail (the call scores 0) stays only
while the item the machine auto-failed is still ``fail``: a reviewer who
finds the forbidden phrase was misheard lifts it by setting another status.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STATUSES = ("pass", "partial", "fail", "n/a")


@dataclass(frozen=True)
class ItemPoints:
    """What the reviewed score needs of one automatic item."""

    item_id: str
    status: str
    points: float
    max_points: float
    auto_fail: bool


@functools.lru_cache(maxsize=1)
def _default_rubric() -> tuple[str, float]:
    from qa.scoring.rubric import load_rubric

    rubric = load_rubric()
    return rubric.version_tag, float(rubric.partial_credit)


def partial_credit(rubric_version: str, items: Iterable[ItemPoints]) -> float:
    """The rubric's partial credit: the default rubric's when the versions match, else read off a partial item."""
    version, credit = _default_rubric()
    if rubric_version == version:
        return credit
    for item in items:
        if item.status == "partial" and item.max_points > 0:
            return item.points / item.max_points
    return credit


def reviewed_score(rubric_version: str, items: list[ItemPoints], verdicts: Mapping[str, str]) -> float | None:
    """The score with ``verdicts`` (item ID -> status) in force; None when no verdict touches an item."""
    touched = {k: v for k, v in verdicts.items() if any(i.item_id == k for i in items)}
    if not touched:
        return None
    credit = partial_credit(rubric_version, items)
    total = earned = 0.0
    auto_fail = False
    for item in items:
        status = touched.get(item.item_id, item.status)
        if status not in STATUSES:
            status = item.status
        if item.auto_fail and status == "fail":
            auto_fail = True
        if status == "n/a":
            continue
        total += item.max_points
        earned += {"pass": item.max_points, "partial": item.max_points * credit}.get(status, 0.0)
    if auto_fail:
        return 0.0
    return round(100.0 * earned / total, 1) if total else 0.0
