"""R2 复述确认: the agent says the problem back in their own words, best after an open question.

Fires ``restatement`` for each restating phrase of the agent (您的意思是…, 我确认一下…,
"so what you're saying is") and ``open_question_then_restatement`` when an agent
open question (``ctx.questions``) comes before it within ``cues.restatement_window`` s
(value: seconds between them; evidence from the question to the restatement).
Does not fire on the customer's words, nor pair a restatement with a question
asked after it in the same utterance.

Versions: 1 in ``cues@1``; 2: a restatement cue inside a longer cue of another kind is that cue.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, agent_cues, cannot_judge_agent, from_utterance
from qa.types import Finding

NAME, VERSION = "r2_restatement", 2
COURSE_ID = "R2"
CODES = (COURSE_ID,)


def _after_open_question(ctx: TagContext) -> list[Finding]:
    restating = [i for i in ctx.agent if ctx.kinds(i, "restatement")]
    if not restating:
        return []
    window = float(ctx.thresholds["cues"]["restatement_window"])
    us = ctx.utterances
    opens = [q for q in ctx.questions if q.label == "open" and us[q.index].role == "agent"]
    findings = []
    for i in restating:
        before = [q for q in opens if q.index <= i and us[i].start - us[q.index].start <= window
                  and (q.index < i or q.end_char <= ctx.kinds(i, "restatement")[0].start_char)]
        if before:
            q = before[-1]
            findings.append(from_utterance(
                COURSE_ID, "open_question_then_restatement", round(us[i].start - us[q.index].start, 2), us[i],
                {"question": q.text, "question_start": us[q.index].start,
                 "restatement": ctx.kinds(i, "restatement")[0].text},
                start=us[q.index].start,
            ))
    return findings


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return agent_cues(ctx, COURSE_ID, "restatement", "restatement") + _after_open_question(ctx)
