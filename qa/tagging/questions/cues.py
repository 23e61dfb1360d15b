"""T-QUESTION's cues: the settings file and each language's cue bank.

A cue is a lexicon phrase (lexicons/<lang>/questions.yaml: 吗, "do you", ¿qué…)
or a word-order rule (qa/data/questions.yaml: A不A, inverted auxiliaries), each
with a kind and a weight. A language's cues are compiled once into a
``CueBank``, with the indexes that let most clauses be settled in two searches.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, Strict

from qa.common.paths import DATA_FILES
from qa.errors import QuestionDataError, UnsupportedLanguageError
from qa.common.settings import Count, Flag, Settings, Text, shipped
from qa.common.settings import load_settings as load_yaml_settings
from qa.types import LANGUAGES

#: Where the paths in questions.yaml (``dataset:``) start: the package data folder qa/data, which holds
#: datasets/ and lexicons/ (links to the repository's folders in a checkout, copies in a wheel).
REPO_ROOT = DATA_ROOT = Path(str(shipped()))
SETTINGS_FILE = shipped("questions.yaml")
LEXICON_DIR = DATA_ROOT / "lexicons"

#: Lexicon kinds this module reads (lexicons/<lang>/questions.yaml).
KINDS: tuple[str, ...] = (
    "question_particle", "question_word", "closed_cue", "open_cue", "controlling_cue", "tag_question",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Cue:
    kind: str
    name: str
    weight: float
    regex: re.Pattern[str]
    needle: str | None = None  # text the regex cannot match without (a phrase's first word); None for rules


@dataclass(frozen=True)
class Hit:
    kind: str
    label: str  # "kind:name", what QuestionSpan.cues reports
    weight: float
    start: int
    end: int


class _Rule(Settings):
    name: Text
    kind: Literal["question_particle", "question_word", "closed_cue", "open_cue", "controlling_cue", "tag_question"]
    weight: Annotated[float, Strict(), Field(ge=-10, le=10, allow_inf_nan=False)]
    pattern: Text


Language = Literal["zh", "es", "en"]
Weight = Annotated[float, Strict(), Field(ge=-10, le=10, allow_inf_nan=False)]


class _Detection(Settings):
    threshold: Weight
    punctuation_weight: Weight
    rising_pitch_weight: Weight
    falling_pitch_weight: Weight
    boundary_pattern: Text
    split_after: dict[Language, Text] = {}
    split_on_spaces: list[Language] = []
    trim_to_onset: list[Language]
    continuation: dict[Language, Text]
    anchors: dict[Language, dict[Text, Literal["start", "end"]]]
    fillers: dict[Language, Text]
    rules: dict[Language, list[_Rule]]
    embedding_frames: dict[Language, Text]
    frame_cancels: list[Text]
    not_tag: dict[Language, Text]


class _Classifier(Settings):
    analyzer: Literal["char", "char_wb", "word"]
    ngram_range: tuple[Annotated[int, Strict(), Field(ge=1, le=10)], Annotated[int, Strict(), Field(ge=1, le=10)]]
    sublinear_tf: Flag = False
    C: Annotated[float, Strict(), Field(gt=0, le=1e6, allow_inf_nan=False)]
    solver: Text = "lbfgs"
    max_iter: Annotated[int, Strict(), Field(ge=1, le=1_000_000)]
    threads: Annotated[int, Strict(), Field(ge=1, le=256)] = 1
    real_training: Flag = False
    cue_weight: Annotated[float, Strict(), Field(ge=0, le=100, allow_inf_nan=False)]
    min_probability: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]


class QuestionSettings(Settings):
    """``qa/data/questions.yaml``: every key declared, so a typo is an error with its line."""

    version: Count
    dataset: Text
    detection: _Detection
    classifier: _Classifier


@functools.lru_cache(maxsize=4)
def load_settings(path: str | None = None) -> dict[str, Any]:
    """qa/data/questions.yaml (or ``path``), validated; returned as plain data for the detector and classifier."""
    source = Path(path) if path else SETTINGS_FILE
    model = load_yaml_settings(source, QuestionSettings, error=QuestionDataError)
    return model.model_dump(mode="python")


def check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"questions: language {language!r} is not supported; use one of {', '.join(LANGUAGES)}")


def _entries_from_lexicon(language: str) -> list[tuple[str, str, float]]:
    """(kind, phrase, weight) from the shared loader, or from our own file when it cannot load them.

    The shared loader (qa.text.lexicon) validates every file of the language; if it
    rejects something (e.g. it does not know our kinds yet), questions still
    work from lexicons/<lang>/questions.yaml, and the reason is logged.
    """
    try:
        from qa.text.lexicon import LexiconError, load_lexicon
    except ImportError:
        return _entries_from_own_file(language)
    try:
        lexicon = load_lexicon(language)
    except LexiconError as exc:
        _warn_once(f"qa.text.lexicon could not load {language!r} ({exc}); reading lexicons/{language}/questions.yaml directly")
        return _entries_from_own_file(language)
    found = []
    for kind in KINDS:
        for entry in lexicon.by_kind(kind):
            if entry.phrase is None:
                _warn_once(f"{entry.source}:{entry.line}: questions use phrases only; token pattern skipped")
                continue
            found.append((kind, entry.phrase, float(entry.weight)))
    return found or _entries_from_own_file(language)


@functools.lru_cache(maxsize=32)
def _warn_once(message: str) -> None:
    """Log a fallback once per process, not once per utterance."""
    log.warning(message)


def _entries_from_own_file(language: str) -> list[tuple[str, str, float]]:
    """(kind, phrase, weight) read straight from lexicons/<lang>/questions.yaml, with minimal checks."""
    file = LEXICON_DIR / language / "questions.yaml"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionDataError(f"cannot read {file}: {exc}; restore it from the repository") from exc
    if not isinstance(data, dict) or data.get("language") != language or not isinstance(data.get("entries"), list):
        raise QuestionDataError(f"{file}: needs 'language: {language}' and a list 'entries:'")
    found = []
    for n, entry in enumerate(data["entries"], 1):
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS or not str(entry.get("phrase") or "").strip():
            raise QuestionDataError(
                f"{file}: entry {n} ({entry!r}) needs a non-empty 'phrase' and a kind among {', '.join(KINDS)}")
        weight = float(entry.get("weight", 1.0))
        if not 0.0 < weight <= 10.0:
            raise QuestionDataError(f"{file}: entry {n} ({entry['phrase']!r}) has weight {weight}; use 0 < weight <= 10")
        found.append((entry["kind"], " ".join(str(entry["phrase"]).split()), weight))
    return found


def _fillers(language: str, settings: dict[str, Any]) -> str:
    """The regex for "any fillers" before a clause-initial cue ({F} in the rules)."""
    words = settings["detection"]["fillers"].get(language, "")
    if not words:
        return ""
    gap = r"\s*" if language == "zh" else r"\s+"
    return f"(?:{words}{gap})*"


def _phrase_regex(phrase: str, anchor: str, language: str, fillers: str) -> str:
    """A lexicon phrase as a regex: whole words outside Mandarin, anchored as the settings say."""
    body = re.escape(phrase.lower())
    if language != "zh":
        body = r"\s+".join(re.escape(w) for w in phrase.lower().split())
        body = rf"(?<![\w']){body}(?![\w'])"
    if anchor == "start":
        return "^" + fillers + body
    if anchor == "end":
        return body + "$"
    return body


@dataclass(frozen=True)
class CueBank:
    cues: tuple[_Cue, ...]
    frames: re.Pattern[str] | None
    not_tag: re.Pattern[str] | None
    continuation: re.Pattern[str] | None
    anchors: dict[str, str]
    #: cue positions by the first character of their needle, and the cues without one (always tried)
    by_char: dict[str, tuple[int, ...]] = field(default_factory=dict)
    always: tuple[int, ...] = ()
    #: any needle at all (one alternation of literals), any needle-less cue (one alternation of their
    #: patterns): most Mandarin clauses have neither, and are done after these two searches
    any_needle: re.Pattern[str] | None = None
    any_always: re.Pattern[str] | None = None
    #: tag phrases (end-anchored outside Mandarin) -> weight, for a tag that is a whole clause after a comma
    bare_tags: dict[str, float] = field(default_factory=dict)
    memo: dict[str, tuple[Hit, ...]] = field(default_factory=dict, compare=False, repr=False)


@functools.lru_cache(maxsize=8)
def cue_bank(language: str) -> CueBank:
    """All cues of one language compiled once: lexicon phrases plus the word-order rules."""
    check_language(language)
    settings = load_settings()
    det = settings["detection"]
    fillers = _fillers(language, settings)
    anchors = dict(det["anchors"].get(language) or {})
    cues = []
    for kind, phrase, weight in _entries_from_lexicon(language):
        regex = _phrase_regex(phrase, anchors.get(kind, "anywhere"), language, fillers)
        words = phrase.lower().split()
        cues.append(_Cue(kind, phrase, weight, re.compile(regex), words[0] if words else None))
    for rule in det["rules"].get(language) or ():
        if rule.get("kind") not in KINDS:
            raise QuestionDataError(
                f"{SETTINGS_FILE}: rule {rule.get('name')!r} has kind {rule.get('kind')!r}; use one of {KINDS}")
        cues.append(_Cue(rule["kind"], rule["name"], float(rule["weight"]),
                         compile_pattern(rule["pattern"].replace("{F}", fillers), f"rule {rule['name']}")))

    def optional(key: str) -> re.Pattern[str] | None:
        pattern = (det[key] or {}).get(language)
        return compile_pattern(pattern.replace("{F}", fillers), key) if pattern else None

    by_char: dict[str, list[int]] = {}
    for k, cue in enumerate(cues):
        if cue.needle is not None:
            by_char.setdefault(cue.needle[0], []).append(k)
    needles = sorted({cue.needle for cue in cues if cue.needle}, key=len, reverse=True)
    return CueBank(tuple(cues), optional("embedding_frames"), optional("not_tag"), optional("continuation"), anchors,
                    {ch: tuple(ks) for ch, ks in by_char.items()},
                    tuple(k for k, cue in enumerate(cues) if cue.needle is None),
                    re.compile("|".join(map(re.escape, needles))) if needles else None,
                    _alternation([cue.regex for cue in cues if cue.needle is None]),
                    {cue.name.lower(): cue.weight for cue in cues
                     if cue.kind == "tag_question" and cue.needle is not None and anchors.get(cue.kind) == "end"
                     and language != "zh"})


_BACKREF = re.compile(r"(?<!\\)((?:\\\\)*)\\(\d+)")


def _alternation(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One regex that matches where any of ``patterns`` would (their numbered back-references shifted).

    None when they cannot be joined (named groups, inline flags): then each is tried on its own.
    """
    if not patterns:
        return None
    parts, offset = [], 0
    for pattern in patterns:
        if pattern.groupindex or pattern.flags & ~re.UNICODE:
            return None
        shifted = _BACKREF.sub(lambda m, o=offset: f"{m.group(1)}\\{int(m.group(2)) + o}", pattern.pattern)
        parts.append(f"(?:{shifted})")
        offset += pattern.groups
    try:
        return re.compile("|".join(parts))
    except re.error:
        return None


def compile_pattern(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise QuestionDataError(f"{SETTINGS_FILE}: {what}: bad regular expression ({exc}); fix it") from exc
