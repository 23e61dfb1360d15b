"""T-QUESTION (多变提问法): find the questions in an utterance and say which kind.

The course asks agents to vary their questions between closed (yes/no or
confirm), open (what/how/why) and controlling (a choice, or a next step put
forward for agreement). This module does the two steps a reviewer does:

* ``find_questions`` cuts an utterance into clauses and keeps those that are
  questions, from punctuation when the ASR wrote it, otherwise from word order
  and particles (吗, A不A, "do you…", tags), because phone ASR often drops
  the question mark. A rising pitch at the end, when the audio layer knows it,
  counts as evidence too.
* ``QuestionClassifier`` labels a question closed / open / controlling with a
  small scikit-learn model trained on the project's own labelled set
  (datasets/questions/questions.tsv) at first use — no pickles, so the model
  is always reproducible from the text in the repository.

Vocabulary is in lexicons/<lang>/questions.yaml, word-order rules and
thresholds in qa/data/questions.yaml.
"""

from __future__ import annotations

import csv
import functools
import itertools
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import ThreadpoolController

from qa.codepoints import CODE_BITS, code_points
from qa.errors import QuestionDataError, UnsupportedLanguageError
from qa.once import shared
from qa.paths import DATA_FILES
from qa.types import LANGUAGES, Utterance

TAGGER = "questions@1"
REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = DATA_FILES / "questions.yaml"
LEXICON_DIR = REPO_ROOT / "lexicons"
DATASET_ENV = "CALLQA_QUESTIONS_DATASET"

#: Lexicon kinds this module reads (lexicons/<lang>/questions.yaml).
KINDS: tuple[str, ...] = (
    "question_particle", "question_word", "closed_cue", "open_cue", "controlling_cue", "tag_question",
)
LABELS: tuple[str, ...] = ("closed", "open", "controlling")
SPLITS: tuple[str, ...] = ("train", "test")
TSV_COLUMNS: tuple[str, ...] = ("id", "language", "role", "text", "label", "split", "source_note")
_QUESTION_MARKS = "?？¿"
_QUESTION_MARK = re.compile(f"[{_QUESTION_MARKS}]")
_EDGE = " \t\r\n。！？!?；;…，,、：:.¿¡\"'“”«»()（）"
#: Kinds strong enough to mark where a question starts inside an unpunctuated clause.
_ONSET_KINDS = ("closed_cue", "question_word", "controlling_cue", "open_cue")
_ONSET_MIN_WEIGHT = 0.6
#: Clause cores whose cues are remembered per language (fillers and stock phrases recur in every call).
_HITS_MEMO_SIZE = 50000

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _threads() -> ThreadpoolController:
    """Inspecting the BLAS/OpenMP libraries is slow: do it once, then only set limits."""
    return ThreadpoolController()


# --- records ------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSpan:
    """One question inside an utterance: character offsets, its text, and the cues that made it one."""

    start_char: int
    end_char: int
    text: str
    cues: tuple[str, ...]


@dataclass(frozen=True)
class ClassifiedQuestion:
    """A question with its kind; ``confident`` is False below classifier.min_probability."""

    span: QuestionSpan
    label: str
    probability: float
    confident: bool
    role: str = "unknown"

    @property
    def text(self) -> str:
        return self.span.text


@dataclass(frozen=True)
class QuestionRow:
    """One line of the labelled set."""

    id: str
    language: str
    role: str
    text: str
    label: str
    split: str
    source_note: str = ""


@dataclass(frozen=True)
class _Cue:
    kind: str
    name: str
    weight: float
    regex: re.Pattern[str]
    needle: str | None = None  # text the regex cannot match without (a phrase's first word); None for rules


@dataclass(frozen=True)
class _Hit:
    kind: str
    label: str  # "kind:name", what QuestionSpan.cues reports
    weight: float
    start: int
    end: int


# --- settings and cue lists -------------------------------------------------------


@functools.lru_cache(maxsize=4)
def load_settings(path: str | None = None) -> dict[str, Any]:
    """qa/data/questions.yaml, checked for the keys this module needs."""
    file = Path(path) if path else SETTINGS_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionDataError(f"cannot read question settings {file}: {exc}; restore it from the repository") from exc
    need = {
        "detection": ("threshold", "punctuation_weight", "rising_pitch_weight", "falling_pitch_weight",
                      "boundary_pattern", "anchors", "fillers", "rules", "embedding_frames", "frame_cancels",
                      "not_tag", "continuation", "trim_to_onset"),
        "classifier": ("analyzer", "ngram_range", "C", "max_iter", "cue_weight", "min_probability"),
    }
    if not isinstance(data, dict):
        raise QuestionDataError(f"{file}: expected a mapping with 'detection:' and 'classifier:'")
    for section, keys in need.items():
        missing = [k for k in keys if k not in (data.get(section) or {})]
        if missing:
            raise QuestionDataError(f"{file}: section {section!r} lacks {', '.join(missing)}; "
                                    f"add them (see the comments there)")
    return data


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"questions: language {language!r} is not supported; use one of {', '.join(LANGUAGES)}")


def _entries_from_lexicon(language: str) -> list[tuple[str, str, float]]:
    """(kind, phrase, weight) from the shared loader, or from our own file when it cannot load them.

    The shared loader (qa.lexicon) validates every file of the language; if it
    rejects something (e.g. it does not know our kinds yet), questions still
    work from lexicons/<lang>/questions.yaml, and the reason is logged.
    """
    try:
        from qa.lexicon import LexiconError, load_lexicon
    except ImportError:
        return _entries_from_own_file(language)
    try:
        lexicon = load_lexicon(language)
    except LexiconError as exc:
        _warn_once(f"qa.lexicon could not load {language!r} ({exc}); reading lexicons/{language}/questions.yaml directly")
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
class _CueBank:
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
    memo: dict[str, tuple[_Hit, ...]] = field(default_factory=dict, compare=False, repr=False)


@functools.lru_cache(maxsize=8)
def cue_bank(language: str) -> _CueBank:
    """All cues of one language compiled once: lexicon phrases plus the word-order rules."""
    _check_language(language)
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
                         _compile(rule["pattern"].replace("{F}", fillers), f"rule {rule['name']}")))

    def optional(key: str) -> re.Pattern[str] | None:
        pattern = (det[key] or {}).get(language)
        return _compile(pattern.replace("{F}", fillers), key) if pattern else None

    by_char: dict[str, list[int]] = {}
    for k, cue in enumerate(cues):
        if cue.needle is not None:
            by_char.setdefault(cue.needle[0], []).append(k)
    needles = sorted({cue.needle for cue in cues if cue.needle}, key=len, reverse=True)
    return _CueBank(tuple(cues), optional("embedding_frames"), optional("not_tag"), optional("continuation"), anchors,
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


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise QuestionDataError(f"{SETTINGS_FILE}: {what}: bad regular expression ({exc}); fix it") from exc


# --- detection ------------------------------------------------------------------


_APOSTROPHES = str.maketrans({ch: "'" for ch in "’‘`´"})


def _normalise(text: str) -> str:
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


def _hits(core: str, language: str) -> list[_Hit]:
    """The cues found in one clause core, after embedding frames and false tags are taken out (remembered per core)."""
    bank = cue_bank(language)
    found = bank.memo.get(core)
    if found is None:
        found = tuple(_find_hits(core, language, bank))
        if len(bank.memo) >= _HITS_MEMO_SIZE:
            bank.memo.clear()
        bank.memo[core] = found
    return list(found)


def _may_hit(core: str, bank: _CueBank) -> bool:
    """False when no cue can match the core: it holds no needle and no needle-less cue matches."""
    if bank.any_needle is not None and bank.any_needle.search(core):
        return True
    if not bank.always:
        return False
    return bank.any_always is None or bank.any_always.search(core) is not None  # None: they could not be joined


def _find_hits(core: str, language: str, bank: _CueBank) -> list[_Hit]:
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
            hits.append(_Hit(cue.kind, f"{cue.kind}:{cue.name}", cue.weight, m.start(), m.end()))
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
    for hit in _hits(_normalise(text[start:end]), language):
        counts[hit.kind] += 1
    return counts


@functools.lru_cache(maxsize=8)
def _cutters(language: str) -> tuple[tuple[re.Pattern[str], ...], re.Pattern[str]]:
    """The patterns a clause ends after (punctuation, ASR particles, spaces in zh), and the one it starts at (¿/¡)."""
    det = load_settings()["detection"]
    after = [_compile(det["boundary_pattern"], "boundary_pattern")]
    split_after = (det.get("split_after") or {}).get(language)
    if split_after:
        after.append(_compile(split_after, f"split_after.{language}"))
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
    _check_language(language)
    det = load_settings()["detection"]
    bank = cue_bank(language)
    bounds = _clause_bounds(text, language)
    # lower-cased once for the whole utterance: one character for one, so a clause's core is a
    # slice of it (not with a final sigma, which str.lower changes by context)
    whole = _normalise(text) if "Σ" not in text else None
    if whole is not None and len(whole) != len(text):
        whole = None
    found = []
    for i, (a, b) in enumerate(bounds):
        clause = text[a:b]
        core_a, core_b = _core(clause)
        core = whole[a + core_a:a + core_b] if whole is not None else _normalise(clause[core_a:core_b])
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


def _onset(core: str, hits: Sequence[_Hit]) -> int:
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


# --- labelled set ---------------------------------------------------------------


def dataset_path() -> Path:
    """The labelled set: $CALLQA_QUESTIONS_DATASET, else the settings' path under the repository."""
    env = os.environ.get(DATASET_ENV)
    return Path(env) if env else REPO_ROOT / load_settings()["dataset"]


def load_question_set(path: Path | str | None = None) -> list[QuestionRow]:
    """Read and check datasets/questions/questions.tsv; a bad line is reported with its number."""
    file = Path(path) if path else dataset_path()
    try:
        handle = file.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise QuestionDataError(
            f"cannot open the labelled question set {file}: {exc}; set ${DATASET_ENV} or restore it") from exc
    rows = []
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header) != TSV_COLUMNS:
            raise QuestionDataError(f"{file}:1: header must be {' '.join(TSV_COLUMNS)} (tab-separated), got {header}")
        for line, fields in enumerate(reader, 2):
            if not fields:
                continue
            if len(fields) != len(TSV_COLUMNS):
                raise QuestionDataError(
                    f"{file}:{line}: expected {len(TSV_COLUMNS)} tab-separated fields, got {len(fields)}")
            row = QuestionRow(*fields)
            problems = [
                f"language {row.language!r}" if row.language not in LANGUAGES else "",
                f"label {row.label!r}" if row.label not in LABELS else "",
                f"split {row.split!r}" if row.split not in SPLITS else "",
                "empty text" if not row.text.strip() else "",
            ]
            problems = [p for p in problems if p]
            if problems:
                raise QuestionDataError(
                    f"{file}:{line}: bad {', '.join(problems)}; labels are {LABELS}, splits {SPLITS}")
            rows.append(row)
    if not rows:
        raise QuestionDataError(f"{file}: no rows; the classifier needs the labelled set")
    return rows


# --- classifier ---------------------------------------------------------------------


def _texts(items: Sequence[tuple[str, str]]) -> list[str]:
    return [_normalise(text) for text, _ in items]


class CueFeatures(BaseEstimator, TransformerMixin):
    """Rule features: lexicon cue counts per kind, a question mark, and the language one-hot."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def fit(self, items, y=None):
        return self

    def transform(self, items):
        rows = []
        for text, language in items:
            counts = cue_counts(text, language)
            rows.append([counts[k] for k in KINDS]
                        + [float(any(ch in _QUESTION_MARKS for ch in text))]
                        + [float(language == lang) for lang in LANGUAGES])
        return np.asarray(rows, dtype=float) * self.scale


class QuestionClassifier:
    """closed / open / controlling from character n-grams plus lexicon cue counts (logistic regression)."""

    def __init__(self, settings: dict[str, Any] | None = None):
        self.settings = dict((settings or load_settings())["classifier"])
        self.pipeline: Pipeline | None = None

    def _build(self) -> Pipeline:
        s = self.settings
        ngrams = Pipeline([
            ("text", FunctionTransformer(_texts)),
            ("tfidf", TfidfVectorizer(analyzer=s["analyzer"], ngram_range=tuple(s["ngram_range"]),
                                      sublinear_tf=bool(s.get("sublinear_tf", True)), lowercase=False)),
        ])
        features = FeatureUnion([("ngrams", ngrams), ("cues", CueFeatures(float(s["cue_weight"])))])
        model = LogisticRegression(C=float(s["C"]), solver=s.get("solver", "lbfgs"), max_iter=int(s["max_iter"]),
                                   class_weight="balanced")
        return Pipeline([("features", features), ("model", model)])

    def train(self, rows: Iterable[QuestionRow]) -> QuestionClassifier:
        rows = list(rows)
        labels = {r.label for r in rows}
        if labels != set(LABELS):
            raise QuestionDataError(f"training rows must cover all of {LABELS}; got {sorted(labels)}")
        self.pipeline = self._build()
        with _threads().limit(limits=int(self.settings.get("threads", 1))):
            self.pipeline.fit([(r.text, r.language) for r in rows], [r.label for r in rows])
        return self

    def predict(self, text: str, language: str) -> tuple[str, float]:
        return self.predict_many([(text, language)])[0]

    def predict_many(self, items: Sequence[tuple[str, str]]) -> list[tuple[str, float]]:
        if self.pipeline is None:
            raise QuestionDataError(
                "the question classifier is not trained; call train(rows) or use get_question_classifier()")
        for _, language in items:
            _check_language(language)
        if not items:
            return []
        probabilities = self._probabilities(list(items))
        classes = list(self.pipeline.classes_)
        best = probabilities.argmax(axis=1)
        return [(str(classes[k]), float(p[k])) for k, p in zip(best, probabilities)]

    def _probabilities(self, items: list[tuple[str, str]]) -> np.ndarray:
        """The pipeline's ``predict_proba``, computed from the fitted weights without its per-call checks.

        Logistic regression is a linear score and a softmax, so the n-gram rows
        and cue counts are multiplied by the fitted coefficients directly
        (FeatureUnion, joblib, hstack and input validation were ~90 % of the
        time on a call's 30 questions). ``test_fast_probabilities_equal_the_pipelines``
        pins the two to 1e-9.
        """
        features = dict(self.pipeline.named_steps["features"].transformer_list)
        tfidf = features["ngrams"].named_steps["tfidf"]
        model = self.pipeline.named_steps["model"]
        fast = getattr(self, "_fast", None)
        if fast is None or fast.model is not model:  # weights split once per fitted model
            # built whole, then published in one assignment: another thread sees the old or the new, never half
            n_grams = len(tfidf.vocabulary_)
            fast = self._fast = _FastWeights(model, tfidf.build_analyzer(),
                                             np.ascontiguousarray(model.coef_[:, :n_grams].T),
                                             np.ascontiguousarray(model.coef_[:, n_grams:].T),
                                             _CharWbIndex.for_vectorizer(tfidf))
        texts = _texts(items)
        rows = fast.grams.rows(texts) if fast.grams is not None else _tfidf_rows(tfidf, fast.analyze, texts)
        cues = features["cues"].transform(items)
        # einsum, not BLAS: a row's score must not depend on how many rows share the batch
        scores = rows @ fast.gram_coef + np.einsum("ij,jk->ik", cues, fast.cue_coef, optimize=False)
        scores += model.intercept_
        if scores.shape[1] == 1:  # two classes: one logistic score
            p = 1.0 / (1.0 + np.exp(-scores))
            return np.hstack([1.0 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores


@dataclass(frozen=True)
class _FastWeights:
    """What ``_probabilities`` needs from one fitted pipeline."""

    model: Any
    analyze: Any
    gram_coef: np.ndarray
    cue_coef: np.ndarray
    grams: _CharWbIndex | None


class _CharWbIndex:
    """A fitted ``char_wb`` vocabulary as sorted integer keys: a call's questions become TF-IDF rows in a few array steps.

    An n-gram (n <= 3) is its code points packed 21 bits each into one int64;
    each length has its own sorted key table, looked up with ``searchsorted``.
    The rows equal ``TfidfVectorizer.transform`` (``test_fast_probabilities_equal_the_pipelines``).
    """

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int], idf: np.ndarray, sublinear: bool):
        self.min_n, self.max_n = ngram_range
        self.size, self.idf, self.sublinear = len(vocabulary), idf, sublinear
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in range(self.min_n, self.max_n + 1):
            grams = [(g, i) for g, i in vocabulary.items() if len(g) == n]
            keys = np.array([self._pack(g) for g, _ in grams], dtype=np.int64)
            ids = np.array([i for _, i in grams], dtype=np.int64)
            order = np.argsort(keys)
            self.tables[n] = (keys[order], ids[order])

    @classmethod
    def for_vectorizer(cls, tfidf: TfidfVectorizer) -> _CharWbIndex | None:
        """The index for this fitted vectorizer, or None for settings it does not reproduce."""
        low, high = tfidf.ngram_range
        plain = (tfidf.analyzer == "char_wb" and not tfidf.lowercase and tfidf.preprocessor is None
                 and tfidf.strip_accents is None and 1 <= low <= high <= 3 and tfidf.norm == "l2" and tfidf.use_idf
                 and not tfidf.binary and tfidf.vocabulary is None and tfidf.dtype == np.float64)
        return cls(tfidf.vocabulary_, (low, high), tfidf.idf_, tfidf.sublinear_tf) if plain else None

    @classmethod
    def _pack(cls, gram: str) -> int:
        key = 0
        for ch in gram:
            key = (key << CODE_BITS) | ord(ch)
        return key

    def rows(self, texts: list[str]) -> sparse.csr_matrix:
        # char_wb: every whitespace-separated word padded with one space each side; grams stay inside it
        padded, owner = [], []
        for row, text in enumerate(texts):
            for word in text.split():
                padded.append(f" {word} ")
                owner.append(row)
        if not padded:
            return sparse.csr_matrix((len(texts), self.size))
        points = code_points(padded, owner)
        codes = points.codes
        rows, cols = [], []
        key = np.zeros(codes.size, dtype=np.int64)
        for n in range(1, self.max_n + 1):
            m = codes.size - n + 1
            if m <= 0:
                break
            key = (key[:m] << CODE_BITS) | codes[n - 1:n - 1 + m]
            if n < self.min_n:
                continue
            keys, ids = self.tables[n]
            inside = points.inside(n)
            wanted = key[inside]
            at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
            known = keys[at] == wanted if keys.size else np.zeros(wanted.size, dtype=bool)
            rows.append(points.row[:m][inside][known])
            cols.append(ids[at[known]])
        matrix = sparse.csr_matrix((np.ones(sum(r.size for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(len(texts), self.size))
        matrix.sum_duplicates()
        return _tfidf_weigh(matrix, self.idf, self.sublinear)


def _tfidf_rows(tfidf: TfidfVectorizer, analyze, texts: list[str]) -> sparse.csr_matrix:
    """``tfidf.transform(texts)``, the same numbers in the same order, without its input checks (most of its time here).

    Falls back to ``transform`` for settings this shortcut does not reproduce.
    """
    plain = (tfidf.norm == "l2" and tfidf.use_idf and not tfidf.binary and tfidf.vocabulary is None
             and tfidf.dtype == np.float64)
    if not plain:
        return tfidf.transform(texts)
    vocabulary = tfidf.vocabulary_
    indices: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for text in texts:
        grams = Counter(analyze(text))
        row = sorted([(vocabulary[g], n) for g, n in grams.items() if g in vocabulary])
        indices.extend(k for k, _ in row)
        counts.extend(n for _, n in row)
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((np.asarray(counts, dtype=np.float64), np.asarray(indices, dtype=np.int32),
                                np.asarray(indptr, dtype=np.int32)), shape=(len(texts), len(vocabulary)))
    return _tfidf_weigh(matrix, tfidf.idf_, tfidf.sublinear_tf)


def _tfidf_weigh(counts: sparse.csr_matrix, idf: np.ndarray, sublinear: bool) -> sparse.csr_matrix:
    """Term counts -> the vectorizer's TF-IDF rows: 1 + log(tf) when sublinear, times idf, l2-normalised (in place)."""
    if sublinear:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    counts.data *= idf[counts.indices]
    row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=counts.data ** 2, minlength=counts.shape[0]))
    norms[norms == 0.0] = 1.0
    counts.data /= norms[row_of]
    return counts


@shared(maxsize=1)
def get_question_classifier() -> QuestionClassifier:
    """The classifier trained once on the shipped train split (about a second)."""
    rows = [r for r in load_question_set() if r.split == "train"]
    return QuestionClassifier().train(rows)


# --- the public entry points ----------------------------------------------------------


def classify_utterances(utterances: Sequence[Utterance], language: str,
                        rising_pitch: Sequence[bool | None] | None = None,
                        ) -> list[tuple[int, ClassifiedQuestion]]:
    """Every question in a transcript's utterances, as (utterance index, question), in one batch.

    ``rising_pitch`` gives, per utterance, whether its end rises (None = unknown).
    """
    found = []
    for i, utterance in enumerate(utterances):
        pitch = rising_pitch[i] if rising_pitch is not None else None
        found += [(i, span, utterance.role) for span in find_questions(utterance.text, language, pitch)]
    if not found:
        return []
    classifier = get_question_classifier()
    threshold = float(classifier.settings["min_probability"])
    predictions = classifier.predict_many([(span.text, language) for _, span, _ in found])
    return [(i, ClassifiedQuestion(span, label, p, p >= threshold, role))
            for (i, span, role), (label, p) in zip(found, predictions)]


def classify_questions(text: str, language: str, role: str = "unknown",
                       rising_pitch: bool | None = None) -> list[ClassifiedQuestion]:
    """Every question in an utterance with its kind and the model's probability."""
    spans = find_questions(text, language, rising_pitch)
    if not spans:
        return []
    classifier = get_question_classifier()
    threshold = float(classifier.settings["min_probability"])
    predictions = classifier.predict_many([(s.text, language) for s in spans])
    return [ClassifiedQuestion(s, label, p, p >= threshold, role) for s, (label, p) in zip(spans, predictions)]
