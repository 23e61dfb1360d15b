"""How often reviewers agree with the automatic verdict, per rubric item (with Cohen's kappa).

A reviewer's verdict on an item (``callqa dispute``, which also records
agreement when the status is the same as the automatic one) is compared with
the automatic status of the call's current score. Items where people and the
rubric disagree most are where to tune the rubric.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.metrics import cohen_kappa_score

from qa.scoring.rubric import STATUSES


@dataclass(frozen=True)
class ItemAgreement:
    item_id: str
    reviewed: int
    agreed: int
    kappa: float | None  # None when every label is the same (kappa is undefined)
    overturned: dict[str, int]  # "auto->human" -> count

    @property
    def rate(self) -> float:
        return self.agreed / self.reviewed if self.reviewed else 0.0


def agreement_report(pairs: list[tuple[str, str, str]]) -> list[ItemAgreement]:
    """``pairs``: (item_id, automatic status, human status), one per reviewed call and item."""
    by_item: dict[str, list[tuple[str, str]]] = {}
    for item_id, auto, human in pairs:
        by_item.setdefault(item_id, []).append((auto, human))
    report = []
    for item_id, rows in sorted(by_item.items()):
        autos, humans = [a for a, _ in rows], [h for _, h in rows]
        agreed = sum(a == h for a, h in rows)
        kappa = None
        if len(set(autos) | set(humans)) > 1:
            value = cohen_kappa_score(autos, humans, labels=list(STATUSES))
            kappa = None if value != value else round(float(value), 3)  # NaN when undefined
        overturned: dict[str, int] = {}
        for a, h in rows:
            if a != h:
                overturned[f"{a}->{h}"] = overturned.get(f"{a}->{h}", 0) + 1
        report.append(ItemAgreement(item_id, len(rows), agreed, kappa, overturned))
    return report


def pairs_from_store(store) -> list[tuple[str, str, str]]:
    """The latest human verdict per (call, item) against the current automatic status."""
    latest = {}
    for d in store.disputes():
        latest[(d.call_id, d.item_id)] = d  # disputes come oldest first
    pairs = []
    cards = {}
    for (call_id, item_id), d in sorted(latest.items()):
        if call_id not in cards:
            cards[call_id] = store.load_scorecard(call_id)
        auto = next((i.status for i in cards[call_id].items if i.id == item_id), None)
        if auto is not None:
            pairs.append((item_id, auto, d.status))
    return pairs
