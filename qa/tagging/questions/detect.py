"""T-QUESTION: find the questions in an utterance.

An utterance is cut into clauses (punctuation, ASR particles, spaces in
Mandarin, before ¿/¡), and a clause whose cues weigh enough is a question:
a question mark when the ASR wrote one, otherwise word order and particles
(吗, A不A, "do you…", tags), because phone ASR often drops it. A rising pitch
at the end, when the audio layer knows it, counts as evidence too.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.tagging.questions.cues import KINDS, CueBank, Hit, check_language, compile_pattern, cue_bank, load_settings

QUESTION_MARKS = "?？¿"
_QUESTION_MARK = re.compile(f"[{QUESTION_MARKS}]")
_EDGE = " \t\r\n。！？!?；;…，,、：:.¿¡\"'“”«»()（）"
#: Kinds strong enough to mark where a question starts inside an unpunctuated clause.
_ONSET_KINDS = ("closed_cue", "question_word", "controlling_cue", "open_cue")
_ONSET_MIN_WEIGHT = 0.6
#: Clause cores whose cues are remembered per language (fillers and stock phrases recur in every call).
_HITS_MEMO_SIZE = 50000
_APOSTROPHES = str.maketrans({ch: "'" for ch in "’‘`´"})


@dataclass(frozen=True)
class QuestionSpan:
    """One question inside an utterance: character offsets, its text, and the cues that made it one."""

    start_char: int
    end_char: int
    text: str
    cues: tuple[str, ...]


def normalise(text: str) -> str:
    """Lower case and straight apostrophes, one character for one, so offsets stay valid."""
    if "Σ" not in text:  # str.lower's only context rule is the final sigma
        lowered = text.lower()
        if len(lowered) == len(text):  # no character became two: the same as lowering one by one
            return lowered.translate(_APOSTROPHES)
    out = []
    for ch in text:
        low = ch.lower()
        ch = low if len(low) == 1 else ch  # "İ".lower() is two characters: keep the original
        out.append("'" if ch in "’‘`´" else ch)
    return "".join(out)


def _core(text: str) -> tuple[int, int]:
    """Offsets of a clause without the punctuation and spaces at its edges."""
    end = len(text.rstrip(_EDGE))
    return (len(text) - len(text.lstrip(_EDGE)) if end else 0), end


def _hits(core: str, language: str) -> list[Hit]:
    """The cues found in one clause core, after embedding frames and false tags are taken out (remembered per core)."""
    bank = cue_bank(language)
    found = bank.memo.get(core)
    if found is None:
        found = tuple(_find_hits(core, language, bank))
        if len(bank.memo) >= _HITS_MEMO_SIZE:
            bank.memo.clear()
        bank.memo[core] = found
    return list(found)


def _may_hit(core: str, bank: CueBank) -> bool:
    """False when no cue can match the core: it holds no needle and no needle-less cue matches."""
    if bank.any_needle is not None and bank.any_needle.search(core):
        return True
    if not bank.always:
        return False
    return bank.any_always is None or bank.any_always.search(core) is not None  # None: they could not be joined


def _find_hits(core: str, language: str, bank: CueBank) -> list[Hit]:
    settings = load_settings()["detection"]
    # only cues whose needle is in the core can match: the rest are skipped without a regex search
    if bank.any_needle is not None and bank.any_needle.search(core):
        tried = set(bank.always)
        for ch in bank.by_char.keys() & set(core):
            tried.update(bank.by_char[ch])
        order: Sequence[int] = sorted(tried)
    else:  # find_questions has already left out the clauses no needle-less cue matches (_may_hit)
        order = bank.always
    hits = []
    for k in order:
        cue = bank.cues[k]
        if cue.needle is not None and cue.needle not in core:
            continue
        m = cue.regex.search(core)
        if m:
            hits.append(Hit(cue.kind, f"{cue.kind}:{cue.name}", cue.weight, m.start(), m.end()))
    if bank.frames is not None:
        frame = bank.frames.search(core)
        if frame:
            cancels = set(settings["frame_cancels"])
            hits = [h for h in hits if not (h.kind in cancels and h.start >= frame.start())]
    if bank.not_tag is not None and bank.not_tag.search(core):
        hits = [h for h in hits if not (h.kind in ("tag_question", "question_particle") and h.end == len(core))]
    # An end-anchored cue (tag) needs words before it: a bare "no" / "right" is an answer.
    anchors = bank.anchors
    hits = [h for h in hits if not (anchors.get(h.kind) == "end" and h.start == 0 and language != "zh")]
    return hits


def cue_counts(text: str, language: str) -> dict[str, int]:
    """How many cues of each kind a text holds (the classifier's rule features)."""
    start, end = _core(text)
    counts = dict.fromkeys(KINDS, 0)
    for hit in _hits(normalise(text[start:end]), language):
        counts[hit.kind] += 1
    return counts


@functools.lru_cache(maxsize=8)
def _cutters(language: str) -> tuple[tuple[re.Pattern[str], ...], re.Pattern[str]]:
    """The patterns a clause ends after (punctuation, ASR particles, spaces in zh), and the one it starts at (¿/¡)."""
    det = load_settings()["detection"]
    after = [compile_pattern(det["boundary_pattern"], "boundary_pattern")]
    split_after = (det.get("split_after") or {}).get(language)
    if split_after:
        after.append(compile_pattern(split_after, f"split_after.{language}"))
    if language in (det.get("split_on_spaces") or ()):
        after.append(re.compile(r"\s+"))
    return tuple(after), re.compile("[¿¡]")


def _clause_bounds(text: str, language: str) -> list[tuple[int, int]]:
    """(start, end) of each clause: cut at punctuation, ASR particles, spaces (zh) and before ¿/¡."""
    after, before = _cutters(language)
    cuts = {0, len(text)}
    for pattern in after:
        cuts.update([m.end() for m in pattern.finditer(text)])
    if "¿" in text or "¡" in text:
        cuts.update([m.start() for m in before.finditer(text)])
    points = sorted(cuts)
    bounds = []
    for a, b in itertools.pairwise(points):
        piece = text[a:b]
        stripped = piece.strip()
        if stripped and stripped.strip(_EDGE):  # something besides punctuation and spaces
            lead = piece.index(stripped[0])
            bounds.append((a + lead, a + lead + len(stripped)))
    return bounds


def find_questions(text: str, language: str, rising_pitch: bool | None = None) -> list[QuestionSpan]:
    """The questions in one utterance, in order, with the cues that made each one a question.

    ``rising_pitch`` describes the end of the utterance (from the audio):
    True adds evidence to the last clause, False takes a little off, None
    (unknown, e.g. imported text) changes nothing.
    """
    check_language(language)
    det = load_settings()["detection"]
    bank = cue_bank(language)
    bounds = _clause_bounds(text, language)
    # lower-cased once for the whole utterance: one character for one, so a clause's core is a
    # slice of it (not with a final sigma, which str.lower changes by context)
    whole = normalise(text) if "Σ" not in text else None
    if whole is not None and len(whole) != len(text):
        whole = None
    found = []
    for i, (a, b) in enumerate(bounds):
        clause = text[a:b]
        core_a, core_b = _core(clause)
        core = whole[a + core_a:a + core_b] if whole is not None else normalise(clause[core_a:core_b])
        if _may_hit(core, bank):
            hits = _hits(core, language)
            score = sum(h.weight for h in hits)
            cues = [h.label for h in hits]
        else:  # most clauses: no cue can match (what _find_hits would find out, without its overhead)
            hits, score, cues = [], 0.0, []
        if not hits and i > 0 and core in bank.bare_tags and _after_comma(text, bounds[i - 1], a) and _closes(text, (a, b)):
            # "La dirección es calle Mayor 12, verdad" / "you got the email, right": a tag on its own
            # is an answer ("Verdad."), but after a comma it asks about the clause before it
            score += bank.bare_tags[core]
            cues.append(f"tag_question:{core}")
        if _QUESTION_MARK.search(clause):
            score += det["punctuation_weight"]
            cues.append("punctuation:?")
        if i == len(bounds) - 1 and rising_pitch is not None:
            score += det["rising_pitch_weight"] if rising_pitch else det["falling_pitch_weight"]
            cues.append("pitch:rising" if rising_pitch else "pitch:falling")
        if score < det["threshold"] or not core:
            continue
        start = a + core_a
        if language in det["trim_to_onset"]:
            start = a + core_a + _onset(core, hits)
        while start > a and text[start - 1] in "¿¡":
            start -= 1
        continues = bool(bank.continuation and bank.continuation.search(core)) and i > 0
        found.append((start, b, cues, continues))
    return _merge_continuations(text, bounds, found)


def _after_comma(text: str, previous: tuple[int, int], start: int) -> bool:
    """Whether the clause starting at ``start`` follows the ``previous`` clause across a comma only."""
    return text[previous[0]:previous[1]].endswith((",", "，")) and not text[previous[1]:start].strip()


def _closes(text: str, bound: tuple[int, int]) -> bool:
    """Whether a clause ends its sentence: not followed by a comma ("I paid, right, and then…" is a filler)."""
    return not text[bound[0]:bound[1]].endswith((",", "，", "、"))


def _onset(core: str, hits: Sequence[Hit]) -> int:
    """Where the question starts inside an unpunctuated clause: the first strong cue not at the start."""
    strong = [h.start for h in hits
              if h.weight >= _ONSET_MIN_WEIGHT and h.kind in _ONSET_KINDS]
    if not strong or min(strong) == 0 or any(h.start == 0 for h in hits):
        return 0
    onset = min(strong)
    if len(core[:onset].split()) < 2:  # one word before the cue is a filler, not a statement
        return 0
    while onset < len(core) and core[onset].isspace():
        onset += 1
    return onset


def _merge_continuations(text: str, bounds: list[tuple[int, int]],
                         found: list[tuple[int, int, list[str], bool]]) -> list[QuestionSpan]:
    """A tag or "还是/or" clause takes the clause before it into its span."""
    spans: list[list[Any]] = []
    starts = [a for a, _ in bounds]
    for start, end, cues, continues in found:
        if continues:
            index = max(k for k, a in enumerate(starts) if a <= start)
            if index > 0:
                prev_start = bounds[index - 1][0]
                if spans and spans[-1][1] >= bounds[index - 1][1]:
                    # The clause before is already a question: extend it rather than overlap it.
                    spans[-1][1] = end
                    spans[-1][2] = spans[-1][2] + [c for c in cues if c not in spans[-1][2]]
                    continue
                start = prev_start
        spans.append([start, end, list(cues)])
    return [QuestionSpan(s, e, text[s:e], tuple(c)) for s, e, c in spans]
