"""Find street addresses and postcodes in a text (zh/es/en) for ``qa.privacy.redact`` to mask as ``[ADDRESS]``.

Addresses are not digit strings, so the number reader misses them; a caller
reading out where a parcel should go says them all the time. The rules are
regular expressions assembled from word lists in the ``addresses:`` section
of ``qa/data/redact.yaml`` (street types, administrative units, building
parts, postcodes), so they can be extended without code. An address needs
more than a place name: a street with a house number, a chain of two or more
administrative units, or a postcode next to a place, so "a city named in
passing" and "第3号方案" stay.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from qa.common.settings import line_of, load_document, shipped
from qa.errors import RedactConfigError
from qa.privacy.settings import AddressSection


def _alt(words: list[str]) -> str:
    """A regex alternation of ``words``, longest first so 大道 wins over 道."""
    return "|".join(re.escape(w) for w in sorted({str(w) for w in words}, key=len, reverse=True)) or "(?!)"


def _fill(template: str, parts: dict[str, str], where: str) -> re.Pattern[str]:
    """``template`` with each ``{name}`` replaced by the word list ``name`` as a group, compiled.

    ``where`` is the file, line and key of the pattern, for the error."""
    try:
        pattern = re.sub(r"\{([A-Za-z_]\w*)\}", lambda m: f"(?:{parts[m.group(1)]})", template)
        return re.compile(pattern)
    except KeyError as exc:
        raise RedactConfigError(f"{where}: no word list named {exc} for the pattern") from None
    except re.error as exc:
        raise RedactConfigError(f"{where}: not a valid pattern ({exc})") from None


@dataclass(frozen=True)
class AddressRules:
    """One language's compiled address patterns, and the word kinds trimmed off a match's start."""

    patterns: tuple[re.Pattern[str], ...]
    trim_leading_pos: frozenset[str] = frozenset()
    trim_leading_words: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=4)
def address_patterns(path: Path | None = None) -> dict[str, AddressRules]:
    """Per language, the compiled address rules from ``redact.yaml``'s ``addresses:`` section."""
    source = Path(path) if path is not None else shipped("redact.yaml")
    raw, doc = load_document(source, AddressSection, error=RedactConfigError)  # typed; errors say file:line
    out: dict[str, AddressRules] = {}
    for lang, rules in raw.addresses.items():
        parts = {name: _alt(ws) if isinstance(ws, list) else ws for name, ws in rules.words.items()}
        patterns = []
        for i, p in enumerate(rules.patterns):
            line = line_of(doc.root, ("addresses", lang, "patterns", i))
            patterns.append(_fill(p, parts, f"{source}{f':{line}' if line else ''}: addresses.{lang}.patterns.{i}"))
        out[lang] = AddressRules(tuple(patterns), frozenset(rules.trim_leading_pos), frozenset(rules.trim_leading_words))
    return out


#: The tag given to the lexicon's phrases (jieba tags them "x"): always trimmed from an address's start.
LEXICON = "lexicon"


@functools.lru_cache(maxsize=1)
def _tagger():
    """jieba's part-of-speech cutter over the dictionary the Chinese tagger already holds (qa.text.nlp).

    jieba.posseg's own cutter loads jieba's global dictionary a second time:
    117 MB in every worker, against 81 MB for the tags and the HMM. That dictionary
    also knows the lexicon's phrases (您的地址, 推荐您), which jieba tags "x";
    they are course phrases, never part of an address, and are tagged
    ``LEXICON``. On 28,709 lines of the shared Chinese dialogues the addresses
    found are the same as with the global dictionary.
    """
    import logging

    import jieba
    from jieba.posseg import POSTokenizer

    from qa.text.nlp import get_nlp

    jieba.setLogLevel(logging.ERROR)
    words = get_nlp("zh").tokenizer.jieba_seg.tokenizer
    cutter = POSTokenizer(tokenizer=words)
    cutter.word_tag_tab = {w: sys.intern(t) for w, t in cutter.word_tag_tab.items()}  # ~60 tags, not 349k copies
    phrases = frozenset(w for w, f in words.FREQ.items() if f and w not in cutter.word_tag_tab)

    def cut(text: str):
        for pair in cutter.cut(text):
            yield pair.word, LEXICON if pair.flag == "x" and pair.word in phrases else pair.flag

    return cut


def _trimmed(pattern: re.Pattern[str], text: str, start: int, end: int, rules: AddressRules) -> tuple[int, int] | None:
    """The match with its leading words of the kinds to trim dropped, if the pattern still matches what is left."""
    at = start
    for word, flag in _tagger()(text[start:end]):
        if flag != LEXICON and flag not in rules.trim_leading_pos and word not in rules.trim_leading_words:
            break
        at += len(word)
    if at == start:
        return start, end
    m = pattern.match(text, at, end)
    return (at, m.end()) if m and m.end() > at else None


def find_addresses(text: str, language: str, path: Path | None = None) -> list[tuple[int, int]]:
    """Character ranges of the addresses in ``text``, in order, merged where they touch."""
    rules = address_patterns(path).get(language)
    if rules is None:
        return []
    found = []
    for p in rules.patterns:
        for m in p.finditer(text):
            span = _trimmed(p, text, *m.span(), rules) if rules.trim_leading_pos or rules.trim_leading_words else m.span()
            if span is not None and span[1] > span[0]:
                found.append(span)
    found.sort()
    merged: list[tuple[int, int]] = []
    for a, b in found:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if text[a:b].strip()]
