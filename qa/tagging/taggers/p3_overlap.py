"""P3 耐心地倾听顾客的抱怨: talking over the customer, talk ratio, monologues, acknowledgements.

Word timings on two channels show who starts while the other still speaks.
Fires:
- ``agent_overlap`` when the agent starts at least ``overlap.min_overlap`` s
  before the customer's utterance ends (value: seconds of overlap), unless it is
  a short back-channel (嗯 / 好的 / "okay") under ``overlap.backchannel_max`` s;
- ``customer_overlap`` for the customer starting over the agent (counted too);
- ``talk_ratio`` once (value: agent share of speaking time; detail per role);
- ``long_monologue`` for one speaker's uninterrupted run over ``overlap.long_monologue`` s;
- ``acknowledgement`` for the agent's listening tokens (嗯, 好的, 明白, "I see", "entiendo").
Does not fire when the customer has finished before the agent starts, however short the gap.

Versions: 1 as ``overlap@1``; 2: 是的 inside 不是的 and "right" inside "right now" are not acknowledgements.
"""

from __future__ import annotations

from bisect import bisect_left

from qa.tagging.context import TagContext, from_utterance
from qa.types import Finding, Utterance

NAME, VERSION = "p3_overlap", 2
COURSE_ID = "P3"
CODES = (COURSE_ID,)


def _acknowledgements(ctx: TagContext, index: int) -> list:
    """Listening tokens in an utterance; one inside a longer cue of another kind is that cue ("right now")."""
    return [m for m in ctx.kinds(index, "acknowledgement") if not ctx.inside_longer(index, m)]


def _is_backchannel(ctx: TagContext, index: int, u: Utterance, limit: float) -> bool:
    return u.duration <= limit and bool(_acknowledgements(ctx, index))


class _Speaking:
    """One role's utterances by start, with the running latest end: who is still talking at t, in O(log n).

    Replaces a scan of every utterance per utterance (O(n^2): 10,000 utterances took minutes).
    """

    def __init__(self, us: list[Utterance], role: str):
        order = sorted((v.start, k) for k, v in enumerate(us) if v.role == role)
        self.starts = [start for start, _ in order]
        self.latest: list[tuple[float, int]] = []  # (latest end, first utterance index reaching it) so far
        best = (float("-inf"), -1)
        for _, k in order:
            end = us[k].end
            if end > best[0] or (end == best[0] and k < best[1]):
                best = (end, k)
            self.latest.append(best)

    def at(self, t: float) -> tuple[float, int] | None:
        """(latest end, index) of those that started before ``t`` and are still talking at ``t``."""
        n = bisect_left(self.starts, t)
        if n == 0 or self.latest[n - 1][0] <= t:
            return None
        return self.latest[n - 1]


def tag(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["overlap"]
    us = ctx.utterances
    findings: list[Finding] = []
    speaking = {role: _Speaking(us, role) for role in ("agent", "customer")}
    for i, u in enumerate(us):
        if u.role not in ("agent", "customer"):
            continue
        other = "customer" if u.role == "agent" else "agent"
        talking = speaking[other].at(u.start)
        if talking is None:
            continue
        over = min(talking[0], u.end) - u.start
        if over < th["min_overlap"] or _is_backchannel(ctx, i, u, th["backchannel_max"]):
            continue
        interrupted = us[talking[1]]
        findings.append(from_utterance(
            COURSE_ID, f"{u.role}_overlap", round(over, 2), u,
            {"interrupted_start": interrupted.start, "interrupted_end": interrupted.end,
             "interrupted_text": interrupted.text},
        ))

    seconds = {r: sum(u.duration for u in us if u.role == r) for r in ("agent", "customer")}
    total = sum(seconds.values())
    if total > 0 and all(seconds.values()):
        longest = max((u for u in us if u.role == "agent"), key=lambda u: u.duration)
        findings.append(from_utterance(
            COURSE_ID, "talk_ratio", round(seconds["agent"] / total, 3), longest,
            {"agent_seconds": round(seconds["agent"], 2), "customer_seconds": round(seconds["customer"], 2),
             "evidence": "agent's longest utterance"},
        ))

    run: list[Utterance] = []
    for u in us + [None]:
        if u is not None and run and u.role == run[-1].role:
            run.append(u)
            continue
        if run and run[-1].end - run[0].start >= th["long_monologue"]:
            findings.append(from_utterance(
                COURSE_ID, "long_monologue", round(run[-1].end - run[0].start, 2), run[0],
                {"utterances": len(run)}, end=run[-1].end, text=" ".join(v.text for v in run),
            ))
        run = [u] if u is not None else []

    for i, u in enumerate(us):
        if u.role == "agent":
            for m in _acknowledgements(ctx, i):
                findings.append(from_utterance(COURSE_ID, "acknowledgement", m.text, u, {"cue": m.entry.label}))
    return findings
