"""Every tagger, by versioned name. A tagger is ``(TagContext) -> list[Finding]``.

Bump a tagger's version when its behaviour changes: the name is stored with
each finding, so old findings stay explainable.
"""

from __future__ import annotations

from qa.tagging.context import Tagger
from qa.tagging.taggers.idl_ppc_phases import tag_phases
from qa.tagging.taggers.k1_silence import tag_silence
from qa.tagging.taggers.k4_repetition import tag_repetition
from qa.tagging.taggers.p1_feelings_first import tag_cues
from qa.tagging.taggers.p3_overlap import tag_overlap
from qa.tagging.taggers.p4_r5_outcome import tag_outcome
from qa.tagging.taggers.s1_s6_stages import tag_stages
from qa.tagging.taggers.t_address import tag_address
from qa.tagging.taggers.t_question import tag_questions
from qa.tagging.taggers.t_rate import tag_rate
from qa.tagging.taggers.t_tone import tag_tone

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
