"""T-QUESTION's questions of the whole call, classified in one batch: the phases and R2 taggers read them too."""

from __future__ import annotations

from dataclasses import dataclass

from qa.tagging.view import CallView


@dataclass(frozen=True)
class CallQuestion:
    """One question in the call: which utterance, where in it, its kind."""

    index: int
    start_char: int
    end_char: int
    text: str
    label: str  # closed | open | controlling
    probability: float
    confident: bool
    cues: tuple[str, ...]
    rising_pitch: bool | None


def rising(call: CallView, index: int) -> bool | None:
    """Whether the utterance ends rising (``question.rising_slope``), falling (``question.falling_slope``), or unknown."""
    if call.acoustics is None or len(call.acoustics) != len(call.utterances):
        return None
    slope = call.acoustics[index].final_pitch_slope
    if slope is None:
        return None
    th = call.thresholds["question"]
    if slope >= th["rising_slope"]:
        return True
    if slope <= th["falling_slope"]:
        return False
    return None


def call_questions(call: CallView) -> list[CallQuestion]:
    """All questions of the call, in order (raises the question data's coded error for an unsupported language)."""
    from qa.tagging.questions import (
        classify_utterances,  # scikit-learn: loaded on first use
    )

    pitch = [rising(call, i) for i in range(len(call.utterances))]
    return [CallQuestion(i, q.span.start_char, q.span.end_char, q.text, q.label, q.probability, q.confident,
                         tuple(q.span.cues), pitch[i])
            for i, q in classify_utterances(call.utterances, call.language, pitch)]
