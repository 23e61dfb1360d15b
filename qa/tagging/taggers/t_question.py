"""T-QUESTION 多变提问法: every question, closed / open / controlling, and the mix through the call.

Questions are found and labelled by ``qa.tagging.questions.classify_utterances`` (clause
cues, punctuation, and a small classifier), once per call for all utterances;
the phases and R2 taggers reuse the result (``ctx.questions``). A rising end of the utterance in the audio
(``final_pitch_slope`` at least ``question.rising_slope``) is evidence of a
question; a falling end (at most ``question.falling_slope``) a little against.

Fires:
- ``closed_question`` / ``open_question`` / ``controlling_question`` per question
  (value: the classifier's probability; text: the question's own words; start/end:
  its share of the utterance): 是不是昨天下的单？ closed, 具体是什么情况？ open,
  您看这样可以吗？ controlling, "Shall we book the engineer for tomorrow?" controlling;
- ``question_mix`` once per speaker who asks anything (value: counts per kind;
  detail.thirds: each kind's share of the questions asked in the first, middle
  and last third of the call).
Does not fire on statements (我帮您查一下。, "I'll check that for you.").

Versions: 1 as ``questions@1``; 2: indirect questions (quería saber si…, I was wondering if…,
想问一下) open a question; 3: a closing tag after a comma (…, verdad / …, right) is a question;
4: the classifier trains also on the shippable real questions (CrossWOZ, ABCD).
"""

from __future__ import annotations

from qa.errors import CallqaError
from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.tagging.signals.questions import CallQuestion
from qa.types import Finding

NAME, VERSION = "t_question", 4
COURSE_ID = "T-QUESTION"
CODES = (COURSE_ID,)
_THIRDS = ("first", "middle", "last")
LABELS = ("closed", "open", "controlling")  # as qa.tagging.questions.LABELS


def _third(t: float, first: float, span: float) -> str:
    if span <= 0:
        return "first"
    return _THIRDS[min(2, int(3 * (t - first) / span))]


def tag(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(COURSE_ID, ctx.no_lexicon_reason())]
    if not ctx.utterances:
        return []
    try:
        questions = ctx.questions
    except CallqaError as exc:  # unsupported language or broken question data: say so, keep the others
        return [not_applicable(COURSE_ID, str(exc))]
    us = ctx.utterances
    first, last = min(u.start for u in us), max(u.end for u in us)
    findings: list[Finding] = []
    by_role: dict[str, list[tuple[CallQuestion, float, float]]] = {}
    for q in questions:
        u = us[q.index]
        length = max(1, len(u.text))
        start = u.start + u.duration * q.start_char / length
        end = u.start + u.duration * q.end_char / length
        findings.append(from_utterance(
            COURSE_ID, f"{q.label}_question", round(q.probability, 3), u,
            {"confident": q.confident, "cues": list(q.cues), "rising_pitch": q.rising_pitch,
             "utterance": u.text, "char_start": q.start_char, "char_end": q.end_char},
            start=round(start, 2), end=round(end, 2), text=q.text,
        ))
        by_role.setdefault(u.role, []).append((q, start, end))
    for items in by_role.values():
        counts = {label: sum(1 for q, _, _ in items if q.label == label) for label in LABELS}
        thirds = {}
        for part in _THIRDS:
            inside = [q for q, s, _ in items if _third(s, first, last - first) == part]
            thirds[part] = {label: round(sum(1 for q in inside if q.label == label) / len(inside), 3)
                            if inside else 0.0 for label in LABELS}
            thirds[part]["questions"] = len(inside)
        q0, s0, _ = items[0]
        findings.append(from_utterance(
            COURSE_ID, "question_mix", counts, us[q0.index], {"thirds": thirds, "total": len(items)},
            start=round(s0, 2), end=round(items[-1][2], 2), text=q0.text,
        ))
    return findings
