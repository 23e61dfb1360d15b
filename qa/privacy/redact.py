"""Mask customers' numbers and e-mail addresses in transcripts, findings and scorecards.

Calls are full of personal data read aloud: phone numbers, ID and card
numbers, order numbers, e-mails. ASR writes them in many ways ("138 1234
5678", "一三八幺二三四…", "seis cinco cinco, veintitrés…", "double five"), so
every stretch that reads as a digit string is first turned into its digits
(``qa.privacy.numbers``) and then classified on those digits (ID, card, phone,
generic long number) by the patterns in ``data/redact.yaml`` (compiled by
``qa.privacy.settings``). Everything is compiled regular expressions: this
runs on every utterance of every call.

A transcript is redacted per speaker turn: consecutive utterances of one
speaker are read as one text, because the ASR cuts an utterance wherever the
caller pauses, which people do while reading out a number.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from qa.errors import RedactConfigError
from qa.privacy.numbers import NumberRun, fold, luhn_ok
from qa.privacy.settings import (
    CATEGORIES,
    OPENING_BRACKETS,
    LanguageRules,
    RedactSettings,
    default_settings,
    load_redact_settings,
)
from qa.types import Evidence, Finding, ItemScore, Scorecard, Transcript, Utterance, Word

__all__ = [
    "CATEGORIES",
    "RedactConfigError",
    "RedactSettings",
    "Redacted",
    "RedactedSpan",
    "default_settings",
    "find_spans",
    "load_redact_settings",
    "luhn_ok",
    "redact_finding_text",
    "redact_findings",
    "redact_scorecard",
    "redact_text",
    "redact_transcript",
]


@dataclass(frozen=True)
class RedactedSpan:
    """One masked stretch: offsets into the original text, and what replaced it."""

    start: int
    end: int
    category: str
    replacement: str


@dataclass(frozen=True)
class Redacted:
    text: str
    spans: tuple[RedactedSpan, ...]


# --- Finding what to mask -------------------------------------------------------------


def find_spans(text: str, language: str, settings: RedactSettings | None = None) -> tuple[RedactedSpan, ...]:
    """Every stretch of ``text`` to mask, in text order, never overlapping."""
    s = settings or default_settings()
    rules = s.rules(language)
    if not text:
        return ()
    folded = fold(text)
    masks = [m.span() for m in s.mask_re.finditer(folded)]  # masks already there stay as they are
    spans = [RedactedSpan(a, b, "email", s.mask("email")) for a, b in _emails(folded, rules, masks)]
    if not rules.reader.has_atoms(folded):
        return tuple(spans)
    blocked = masks + [(sp.start, sp.end) for sp in spans]
    scan = _blank(folded, blocked + [m.span() for m in s.not_numbers.finditer(folded)])  # dates, times, versions
    # Cues are looked for between the previous number, mask or address and this
    # number; a list ("订单号A、B") shares its first number's cue. Masking shortens the
    # text, so this keeps a second redaction from finding cues the first did not.
    runs = [r for r in rules.reader.runs(scan, s.min_digits) if len(r.digits) >= s.min_digits]
    anchors = sorted([(a, b, None) for a, b in blocked] + [(r.start, r.end, r) for r in runs], key=lambda x: x[0])
    prev_end, prev_cue = -1, None
    for start, end, run in anchors:
        if prev_end >= 0 and all(c in s.separator_chars or c.isspace() for c in scan[prev_end:start]):
            cue = prev_cue
        else:
            cue = _cue(scan, max(prev_end, start - s.cue_window, 0), start, rules)
        if run is not None:
            span = _number_span(run, text, scan, cue, rules, s)
            if span is not None:
                spans.append(span)
                end = span.end
        prev_end, prev_cue = end, cue
    spans.sort(key=lambda sp: sp.start)
    return tuple(spans)


def _blank(text: str, ranges: list[tuple[int, int]]) -> str:
    """``text`` with ``ranges`` replaced by NULs: nothing there can be, join or cue a number."""
    if not ranges:
        return text
    chars = list(text)
    for a, b in ranges:
        chars[a:b] = "\0" * (b - a)
    return "".join(chars)


def _emails(folded: str, rules: LanguageRules, blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Written and spoken e-mail addresses ("juan punto perez arroba gmail punto com")."""
    found: list[tuple[int, int]] = []
    if "@" in folded:
        found += [m.span() for m in rules.written_email.finditer(folded)]
    if rules.spoken_email is not None and rules.email_hint.search(folded):
        for m in rules.spoken_email.finditer(folded):
            user = m.group("user").lower()
            if user in rules.local_stopwords:  # "look at amazon dot com" is a website
                continue
            found.append(m.span())
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if any(a < y and x < b for x, y in blocked):
            continue
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _number_span(run: NumberRun, text: str, scan: str, cue: str | None, rules: LanguageRules,
                 s: RedactSettings) -> RedactedSpan | None:
    """The mask for one digit run, or None for an amount. A cue wins if the length fits it."""
    digits = run.digits
    start, end = run.start, run.end
    suffix, suffix_end = None, end
    if rules.suffix is not None and (m := rules.suffix.match(text, end)):
        suffix = rules.suffix_aliases.get(m.group(1), m.group(1).upper())
        suffix_end = m.end()
    category, used_suffix = s.classes.classify(digits, suffix, run.plus, rules.plans)
    if cue is not None and s.cue_lengths[cue][0] <= len(digits) <= s.cue_lengths[cue][1]:
        category = cue
    elif category == "digits" and _is_amount(scan, start, end, rules, s):
        return None
    if used_suffix and category == "id_number":
        end = suffix_end
    close = OPENING_BRACKETS.get(text[start - 1]) if start else None
    if close and close in text[start:end]:  # "(555) 234-5678"
        start -= 1
    return RedactedSpan(start, end, category, s.mask(category, digits))


def _cue(scan: str, lo: int, start: int, rules: LanguageRules) -> str | None:
    """The category named by the cue nearest before ``start`` ("订单号", "order number"), if any."""
    last = None
    if rules.cues is not None:
        for last in rules.cues.finditer(scan, lo, start):
            pass
    return None if last is None else rules.cue_category[last.group().lower()]


def _is_amount(scan: str, start: int, end: int, rules: LanguageRules, s: RedactSettings) -> bool:
    """A generic number written as a quantity (1,500,000) or next to a unit or currency."""
    if s.quantity.fullmatch(scan, start, end):
        return True
    if rules.units_after is not None and rules.units_after.match(scan, end):
        return True
    return rules.units_before is not None and rules.units_before.search(scan, max(0, start - 8), start) is not None


# --- Texts, findings, scorecards ---------------------------------------------------------


def redact_text(text: str, language: str, settings: RedactSettings | None = None) -> Redacted:
    """``text`` with every phone, ID, card, e-mail and long number replaced by its mask."""
    spans = find_spans(text, language, settings)
    if not spans:
        return Redacted(text, ())
    parts, pos = [], 0
    for sp in spans:
        parts += [text[pos:sp.start], sp.replacement]
        pos = sp.end
    parts.append(text[pos:])
    return Redacted("".join(parts), spans)


def redact_finding_text(text: str, language: str, settings: RedactSettings | None = None) -> str:
    return redact_text(text, language, settings).text if text else text


def redact_findings(findings: list[Finding], language: str, settings: RedactSettings | None = None) -> list[Finding]:
    """Copies of ``findings`` with their quoted text (and strings in ``detail``) masked."""
    return [
        dataclasses.replace(f, text=redact_finding_text(f.text, language, settings),
                            detail=_redact_values(f.detail, language, settings))
        for f in findings
    ]


def _redact_values(value: Any, language: str, settings: RedactSettings | None) -> Any:
    if isinstance(value, str):
        return redact_finding_text(value, language, settings)
    if isinstance(value, dict):
        return {k: _redact_values(v, language, settings) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_redact_values(v, language, settings) for v in value)
    return copy.deepcopy(value)


def _redact_evidence(e: Evidence, language: str, settings: RedactSettings | None) -> Evidence:
    return dataclasses.replace(e, text=redact_finding_text(e.text, language, settings))


def redact_scorecard(scorecard: Scorecard, settings: RedactSettings | None = None) -> Scorecard:
    """A copy of ``scorecard`` with evidence quotes, tips and reasons masked."""
    lang = scorecard.language

    def item(it: ItemScore) -> ItemScore:
        return dataclasses.replace(
            it,
            evidence=[_redact_evidence(e, lang, settings) for e in it.evidence],
            tip=redact_finding_text(it.tip, lang, settings),
            tip_en=redact_finding_text(it.tip_en, "en", settings),
            reason=redact_finding_text(it.reason, lang, settings),
        )

    return dataclasses.replace(
        scorecard,
        items=[item(it) for it in scorecard.items],
        warnings=list(scorecard.warnings),
        summary=copy.deepcopy(scorecard.summary),
        meta=copy.deepcopy(scorecard.meta),
    )


# --- Transcripts ----------------------------------------------------------------------------


def redact_transcript(transcript: Transcript, settings: RedactSettings | None = None) -> Transcript:
    """A masked copy of ``transcript``: texts and ASR words; ``source`` says what was masked.

    Consecutive utterances of one speaker less than ``join_gap_seconds`` apart
    are read as one text; each piece of a number split across them carries the
    full mask. The input is never changed; redacting twice masks nothing more.
    """
    s = settings or default_settings()
    s.rules(transcript.language)  # unknown language: fail before copying anything
    out = _copy_transcript(transcript)
    counts: Counter[str] = Counter(out.source.get("redaction") or {})
    for group in _speaker_turns(out.utterances, s.join_gap_seconds):
        counts.update(_redact_turn([out.utterances[i] for i in group], transcript.language, s))
    out.source = {**out.source, "redacted": True, "redaction": dict(counts)}
    return out


def _copy_transcript(t: Transcript) -> Transcript:
    """A copy sharing nothing mutable with ``t`` (Words are frozen, so they are shared)."""
    return dataclasses.replace(
        t,
        utterances=[dataclasses.replace(u, words=list(u.words)) for u in t.utterances],
        gaps=list(t.gaps),
        roles=copy.deepcopy(t.roles),
        meta=copy.deepcopy(t.meta),
        source=copy.deepcopy(t.source),
        asr=copy.deepcopy(t.asr),
    )


def _speaker_turns(utterances: list[Utterance], join_gap: float) -> list[list[int]]:
    """Indices of utterances grouped by speaker, joined while the pause is under ``join_gap``."""
    groups: list[list[int]] = []
    open_group: dict[str, int] = {}  # speaker -> index into groups
    for i, u in enumerate(utterances):
        key = u.speaker or u.role
        g = open_group.get(key)
        if g is not None and u.start - utterances[groups[g][-1]].end < join_gap:
            groups[g].append(i)
        else:
            open_group[key] = len(groups)
            groups.append([i])
    return groups


def _redact_turn(utts: list[Utterance], language: str, s: RedactSettings) -> Counter[str]:
    """Mask one speaker turn in place (the utterances are already copies); count masks placed."""
    offsets, pos = [], 0
    for u in utts:
        offsets.append(pos)
        pos += len(u.text) + 1
    spans = find_spans(" ".join(u.text for u in utts), language, s)
    counts: Counter[str] = Counter()
    if not spans:
        return counts
    seps = s.separator_chars
    for u, off in zip(utts, offsets):
        pieces = []
        for sp in spans:
            a, b = max(sp.start, off) - off, min(sp.end, off + len(u.text)) - off
            if a >= b:
                continue
            while a < b and sp.start < off + a and (u.text[a].isspace() or u.text[a] in seps):
                a += 1  # the piece starts where the utterance starts: no separators before it
            while a < b and sp.end > off + b and (u.text[b - 1].isspace() or u.text[b - 1] in seps):
                b -= 1
            if a < b:
                pieces.append((a, b, sp))
        if not pieces:
            continue
        counts.update(sp.category for _, _, sp in pieces)
        original = u.text
        for a, b, sp in reversed(pieces):
            u.text = u.text[:a] + sp.replacement + u.text[b:]
        if u.words:
            u.words = _merge_words(u.words, original, pieces, language, s)
    return counts


def _merge_words(words: list[Word], text: str, pieces, language: str, s: RedactSettings) -> list[Word]:
    """The ASR words with each masked stretch merged into one word carrying the mask.

    Words and text are aligned on their non-space characters; if they disagree
    (an edited text), the words' own text is redacted instead.
    """
    joined = "".join(w.text for w in words)
    t_idx = [i for i, c in enumerate(text) if not c.isspace()]
    w_idx = [i for i, c in enumerate(joined) if not c.isspace()]
    if len(t_idx) == len(w_idx) and all(text[a] == joined[b] for a, b in zip(t_idx, w_idx)):
        targets = []
        for a, b, sp in pieces:
            k1, k2 = bisect.bisect_left(t_idx, a), bisect.bisect_left(t_idx, b) - 1
            if k1 <= k2:
                targets.append((w_idx[k1], w_idx[k2] + 1, sp.replacement))
    else:
        targets = [(sp.start, sp.end, sp.replacement) for sp in find_spans(joined, language, s)]
    words = list(words)
    for ws, we, mask in sorted(targets, reverse=True):
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w.text)
        i = bisect.bisect_right(starts, ws) - 1
        j = bisect.bisect_right(starts, we - 1) - 1
        merged = Word(
            start=words[i].start,
            end=words[j].end,
            text=words[i].text[:ws - starts[i]] + mask + words[j].text[we - starts[j]:],
            probability=min(w.probability for w in words[i:j + 1]),
        )
        words[i:j + 1] = [merged]
    return words
