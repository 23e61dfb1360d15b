"""Each customer utterance's complaint stage (S1–S6, 0 for none): read by the stages, outcome and P1/P6/R6 taggers."""

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
    counts ``stages.weak_drop`` stages lower), raised by anger words (at least
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
        for m in call.clean_kinds(i, *_STAGE_KINDS, "anger", "sensitive"):
            if m.kind in ("anger", "sensitive"):
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
