"""P6 迅速补救: a concrete remedy, an action the agent owns with a time, after the complaint.

Fires:
- ``concrete_action`` when a commitment (我现在就为您…, "I'll process") and a time
  (24小时内, "by tomorrow") come in the same or adjacent agent utterances within
  ``cues.action_window`` s (value: seconds after the complaint: the customer's first
  negative turn, P1's, else their first utterance);
- ``commitment_without_time`` for each commitment that has no time: half a remedy;
- ``no_concrete_action`` when no commitment has a time.
Does not count 我会尽快处理 as concrete: a time needs a lexicon weight of at least
``cues.min_time_weight`` (尽快, 稍后 are weak). Without customer speech: ``not_applicable``.

Versions: 1 in ``cues@1``; 2: ``commitment_without_time``, and ``no_concrete_action``
whenever no commitment has a time.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, cannot_judge_agent, from_utterance, not_applicable
from qa.tagging.taggers.p1_feelings_first import first_negative
from qa.types import Finding, Utterance

NAME, VERSION = "p6_remedy", 2
COURSE_ID = "P6"
CODES = (COURSE_ID,)


def _remedy(ctx: TagContext, complaint: Utterance) -> list[Finding]:
    window = float(ctx.thresholds["cues"]["action_window"])
    min_weight = float(ctx.thresholds["cues"]["min_time_weight"])
    us, agent = ctx.utterances, ctx.agent
    findings = []
    without_time = 0
    for k, i in enumerate(agent):
        commitments = ctx.kinds(i, "commitment")
        if not commitments:
            continue
        nearby = [j for j in agent[max(0, k - 1): k + 2]
                  if j == i or abs(us[j].start - us[i].start) <= window]
        times = [(j, m) for j in nearby for m in ctx.kinds(j, "time_expression") if m.entry.weight >= min_weight]
        if not times:
            without_time += 1
            findings.append(from_utterance(COURSE_ID, "commitment_without_time", commitments[0].text, us[i],
                                           {"commitment": commitments[0].text}))
            continue
        j, when = min(times, key=lambda t: abs(t[0] - i))
        findings.append(from_utterance(
            COURSE_ID, "concrete_action", round(max(0.0, us[i].start - complaint.end), 2), us[i],
            {"owner": "agent", "commitment": commitments[0].text, "time": when.text,
             "time_in": "same utterance" if j == i else "adjacent utterance",
             "complaint_start": complaint.start, "complaint_text": complaint.text},
        ))
    if not any(f.kind == "concrete_action" for f in findings):
        findings.append(from_utterance(COURSE_ID, "no_concrete_action", None, us[agent[-1]],
                                       {"commitments_without_time": without_time,
                                        "complaint_start": complaint.start}))
    return findings


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    if not ctx.customer_stages:
        return [not_applicable(COURSE_ID, "no customer speech in this call")]
    negative = first_negative(ctx)
    complaint = ctx.utterances[negative.index if negative else ctx.customer_stages[0].index]
    return _remedy(ctx, complaint)
