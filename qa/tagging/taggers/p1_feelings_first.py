"""P1 先处理情感，后处理事件: after the customer's first negative turn, feelings before the facts.

The negative turn is the first customer utterance at stage ``cues.negative_level``
(S2) or above (anger or sensitive words, stage cues, a raised voice:
``ctx.customer_stages``). Did the agent acknowledge or apologise before rules,
procedures or solutions?

Fires:
- ``acknowledged_first`` (value: seconds after the negative turn): 客户: 太过分了！
  坐席: 非常抱歉给您带来不便，我马上为您处理。
- ``solution_before_feelings``: 坐席: 按照规定需要您提供订单号。 (before any apology);
- ``no_acknowledgement``: no apology or empathy at all after it;
- ``apology`` for each apology of the agent (对不起, "I'm sorry", "disculpe las molestias").
Does not fire the first three when no customer turn is negative (我想查一下快递),
nor ``apology`` on a cue inside a longer cue of another kind; without customer
speech it says ``not_applicable``.

Versions: 1 in ``cues@1``; 2: an apology inside a longer cue of another kind is that cue;
3: nothing to judge when the agent never answered the negative turn.
"""

from __future__ import annotations

from qa.tagging.context import (
    TagContext,
    agent_cues,
    cannot_judge_agent,
    cue_detail,
    from_utterance,
    not_applicable,
)
from qa.tagging.signals.stages import CustomerStage
from qa.types import Finding

NAME, VERSION = "p1_feelings_first", 3
COURSE_ID = "P1"
CODES = (COURSE_ID,)
FEELINGS = ("apology", "empathy")
SOLUTIONS = ("procedure", "commitment", "step_marker")


def first_negative(ctx: TagContext) -> CustomerStage | None:
    """The customer's first utterance at ``cues.negative_level`` or above (P1's turn; P6 times the remedy from it)."""
    level = int(ctx.thresholds["cues"]["negative_level"])
    return next((s for s in ctx.customer_stages if s.level >= level), None)


def _feelings_first(ctx: TagContext, negative: CustomerStage | None) -> list[Finding]:
    if negative is None or not any(i > negative.index for i in ctx.agent):
        return []  # no negative turn, or the agent never answered it: nothing to judge
    us = ctx.utterances
    turn = us[negative.index]
    ack = solution = None
    for i in ctx.agent:
        if i <= negative.index:
            continue
        feel = ctx.kinds(i, *FEELINGS)
        act = ctx.kinds(i, *SOLUTIONS)
        if ack is None and feel:
            ack = (i, feel[0])
        if solution is None and act:
            solution = (i, act[0])
        if ack and solution:
            break
    detail = {"negative_start": turn.start, "negative_end": turn.end, "negative_text": turn.text,
              "negative_stage": f"S{negative.level}", "negative_cues": list(negative.cues)}

    def after(i: int) -> float:
        return round(max(0.0, us[i].start - turn.end), 2)

    if ack and (solution is None or (ack[0], ack[1].start_char) <= (solution[0], solution[1].start_char)):
        return [from_utterance(COURSE_ID, "acknowledged_first", after(ack[0]), us[ack[0]],
                               {**detail, **cue_detail(ack[1])})]
    findings = []
    if solution:
        findings.append(from_utterance(COURSE_ID, "solution_before_feelings", after(solution[0]), us[solution[0]],
                                       {**detail, **cue_detail(solution[1]),
                                        "acknowledged_at": us[ack[0]].start if ack else None}))
    if ack is None:
        findings.append(from_utterance(COURSE_ID, "no_acknowledgement", None, turn, detail))
    return findings


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    findings = agent_cues(ctx, COURSE_ID, "apology", "apology")
    if not ctx.customer_stages:
        return findings + [not_applicable(COURSE_ID, "no customer speech in this call")]
    return findings + _feelings_first(ctx, first_negative(ctx))
