"""X1 X3 X4 X6, the course's extra skills heard as single agent phrases.

Fires, for each cue of the agent:
- X1 极端相反法 ``reason_with_feeling``: a rule paired with a human acknowledgement
  (规定是这样，但我理解您, "I know it's not what you wanted");
- X3 迂回暂缓法 ``alternative_offer``: another way when the first is refused
  (或者我们也可以, "another option", otra opción);
- X4 放大征求对方意见 ``opinion_request`` (您看呢, "what would you prefer", ¿qué le parece?);
- X6 确定达成客户满意的处理结果 ``satisfaction_check`` (您对这个处理结果满意吗, 这样可以吗).
Does not fire on the customer's words, on negated cues, or on a cue inside a
longer cue of another kind. No rubric item scores X1 or X3 yet: their findings are
evidence for a reviewer (the lexicon matched them on every call and nothing read them).

Versions: 1 in ``cues@1`` (X4, X6); 2: a cue inside a longer cue of another kind is that
cue; 3: X1 and X3.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, agent_cues, not_applicable
from qa.types import Finding

NAME, VERSION = "x1_x3_x4_x6_cues", 3
CODES = ("X1", "X3", "X4", "X6")
#: (course ID, finding kind, lexicon kind)
PER_CUE = (
    ("X1", "reason_with_feeling", "reason_with_feeling"),
    ("X3", "alternative_offer", "alternative_offer"),
    ("X4", "opinion_request", "opinion_request"),
    ("X6", "satisfaction_check", "satisfaction_check"),
)


def tag(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(c, ctx.no_lexicon_reason()) for c in CODES]
    if not ctx.agent:
        return [not_applicable(c, "no agent speech in this call") for c in CODES]
    return [f for course_id, kind, lexicon_kind in PER_CUE for f in agent_cues(ctx, course_id, kind, lexicon_kind)]
