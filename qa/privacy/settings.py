"""Privacy masking's settings: data/redact.yaml (or a file given instead), checked and compiled once.

Each language gets its number reader, phone plans, e-mail patterns and the
cue words that say what a number is (手机号, "card number", "DNI"); a
malformed file is refused with the key that is wrong.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, field_validator, model_validator

from qa.common.settings import Count, Flag, Number, Seconds, Settings, Share, Text, line_of, load_document, shipped
from qa.errors import RedactConfigError, UnsupportedLanguageError
from qa.privacy.numbers import CHECKS, DigitClasses, IdPattern, NumberReader, PhonePattern, fold

CATEGORIES: tuple[str, ...] = ("phone", "id_number", "card", "email", "digits", "address")
#: Brackets a number may open with, "(010) 1234…", and their closing ones.
OPENING_BRACKETS = {"(": ")", "（": "）"}


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


# ----------------------------------------------------------------------------- the file's shape
def _as_word(value: Any) -> Any:
    """Words may be written as numbers in YAML (``- 110``); they are read as text, as typed."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"broken regular expression {pattern!r} ({exc}); fix the pattern") from None
    return pattern


def _ordered(span: tuple[int, int]) -> tuple[int, int]:
    if span[0] > span[1]:
        raise ValueError(f"must be [low, high] digit counts with low <= high, not {list(span)}")
    return span


Word = Annotated[Text, BeforeValidator(_as_word)]
Pattern = Annotated[Text, AfterValidator(_compiles)]
Digits = Annotated[int, Strict(), Field(ge=0, le=64)]


class _Category(Settings):
    label: Text = Field(min_length=1)
    keep_last: Digits = 0


class _Named(Settings):
    """An entry with a name and a pattern; a broken pattern is reported with the entry's name."""

    name: Text
    pattern: Text

    @model_validator(mode="after")
    def _pattern(self) -> "_Named":
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"{self.name}: broken regular expression {self.pattern!r} ({exc}); fix the pattern") from None
        return self


class _Phone(_Named):
    international: Flag = False


class _Id(_Named):
    check: Literal[tuple(CHECKS)] | None = None  # type: ignore[valid-type]


class _Email(Settings):
    at_words: list[Word] = []
    dot_words: list[Word] = []
    tlds: list[Word] = []
    local_stopwords: list[Word] = []


class _Language(Settings):
    """``languages.<code>``: how numbers are said, which phone plans apply, e-mail words, cue words."""

    phone_plans: list[Text] = Field(min_length=1)
    digit_chars: dict[Word, Annotated[int, Strict(), Field(ge=0, le=9)]] | None = None
    units: dict[Word, Count] = {}
    teens: dict[Word, Count] = {}
    tens: dict[Word, Count] = {}
    hundreds: dict[Word, Count] = {}
    multipliers: dict[Word, Count] = {}
    hundred_words: list[Word] = []
    and_words: list[Word] = []
    tens_joiners: list[Word] = []
    plus_words: list[Word] = []
    weak_units: list[Word] = []
    extra_separators: Text = ""
    suffix: Pattern | None = None
    suffix_aliases: dict[Word, Word] = {}
    email: _Email = _Email()
    cues: dict[Text, list[Word]] = {}
    units_before: list[Word] = []
    units_after: list[Word] = []


class AudioMaskSettings(Settings):
    """``audio:``: how the masked stretches of a recording are filled (qa.privacy.audio)."""

    pad_seconds: Seconds = 0.3
    fill: Literal["tone", "silence"] = "tone"
    tone_hz: Number = Field(1000.0, gt=0, le=8000)  # below Nyquist at 16 kHz
    tone_level: Share = 0.1


class AddressSettings(Settings):
    """``addresses.<code>``: word lists (or a raw regex) and the patterns built from them (qa.privacy.address)."""

    words: dict[Text, list[Word] | Text] = {}
    patterns: list[Text]
    trim_leading_pos: list[Word] = []
    trim_leading_words: list[Word] = []


class RedactFile(Settings):
    """``qa/data/redact.yaml``: every key typed; a wrong one is refused with its file and line."""

    mask_with_last: Text
    mask_plain: Text
    categories: dict[Text, _Category]
    min_digits: Count = Field(ge=1, le=64)
    card_lengths: tuple[Digits, Digits]
    cue_lengths: dict[Text, tuple[Digits, Digits]]
    cue_window: Count = Field(ge=0, le=10_000)
    join_gap_seconds: Seconds
    separator_chars: Text
    max_separator: Count = Field(ge=0, le=100)
    strong_separator_chars: Text
    not_numbers: list[Pattern]
    quantity_pattern: Pattern
    id_patterns: list[_Id]
    card_prefixes: Pattern
    phone_plans: dict[Text, list[_Phone]]
    languages: dict[Text, _Language]
    audio: AudioMaskSettings = AudioMaskSettings()
    addresses: dict[Text, AddressSettings] = {}

    @field_validator("categories")
    @classmethod
    def _every_category(cls, value: dict[str, _Category]) -> dict[str, _Category]:
        missing, unknown = sorted(set(CATEGORIES) - set(value)), sorted(set(value) - set(CATEGORIES))
        if missing or unknown:
            raise ValueError(f"list exactly {', '.join(CATEGORIES)} (missing {missing}, unknown {unknown})")
        return value

    @field_validator("card_lengths")
    @classmethod
    def _card_span(cls, value: tuple[int, int]) -> tuple[int, int]:
        return _ordered(value)

    @field_validator("cue_lengths")
    @classmethod
    def _cue_spans(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for span in value.values():
            _ordered(span)
        return value


class _Section(Settings):
    """Reads one section of redact.yaml and ignores the rest (the audio and address maskers need only theirs)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class AudioSection(_Section):
    audio: AudioMaskSettings = AudioMaskSettings()


class AddressSection(_Section):
    addresses: dict[Text, AddressSettings] = {}


_WRITTEN_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9\-])"
)


def load_redact_settings(path: Path | None = None) -> RedactSettings:
    """Read, check and compile a redact.yaml (the shipped one by default).

    The shape and every value are checked by ``RedactFile`` (pydantic, through
    the settings layer); what refers to other parts of the file (a language's
    phone plans, cue categories, mask templates, word lists) is checked while
    compiling. Every error names the file, the line and the key.
    """
    source = Path(path) if path is not None else shipped("redact.yaml")
    raw, doc = load_document(source, RedactFile, error=RedactConfigError)
    return _Compiler(source, doc.root).settings(raw)


_PLACE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class _Compiler:
    """Builds ``RedactSettings`` from the checked file; cross-reference errors name the file, line and entry."""

    def __init__(self, path: Path, root: yaml.Node | None = None):
        self.path = path
        self.root = root

    def fail(self, where: str, problem: str) -> RedactConfigError:
        loc = tuple(int(index) if index else key for key, index in _PLACE.findall(where))
        line = line_of(self.root, loc)
        return RedactConfigError(f"{self.path}{f':{line}' if line else ''}: {where}: {problem}")

    def settings(self, raw: RedactFile) -> RedactSettings:
        masks = {"mask_with_last": raw.mask_with_last, "mask_plain": raw.mask_plain}
        for key, text in masks.items():
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise self.fail(key, f"{text!r} is not a valid template ({exc})") from None
            needed = {"label", "last"} if key == "mask_with_last" else {"label"}
            if not needed <= fields or fields - {"label", "last"}:
                raise self.fail(key, f"{text!r} must contain {' and '.join('{' + f + '}' for f in sorted(needed))} "
                                     "and no other placeholder: a mask says which label was removed")
        categories = {cat: CategoryMask(raw.categories[cat].label, raw.categories[cat].keep_last) for cat in CATEGORIES}
        cue_lengths = dict(raw.cue_lengths)
        plans = {plan: tuple(PhonePattern(e.name, re.compile(e.pattern), e.international) for e in entries)
                 for plan, entries in raw.phone_plans.items()}
        ids = [IdPattern(e.name, re.compile(e.pattern), CHECKS.get(e.check)) for e in raw.id_patterns]
        seps = raw.separator_chars
        joining = "".join(re.escape(c) for c in seps if c not in OPENING_BRACKETS and c not in ")）")
        languages = {code: self.language(code, lang, plans, seps, raw.max_separator, raw.strong_separator_chars,
                                         cue_lengths) for code, lang in raw.languages.items()}
        return RedactSettings(
            source=self.path,
            mask_with_last=raw.mask_with_last,
            mask_plain=raw.mask_plain,
            categories=categories,
            min_digits=raw.min_digits,
            cue_lengths=cue_lengths,
            cue_window=raw.cue_window,
            join_gap_seconds=float(raw.join_gap_seconds),
            separator_chars=seps,
            # each must stand alone: no digit after it, no digit (or digit and separator) before it
            not_numbers=re.compile(rf"(?<!\d)(?<!\d[{joining}])(?:{'|'.join(raw.not_numbers) or '(?!)'})(?!\d)"),
            quantity=re.compile(raw.quantity_pattern),
            classes=DigitClasses(tuple(ids), self.regex(f"(?:{raw.card_prefixes})", "card_prefixes"),
                                 raw.card_lengths),
            mask_re=self.mask_regex(masks.values(), [c.label for c in categories.values()]),
            languages=languages,
        )

    def regex(self, pattern: str, where: str, flags: int = 0) -> re.Pattern[str]:
        try:
            return re.compile(pattern, flags)
        except re.error as exc:
            raise self.fail(where, f"broken regular expression {pattern!r} ({exc}); fix the pattern") from None

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

    def language(self, code: str, raw: _Language, plans: dict, seps: str, max_sep: int, strong: str,
                 cue_lengths: dict) -> LanguageRules:
        where = f"languages.{code}"
        chosen: list[PhonePattern] = []
        for name in raw.phone_plans:
            if name not in plans:
                raise self.fail(f"{where}.phone_plans", f"unknown plan {name!r}; define it under phone_plans:")
            chosen += plans[name]
        digit_chars = dict(raw.digit_chars) if raw.digit_chars is not None else {str(d): d for d in range(10)}
        words: dict[str, tuple[str, int]] = {}
        for kind, key, entries in (
                ("unit", "units", raw.units), ("teen", "teens", raw.teens), ("tens", "tens", raw.tens),
                ("hundreds", "hundreds", raw.hundreds), ("multiplier", "multipliers", raw.multipliers),
                ("hundred", "hundred_words", dict.fromkeys(raw.hundred_words, 0)),
                ("and", "and_words", dict.fromkeys(raw.and_words, 0)),
                ("joiner", "tens_joiners", dict.fromkeys(raw.tens_joiners, 0)),
                ("plus", "plus_words", dict.fromkeys(raw.plus_words, 0))):
            for word, value in entries.items():
                folded = fold(word).lower()
                if folded in words and words[folded][0] != kind:
                    raise self.fail(f"{where}.{key}", f"{word!r} is also a {words[folded][0]} word; keep it in one list")
                words[folded] = (kind, value)
        weak = {fold(w).lower() for w in raw.weak_units}
        if any(words.get(w, ("",))[0] != "unit" for w in weak):
            raise self.fail(f"{where}.weak_units", "every weak unit must also be listed under units")
        reader = NumberReader(digit_chars=digit_chars, words=words, weak=weak,
                              separators=seps + raw.extra_separators, max_separator=max_sep, strong=strong)
        email = raw.email
        atom = r"A-Za-z0-9_\-" + "".join(re.escape(c) for c in digit_chars if not c.isascii())
        at_words = [fold(w) for w in email.at_words]
        cues, cue_category = None, {}
        for cat, entries in raw.cues.items():
            if cat not in cue_lengths:
                raise self.fail(f"{where}.cues.{cat}", f"no cue_lengths for {cat!r}; add it to cue_lengths:")
            for cue in entries:
                cue_category[fold(cue).lower()] = cat
        if cue_category:
            cues = re.compile(rf"(?<![A-Za-z])(?:{_alternation(cue_category)})(?![A-Za-z])", re.IGNORECASE)
        before, after = raw.units_before, raw.units_after
        return LanguageRules(
            code=code,
            reader=reader,
            plans=tuple(chosen),
            suffix=self.regex(rf"[ \-‐‑]?({raw.suffix})", f"{where}.suffix") if raw.suffix else None,
            suffix_aliases=dict(raw.suffix_aliases),
            written_email=_WRITTEN_EMAIL,
            spoken_email=self.spoken_email(email, atom, f"{where}.email") if at_words else None,
            email_hint=re.compile(_alternation(at_words) or "(?!)", re.IGNORECASE),
            local_stopwords=frozenset(fold(w).lower() for w in email.local_stopwords),
            cues=cues,
            cue_category=cue_category,
            units_before=re.compile(rf"(?:{_alternation(before)})\s*\Z", re.IGNORECASE) if before else None,
            units_after=re.compile(rf"\s*(?:{_alternation(after)})(?![A-Za-z])", re.IGNORECASE) if after else None,
        )

    def spoken_email(self, email: _Email, atom_chars: str, where: str) -> re.Pattern[str]:
        """user (dot user)* at domain (dot domain)* dot tld; word forms need spaces around them."""

        def joiner(key: str) -> str:
            said = [fold(w) for w in getattr(email, key)]
            if not said:
                raise self.fail(f"{where}.{key}", "is empty; list the words said for it (or leave at_words empty)")
            latin = [w for w in said if w.isascii() and w.isalpha()]
            other = [w for w in said if w not in latin]
            alts = [rf"\s+(?:{_alternation(latin)})\s+"] if latin else []
            alts += [rf"\s*(?:{_alternation(other)})\s*"] if other else []
            return f"(?:{'|'.join(alts)})"

        atom = f"[{atom_chars}]+"
        at, dot = joiner("at_words"), joiner("dot_words")
        tlds = _alternation(email.tlds)
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
