"""R4 预设客户可能存在问题的其他问询: "anything else?" before closing.

Fires ``anything_else`` for the first 您还有其他问题吗 / "is there anything else" / ¿algo
más? in the closing part of the call (the agent's utterances in the last
``cues.closing_share`` of it, and at least their last ``cues.closing_utterances``),
else ``no_anything_else`` (detail: when it was asked earlier, too early to count).
Does not count one asked before the closing part (the customer may still have more to say)
nor the customer's own "anything else?".

Versions: 1, as in ``cues@1``.
"""

from __future__ import annotations

from qa.tagging.context import (
    TagContext,
    cannot_judge_agent,
    closing_part,
    cue_detail,
    from_utterance,
)
from qa.types import Finding

NAME, VERSION = "r4_anything_else", 1
COURSE_ID = "R4"
CODES = (COURSE_ID,)


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    us, agent = ctx.utterances, ctx.agent
    late = closing_part(ctx)
    hit = next(((i, m) for i in late for m in ctx.kinds(i, "anything_else")), None)
    if hit:
        return [from_utterance(COURSE_ID, "anything_else", hit[1].text, us[hit[0]], cue_detail(hit[1]))]
    earlier = [us[i].start for i in agent if i not in late and ctx.kinds(i, "anything_else")]
    return [from_utterance(COURSE_ID, "no_anything_else", None, us[agent[-1]], {"asked_earlier_at": earlier})]
