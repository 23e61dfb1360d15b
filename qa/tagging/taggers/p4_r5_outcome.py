"""P4 平息顾客的抱怨 / R5 消除"行恶"念: how the customer ends the call.

The course judges complaint handling by where the customer ends up, so P4 and
R5 look at the customer's last ``outcome.final_utterances`` utterances, and at the
customer's final stage as the stages tagger reads it (``stages.*``: thanks end calm,
a long unthanked ending keeps the complaint, 还是不行 is pressing), whenever
the call has a complaint signal (a customer stage of at least
``outcome.complaint_level`` anywhere, an anger or sensitive word, or a
``problem_report`` cue: 坏了, 用不了, "doesn't work").

Fires ``call_outcome`` once per call (course ID P4; R5's rules read it too),
value one of:
- ``threat``: the ending's stage is at least ``outcome.threat_stage`` (我要投诉, 12315);
- ``angry``: the ending's stage is at least ``outcome.angry_stage`` (太差了, 傻…);
- ``unresolved``: a strong ``unresolved`` cue (还是不行, 问题依然存在, 敷衍, "still not working"),
  below a threat (the stages tagger reads such an ending as pressing, S2);
- ``thanks``: the customer thanks the agent (谢谢, 辛苦了, thanks, gracias);
- ``accepted``: the customer accepts or reports it solved (好的, 可以了, 解决了, "that works");
- ``open``: none of these (the customer's last word is a question or a fact).
Weak cues (below ``outcome.strong_weight``: 好吧, 为什么) decide only when no strong cue does:
a weak acceptance gives ``accepted``; a weak unresolved cue (为什么, 到底) leaves the ending
``open`` (it is a question, not a verdict; detail.cues lists it).
detail: ``complaint`` (whether a complaint signal exists), the ending's stage and
cues, ``agent_spoke_last``, ``customer_replied`` (the customer spoke after the agent's
first reply: a single complaint post answered once has no ending to judge). Evidence: the customer's last utterance.
Does not fire without customer or agent speech (``not_applicable`` for P4 and R5).

The stage tagger also reports P4/R5 stage movement (deescalated, stayed_at_peak).

Versions: 1, as ``outcome@1``; 2: the ending is the final stage as the stages tagger reads it,
a strong unresolved cue outranks anger, ``customer_replied``.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.types import Finding

NAME, VERSION = "p4_r5_outcome", 2
COURSE_IDS = CODES = ("P4", "R5")
CALM = ("thanks", "accepted")
_CUES = ("customer_thanks", "accepts", "unresolved")


def _label(level: int, cues: dict[str, list], th: dict) -> str:
    strong = float(th["strong_weight"])
    has = {k: any(m.entry.weight >= strong for m in ms) for k, ms in cues.items() if ms}
    if level >= int(th["threat_stage"]):
        return "threat"
    if has.get("unresolved"):
        return "unresolved"
    if level >= int(th["angry_stage"]):
        return "angry"
    if "customer_thanks" in has:
        return "thanks"
    if has.get("accepts"):
        return "accepted"
    if "accepts" in has:
        return "accepted"
    return "open"


def _customer_replied(us) -> bool:
    """Whether the customer spoke after the agent's first reply: only then is there an ending to judge."""
    first_agent = next((i for i, u in enumerate(us) if u.role == "agent"), len(us))
    return any(u.role == "customer" for u in us[first_agent + 1:])


def tag(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(c, f"no lexicon for language {ctx.language!r} ({ctx.lexicon_error})")
                for c in COURSE_IDS]
    us = ctx.utterances
    stages = ctx.customer_stages
    if not stages or not any(u.role == "agent" for u in us):
        return [not_applicable(c, "the call needs both customer and agent speech to judge how it ended")
                for c in COURSE_IDS]
    th = ctx.thresholds["outcome"]
    tail = stages[-int(th["final_utterances"]):]
    ending = ctx.final_stage
    level = ending.level if ending is not None else max(s.level for s in tail)
    cues: dict[str, list] = {k: [m for s in tail for m in ctx.clean_kinds(s.index, k)] for k in _CUES}
    signals = [m.text for s in stages for m in ctx.clean_kinds(s.index, "problem_report", "anger", "sensitive")]
    peak = max(s.level for s in stages)
    complaint = peak >= int(th["complaint_level"]) or bool(signals)
    label = _label(level, cues, th)
    last = tail[-1]
    detail = {"complaint": complaint, "peak_level": peak, "final_level": level,
              "cues": {k: [m.text for m in ms] for k, ms in cues.items() if ms},
              "complaint_cues": signals[:6] + [c for s in stages for c in s.cues][:6],
              "agent_spoke_last": us[-1].role == "agent", "calm": label in CALM,
              "customer_replied": _customer_replied(us)}
    start = us[tail[0].index].start
    return [from_utterance("P4", "call_outcome", label, us[last.index], detail, start=start,
                           text=" ".join(us[s.index].text for s in tail))]
