"""Each customer utterance's complaint stage (S1–S6, 0 for none) and where the customer ends: read by the stages, outcome and P1/P6/R6 taggers."""

from __future__ import annotations

from dataclasses import dataclass

from qa.tagging.view import CallView

STAGE_IDS = ("S1", "S2", "S3", "S4", "S5", "S6")
_STAGE_KINDS = tuple(f"stage_{s}" for s in STAGE_IDS)


@dataclass(frozen=True)
class CustomerStage:
    """The stage of one customer utterance (0 = no complaint signal) and why."""

    index: int
    level: int
    cues: tuple[str, ...]
    loud: bool = False


def customer_stages(call: CallView, loud: dict[int, float]) -> list[CustomerStage]:
    """Every customer utterance with its stage level, in order; ``loud`` are the utterances with a raised voice.

    The highest stage its words cue (a weak cue, weight below ``stages.weak_weight``,
    counts ``stages.weak_drop`` stages lower; a strong ``problem_report`` cue, 坏了 无法开机, is
    ``stages.problem_stage``, S1), raised by anger words (at least
    ``stages.anger_stage``) and sensitive words (at least ``stages.sensitive_stage``),
    and bumped by ``stages.loud_bump`` when the voice is raised.
    """
    th = call.thresholds["stages"]
    weak = float(th["weak_weight"])
    out = []
    for i, u in enumerate(call.utterances):
        if u.role != "customer":
            continue
        level, cues = 0, []
        for m in call.clean_kinds(i, *_STAGE_KINDS, "anger", "sensitive", "problem_report"):
            if m.kind == "problem_report":  # 坏了, 无法开机: a problem without displeasure words is latent
                if m.entry.weight < weak:
                    continue
                stage = int(th["problem_stage"])
            elif m.kind in ("anger", "sensitive"):
                stage = int(th[f"{m.kind}_stage"]) if m.entry.weight >= weak else int(th[f"weak_{m.kind}_stage"])
            else:
                stage = int(m.kind[-1]) - (int(th["weak_drop"]) if m.entry.weight < weak else 0)
            stage = max(1, min(6, stage))
            cues.append(f"{m.kind}:{m.text}")
            level = max(level, stage)
        is_loud = i in loud
        if is_loud:
            level = min(int(th["loud_cap"]), max(level + int(th["loud_bump"]), int(th["loud_floor"])))
        out.append(CustomerStage(i, level, tuple(cues), is_loud))
    return out


@dataclass(frozen=True)
class FinalStage:
    """Where the customer ends: the stage, the utterance it is read from, and why."""

    index: int
    level: int
    cues: tuple[str, ...]
    reason: str


def _final_stage(call: CallView, tail: list[CustomerStage], peak: int) -> FinalStage:
    """The stage of the customer's last ``final_utterances``, read as a reviewer would.

    Their highest cued stage, except that an ending with thanks or acceptance (lexicon kind
    ``stage_S0``: 谢谢, 可以了, that works), no cue above ``stages.calm_max`` and no problem reported
    in it is S0, and an
    ending with neither a stage cue nor thanks after a complaint (a bare answer, 是的, 2.5.1)
    keeps the dissatisfaction latent: ``stages.unresolved_level`` (S1), never S0; an ending that says
    the problem is still there (a strong lexicon ``unresolved`` cue: 还是不行, 问题依然存在) is the
    customer pressing: at least ``stages.unresolved_cue_level`` (S2). A long ending
    (``stages.venting_chars``) without thanks after a complaint of at least ``stages.min_peak``
    is the customer still complaining: the peak, at most ``stages.venting_cap`` (S3).
    """
    th = call.thresholds["stages"]
    last = max(tail, key=lambda s: (s.level, s.index))
    calm = [f"stage_S0:{m.text}" for s in tail for m in call.kinds(s.index, "stage_S0")]
    problem = any(c.startswith("problem_report:") for s in tail for c in s.cues)  # 无法开机 ... 就没了: not calm
    if calm and last.level <= int(th["calm_max"]) and not problem:
        return FinalStage(tail[-1].index, 0, tuple(calm), "thanks or acceptance at the end")
    long_ending = len(call.utterances[tail[-1].index].text) >= int(th["venting_chars"])
    if not calm and long_ending and peak >= int(th["min_peak"]) and last.level < min(peak, int(th["venting_cap"])):
        return FinalStage(tail[-1].index, min(peak, int(th["venting_cap"])), last.cues,
                          "still explaining the complaint at length at the end, without thanks")
    pressing = [f"unresolved:{m.text}" for m in call.clean_kinds(tail[-1].index, "unresolved")
                if m.entry.weight >= float(th["weak_weight"])]
    if not calm and pressing and last.level < int(th["unresolved_cue_level"]):
        return FinalStage(tail[-1].index, int(th["unresolved_cue_level"]), (*last.cues, *pressing),
                          "says the problem is still there (还是不行, 问题依然存在)")
    if last.level == 0 and peak > 0:
        return FinalStage(tail[-1].index, min(peak, int(th["unresolved_level"])), (),
                          "no thanks or acceptance after the complaint")
    return FinalStage(last.index, last.level, last.cues, "the stage cued at the end")


def final_stage(call: CallView, stages: list[CustomerStage]) -> FinalStage | None:
    """Where the customer ends (the reviewer's final stage); None without customer speech. P4/R5 read it too."""
    if not stages:
        return None
    tail = stages[-int(call.thresholds["stages"]["final_utterances"]):]
    return _final_stage(call, tail, max(s.level for s in stages))
