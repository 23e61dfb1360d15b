"""T-TONE 愤怒感知法·听语调、听/看敏感关键词: anger words, sensitive words, the agent's tone words, voice rises.

Fires:
- ``anger_keyword`` for each anger cue of the customer (太过分了, 投诉, 退款,
  "this is ridiculous", "es una vergüenza"); value: the words, detail.cue_kind;
- ``sensitive_keyword`` for each escalation keyword of the customer (12315, 曝光,
  律师, "lawyer", "supervisor", "quiero poner una queja" where the lexicon files it so);
- ``polite`` for each courtesy marker of the agent (请, 麻烦您, 不好意思, "please");
- ``forbidden`` / ``cold`` for the agent's forbidden or cold phrases
  (不知道, 不归我管, 这是规定, 你听清楚, "whatever");
- with audio (``ctx.acoustics``): ``loudness_rise`` when an utterance is at least
  ``tone.loudness_rise_db`` louder than its speaker's median, ``pitch_rise`` when
  its pitch is ``tone.pitch_rise_ratio`` above the speaker's median pitch. A speaker
  needs ``tone.min_baseline_utterances`` measured utterances for a baseline. For the
  customer this marks rising anger; for the agent, a raised voice (also a T-TONE problem).
Does not fire on negated cues (不是不知道, "not a problem"), on the customer's polite
words or on the agent quoting an anger word (cues are filtered by the speaker's role).
Without a lexicon for the language the keyword part says ``not_applicable``.
"""

from __future__ import annotations

import statistics

from qa.errors import AcousticsAlignmentError, CallqaError  # noqa: F401 (re-exported)
from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.types import Finding, UtteranceAcoustics

COURSE_ID = "T-TONE"
#: lexicon kind -> (finding kind, speaker it applies to)
_KEYWORDS = {
    "anger": ("anger_keyword", "customer"),
    "sensitive": ("sensitive_keyword", "customer"),
    "polite": ("polite", "agent"),
    "forbidden": ("forbidden", "agent"),
    "cold": ("cold", "agent"),
}


def clean_kinds(ctx: TagContext, index: int, *kinds: str) -> list:
    """``ctx.kinds`` without number cues cut out of a longer number (12345 inside 订单号123456)."""
    text = ctx.utterances[index].text
    return [m for m in ctx.kinds(index, *kinds)
            if not (m.text.isdigit() and ((m.start_char > 0 and text[m.start_char - 1].isdigit())
                                          or (m.end_char < len(text) and text[m.end_char].isdigit())))]


def aligned_acoustics(ctx: TagContext) -> list[UtteranceAcoustics] | None:
    """``ctx.acoustics`` when present, after checking it has one entry per utterance."""
    if ctx.acoustics is None:
        return None
    if len(ctx.acoustics) != len(ctx.utterances):
        raise AcousticsAlignmentError(
            f"{len(ctx.acoustics)} acoustic measurements for {len(ctx.utterances)} utterances in call "
            f"{ctx.transcript.call_id!r}; measure the same transcript that is tagged (qa.speech.acoustics.measure_utterances)"
        )
    return ctx.acoustics


def baselines(ctx: TagContext, attribute: str) -> dict[str, float]:
    """Median of ``attribute`` (loudness_db / pitch_hz) per role, for roles with enough measured utterances."""
    acoustics = aligned_acoustics(ctx)
    if acoustics is None:
        return {}
    needed = int(ctx.thresholds["tone"]["min_baseline_utterances"])
    values: dict[str, list[float]] = {}
    for u, a in zip(ctx.utterances, acoustics):
        value = getattr(a, attribute)
        if value is not None:
            values.setdefault(u.role, []).append(float(value))
    return {role: statistics.median(v) for role, v in values.items() if len(v) >= needed}


def loudness_rises(ctx: TagContext) -> dict[int, float]:
    """Utterance index -> dB above its speaker's median, for utterances over ``tone.loudness_rise_db``."""
    base = baselines(ctx, "loudness_db")
    if not base:
        return {}
    limit = float(ctx.thresholds["tone"]["loudness_rise_db"])
    rises = {}
    for i, (u, a) in enumerate(zip(ctx.utterances, ctx.acoustics or ())):
        if u.role in base and a.loudness_db is not None and a.loudness_db - base[u.role] >= limit:
            rises[i] = a.loudness_db - base[u.role]
    return rises


def _voice_findings(ctx: TagContext) -> list[Finding]:
    findings: list[Finding] = []
    loud_base = baselines(ctx, "loudness_db")
    for i, db in loudness_rises(ctx).items():
        u = ctx.utterances[i]
        findings.append(from_utterance(
            COURSE_ID, "loudness_rise", round(db, 2), u,
            {"baseline_db": round(loud_base[u.role], 2), "loudness_db": ctx.acoustics[i].loudness_db,
             "rising_anger": u.role == "customer"},
        ))
    pitch_base = baselines(ctx, "pitch_hz")
    ratio = float(ctx.thresholds["tone"]["pitch_rise_ratio"])
    for i, (u, a) in enumerate(zip(ctx.utterances, ctx.acoustics or ())):
        base = pitch_base.get(u.role)
        if base and a.pitch_hz is not None and a.pitch_hz >= base * (1 + ratio):
            findings.append(from_utterance(
                COURSE_ID, "pitch_rise", round(a.pitch_hz / base, 3), u,
                {"baseline_hz": round(base, 1), "pitch_hz": a.pitch_hz, "rising_anger": u.role == "customer"},
            ))
    return findings


def tag_tone(ctx: TagContext) -> list[Finding]:
    findings = _voice_findings(ctx)
    if not ctx.has_lexicon():
        reason = f"no lexicon for language {ctx.language!r}: tone keywords not checked ({ctx.lexicon_error})"
        return findings + [not_applicable(COURSE_ID, reason)]
    for i, u in enumerate(ctx.utterances):
        for m in clean_kinds(ctx, i, *_KEYWORDS):
            kind, role = _KEYWORDS[m.kind]
            if u.role != role:
                continue
            findings.append(from_utterance(
                COURSE_ID, kind, m.text, u,
                {"cue_kind": m.kind, "cue": m.entry.label, "weight": m.entry.weight,
                 "char_start": m.start_char, "char_end": m.end_char},
            ))
    return findings
