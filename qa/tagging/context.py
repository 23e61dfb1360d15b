"""What a tagger sees of a call: the ``CallView`` (transcript, thresholds, acoustics, lexicon cues)
and the signals several taggers share, each computed once, on first use, as a typed cached property.

Each tagger is a function ``(TagContext) -> list[Finding]`` in ``qa/tagging/taggers/``;
``qa.tagging.runner.tag`` runs them all over one context. A signal that raises is
not remembered: the next tagger that asks computes (and fails) again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from qa.tagging.signals.questions import CallQuestion, call_questions
from qa.tagging.signals.restatements import Restatement, restatements
from qa.tagging.signals.stages import CustomerStage, FinalStage, customer_stages, final_stage
from qa.tagging.signals.transfers import transfers
from qa.tagging.signals.voice import loudness_rises
from qa.tagging.thresholds import load_thresholds
from qa.tagging.view import CallView
from qa.types import Finding, Transcript, Utterance, UtteranceAcoustics


class TagContext(CallView):
    """One call being tagged: the view plus its shared signals."""

    @cached_property
    def loudness_rises(self) -> dict[int, float]:
        """Utterance index -> dB above its speaker's median (T-TONE; the stages' loud bump)."""
        return loudness_rises(self)

    @cached_property
    def customer_stages(self) -> list[CustomerStage]:
        """Every customer utterance with its complaint stage, in order (S1–S6, P4/R5, P1, P6, R6)."""
        return customer_stages(self, self.loudness_rises)

    @cached_property
    def final_stage(self) -> FinalStage | None:
        """Where the customer ends, read as a reviewer would (S1–S6's final stage; P4/R5's ending)."""
        return final_stage(self, self.customer_stages)

    @cached_property
    def questions(self) -> list[CallQuestion]:
        """Every question of the call with its kind (T-QUESTION, IDL+PPC, R2)."""
        return call_questions(self)

    @cached_property
    def restatements(self) -> list[Restatement]:
        """Customer utterances restating an earlier one (K4; the complaint class counts them)."""
        return restatements(self)

    @cached_property
    def transfers(self) -> dict[int, list[Any]]:
        """Agent utterance index -> its transfer cues (K2; the complaint class counts them)."""
        return transfers(self)

    @cached_property
    def agent(self) -> list[int]:
        """Indexes of the agent's utterances, in order."""
        return [i for i, u in enumerate(self.utterances) if u.role == "agent"]


Tagger = Callable[[TagContext], list[Finding]]


def make_context(
    transcript: Transcript,
    acoustics: list[UtteranceAcoustics] | None = None,
    thresholds: Path | dict[str, Any] | None = None,
) -> TagContext:
    return TagContext(transcript=transcript, thresholds=load_thresholds(thresholds), acoustics=acoustics)


def from_utterance(course_id: str, kind: str, value: Any, u: Utterance, detail: dict[str, Any] | None = None,
                   start: float | None = None, end: float | None = None, text: str | None = None) -> Finding:
    """A finding whose evidence is (part of) one utterance."""
    return Finding(
        id=course_id, kind=kind, value=value, role=u.role,
        start=u.start if start is None else start, end=u.end if end is None else end,
        text=u.text if text is None else text, detail=detail or {},
    )


def not_applicable(course_id: str, reason: str) -> Finding:
    """Said once per course ID when a tagger cannot judge this call (no lexicon, one speaker...)."""
    return Finding(id=course_id, kind="not_applicable", value=None, role="unknown", start=0.0, end=0.0,
                   text="", detail={"reason": reason})


def cannot_judge_agent(ctx: TagContext, course_id: str) -> list[Finding] | None:
    """``not_applicable`` when an agent-cue tagger has nothing to read (no lexicon, no agent speech), else None."""
    if not ctx.has_lexicon():
        return [not_applicable(course_id, ctx.no_lexicon_reason())]
    if not ctx.agent:
        return [not_applicable(course_id, "no agent speech in this call")]
    return None


def cue_detail(m: Any) -> dict[str, Any]:
    """Where a lexicon cue sits in its utterance, for a finding's detail."""
    return {"cue": m.entry.label, "cue_kind": m.kind, "char_start": m.start_char, "char_end": m.end_char}


def agent_cues(ctx: TagContext, course_id: str, kind: str, lexicon_kind: str) -> list[Finding]:
    """One ``kind`` finding per agent cue of ``lexicon_kind`` (not one inside a longer cue of another kind)."""
    return [from_utterance(course_id, kind, m.text, ctx.utterances[i], cue_detail(m))
            for i in ctx.agent for m in ctx.kinds(i, lexicon_kind) if not ctx.inside_longer(i, m)]


def closing_part(ctx: TagContext) -> list[int]:
    """Agent utterances in the last ``cues.closing_share`` of the call, and at least the last ``cues.closing_utterances``."""
    us, agent = ctx.utterances, ctx.agent
    th = ctx.thresholds["cues"]
    first, last = min(u.start for u in us), max(u.end for u in us)
    cut = last - (last - first) * float(th["closing_share"])
    tail = set(agent[-int(th["closing_utterances"]):])
    return [i for i in agent if us[i].start >= cut or i in tail]
