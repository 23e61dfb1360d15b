"""Mask customers' numbers and e-mail addresses in transcripts, findings and scorecards.

Calls are full of personal data read aloud: phone numbers, ID and card
numbers, order numbers, e-mails. ASR writes them in many ways ("138 1234
5678", "一三八幺二三四…", "seis cinco cinco, veintitrés…", "double five"), so
every stretch that reads as a digit string is first turned into its digits
(``qa.redact_numbers``) and then classified on those digits (ID, card, phone,
generic long number) by the patterns in ``data/redact.yaml``. Everything is
compiled regular expressions: this runs on every utterance of every call.

A transcript is redacted per speaker turn: consecutive utterances of one
speaker are read as one text, because the ASR cuts an utterance wherever the
caller pauses, which people do while reading out a number.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import functools
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import RedactConfigError, UnsupportedLanguageError
from .paths import DATA_FILES
from .redact_numbers import (
    CHECKS,
    DigitClasses,
    IdPattern,
    NumberReader,
    NumberRun,
    PhonePattern,
    fold,
    luhn_ok,
)
from .types import Evidence, Finding, ItemScore, Scorecard, Transcript, Utterance, Word

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

CATEGORIES: tuple[str, ...] = ("phone", "id_number", "card", "email", "digits")

_OPENING_BRACKETS = {"(": ")", "（": "）"}


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


# --- Settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryMask:
    label: str
    keep_last: int  # digits shown at the end of the mask; 0 uses mask_plain


@dataclass(frozen=True)
class LanguageRules:
    """One language's compiled rules (``languages.<code>`` in redact.yaml)."""

    code: str
    reader: NumberReader
    plans: tuple[PhonePattern, ...]
    suffix: re.Pattern[str] | None  # group 1: the ID letter after the digits
    suffix_aliases: dict[str, str]
    written_email: re.Pattern[str]
    spoken_email: re.Pattern[str] | None
    email_hint: re.Pattern[str]
    local_stopwords: frozenset[str]
    cues: re.Pattern[str] | None
    cue_category: dict[str, str]
    units_before: re.Pattern[str] | None
    units_after: re.Pattern[str] | None


@dataclass(frozen=True)
class RedactSettings:
    """``redact.yaml`` checked and compiled; see that file for what each field means."""

    source: Path
    mask_with_last: str
    mask_plain: str
    categories: dict[str, CategoryMask]
    min_digits: int
    cue_lengths: dict[str, tuple[int, int]]
    cue_window: int
    join_gap_seconds: float
    separator_chars: str
    not_numbers: re.Pattern[str]
    quantity: re.Pattern[str]
    classes: DigitClasses
    mask_re: re.Pattern[str]  # any mask these settings write: never masked again
    languages: dict[str, LanguageRules]

    def rules(self, language: str) -> LanguageRules:
        try:
            return self.languages[language]
        except KeyError:
            raise UnsupportedLanguageError(
                f"no redaction rules for language {language!r}: add a '{language}:' section under "
                f"'languages:' in {self.source} (copy the 'en' one from qa/data/redact.yaml and translate it)"
            ) from None

    def mask(self, category: str, digits: str = "") -> str:
        cat = self.categories[category]
        if cat.keep_last and digits:
            return self.mask_with_last.format(label=cat.label, last=digits[-cat.keep_last:])
        return self.mask_plain.format(label=cat.label)


_WRITTEN_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9\-])"
)


def load_redact_settings(path: Path | None = None) -> RedactSettings:
    """Read, check and compile a redact.yaml (the shipped one by default)."""
    path = Path(path) if path is not None else DATA_FILES / "redact.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RedactConfigError(f"cannot read {path}: {exc}; pass a readable YAML file shaped like "
                                f"qa/data/redact.yaml") from exc
    return _Loader(path).settings(raw)


class _Loader:
    """Builds ``RedactSettings``; every error names the file and the entry to fix."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str) -> RedactConfigError:
        return RedactConfigError(f"{self.path}: {where}: {problem}")

    def get(self, raw: Any, key: str, kind: type | tuple[type, ...], where: str = "", default: Any = ...) -> Any:
        place = f"{where}.{key}" if where else key
        if not isinstance(raw, dict):
            raise self.fail(where or "top level", "must be a mapping of keys to values")
        value = raw.get(key)
        if value is None:
            if default is ...:
                raise self.fail(place, "is missing; add it (see qa/data/redact.yaml for an example)")
            return default
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(place, f"must be {getattr(kind, '__name__', kind)}, not {value!r}")
        return value

    def strings(self, raw: Any, key: str, where: str, required: bool = False) -> list[str]:
        """A list of words or characters (numbers read as text)."""
        items = self.get(raw, key, list, where, ... if required else [])
        if any(isinstance(v, (dict, list, bool)) or v is None for v in items):
            raise self.fail(f"{where}.{key}" if where else key, f"must be a list of words, not {items!r}")
        return [str(v) for v in items]

    def records(self, raw: Any, where: str) -> list[dict]:
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            raise self.fail(where, "must be a list of {name: ..., pattern: ...} entries")
        return raw

    def regex(self, pattern: Any, where: str, flags: int = 0) -> re.Pattern[str]:
        try:
            return re.compile(str(pattern), flags)
        except re.error as exc:
            raise self.fail(where, f"broken regular expression {pattern!r} ({exc}); fix the pattern") from None

    def span(self, raw: Any, where: str) -> tuple[int, int]:
        if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) for v in raw) and raw[0] <= raw[1]):
            raise self.fail(where, f"must be [low, high] digit counts, not {raw!r}")
        return raw[0], raw[1]

    def settings(self, raw: Any) -> RedactSettings:
        masks = {k: self.get(raw, k, str) for k in ("mask_with_last", "mask_plain")}
        for key, text in masks.items():
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise self.fail(key, f"{text!r} is not a valid template ({exc})") from None
            needed = {"label", "last"} if key == "mask_with_last" else {"label"}
            if not needed <= fields or fields - {"label", "last"}:
                raise self.fail(key, f"{text!r} must contain {' and '.join('{' + f + '}' for f in sorted(needed))} "
                                     "and no other placeholder: a mask says which label was removed")
        cats_raw = self.get(raw, "categories", dict)
        categories = {}
        for cat in CATEGORIES:
            entry = self.get(cats_raw, cat, dict, "categories")
            keep = self.get(entry, "keep_last", int, f"categories.{cat}", 0)
            if keep < 0:
                raise self.fail(f"categories.{cat}.keep_last", "must be 0 or more")
            categories[cat] = CategoryMask(self.get(entry, "label", str, f"categories.{cat}"), keep)
        cue_lengths = {c: self.span(v, f"cue_lengths.{c}") for c, v in self.get(raw, "cue_lengths", dict).items()}
        plans = {}
        for plan, entries in self.get(raw, "phone_plans", dict).items():
            plans[plan] = tuple(PhonePattern(
                self.get(e, "name", str, f"phone_plans.{plan}[{i}]"),
                self.regex(self.get(e, "pattern", str, f"phone_plans.{plan}[{i}]"),
                           f"phone_plans.{plan}[{i}] ({e.get('name')})"),
                bool(e.get("international", False)),
            ) for i, e in enumerate(self.records(entries, f"phone_plans.{plan}")))
        ids = []
        for i, e in enumerate(self.records(self.get(raw, "id_patterns", list), "id_patterns")):
            where = f"id_patterns[{i}] ({e.get('name')})"
            check = self.get(e, "check", str, where, None)
            if check is not None and check not in CHECKS:
                raise self.fail(where, f"unknown check {check!r}; use one of {sorted(CHECKS)} or leave it out")
            ids.append(IdPattern(self.get(e, "name", str, where), self.regex(self.get(e, "pattern", str, where), where),
                                 CHECKS.get(check)))
        not_numbers = [self.regex(p, f"not_numbers[{i}]").pattern
                       for i, p in enumerate(self.strings(raw, "not_numbers", "", required=True))]
        seps = self.get(raw, "separator_chars", str)
        joining = "".join(re.escape(c) for c in seps if c not in _OPENING_BRACKETS and c not in ")）")
        max_sep = self.get(raw, "max_separator", int)
        strong = self.get(raw, "strong_separator_chars", str)
        languages = {
            str(code): self.language(str(code), lang, plans, seps, max_sep, strong, cue_lengths)
            for code, lang in self.get(raw, "languages", dict).items()
        }
        return RedactSettings(
            source=self.path,
            mask_with_last=masks["mask_with_last"],
            mask_plain=masks["mask_plain"],
            categories=categories,
            min_digits=self.get(raw, "min_digits", int),
            cue_lengths=cue_lengths,
            cue_window=self.get(raw, "cue_window", int),
            join_gap_seconds=float(self.get(raw, "join_gap_seconds", (int, float))),
            separator_chars=seps,
            # each must stand alone: no digit after it, no digit (or digit and separator) before it
            not_numbers=re.compile(rf"(?<!\d)(?<!\d[{joining}])(?:{'|'.join(not_numbers) or '(?!)'})(?!\d)"),
            quantity=self.regex(self.get(raw, "quantity_pattern", str), "quantity_pattern"),
            classes=DigitClasses(tuple(ids), self.regex(f"(?:{self.get(raw, 'card_prefixes', str)})", "card_prefixes"),
                                 self.span(self.get(raw, "card_lengths", list), "card_lengths")),
            mask_re=self.mask_regex(masks.values(), [c.label for c in categories.values()]),
            languages=languages,
        )

    def mask_regex(self, templates, labels: list[str]) -> re.Pattern[str]:
        alts = []
        for template in templates:
            parts = []
            for literal, name, _, _ in string.Formatter().parse(template):
                parts.append(re.escape(literal))
                if name == "label":
                    parts.append("(?:" + "|".join(re.escape(fold(lb)) for lb in labels) + ")")
                elif name == "last":
                    parts.append("[0-9X]*")
            alts.append("".join(parts))
        return re.compile("|".join(alts))

    def language(self, code: str, raw: Any, plans: dict, seps: str, max_sep: int, strong: str,
                 cue_lengths: dict) -> LanguageRules:
        where = f"languages.{code}"
        chosen: list[PhonePattern] = []
        for name in self.strings(raw, "phone_plans", where, required=True):
            if name not in plans:
                raise self.fail(f"{where}.phone_plans", f"unknown plan {name!r}; define it under phone_plans:")
            chosen += plans[name]
        digit_chars = self.get(raw, "digit_chars", dict, where, {str(d): d for d in range(10)})
        if any(not isinstance(v, int) or not 0 <= v <= 9 for v in digit_chars.values()):
            raise self.fail(f"{where}.digit_chars", "each character must map to a digit 0-9")
        words: dict[str, tuple[str, int]] = {}

        def add(kind: str, key: str, as_dict: bool, fixed: int = 0) -> None:
            entries = self.get(raw, key, dict, where, {}) if as_dict else self.strings(raw, key, where)
            for word, value in (entries.items() if as_dict else ((w, fixed) for w in entries)):
                folded = fold(str(word)).lower()
                if folded in words and words[folded][0] != kind:
                    raise self.fail(f"{where}.{key}", f"{word!r} is also a {words[folded][0]} word; keep it in one list")
                if not isinstance(value, int):
                    raise self.fail(f"{where}.{key}", f"{word!r} must map to a whole number, not {value!r}")
                words[folded] = (kind, value)

        for kind, key, as_dict in (("unit", "units", True), ("teen", "teens", True), ("tens", "tens", True),
                                   ("hundreds", "hundreds", True), ("multiplier", "multipliers", True),
                                   ("hundred", "hundred_words", False), ("and", "and_words", False),
                                   ("joiner", "tens_joiners", False), ("plus", "plus_words", False)):
            add(kind, key, as_dict)
        weak = {fold(w).lower() for w in self.strings(raw, "weak_units", where)}
        if any(words.get(w, ("",))[0] != "unit" for w in weak):
            raise self.fail(f"{where}.weak_units", "every weak unit must also be listed under units")
        reader = NumberReader(digit_chars=digit_chars, words=words, weak=weak,
                              separators=seps + self.get(raw, "extra_separators", str, where, ""),
                              max_separator=max_sep, strong=strong)
        suffix = self.get(raw, "suffix", str, where, None)
        email = self.get(raw, "email", dict, where, {})
        atom = r"A-Za-z0-9_\-" + "".join(re.escape(c) for c in digit_chars if not c.isascii())
        at_words = [fold(w) for w in self.strings(email, "at_words", f"{where}.email")]
        cues, cue_category = None, {}
        for cat, entries in self.get(raw, "cues", dict, where, {}).items():
            if cat not in cue_lengths:
                raise self.fail(f"{where}.cues.{cat}", f"no cue_lengths for {cat!r}; add it to cue_lengths:")
            for cue in self.strings({cat: entries}, cat, f"{where}.cues", required=True):
                cue_category[fold(cue).lower()] = cat
        if cue_category:
            cues = re.compile(rf"(?<![A-Za-z])(?:{_alternation(cue_category)})(?![A-Za-z])", re.IGNORECASE)
        before, after = self.strings(raw, "units_before", where), self.strings(raw, "units_after", where)
        return LanguageRules(
            code=code,
            reader=reader,
            plans=tuple(chosen),
            suffix=self.regex(rf"[ \-‐‑]?({suffix})", f"{where}.suffix") if suffix else None,
            suffix_aliases={str(k): str(v) for k, v in self.get(raw, "suffix_aliases", dict, where, {}).items()},
            written_email=_WRITTEN_EMAIL,
            spoken_email=self.spoken_email(email, atom, f"{where}.email") if at_words else None,
            email_hint=re.compile(_alternation(at_words) or "(?!)", re.IGNORECASE),
            local_stopwords=frozenset(fold(w).lower() for w in self.strings(email, "local_stopwords", f"{where}.email")),
            cues=cues,
            cue_category=cue_category,
            units_before=re.compile(rf"(?:{_alternation(before)})\s*\Z", re.IGNORECASE) if before else None,
            units_after=re.compile(rf"\s*(?:{_alternation(after)})(?![A-Za-z])", re.IGNORECASE) if after else None,
        )

    def spoken_email(self, email: dict, atom_chars: str, where: str) -> re.Pattern[str]:
        """user (dot user)* at domain (dot domain)* dot tld; word forms need spaces around them."""

        def joiner(key: str) -> str:
            said = [fold(w) for w in self.strings(email, key, where, required=True)]
            latin = [w for w in said if w.isascii() and w.isalpha()]
            other = [w for w in said if w not in latin]
            alts = [rf"\s+(?:{_alternation(latin)})\s+"] if latin else []
            alts += [rf"\s*(?:{_alternation(other)})\s*"] if other else []
            return f"(?:{'|'.join(alts)})"

        atom = f"[{atom_chars}]+"
        at, dot = joiner("at_words"), joiner("dot_words")
        tlds = _alternation(self.strings(email, "tlds", where, required=True))
        if not tlds:
            raise self.fail(f"{where}.tlds", "is empty; list the endings an address may have (com, es, ...)")
        return self.regex(rf"(?<![{atom_chars}])(?P<user>{atom}(?:{dot}{atom})*){at}"
                          rf"{atom}(?:{dot}{atom})*{dot}(?:{tlds})(?![{atom_chars}])", where, re.IGNORECASE)


def _alternation(words) -> str:
    """A regex alternation of literal ``words``, longest first (so "身份证号码" beats "号码")."""
    return "|".join(re.escape(fold(str(w))) for w in sorted(words, key=len, reverse=True))


@functools.lru_cache(maxsize=1)
def default_settings() -> RedactSettings:
    """The shipped ``qa/data/redact.yaml``, read once."""
    return load_redact_settings()


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
    close = _OPENING_BRACKETS.get(text[start - 1]) if start else None
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
