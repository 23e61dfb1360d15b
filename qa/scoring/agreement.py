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


# ---------------------------------------------------------------- calibration sessions
#: Reviewer-vs-reviewer agreement with more than two reviewers is the mean of Cohen's kappa over every
#: pair of reviewers (Light's kappa), each pair on the calls both rated: it stays defined when reviewers
#: skip different calls, which Fleiss' kappa (a fixed number of raters per call) does not.
MULTI_REVIEWER_METHOD = "mean pairwise Cohen's kappa (Light's kappa)"


@dataclass(frozen=True)
class Agreement:
    """Agreement of one comparison: how many verdict pairs, the share equal, Cohen's kappa."""

    pairs: int
    agreed: int
    kappa: float | None  # None when undefined (one status only, or fewer than 2 pairs)

    @property
    def rate(self) -> float | None:
        return self.agreed / self.pairs if self.pairs else None


@dataclass(frozen=True)
class SessionAgreement:
    """One row of a calibration session's table: an item (or ``*`` for all items, or a reviewer)."""

    key: str
    calls: int  # calls with at least one reviewer verdict counted in this row
    reviewers: Agreement  # reviewer vs reviewer
    machine: Agreement  # machine vs reviewer (each reviewer's verdict against the machine's)


def _cohen(a: list[str], b: list[str]) -> float | None:
    if len(a) < 2 or len(set(a) | set(b)) < 2:
        return None
    value = cohen_kappa_score(a, b, labels=list(STATUSES))
    return None if value != value else round(float(value), 3)


def _pairwise(ratings: dict[str, dict[tuple, str]]) -> Agreement:
    """Reviewer vs reviewer over shared keys: pooled share agreed, mean of the pairs' defined kappas."""
    names = sorted(ratings)
    pairs = agreed = 0
    kappas = []
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            shared = sorted(set(ratings[first]) & set(ratings[second]))
            a = [ratings[first][k] for k in shared]
            b = [ratings[second][k] for k in shared]
            pairs += len(shared)
            agreed += sum(x == y for x, y in zip(a, b))
            kappa = _cohen(a, b)
            if kappa is not None:
                kappas.append(kappa)
    return Agreement(pairs, agreed, round(sum(kappas) / len(kappas), 3) if kappas else None)


def _against(machine: dict[tuple, str], ratings: dict[str, dict[tuple, str]]) -> Agreement:
    """Every reviewer verdict against the machine's on the same call and item, pooled into one kappa."""
    a, b = [], []
    for name in sorted(ratings):
        for key, status in sorted(ratings[name].items()):
            if key in machine:
                a.append(machine[key])
                b.append(status)
    return Agreement(len(a), sum(x == y for x, y in zip(a, b)), _cohen(a, b))


def session_agreement(machine: dict[str, dict[str, str]], verdicts: dict[str, dict[str, dict[str, str]]],
                      items: list[str]) -> tuple[list[SessionAgreement], SessionAgreement, list[SessionAgreement]]:
    """Per item, over all items (``*``), and per reviewer (against the others and against the machine).

    ``machine``: call -> item -> the machine's status; ``verdicts``: reviewer -> call -> item -> status
    (only what each reviewer submitted). With two reviewers the reviewer-vs-reviewer kappa is Cohen's;
    with more, ``MULTI_REVIEWER_METHOD``.
    """
    flat_machine = {(c, i): s for c, by_item in machine.items() for i, s in by_item.items()}
    flat = {r: {(c, i): s for c, by_item in calls.items() for i, s in by_item.items()} for r, calls in verdicts.items()}

    def row(key: str, keep) -> SessionAgreement:
        kept = {r: {k: s for k, s in ratings.items() if keep(r, k)} for r, ratings in flat.items()}
        calls = {k[0] for ratings in kept.values() for k in ratings}
        return SessionAgreement(key, len(calls), _pairwise(kept), _against(flat_machine, kept))

    per_item = [row(item, lambda r, k, item=item: k[1] == item) for item in items]
    overall = row("*", lambda r, k: True)
    per_reviewer = []
    for name in sorted(flat):
        mine = flat[name]
        others = {r: v for r, v in flat.items() if r != name}
        versus = [_pairwise({name: mine, other: ratings}) for other, ratings in others.items()]
        kappas = [v.kappa for v in versus if v.kappa is not None]
        per_reviewer.append(SessionAgreement(
            name, len({k[0] for k in mine}),
            Agreement(sum(v.pairs for v in versus), sum(v.agreed for v in versus),
                      round(sum(kappas) / len(kappas), 3) if kappas else None),
            _against(flat_machine, {name: mine})))
    return per_item, overall, per_reviewer


def consensus(verdicts: dict[str, dict[str, dict[str, str]]]) -> tuple[dict[str, dict[str, str]], int]:
    """The majority status per call and item over reviewers; ties are left out (returned: how many).

    What a calibration session contributes to ``callqa calibrate``: one label per call and item, only
    where the reviewers' majority is clear.
    """
    votes: dict[tuple[str, str], dict[str, int]] = {}
    for calls in verdicts.values():
        for call_id, by_item in calls.items():
            for item_id, status in by_item.items():
                tally = votes.setdefault((call_id, item_id), {})
                tally[status] = tally.get(status, 0) + 1
    out: dict[str, dict[str, str]] = {}
    ties = 0
    for (call_id, item_id), tally in sorted(votes.items()):
        ranked = sorted(tally.items(), key=lambda kv: -kv[1])
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            ties += 1
            continue
        out.setdefault(call_id, {})[item_id] = ranked[0][0]
    return out, ties
