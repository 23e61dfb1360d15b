"""The call as taggers read it: transcript, thresholds, acoustics, and each utterance's lexicon cues, matched once.

``qa.tagging.signals`` computes the shared signals from a ``CallView``;
``qa.tagging.context.TagContext`` adds them to it as cached properties, so a
signal module never needs the context that caches it (no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.tagging.thresholds import Thresholds
from qa.types import Transcript, Utterance, UtteranceAcoustics


@dataclass
class CallView:
    transcript: Transcript
    thresholds: Thresholds
    acoustics: list[UtteranceAcoustics] | None = None
    _matches: list[list[Any]] | None = field(default=None, repr=False)
    lexicon_error: str | None = None
    _kind_index: list[dict[tuple[str, bool], list[Any]] | None] | None = field(default=None, repr=False)

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

    def clean_kinds(self, index: int, *kinds: str) -> list[Any]:
        """``kinds`` without number cues cut out of a longer number (12345 inside 订单号123456)."""
        text = self.utterances[index].text
        return [m for m in self.kinds(index, *kinds)
                if not (m.text.isdigit() and ((m.start_char > 0 and text[m.start_char - 1].isdigit())
                                              or (m.end_char < len(text) and text[m.end_char].isdigit())))]

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

    def no_lexicon_reason(self) -> str:
        """Why the lexicon taggers say n/a (call after ``has_lexicon`` answered False)."""
        return f"no lexicon for language {self.language!r} ({self.lexicon_error})"
