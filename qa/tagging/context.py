"""What taggers see of a call: the transcript, thresholds, acoustics, and lexicon matches computed once.

Each tagger is a function ``(TagContext) -> list[Finding]`` in ``qa/tagging/taggers/``;
``qa.tagging.runner.tag`` runs them all. The context computes what several taggers
need once: lexicon matches per utterance (filtered by the speaker's role) and any
other per-call result several taggers use (``ctx.shared(key, compute)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from qa.tagging.thresholds import load_thresholds
from qa.types import Finding, Transcript, Utterance, UtteranceAcoustics


@dataclass
class TagContext:
    transcript: Transcript
    thresholds: dict[str, Any]
    acoustics: list[UtteranceAcoustics] | None = None
    _matches: list[list[Any]] | None = field(default=None, repr=False)
    lexicon_error: str | None = None
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)
    _kind_index: list[dict[tuple[str, bool], list[Any]] | None] | None = field(default=None, repr=False)

    def shared(self, key: str, compute: Callable[[TagContext], Any]) -> Any:
        """``compute(self)`` once per context: later calls with the same key get the same result.

        An exception is not remembered: the next caller computes (and fails) again.
        """
        if key not in self._shared:
            self._shared[key] = compute(self)
        return self._shared[key]

    @property
    def language(self) -> str:
        return self.transcript.language

    @property
    def utterances(self) -> list[Utterance]:
        return self.transcript.utterances

    def matches(self, index: int) -> list[Any]:
        """Lexicon cues in utterance ``index`` that apply to its speaker's role (not negated ones too)."""
        if self._matches is None:
            self._matches = self._match_all()
        return self._matches[index]

    def _match_all(self) -> list[list[Any]]:
        from qa.text.lexicon import available_languages
        from qa.text.nlp import match_lexicon_many

        if self.language not in available_languages():
            # no lexicon for this language: the lexicon taggers say n/a. A lexicon that
            # exists but is malformed is an error, raised by match_lexicon below.
            self.lexicon_error = f"no lexicon for language {self.language!r} (have: {', '.join(available_languages())})"
            return [[] for _ in self.utterances]
        return match_lexicon_many(
            ((u.text, None if u.role == "unknown" else u.role) for u in self.utterances), self.language)

    def kinds(self, index: int, *kinds: str, negated: bool = False) -> list[Any]:
        """Matches of the given kinds in utterance ``index`` (negated ones excluded unless asked), in text order."""
        if self._kind_index is None:
            self._kind_index = [None] * len(self.utterances)
        by_kind = self._kind_index[index]
        if by_kind is None:  # the taggers ask ~15 questions per utterance: index its matches once
            by_kind = self._kind_index[index] = {}
            for m in self.matches(index):
                by_kind.setdefault((m.entry.kind, m.negated), []).append(m)
        found = [hits for kind in kinds if (hits := by_kind.get((kind, negated)))]
        if not found:
            return []
        if len(found) == 1:
            return list(found[0])
        return [m for m in self.matches(index) if m.entry.kind in kinds and m.negated == negated]  # in text order

    def inside_longer(self, index: int, match: Any) -> bool:
        """Whether a cue sits inside a longer cue of another kind, and so means that other thing:
        大概 in 大概一分钟 is an estimate, not vague; "right" in "right now" is a time, not an acknowledgement."""
        return any(
            o.kind != match.kind and o.start_char <= match.start_char and o.end_char >= match.end_char
            and (o.end_char - o.start_char) > (match.end_char - match.start_char)
            for o in self.matches(index)
        )

    def has_lexicon(self) -> bool:
        if self._matches is None:
            self._matches = self._match_all()
        return self.lexicon_error is None


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
