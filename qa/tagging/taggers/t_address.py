"""T-ADDRESS 称谓变通法 — 少说你，少说我们，多说他们: who says you, we and they, and how.

Counts per speaker, from the lexicon's address kinds: blunt second person
(你/你们, tú and its verb forms, "you"), honorific second person (您, usted),
first-person plural (我们, nosotros, "we"), inclusive (咱们, "let's") and third
person (他们, ellos, "they", the technician). Where two of these overlap the
longer one counts (我们一起 is inclusive, not 我们); 您 is its own kind, never 你.

Fires:
- ``address_counts`` once per speaker (value: the counts; evidence: the
  utterance with the most blunt forms, else the speaker's first);
- ``blunt_second_person`` for each agent utterance using blunt "you" (value: how many):
  你先把订单号发过来 fires, 您先把订单号发过来 does not; in English, which has no
  polite "you" to prefer, the same count is ``second_person`` ("Could you give me
  your order number?": 2), not called blunt;
- ``blunt_share`` for the agent: 你 / (你 + 您), tú / (tú + usted) — not in English,
  which has no polite "you" (value; detail.high at or above
  ``address.blunt_share_high``), once the agent used at least
  ``address.min_second_person`` second-person forms;
- ``accusing_you`` for each accusing second-person phrase of the agent
  (你没有…, 你应该…, "you didn't…", "usted no…"; value: the phrase).
Does not fire ``accusing_you`` on concern (你没事吧) or on the customer's words.

Versions: 1 as ``address@1``; 2: English "you" is not blunt (no ``blunt_share`` in English);
3: the English per-utterance count is ``second_person``.
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.types import Finding, Utterance

NAME, VERSION = "t_address", 3
COURSE_ID = "T-ADDRESS"
CODES = (COURSE_ID,)
#: lexicon kind -> key in the counts
PERSON_KINDS = {
    "address_2p_blunt": "blunt_2p",
    "address_2p_formal": "formal_2p",
    "address_1p_plural": "plural_1p",
    "address_inclusive": "inclusive",
    "address_3p": "third_person",
}


def person_forms(ctx: TagContext, index: int) -> list:
    """Address matches in one utterance; a form inside a longer form of another kind is dropped."""
    found = ctx.kinds(index, *PERSON_KINDS)
    return [m for m in found
            if not any(o is not m and o.start_char <= m.start_char and m.end_char <= o.end_char
                       and (o.end_char - o.start_char) > (m.end_char - m.start_char) for o in found)]


def tag(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(COURSE_ID, ctx.no_lexicon_reason())]
    th = ctx.thresholds["address"]
    findings: list[Finding] = []
    counts: dict[str, dict[str, int]] = {}
    bluntest: dict[str, tuple[int, Utterance]] = {}
    second_kind = "blunt_second_person" if _has_formal_you(ctx) else "second_person"
    for i, u in enumerate(ctx.utterances):
        if u.role not in ("agent", "customer"):
            continue
        tally = counts.setdefault(u.role, {**{k: 0 for k in PERSON_KINDS.values()}, "accusing": 0})
        forms = person_forms(ctx, i)
        for m in forms:
            tally[PERSON_KINDS[m.kind]] += 1
        blunt = [m for m in forms if m.kind == "address_2p_blunt"]
        if u.role not in bluntest or len(blunt) > bluntest[u.role][0]:
            bluntest[u.role] = (len(blunt), u)
        if u.role != "agent":
            continue
        if blunt:
            findings.append(from_utterance(COURSE_ID, second_kind, len(blunt), u,
                                           {"forms": [m.text for m in blunt]}))
        for m in ctx.kinds(i, "accusing_2p"):
            tally["accusing"] += 1
            findings.append(from_utterance(COURSE_ID, "accusing_you", m.text, u,
                                           {"cue": m.entry.label, "char_start": m.start_char,
                                            "char_end": m.end_char}))
    for role, tally in counts.items():
        findings.append(from_utterance(COURSE_ID, "address_counts", dict(tally), bluntest[role][1],
                                       {"evidence": "utterance with the most blunt second-person forms"}))
    agent = counts.get("agent")
    if agent and _has_formal_you(ctx):  # English "you" has no polite form to prefer
        second = agent["blunt_2p"] + agent["formal_2p"]
        if second >= th["min_second_person"]:
            share = agent["blunt_2p"] / second
            findings.append(from_utterance(
                COURSE_ID, "blunt_share", round(share, 3), bluntest["agent"][1],
                {"blunt": agent["blunt_2p"], "formal": agent["formal_2p"],
                 "high": share >= th["blunt_share_high"]},
            ))
    return findings


def _has_formal_you(ctx: TagContext) -> bool:
    """Whether the language has a polite second person (您, usted) to prefer over the blunt one."""
    return bool(ctx.thresholds["address"].get(f"polite_you_{ctx.language}", 0))
