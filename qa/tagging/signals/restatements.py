"""K4's restatements: customer utterances that say again what they said before (the complaint class counts them).

Similarity is the cosine of TF-IDF character 2–4-grams, equal to scikit-learn's
``TfidfVectorizer`` + ``cosine_similarity`` (to 1e-12), computed without the
vectorizer's per-fit bookkeeping, which cost more than the arithmetic on a
call's few dozen utterances.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import normalize

try:  # the kernels behind normalize() and cosine_similarity(), without their input checks
    from sklearn.utils.sparsefuncs import sparse_matmul_to_dense
    from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
except ImportError:  # another scikit-learn layout: the public functions give the same numbers
    sparse_matmul_to_dense = inplace_csr_row_normalize_l2 = None

from qa.common.codepoints import CODE_BITS, code_points
from qa.tagging.view import CallView
from qa.types import Utterance

_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's vectorizers collapse whitespace


@functools.lru_cache(maxsize=4)
def _analyzer(language: str) -> Callable[[str], list[str]]:
    """Character 2–4-grams as scikit-learn makes them outside Mandarin (word-bounded, ``char_wb``)."""
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True).build_analyzer()


def _char_gram_counts(texts: Sequence[str]) -> sparse.csr_matrix:
    """Counts of each text's character 2–4-grams (scikit-learn's ``analyzer="char"``), one row per text.

    Done on code-point arrays, not strings: a 2-gram is two code points in one
    integer, an n-gram the (n-1)-gram's id and one more code point, so every
    gram of the call gets its id from one ``np.unique`` per length.
    """
    points = code_points([_WHITE_SPACES.sub(" ", t.lower()) for t in texts])
    codes = points.codes
    rows, cols, n_features = [], [], 0
    ids = codes
    for n in (2, 3, 4):
        m = codes.size - n + 1
        if m <= 0:
            break
        key = (ids[:m] << CODE_BITS) | codes[n - 1:n - 1 + m]  # grams across texts get ids too, then are dropped
        unique, ids = np.unique(key, return_inverse=True)
        inside = points.inside(n)
        rows.append(points.row[:m][inside])
        cols.append(ids[inside] + n_features)
        n_features += unique.size
    if not rows:
        return sparse.csr_matrix((len(texts), 0))
    rows_, cols_ = np.concatenate(rows), np.concatenate(cols)
    counts = sparse.csr_matrix((np.ones(rows_.size), (rows_, cols_)), shape=(len(texts), n_features))
    counts.sum_duplicates()
    return counts


def _analyzed_counts(texts: Sequence[str], analyze: Callable[[str], list[str]]) -> sparse.csr_matrix:
    """Counts of each text's grams from an analyzer, one row per text."""
    vocabulary: dict[str, int] = {}
    keys: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for text in texts:
        grams = Counter(analyze(text))
        keys.extend([vocabulary.setdefault(g, len(vocabulary)) for g in grams])
        counts.extend(grams.values())
        indptr.append(len(keys))
    matrix = sparse.csr_matrix((np.asarray(counts, dtype=np.float64), np.asarray(keys, dtype=np.int64),
                                np.asarray(indptr, dtype=np.int64)), shape=(len(texts), len(vocabulary)))
    matrix.sort_indices()
    return matrix


def tfidf_similarities(texts: Sequence[str], language: str) -> np.ndarray:
    """Cosine similarities of the texts' TF-IDF vectors (fitted on these texts), as a dense matrix.

    The numbers are scikit-learn's (``TfidfVectorizer``: smoothed idf, l2 rows;
    then ``cosine_similarity``) to 1e-12, pinned by a test; its per-fit
    bookkeeping cost more than the arithmetic on a call's few dozen utterances.
    """
    rows = tfidf_rows(texts, language)
    if sparse_matmul_to_dense is None:
        return cosine_similarity(rows)
    return sparse_matmul_to_dense(rows, rows.T)


def tfidf_rows(texts: Sequence[str], language: str) -> sparse.csr_matrix:
    """The texts' TF-IDF vectors, l2-normalised: their dot products are the cosine similarities."""
    if language == "zh":
        matrix = _char_gram_counts(texts)
    else:
        matrix = _analyzed_counts(texts, _analyzer(language))
    df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    df += 1.0  # smoothed idf: ln((1 + n) / (1 + df)) + 1
    idf = np.full_like(df, fill_value=len(texts) + 1, dtype=np.float64)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    matrix.data *= idf[matrix.indices]
    if inplace_csr_row_normalize_l2 is None:
        return normalize(matrix, norm="l2", copy=False)
    inplace_csr_row_normalize_l2(matrix)
    return matrix


#: Customer utterances compared at once (rows of one block of the similarity matrix).
_BLOCK = 512

@dataclass(frozen=True)
class Restatement:
    """A later customer utterance that restates an earlier one, and how similar they are."""

    earlier: Utterance
    later: Utterance
    similarity: float


def restatements(call: CallView) -> list[Restatement]:
    """Each customer utterance that restates an earlier one far enough back, against the first such earlier one."""
    th = call.thresholds["repetition"]
    customer = [u for u in call.utterances
                if u.role == "customer" and len(u.text.replace(" ", "")) >= th["min_chars"]]
    if len(customer) < 2:
        return []
    rows = tfidf_rows([u.text for u in customer], call.language)
    starts = np.array([u.start for u in customer], dtype=np.float64)
    ends = np.array([u.end for u in customer], dtype=np.float64)
    # pair (i, j), i < j <= i + reach: similar enough and far enough apart; each later utterance is
    # reported once, against the first earlier one that qualifies. Rows go in blocks so memory is
    # block x (block + reach), not n x n (30,000 utterances were a 7 GB matrix).
    n, reach, block = len(customer), int(th["max_earlier"]), _BLOCK
    first: dict[int, tuple[int, float]] = {}
    for low in range(0, n - 1, block):
        high = min(n, low + block)
        right = min(n, high + reach)
        sims = (rows[low:high] @ rows[low:right].T).toarray()
        i_idx = np.arange(low, high)[:, None]
        j_idx = np.arange(low, right)[None, :]
        ok = ((j_idx > i_idx) & (j_idx - i_idx <= reach) & (sims >= th["similarity"])
              & (starts[None, low:right] - ends[low:high, None] >= th["min_distance"]))
        for j in np.flatnonzero(ok.any(axis=0)):
            column = low + int(j)
            if column not in first:
                i = int(ok[:, j].argmax())
                first[column] = (low + i, float(sims[i, j]))
    return [Restatement(customer[i], customer[j], sim) for j, (i, sim) in sorted(first.items())]
