"""IDL+PPC 沟通流程: which phase each agent utterance is in, and whether the call runs in order.

Input phases: I 信息收集 (information), D 需求探索 (needs), L 有效倾听 (listening);
output phases: P1 建议方案 (proposal), P2 承诺质量 (promise), C 确认执行 (confirmation).
Evidence per agent utterance, summed per phase: the lexicon's phase cues (their
weight); the agent's questions (open → D, closed → I, controlling → P1, weights
in ``phases``); related cues at ``phases.related_cue_weight`` (restatement → L,
identity check → I, step marker → P1, commitment → P2, satisfaction check → C).
The phase with most evidence wins if it reaches ``phases.min_evidence``; a tie
goes to the later phase in the flow (an utterance that asks and proposes proposes).

Fires:
- ``phase`` per agent utterance with a phase (value I/D/L/P1/P2/C): 请问您的订单号是多少？ → I,
  您希望怎么处理呢？ → D, 您的意思是… → L, 建议您… → P1, 我保证24小时内… → P2,
  那我们就这样确认… → C;
- ``phase_order`` once (value: True when an input phase comes before the first output
  phase and a C is among the agent's last ``phases.end_window`` phased utterances;
  detail: both checks and the phase sequence).
Does not give a phase to small talk or acknowledgements (嗯, 好的) or to the customer.

Versions: 1, as ``phases@1`` (the question labels it reads come from T-QUESTION, versioned there).
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.types import Finding

NAME, VERSION = "idl_ppc_phases", 1
COURSE_ID = "IDL+PPC"
CODES = (COURSE_ID,)
PHASES = ("I", "D", "L", "P1", "P2", "C")
INPUT, OUTPUT = ("I", "D", "L"), ("P1", "P2", "C")
_RELATED = {"restatement": "L", "identity_check": "I", "step_marker": "P1", "commitment": "P2",
            "satisfaction_check": "C"}
_QUESTION_PHASE = {"open": "D", "closed": "I", "controlling": "P1"}


def utterance_phases(ctx: TagContext) -> dict[int, tuple[str, dict[str, float]]]:
    """Agent utterance index -> (phase, evidence per phase) for utterances with enough evidence."""
    th = ctx.thresholds["phases"]
    evidence: dict[int, dict[str, float]] = {}
    for i, u in enumerate(ctx.utterances):
        if u.role != "agent":
            continue
        score = dict.fromkeys(PHASES, 0.0)
        for m in ctx.kinds(i, *(f"phase_{p}" for p in PHASES), *_RELATED):
            if m.kind.startswith("phase_"):
                score[m.kind[len("phase_"):]] += m.entry.weight
            else:
                score[_RELATED[m.kind]] += th["related_cue_weight"]
        evidence[i] = score
    if evidence:
        for q in ctx.questions:
            if q.index in evidence:
                evidence[q.index][_QUESTION_PHASE[q.label]] += th[f"{q.label}_question_weight"]
    out = {}
    for i, score in evidence.items():
        best = max(reversed(PHASES), key=lambda p: score[p])  # max keeps the first of equals: the later phase
        if score[best] >= th["min_evidence"]:
            out[i] = (best, {p: round(v, 2) for p, v in score.items() if v})
    return out


def _runs(sequence: list[str]) -> list[str]:
    return [p for k, p in enumerate(sequence) if k == 0 or sequence[k - 1] != p]


def tag(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(COURSE_ID, ctx.no_lexicon_reason())]
    us = ctx.utterances
    agent = [i for i, u in enumerate(us) if u.role == "agent"]
    if not agent:
        return [not_applicable(COURSE_ID, "no agent speech in this call")]
    phased = utterance_phases(ctx)
    findings = [from_utterance(COURSE_ID, "phase", phase, us[i], {"evidence": score})
                for i, (phase, score) in sorted(phased.items())]
    order = sorted(phased)
    sequence = [phased[i][0] for i in order]
    first_in = next((k for k, p in enumerate(sequence) if p in INPUT), None)
    first_out = next((k for k, p in enumerate(sequence) if p in OUTPUT), None)
    input_first = first_in is not None and (first_out is None or first_in < first_out)
    ends_c = "C" in sequence[-int(ctx.thresholds["phases"]["end_window"]):] if sequence else False
    detail = {"input_before_output": input_first, "ends_with_confirmation": ends_c,
              "has_output": first_out is not None, "sequence": _runs(sequence),
              "counts": {p: sequence.count(p) for p in PHASES}}
    anchor = order[-1] if order else agent[-1]
    findings.append(from_utterance(COURSE_ID, "phase_order", input_first and ends_c, us[anchor], detail,
                                   start=us[order[0]].start if order else us[agent[0]].start))
    return findings
