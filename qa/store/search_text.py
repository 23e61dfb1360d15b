"""Text for the call list's full-text search: the same tokens on both sides (indexing and querying).

Neither SQLite FTS5's ``unicode61`` tokenizer nor PostgreSQL's ``simple``
parser cuts Chinese into words, so every Han (and kana, hangul) character is
made a token of its own and a query term becomes a phrase of its characters:
``投诉`` finds 投诉 and not 投…诉. Latin text is left to the tokenizers (words,
case and accents folded). The transcripts are indexed as stored, i.e. masked.
"""

from __future__ import annotations

import re
import unicodedata

#: CJK ideographs, kana, hangul and CJK punctuation: one token per character.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
#: Query terms kept; more are ignored (bounded work for a hostile query string).
MAX_TERMS = 8
MAX_QUERY_CHARS = 200


def index_text(text: str) -> str:
    """Text as the index stores it: CJK characters spaced out, everything else as it is."""
    return _CJK.sub(r" \1 ", unicodedata.normalize("NFKC", text))


def query_terms(query: str) -> list[list[str]]:
    """The query as terms (split on spaces), each a list of tokens to match as one phrase.

    Punctuation and operators are dropped, so nothing in the query reaches the
    FTS5 or tsquery syntax: ``"a" OR b*`` is the two terms ``a``, ``or b``.
    """
    query = unicodedata.normalize("NFKC", query or "")[:MAX_QUERY_CHARS].casefold()
    terms = []
    for raw in query.split():
        tokens = [t for t in _NON_WORD.split(index_text(raw)) if t]
        flat: list[str] = []
        for t in tokens:
            flat.extend(x for x in t.split() if x)
        if flat:
            terms.append(flat)
    return terms[:MAX_TERMS]


def fts5_query(query: str) -> str | None:
    """An FTS5 MATCH expression: every term as a quoted phrase, all required. None for an empty query."""
    terms = query_terms(query)
    if not terms:
        return None
    return " AND ".join('"' + " ".join(tokens) + '"' for tokens in terms)


def phrase_texts(query: str) -> list[str]:
    """One text per term for PostgreSQL's ``phraseto_tsquery('simple', …)``."""
    return [" ".join(tokens) for tokens in query_terms(query)]
