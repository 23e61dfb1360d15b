"""P2 对每个消费者都如同首次接触: greeting, closing, patience and courtesy that hold to the end.

Fires:
- ``greeting`` / ``no_greeting``: a greeting or self-introduction (您好, 工号1024) in the
  agent's first ``cues.opening_utterances`` utterances; without greeting words, a first
  reply that opens, within ``cues.courteous_opening_chars`` characters, with a
  ``cues.courteous_opening_kinds`` cue (亲, 谢谢, 非常抱歉; a bare 请问 is not one);
- ``closing`` / ``no_closing``: a closing (感谢您的来电，再见) in the agent's last
  ``cues.closing_utterances``; a chat (``timing: text``) is never ``no_closing``: it
  ends when the customer stops writing;
- ``impatience`` for each impatient phrase of the agent (我刚才说过了, "as I said");
- ``courtesy_drop`` when the agent's polite cues per minute of speech in the last
  1/``cues.courtesy_late_part`` of the call fall below ``cues.courtesy_drop_ratio`` of
  the earlier part (with at least ``cues.courtesy_min_cues`` early cues and
  ``cues.courtesy_min_speech`` s of late speech).
Does not fire ``courtesy_drop`` on a call too short or too plain to compare, nor
``impatience`` on the customer's words.

Versions: 1 in ``cues@1``; 2: an impatience cue inside a longer cue of another kind is that cue;
3: a courteous first reply is an opening, and a chat has no goodbye to miss.
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

NAME, VERSION = "p2_first_contact", 3
COURSE_ID = "P2"
CODES = (COURSE_ID,)


def _greeting_and_closing(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us, agent = ctx.utterances, ctx.agent
    findings = []
    opening = agent[: int(th["opening_utterances"])]
    hello = next(((i, m) for i in opening for m in ctx.kinds(i, "greeting", "agent_self_id")), None)
    if hello is None:  # no greeting words: a first reply that opens with courtesy (亲, 谢谢, 抱歉) is courteous too
        first = [m for m in ctx.kinds(agent[0], *th["courteous_opening_kinds"])
                 if m.start_char < int(th["courteous_opening_chars"]) and m.text not in th["not_courteous_opening"]]
        hello = (agent[0], first[0]) if first else None
    if hello:
        findings.append(from_utterance(COURSE_ID, "greeting", hello[1].text, us[hello[0]], cue_detail(hello[1])))
    else:
        findings.append(from_utterance(COURSE_ID, "no_greeting", None, us[agent[0]], {"looked_at": len(opening)}))
    closing = agent[-int(th["closing_utterances"]):]
    bye = next(((i, m) for i in reversed(closing) for m in ctx.kinds(i, "closing")), None)
    if bye:
        findings.append(from_utterance(COURSE_ID, "closing", bye[1].text, us[bye[0]], cue_detail(bye[1])))
    elif ctx.transcript.timing != "text":  # a chat ends when the customer stops writing: no goodbye to miss
        findings.append(from_utterance(COURSE_ID, "no_closing", None, us[agent[-1]], {"looked_at": len(closing)}))
    return findings


def _courtesy_drop(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us, agent = ctx.utterances, ctx.agent
    first, last = min(u.start for u in us), max(u.end for u in us)
    part = int(th["courtesy_late_part"])
    cut = first + (last - first) * (part - 1) / part
    early = [i for i in agent if us[i].start < cut]
    late = [i for i in agent if us[i].start >= cut]
    early_cues = sum(len(ctx.kinds(i, "polite")) for i in early)
    late_cues = sum(len(ctx.kinds(i, "polite")) for i in late)
    early_min = sum(us[i].duration for i in early) / 60
    late_min = sum(us[i].duration for i in late) / 60
    if early_cues < th["courtesy_min_cues"] or late_min * 60 < th["courtesy_min_speech"] or early_min <= 0:
        return []
    early_rate, late_rate = early_cues / early_min, late_cues / late_min
    if late_rate >= early_rate * th["courtesy_drop_ratio"]:
        return []
    return [from_utterance(COURSE_ID, "courtesy_drop", round(late_rate / early_rate, 3), us[late[0]],
                           {"early_per_minute": round(early_rate, 2), "late_per_minute": round(late_rate, 2),
                            "late_utterances": len(late)}, end=us[late[-1]].end)]


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return agent_cues(ctx, COURSE_ID, "impatience", "impatience") + _greeting_and_closing(ctx) + _courtesy_drop(ctx)
