"""Tokenise an utterance and find the lexicon's cues in it, with negation.

``get_nlp(language)`` gives a blank spaCy pipeline (Chinese segmented by a
private jieba tokenizer that knows every lexicon phrase; the global ``jieba``
dictionary is never touched, so other code using jieba is not affected).
``match_lexicon(text, language, role)`` returns every cue found, each with the
entry behind it, its character span (aligned to token boundaries) and whether
a negator just before it cancels it: 不是不知道 is not the forbidden 不知道,
"not a problem" is no problem.

Chinese phrases are looked up on the character sequence, because jieba may cut
a phrase differently in context; a phrase that sits strictly inside a longer
jieba word (可能 in 不可能) is not counted. Spanish and English phrases match
on lower-cased tokens. Thresholds live in ``lexicons/matching.yaml``.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import spacy
import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from qa.lexicon import (
    Lexicon,
    LexiconEntry,
    LexiconError,
    config_file,
    lexicon_root,
    load_lexicon,
)

MATCHING_FILE = "matching.yaml"
NEGATION_KIND = "negation"


@dataclass(frozen=True)
class LexMatch:
    """One cue found in an utterance."""

    entry: LexiconEntry
    start_char: int
    end_char: int
    text: str
    negated: bool = False

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(frozen=True)
class MatchSettings:
    """The thresholds in lexicons/matching.yaml for one language."""

    negation_window: int
    barriers: frozenset[str]
    count_inside_words: frozenset[str]
    never_inside: frozenset[str]
    cache_size: int


def load_settings(language: str, root: Path | str | None = None) -> MatchSettings:
    """Read lexicons/matching.yaml (the root's own copy if it has one)."""
    path = config_file(MATCHING_FILE, root)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        negation = data["negation"]
        window = int(negation["window"][language])
        barriers = frozenset(str(b).lower() for b in negation.get("barriers", ()))
        zh = data.get("zh", {}) if language == "zh" else {}
        return MatchSettings(
            negation_window=window,
            barriers=barriers,
            count_inside_words=frozenset(zh.get("count_inside_words", ())),
            never_inside=frozenset(zh.get("never_inside", ())),
            cache_size=int(data.get("cache", {}).get("utterances", 10000)),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise LexiconError(
            f"{path}: cannot read matching settings for {language!r} ({exc!r}); "
            f"it needs negation.window.{language} and negation.barriers"
        ) from exc


# --- pipelines ---------------------------------------------------------------


def get_nlp(language: str, root: Path | str | None = None) -> Language:
    """A blank spaCy pipeline for the language; for zh, jieba with the lexicon's phrases."""
    return _lexicon_matcher(language, str(lexicon_root(root).resolve())).nlp


def _private_jieba(words: Iterable[str]):
    """A jieba tokenizer of our own, so adding the lexicon's words leaves ``jieba.dt`` alone."""
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(set(words)):
        tokenizer.add_word(word)
    return tokenizer


def _build_nlp(lexicon: Lexicon) -> Language:
    if lexicon.language != "zh":
        return spacy.blank(lexicon.language)
    # Built with the char segmenter, then switched: spaCy's jieba option would
    # load (and warm up) the global jieba dictionary, which we never use.
    nlp = spacy.blank("zh")
    nlp.tokenizer.segmenter = "jieba"
    nlp.tokenizer.jieba_seg = _private_jieba(p for p in lexicon.phrases() if len(p) > 1)
    return nlp


# --- matching ----------------------------------------------------------------


@dataclass
class _Raw:
    """A match before negation: token span for windows, char span for reports."""

    entry: LexiconEntry
    start_tok: int
    end_tok: int
    start_char: int
    end_char: int
    negated_inside: bool = False  # zh: a negator earlier in the same jieba word


class _LexiconMatcher:
    """Everything compiled from one lexicon: pipeline, matchers, phrase index, settings."""

    def __init__(self, lexicon: Lexicon, settings: MatchSettings):
        self.language = lexicon.language
        self.settings = settings
        self.nlp = _build_nlp(lexicon)
        self.cache: OrderedDict[str, tuple[LexMatch, ...]] = OrderedDict()
        vocab = self.nlp.vocab
        self.matcher = Matcher(vocab, validate=True)
        self.pattern_entries: dict[int, list[LexiconEntry]] = {}
        for i, entry in enumerate(e for e in lexicon.entries if e.pattern is not None):
            key = f"{entry.kind}:{i}"
            try:
                self.matcher.add(key, [list(entry.pattern)])
            except ValueError as exc:
                raise LexiconError(f"{entry.source}:{entry.line}: spaCy rejects this pattern: {exc}") from exc
            self.pattern_entries[vocab.strings[key]] = [entry]
        phrases: dict[str, list[LexiconEntry]] = {}
        for entry in lexicon.entries:
            if entry.phrase is not None:
                phrases.setdefault(entry.phrase.lower(), []).append(entry)
        self.phrase_set = frozenset(phrases)
        self.negators = tuple(p for p, es in phrases.items() if any(e.kind == NEGATION_KIND for e in es))
        if self.language == "zh":
            # one-character phrases by character; longer ones by their first two characters
            self.zh_singles = {p: e for p, e in phrases.items() if len(p) == 1}
            self.zh_pairs: dict[str, list[tuple[str, list[LexiconEntry]]]] = {}
            for phrase, entries in sorted(phrases.items(), key=lambda kv: -len(kv[0])):
                if len(phrase) > 1:
                    self.zh_pairs.setdefault(phrase[:2], []).append((phrase, entries))
            # phrase -> [(word, offset)]: words in which the phrase does not count (迷你)
            self.zh_blockers: dict[str, list[tuple[str, int]]] = {}
            for word in settings.never_inside:
                for phrase in phrases:
                    if phrase in word and phrase != word:
                        self.zh_blockers.setdefault(phrase, []).append((word, word.index(phrase)))
            self.phrase_matcher = None
        else:
            self.phrase_matcher = PhraseMatcher(vocab, attr="LOWER")
            self.phrase_entries: dict[int, list[LexiconEntry]] = {}
            for phrase, entries in phrases.items():
                self.phrase_matcher.add(phrase, [self.nlp.make_doc(phrase)])
                self.phrase_entries[vocab.strings[phrase]] = entries

    # one utterance ----------------------------------------------------------

    def match(self, text: str) -> tuple[LexMatch, ...]:
        hit = self.cache.get(text)
        if hit is not None:
            self.cache.move_to_end(text)
            return hit
        result = self._match(text)
        self.cache[text] = result
        if len(self.cache) > self.settings.cache_size:
            self.cache.popitem(last=False)
        return result

    def _match(self, text: str) -> tuple[LexMatch, ...]:
        doc = self.nlp.make_doc(text)
        if len(doc) == 0:
            return ()
        raws: list[_Raw] = []
        if self.phrase_matcher is not None:
            for key, start, end in self.phrase_matcher(doc):
                span = doc[start:end]
                for entry in self.phrase_entries[key]:
                    raws.append(_Raw(entry, start, end, span.start_char, span.end_char))
        else:
            raws.extend(self._zh_phrases(doc, text))
        for key, start, end in self.matcher(doc) if self.pattern_entries else ():
            span = doc[start:end]
            for entry in self.pattern_entries[key]:
                raws.append(_Raw(entry, start, end, span.start_char, span.end_char))
        raws = _longest_per_kind(raws)
        negators = [r for r in raws if r.entry.kind == NEGATION_KIND]
        out = []
        for raw in sorted(raws, key=lambda r: (r.start_char, -r.end_char, r.entry.kind)):
            negated = raw.entry.negatable and (raw.negated_inside or self._negated(raw, negators, raws, doc))
            out.append(LexMatch(raw.entry, raw.start_char, raw.end_char, text[raw.start_char : raw.end_char], negated))
        return tuple(out)

    def _zh_phrases(self, doc: Doc, text: str) -> list[_Raw]:
        """Phrases on the character sequence, reported on token boundaries."""
        lowered = text.lower()
        if len(lowered) != len(text):  # a rare character whose lower case is longer
            lowered = text
        starts = doc.to_array("IDX").tolist()
        ends = [s + n for s, n in zip(starts, doc.to_array("LENGTH").tolist())]
        singles, by_pair = self.zh_singles, self.zh_pairs
        raws: list[_Raw] = []
        align = self._zh_align
        for i, ch in enumerate(lowered):
            entries = singles.get(ch)
            if entries:
                raws.extend(align(ch, entries, i, lowered, starts, ends))
            candidates = by_pair.get(lowered[i : i + 2])
            if candidates:
                for phrase, entries in candidates:
                    if lowered.startswith(phrase, i):
                        raws.extend(align(phrase, entries, i, lowered, starts, ends))
        return raws

    def _zh_align(self, phrase, entries, i, lowered, starts, ends) -> list[_Raw]:
        end = i + len(phrase)
        for word, offset in self.zh_blockers.get(phrase, ()):
            if i >= offset and lowered.startswith(word, i - offset):
                return []  # 你 in 迷你
        first = bisect_right(starts, i) - 1
        last = bisect_right(starts, end - 1) - 1
        negated_inside = False
        if first == last and not (starts[first] == i and ends[first] == end):
            # Strictly inside one jieba word. A word from jieba's dictionary
            # means something else (可能 in 不可能), except for pronouns (您 in
            # 谢谢您). A word that is itself a lexicon phrase (请您 in 请您稍等)
            # still holds the cue; a negator right before it inside the word
            # (可能 in 不可能) negates it. Negators never count inside words.
            word = lowered[starts[first] : ends[first]]
            if phrase in self.settings.count_inside_words:
                pass
            elif word in self.phrase_set:
                entries = [e for e in entries if e.kind != NEGATION_KIND]
                prefix = lowered[starts[first] : i]
                negated_inside = any(prefix.endswith(n) for n in self.negators)
            else:
                return []
            start_char, end_char = i, end
        else:
            start_char, end_char = starts[first], ends[last]
        return [_Raw(e, first, last + 1, start_char, end_char, negated_inside) for e in entries]

    def _negated(self, cue: _Raw, negators: list[_Raw], raws: list[_Raw], doc: Doc) -> bool:
        window = self.settings.negation_window
        for neg in negators:
            between = cue.start_tok - neg.end_tok
            if neg.end_char > cue.start_char or between < 0 or between > window:
                continue
            if any(t.lower_ in self.settings.barriers for t in doc[neg.end_tok : cue.start_tok]):
                continue
            if _consumed(neg, cue, raws):
                continue
            return True
        return False


def _longest_per_kind(raws: list[_Raw]) -> list[_Raw]:
    """Within one kind keep the longest cue: "I'm sorry" hides "sorry", 你们 hides 你."""
    by_kind: dict[str, list[_Raw]] = {}
    for raw in raws:
        by_kind.setdefault(raw.entry.kind, []).append(raw)
    kept = []
    for group in by_kind.values():
        group.sort(key=lambda r: (r.start_char, -(r.end_char - r.start_char)))
        seen: list[_Raw] = []
        for raw in group:
            if any(s.start_char <= raw.start_char and raw.end_char <= s.end_char for s in seen):
                continue
            seen.append(raw)
        kept.extend(seen)
    return kept


def _consumed(neg: _Raw, cue: _Raw, raws: list[_Raw]) -> bool:
    """A negator that is part of an earlier, longer cue (不好意思, "no worries") negates nothing after it."""
    for other in raws:
        if other is neg or other is cue or other.entry.kind == NEGATION_KIND:
            continue
        longer = (other.end_char - other.start_char) > (neg.end_char - neg.start_char)
        if longer and other.start_char <= neg.start_char and neg.end_char <= other.end_char <= cue.start_char:
            return True
    return False


@functools.lru_cache(maxsize=16)
def _lexicon_matcher(language: str, root: str) -> _LexiconMatcher:
    return _LexiconMatcher(load_lexicon(language, root), load_settings(language, root))


def match_lexicon(
    text: str, language: str, role: str | None = None, *, root: Path | str | None = None
) -> list[LexMatch]:
    """Every lexicon cue in ``text``, in order; ``role`` keeps entries for that speaker (and 'any')."""
    matcher = _lexicon_matcher(language, str(lexicon_root(root).resolve()))
    found = matcher.match(text)
    if role is None:
        return list(found)
    return [m for m in found if m.entry.role == "any" or m.entry.role == role]


def tokenize(text: str, language: str, *, root: Path | str | None = None) -> Doc:
    """The spaCy Doc for an utterance, with the same segmentation the matcher uses."""
    return get_nlp(language, root).make_doc(text)


__all__ = ["LexMatch", "MatchSettings", "get_nlp", "load_settings", "match_lexicon", "tokenize"]
