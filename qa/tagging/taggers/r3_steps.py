"""R3 说明解决步骤: the agent lays out the solution in explicit steps.

Fires ``explicit_steps`` when at least ``cues.min_step_markers`` different step markers
(首先…然后…最后, 第一…第二…, "first… then…") come within ``cues.step_window`` s in the
agent's words, one of them strong (weight at least ``cues.strong_step_weight``);
value: how many different markers; evidence: the utterances from first to last.
Does not fire on a lone 然后 or on markers spread further apart than the window.

Versions: 1, as in ``cues@1``.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, cannot_judge_agent, from_utterance
from qa.types import Finding

NAME, VERSION = "r3_steps", 1
COURSE_ID = "R3"
CODES = (COURSE_ID,)


def _steps(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us = ctx.utterances
    markers = [(i, m) for i in ctx.agent for m in ctx.kinds(i, "step_marker")]
    findings = []
    group: list = []
    for item in markers + [None]:
        if item is not None and group and us[item[0]].start - us[group[0][0]].start <= th["step_window"]:
            group.append(item)
            continue
        labels = {m.entry.label for _, m in group}
        strong = any(m.entry.weight >= th["strong_step_weight"] for _, m in group)
        if len(labels) >= th["min_step_markers"] and strong:
            first, last = group[0][0], group[-1][0]
            indices = sorted({i for i, _ in group})
            findings.append(from_utterance(
                COURSE_ID, "explicit_steps", len(labels), us[first],
                {"markers": [m.text for _, m in group], "utterances": len(indices)},
                end=us[last].end, text=" ".join(us[i].text for i in indices),
            ))
        group = [item] if item is not None else []
    return findings


def tag(ctx: TagContext) -> list[Finding]:
    if (na := cannot_judge_agent(ctx, COURSE_ID)) is not None:
        return na
    return _steps(ctx)
