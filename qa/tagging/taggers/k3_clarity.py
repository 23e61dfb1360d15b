"""K3 不要让我不明白: no vague words or jargon, and a clear next step at the end.

Fires:
- ``vague`` / ``jargon`` for each such phrase of the agent (大概, 可能吧, "sometime";
  工单, 二级审核, "escalation ticket");
- ``next_step`` for the first commitment, step marker, proposal, promise or confirmation
  in the closing part of the call (the agent's utterances in the last
  ``cues.closing_share``, and at least their last ``cues.closing_utterances``), else
  ``no_next_step``.
Does not fire ``vague`` on 大概 in 大概一分钟 (a cue inside a longer cue of another kind
is that cue: an estimate), nor on the customer's words.

Versions: 1 in ``cues@1``; 2: a cue inside a longer cue of another kind is that cue.
"""

from __future__ import annotations

from qa.tagging.context import (
    TagContext,
    agent_cues,
    cannot_judge_agent,
    closing_part,
    cue_detail,
    from_utterance,
)
from qa.types import Finding

NAME, VERSION = "k3_clarity", 2
COURSE_ID = "K3"
CODES = (COURSE_ID,)
NEXT_STEP = ("commitment", "step_marker", "phase_P1", "phase_P2", "phase_C")


def _next_step(ctx: TagContext) -> list[Finding]:
    us = ctx.utterances
    late = closing_part(ctx)
    hit = next(((i, m) for i in late for m in ctx.kinds(i, *NEXT_STEP)), None)
    if hit:
        return [from_utterance(COURSE_ID, "next_step", hit[1].text, us[hit[0]], cue_detail(hit[1]))]
    return [from_utterance(COURSE_ID, "no_next_step", None, us[ctx.agent[-1]], {"looked_at": len(late)})]


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return (agent_cues(ctx, COURSE_ID, "vague", "vague") + agent_cues(ctx, COURSE_ID, "jargon", "jargon")
            + _next_step(ctx))
