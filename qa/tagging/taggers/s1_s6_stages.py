"""S1–S6 六个心理阶段, the complaint class, and P4/R5 平息抱怨: where the customer's complaint goes.

Each customer utterance gets the highest stage its words cue (lexicon kinds
``stage_S1`` … ``stage_S6``; a weak cue, weight below ``stages.weak_weight``,
counts ``stages.weak_drop`` stages lower; a strong ``problem_report`` cue, 坏了 无法开机, is
``stages.problem_stage``, S1: a problem without displeasure words), raised by anger words (at least
``stages.anger_stage``) and sensitive words (at least ``stages.sensitive_stage``:
12315, 曝光, 律师 are escalation), and bumped by ``stages.loud_bump`` when the
audio shows the customer ``tone.loudness_rise_db`` louder than their own median.

Fires:
- ``stage`` (S1..S6) for each customer utterance with a stage: 怎么还没到 → S1,
  你们怎么回事 → S2, 太差了 → S3, 再不解决我就投诉 → S4, 我要投诉 → S5,
  找你们领导 / 12315 → S6; detail: the cues;
- ``peak_stage`` (S-ids 1..6, or "S0" when no complaint cue at all) once per call;
- ``final_stage``: the highest stage in the last ``stages.final_utterances``
  customer utterances; "S0" when they end calm (kind ``stage_S0``: 好的谢谢, no cue above
  ``stages.calm_max``), ``stages.unresolved_level`` (S1) when they end with a bare answer
  after a complaint (no cue, no thanks);
- ``complaint_class`` (普通/重大/升级/疑难, detail.key ordinary/major/escalated/difficult):
  escalated when the peak is at least ``complaint_class.escalated_stage`` (S6),
  major when at least ``complaint_class.major_stage`` (S5: a formal complaint) or when the
  customer reports harm to health, safety or money (lexicon kind ``harm``: 孩子吃了拉肚子住院了,
  "someone used my card, it's fraud"; not 没有受伤), unless ``complaint_class.major_on_harm`` is off,
  difficult when the agent transferred ``complaint_class.difficult_transfers`` times (K2)
  or the customer restated the problem ``complaint_class.difficult_restatements`` times (K4),
  else ordinary (detail.complaint is False when there was no complaint cue);
- P4 and R5 ``deescalated`` when the peak reached ``stages.min_peak`` and the final
  stage is lower (value: stages dropped); ``stayed_at_peak`` when it is not;
  ``escalated_during_call`` when the final stage is above the customer's opening
  stage (first ``stages.opening_utterances`` utterances) by at least one.
Call-level findings carry the course ID of their stage (S1 when the stage is S0).
Does not fire ``stage`` on neutral customer turns (我想查一下快递) or on the agent.

The customer stages and the final stage are ``ctx.customer_stages`` and ``ctx.final_stage``
(``qa.tagging.signals.stages``): the outcome and P1/P6/R6 taggers read them too.

Versions: 1 as ``stages@1``; 2: harm to health, safety or money makes a complaint major;
3: the final stage read from how the customer ends (S0 on thanks, S1 on a bare answer,
the peak up to S3 while still complaining at length); 4: a problem report is S1, and an ending
that says the problem is still there (还是不行) is S2.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.tagging.signals.stages import STAGE_IDS
from qa.types import Finding

NAME, VERSION = "s1_s6_stages", 4
CODES = (*STAGE_IDS, "P4", "R5")
CLASSES = {"ordinary": "普通", "major": "重大", "escalated": "升级", "difficult": "疑难"}


def stage_name(level: int) -> str:
    return f"S{level}"


def complaint_class(ctx: TagContext, peak: int) -> tuple[str, dict]:
    """(English key, reasons) by the rule in thresholds.yaml complaint_class (first rule that holds).

    Restatements (K4's TF-IDF comparison, the costly part) are only counted
    when the class is still open: a complaint below the major stage with few transfers.
    """
    th = ctx.thresholds["complaint_class"]
    moved = sum(len(found) for found in ctx.transfers.values())
    reasons: dict = {"peak_level": peak, "transfers": moved}
    if peak >= th["escalated_stage"]:
        return "escalated", reasons
    if peak >= th["major_stage"]:
        return "major", reasons
    if th["major_on_harm"]:
        harm = [m.text for i, u in enumerate(ctx.utterances) if u.role == "customer" for m in ctx.kinds(i, "harm")]
        if harm:
            reasons["harm"] = harm
            return "major", reasons
    if moved >= th["difficult_transfers"]:
        return "difficult", reasons
    if peak > 0:
        reasons["restatements"] = len(ctx.restatements)  # shared with K4: computed once per call
        if reasons["restatements"] >= th["difficult_restatements"]:
            return "difficult", reasons
    return "ordinary", reasons


def tag(ctx: TagContext) -> list[Finding]:
    ids = CODES
    if not ctx.has_lexicon():
        return [not_applicable(i, f"no lexicon for language {ctx.language!r} ({ctx.lexicon_error})") for i in ids]
    stages = ctx.customer_stages
    if not stages:
        return [not_applicable(i, "no customer speech in this call") for i in ids]
    th = ctx.thresholds["stages"]
    us = ctx.utterances
    findings: list[Finding] = []
    for s in stages:
        if s.level:
            findings.append(from_utterance(stage_name(s.level), "stage", stage_name(s.level), us[s.index],
                                           {"level": s.level, "cues": list(s.cues), "loud": s.loud}))

    peak = max(stages, key=lambda s: s.level)  # the first utterance at the highest level
    tail = stages[-int(th["final_utterances"]):]
    final = ctx.final_stage
    head = stages[: int(th["opening_utterances"])]
    opening = max(s.level for s in head)
    peak_id = stage_name(peak.level)
    findings.append(from_utterance(peak_id if peak.level else "S1", "peak_stage", peak_id, us[peak.index],
                                   {"level": peak.level, "cues": list(peak.cues)}))
    findings.append(from_utterance(stage_name(final.level) if final.level else "S1", "final_stage",
                                   stage_name(final.level), us[final.index],
                                   {"level": final.level, "cues": list(final.cues),
                                    "last_utterances": len(tail), "reason": final.reason}))

    key, reasons = complaint_class(ctx, peak.level)
    findings.append(from_utterance(peak_id if peak.level else "S1", "complaint_class", CLASSES[key], us[peak.index],
                                   {"key": key, "complaint": peak.level > 0, **reasons}))

    detail = {"peak": peak_id, "final": stage_name(final.level), "opening": stage_name(opening),
              "peak_start": us[peak.index].start}
    for course_id in ("P4", "R5"):
        if peak.level >= th["min_peak"]:
            if final.level < peak.level:
                findings.append(from_utterance(course_id, "deescalated", peak.level - final.level,
                                               us[final.index], detail))
            else:
                findings.append(from_utterance(course_id, "stayed_at_peak", peak.level, us[final.index], detail))
        if final.level - opening >= 1 and final.level >= th["min_peak"]:
            findings.append(from_utterance(course_id, "escalated_during_call", final.level - opening,
                                           us[final.index], detail))
    return findings
