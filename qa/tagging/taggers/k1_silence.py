"""K1 不要让我等: dead air, holds, and total non-talk time.

Fires:
- ``dead_air`` for a gap of at least ``silence.dead_air`` s with nobody speaking
  that no hold announcement explains (value: seconds; evidence: the utterance before it);
- ``hold`` when an agent's hold announcement (请您稍等, "un momento, por favor",
  "let me put you on hold") is followed within ``silence.hold_window`` s by at
  least ``silence.hold_min`` s of silence (value: seconds; detail: whether an
  estimate was given — 大概一分钟 — and whether the agent thanked the customer
  after — 感谢您的耐心等待);
- ``hold_without_estimate`` / ``hold_without_thanks`` for the holds that miss them;
- ``non_talk`` once per call (value: seconds nobody speaks; detail: share of the call).
An announcement explains a silence that starts within ``silence.hold_window`` s after it
(or up to ``silence.announce_slack`` s before its end), and thanks count from
``silence.announce_slack`` s before the silence ends.
Does not fire on ordinary pauses between turns, nor on 稍等 with no silence after it.

Versions: 1, as ``silence@1``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from qa.tagging.context import TagContext, from_utterance
from qa.types import Finding, Gap, Utterance

NAME, VERSION = "k1_silence", 1
COURSE_ID = "K1"
CODES = (COURSE_ID,)


class _Timeline:
    """Sorted views of a call for the lookups K1 makes per hold and per gap: O(log n) each, not O(n).

    Scanning every gap per hold and every utterance per gap took minutes on a 6-hour call.
    """

    def __init__(self, utterances: list[Utterance], gaps: list[Gap]):
        self.utterances = utterances
        self.by_end = sorted((u.end, k) for k, u in enumerate(utterances))
        self.ends = [end for end, _ in self.by_end]
        self.by_start = sorted((u.start, k) for k, u in enumerate(utterances))
        self.starts = [start for start, _ in self.by_start]
        self.gaps = sorted(gaps, key=lambda g: g.start)
        self.gap_starts = [g.start for g in self.gaps]

    def before(self, t: float) -> Utterance | None:
        """The utterance that ended last at or before ``t`` (the first of them on a tie)."""
        n = bisect_right(self.ends, t + 1e-6)
        if n == 0:
            return None
        latest = self.ends[n - 1]
        return self.utterances[self.by_end[bisect_left(self.ends, latest)][1]]

    def gaps_starting(self, low: float, high: float) -> list[Gap]:
        return self.gaps[bisect_left(self.gap_starts, low):bisect_right(self.gap_starts, high)]

    def starting(self, low: float, high: float) -> list[int]:
        """Indexes of the utterances starting within [low, high]."""
        return [k for _, k in self.by_start[bisect_left(self.starts, low):bisect_right(self.starts, high)]]


def tag(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["silence"]
    utterances = ctx.utterances
    gaps: list[Gap] = ctx.transcript.gaps
    findings: list[Finding] = []
    explained: set[Gap] = set()
    timeline = _Timeline(utterances, gaps)
    slack = th["announce_slack"]

    for i, u in enumerate(utterances):
        if u.role != "agent" or not ctx.kinds(i, "hold"):
            continue
        hold_gap = next((g for g in timeline.gaps_starting(u.end - slack, u.end + th["hold_window"])
                         if g.duration >= th["hold_min"]), None)
        if hold_gap is None:
            continue
        explained.add(hold_gap)
        estimate = bool(ctx.kinds(i, "hold_estimate"))
        thanked = any(
            utterances[j].role == "agent" and ctx.kinds(j, "thanks_for_waiting")
            for j in timeline.starting(hold_gap.end - slack, hold_gap.end + th["thanks_window"])
        )
        detail = {"estimate": estimate, "thanked": thanked, "silence_start": hold_gap.start,
                  "silence_end": hold_gap.end, "long": hold_gap.duration >= th["long_hold"]}
        findings.append(from_utterance(COURSE_ID, "hold", round(hold_gap.duration, 2), u, detail,
                                       end=hold_gap.end))
        if not estimate:
            findings.append(from_utterance(COURSE_ID, "hold_without_estimate", round(hold_gap.duration, 2), u,
                                           detail, end=hold_gap.end))
        if not thanked:
            findings.append(from_utterance(COURSE_ID, "hold_without_thanks", round(hold_gap.duration, 2), u,
                                           detail, end=hold_gap.end))

    for gap in gaps:
        if gap in explained or gap.duration < th["dead_air"] or gap.start <= 0.0 or gap.end >= ctx.transcript.duration:
            continue  # leading/trailing silence is the recorder, not the agent
        before = timeline.before(gap.start)
        if before is None:
            continue
        findings.append(from_utterance(COURSE_ID, "dead_air", round(gap.duration, 2), before,
                                       {"silence_start": gap.start, "silence_end": gap.end},
                                       end=gap.end))

    if utterances:
        first, last = min(u.start for u in utterances), max(u.end for u in utterances)
        inside = [g for g in gaps if g.start >= first - 1e-6 and g.end <= last + 1e-6]
        silent = sum(g.duration for g in inside)
        span = max(last - first, 1e-6)
        longest = max(inside, key=lambda g: g.duration, default=None)
        anchor = timeline.before(longest.start) if longest else utterances[0]
        findings.append(from_utterance(
            COURSE_ID, "non_talk", round(silent, 2), anchor or utterances[0],
            {"share": round(silent / span, 3), "longest": round(longest.duration, 2) if longest else 0.0},
        ))
    return findings
