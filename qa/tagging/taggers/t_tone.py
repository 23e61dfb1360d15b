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

Versions: 1, as ``tone@1``.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.tagging.signals.voice import baselines
from qa.types import Finding

NAME, VERSION = "t_tone", 1
COURSE_ID = "T-TONE"
CODES = (COURSE_ID,)
#: lexicon kind -> (finding kind, speaker it applies to)
_KEYWORDS = {
    "anger": ("anger_keyword", "customer"),
    "sensitive": ("sensitive_keyword", "customer"),
    "polite": ("polite", "agent"),
    "forbidden": ("forbidden", "agent"),
    "cold": ("cold", "agent"),
}


def _voice_findings(ctx: TagContext) -> list[Finding]:
    findings: list[Finding] = []
    loud_base = baselines(ctx, "loudness_db")
    for i, db in ctx.loudness_rises.items():
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


def tag(ctx: TagContext) -> list[Finding]:
    findings = _voice_findings(ctx)
    if not ctx.has_lexicon():
        reason = f"no lexicon for language {ctx.language!r}: tone keywords not checked ({ctx.lexicon_error})"
        return findings + [not_applicable(COURSE_ID, reason)]
    for i, u in enumerate(ctx.utterances):
        for m in ctx.clean_kinds(i, *_KEYWORDS):
            kind, role = _KEYWORDS[m.kind]
            if u.role != role:
                continue
            findings.append(from_utterance(
                COURSE_ID, kind, m.text, u,
                {"cue_kind": m.kind, "cue": m.entry.label, "weight": m.entry.weight,
                 "char_start": m.start_char, "char_end": m.end_char},
            ))
    return findings
