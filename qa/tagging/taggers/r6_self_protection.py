"""R6 客服人员自我保护的意识 (不躺枪): no forbidden words, no blaming, no arguing with the customer.

Fires:
- ``forbidden`` and ``blame`` for each such phrase of the agent (不知道, 不归我管, 这是规定;
  是你自己…, "you should have");
- ``arguing`` when the agent tells the customer they are wrong (lexicon kind
  ``contradiction``: 您说的不对, "that's not true", usted se equivoca), anywhere; or when
  the reply right after a negative customer turn (stage ``cues.negative_level`` or
  above) opens, within ``cues.arguing_onset_chars`` characters, with a bare negation
  (不是的…, "No, that's…") and has no apology, empathy or commitment in it.
Does not fire ``arguing`` on 您说得对, on 我不是说您说的不对 (negated), or on a negation
inside courtesy (没关系, 不客气, "no problem").

Versions: 1 in ``cues@1``; 2: a cue inside a longer cue of another kind is that cue;
3: ``contradiction`` cues are arguing wherever they come.
"""

from __future__ import annotations

from qa.tagging.context import (
    TagContext,
    agent_cues,
    cannot_judge_agent,
    cue_detail,
    from_utterance,
)
from qa.types import Finding

NAME, VERSION = "r6_self_protection", 3
COURSE_ID = "R6"
CODES = (COURSE_ID,)
FEELINGS = ("apology", "empathy")
#: a negation inside one of these is courtesy, not contradiction: 没关系, 不客气, "no problem"
COURTESY = ("polite", "apology", "empathy", "greeting", "closing")


def _arguing(ctx: TagContext) -> list[Finding]:
    onset = int(ctx.thresholds["cues"]["arguing_onset_chars"])
    negative_level = int(ctx.thresholds["cues"]["negative_level"])
    stages = {s.index: s for s in ctx.customer_stages}
    us = ctx.utterances
    findings = []
    for i in ctx.agent:
        contradictions = ctx.kinds(i, "contradiction")  # telling the customer they are wrong is arguing anywhere
        for m in contradictions:
            findings.append(from_utterance(COURSE_ID, "arguing", m.text, us[i], cue_detail(m)))
        prev = stages.get(i - 1)
        if prev is None or prev.level < negative_level or contradictions:
            continue
        found = ctx.matches(i)
        if any(m.kind in (*FEELINGS, "commitment") and not m.negated for m in found):
            continue
        bare = [m for m in found if m.kind == "negation" and m.start_char <= onset
                and not any(o.kind in COURTESY and o.start_char <= m.start_char and m.end_char <= o.end_char
                            and (o.end_char - o.start_char) > (m.end_char - m.start_char) for o in found)]
        if bare:
            findings.append(from_utterance(COURSE_ID, "arguing", us[i].text[:40], us[i],
                                           {**cue_detail(bare[0]), "after_customer": us[i - 1].text,
                                            "customer_stage": f"S{prev.level}"}))
    return findings


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return (agent_cues(ctx, COURSE_ID, "forbidden", "forbidden") + agent_cues(ctx, COURSE_ID, "blame", "blame")
            + _arguing(ctx))
