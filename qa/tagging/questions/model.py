"""T-QUESTION: say whether a question is closed, open or controlling.

A small scikit-learn model (character n-grams plus the cue counts, logistic
regression) trained at first use on the project's own labelled set
(datasets/questions/questions.tsv): no pickles, so the model is always
reproducible from the text in the repository. Predicting skips the pipeline's
per-call checks and multiplies the fitted weights directly.
"""

from __future__ import annotations

import csv
import functools
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import ThreadpoolController

from qa.common.codepoints import CODE_BITS, code_points
from qa.common.once import shared
from qa.errors import QuestionDataError
from qa.tagging.questions.cues import KINDS, REPO_ROOT, check_language, load_settings
from qa.tagging.questions.detect import QUESTION_MARKS, cue_counts, normalise
from qa.types import LANGUAGES

DATASET_ENV = "CALLQA_QUESTIONS_DATASET"
LABELS: tuple[str, ...] = ("closed", "open", "controlling")
SPLITS: tuple[str, ...] = ("train", "test")
TSV_COLUMNS: tuple[str, ...] = ("id", "language", "role", "text", "label", "split", "source_note")


@functools.lru_cache(maxsize=1)
def _threads() -> ThreadpoolController:
    """Inspecting the BLAS/OpenMP libraries is slow: do it once, then only set limits."""
    return ThreadpoolController()


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


def _texts(items: Sequence[tuple[str, str]]) -> list[str]:
    return [normalise(text) for text, _ in items]


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
                        + [float(any(ch in QUESTION_MARKS for ch in text))]
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
            check_language(language)
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
