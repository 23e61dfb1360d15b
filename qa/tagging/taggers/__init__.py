"""Every tagger, one module per course ID or tight ID group, named for it.

Each module has ``NAME`` (its module name), ``VERSION``, ``CODES`` (the course IDs
its findings carry), ``tag(ctx) -> list[Finding]`` and a docstring saying what
fires and what does not. Bump ``VERSION`` when a tagger's findings change: its
``name@version`` is stored with each finding and with each score, so old
findings stay explainable. They run in this order (T-RATE first, the outcome last).
"""

from __future__ import annotations

from types import ModuleType

from qa.tagging.context import Tagger
from qa.tagging.taggers import (
    idl_ppc_phases,
    k1_silence,
    k2_transfers,
    k3_clarity,
    k4_repetition,
    p1_feelings_first,
    p2_first_contact,
    p3_overlap,
    p4_r5_outcome,
    p5_empathy,
    p6_remedy,
    r2_restatement,
    r3_steps,
    r4_anything_else,
    r6_self_protection,
    s1_s6_stages,
    t_address,
    t_question,
    t_rate,
    t_tone,
    x1_x3_x4_x6_cues,
)

MODULES: tuple[ModuleType, ...] = (
    t_rate, k1_silence, p3_overlap, k4_repetition, t_tone, t_address, t_question, s1_s6_stages,
    p1_feelings_first, p2_first_contact, p5_empathy, p6_remedy, r2_restatement, r3_steps, r4_anything_else,
    r6_self_protection, k2_transfers, k3_clarity, x1_x3_x4_x6_cues, idl_ppc_phases, p4_r5_outcome,
)

#: ``name@version`` -> tagger, in running order.
TAGGERS: dict[str, Tagger] = {f"{m.NAME}@{m.VERSION}": m.tag for m in MODULES}

#: tagger name -> the course IDs its findings carry.
CODES: dict[str, tuple[str, ...]] = {m.NAME: tuple(m.CODES) for m in MODULES}


def versions() -> dict[str, int]:
    """Tagger name -> version, for every tagger (stored with each score)."""
    return {m.NAME: m.VERSION for m in MODULES}
