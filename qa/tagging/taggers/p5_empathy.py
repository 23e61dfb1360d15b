"""P5 将心比心: the agent speaks from the customer's side, and does not blame them.

Fires ``empathy`` for each empathy cue of the agent (理解您的心情, 换作是我也会着急,
"I understand how frustrating", entiendo su molestia) and ``blame`` for each
phrase putting the fault on the customer (是你自己…, "you should have").
Does not fire on the customer's words, on negated cues (不是你的问题), or on a cue
inside a longer cue of another kind.

Versions: 1 in ``cues@1``; 2: a cue inside a longer cue of another kind is that cue.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, agent_cues, cannot_judge_agent
from qa.types import Finding

NAME, VERSION = "p5_empathy", 2
COURSE_ID = "P5"
CODES = (COURSE_ID,)


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return agent_cues(ctx, COURSE_ID, "empathy", "empathy") + agent_cues(ctx, COURSE_ID, "blame", "blame")
