"""Every tagger, by versioned name. A tagger is ``(TagContext) -> list[Finding]``.

Bump a tagger's version when its behaviour changes: the name is stored with
each finding, so old findings stay explainable.
"""

from __future__ import annotations

from ..tagging import Tagger
from .address import tag_address
from .cues import tag_cues
from .outcome import tag_outcome
from .overlap import tag_overlap
from .phases import tag_phases
from .questions import tag_questions
from .rate import tag_rate
from .repetition import tag_repetition
from .silence import tag_silence
from .stages import tag_stages
from .tone import tag_tone

TAGGERS: dict[str, Tagger] = {
    "rate@1": tag_rate,
    "silence@1": tag_silence,
    "overlap@1": tag_overlap,
    "repetition@1": tag_repetition,
    "tone@1": tag_tone,
    "address@1": tag_address,
    "questions@1": tag_questions,
    "stages@1": tag_stages,
    "cues@1": tag_cues,
    "phases@1": tag_phases,
    "outcome@1": tag_outcome,
}
