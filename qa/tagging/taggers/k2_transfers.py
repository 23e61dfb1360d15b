"""K2 不要让我跑: the customer sent elsewhere, or put through the same procedure again.

Fires:
- ``transfer`` for each transfer cue of the agent (``ctx.transfers``: 您打另一个电话,
  "I'll transfer you", le paso con otro departamento);
- ``repeated_procedure`` when the agent cites procedure in at least
  ``cues.procedure_repeats`` utterances (value: how many; detail: when);
- ``repeated_identity_check`` when identity is checked in at least
  ``cues.identity_repeats`` episodes at least ``cues.identity_repeat_gap`` s apart.
Does not fire ``transfer`` on 我为您联系快递, where the agent acts for the customer
(a commitment right before the cue), nor count a check and its follow-up as two episodes.

Versions: 1, as in ``cues@1``.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, cannot_judge_agent, cue_detail, from_utterance
from qa.types import Finding

NAME, VERSION = "k2_transfers", 1
COURSE_ID = "K2"
CODES = (COURSE_ID,)


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    th = ctx.thresholds["cues"]
    us, agent = ctx.utterances, ctx.agent
    findings = [from_utterance(COURSE_ID, "transfer", m.text, us[i], cue_detail(m))
                for i, moved in ctx.transfers.items() for m in moved]
    procedure = [i for i in agent if ctx.kinds(i, "procedure")]
    if len(procedure) >= th["procedure_repeats"]:
        findings.append(from_utterance(COURSE_ID, "repeated_procedure", len(procedure), us[procedure[-1]],
                                       {"times": [us[i].start for i in procedure]}))
    checks = [i for i in agent if ctx.kinds(i, "identity_check")]
    episodes = []
    for i in checks:
        if not episodes or us[i].start - us[episodes[-1]].start >= th["identity_repeat_gap"]:
            episodes.append(i)
    if len(episodes) >= th["identity_repeats"]:
        findings.append(from_utterance(COURSE_ID, "repeated_identity_check", len(episodes), us[episodes[-1]],
                                       {"times": [us[i].start for i in episodes]}))
    return findings
