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
from typing import Any

import yaml

from qa.common.paths import DATA_FILES
from qa.errors import RedactConfigError, UnsupportedLanguageError
from qa.privacy.numbers import CHECKS, DigitClasses, IdPattern, NumberReader, PhonePattern, fold

CATEGORIES: tuple[str, ...] = ("phone", "id_number", "card", "email", "digits")
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
        joining = "".join(re.escape(c) for c in seps if c not in OPENING_BRACKETS and c not in ")）")
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
