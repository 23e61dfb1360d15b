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

Speed (a ten-minute call has some 2,500 characters): Chinese is segmented by
``qa.text.segment.Segmenter``: jieba's words, computed by jieba-rs (``rjieba``)
holding the same dictionary and total (identical cuts on 84,527 lines of the
shared Chinese dialogues, ~4x faster than jieba's Python walk, which stays as
the fallback and the reference). Every phrase of an utterance is found in one
Aho-Corasick pass. The spaCy ``Doc`` is only built when a token pattern could
match (``_PatternGate``); token offsets come straight from the words.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import ahocorasick
import spacy
import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from qa.common.once import shared
from qa.text.lexicon import (
    Lexicon,
    LexiconEntry,
    LexiconError,
    config_file,
    lexicon_root,
    load_lexicon,
)
from qa.text.segment import Segmenter, private_jieba

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


def _build_nlp(lexicon: Lexicon) -> Language:
    if lexicon.language != "zh":
        return spacy.blank(lexicon.language)
    # Built with the char segmenter, then switched: spaCy's jieba option would
    # load (and warm up) the global jieba dictionary, which we never use.
    nlp = spacy.blank("zh")
    nlp.tokenizer.segmenter = "jieba"
    nlp.tokenizer.jieba_seg = Segmenter(private_jieba(p for p in lexicon.phrases() if len(p) > 1))
    return nlp


_SPACE = re.compile(r"\s")


def _words_and_spaces(words: Iterable[str], text: str) -> tuple[list[str], list[bool], list[int]]:
    """The tokens spaCy makes of these words (``util.get_words_and_spaces``), with their offsets.

    Whitespace words are dropped; one space after a word becomes that token's
    trailing space; any other whitespace between words is a token of its own.
    """
    words = list(words)
    if not _SPACE.search(text) and "".join(words) == text:  # the usual Chinese utterance: no spaces
        return words, [False] * len(words), list(accumulate(map(len, words[:-1]), initial=0)) if words else []
    tokens: list[str] = []
    spaces: list[bool] = []
    starts: list[int] = []
    pos, n = 0, len(text)
    for word in words:
        if word.isspace():
            continue
        start = text.index(word, pos)
        if start > pos:
            tokens.append(text[pos:start])
            spaces.append(False)
            starts.append(pos)
        tokens.append(word)
        spaces.append(False)
        starts.append(start)
        pos = start + len(word)
        if pos < n and text[pos] == " ":
            spaces[-1] = True
            pos += 1
    if pos < n:
        tokens.append(text[pos:])
        spaces.append(False)
        starts.append(pos)
    return tokens, spaces, starts


class _PatternGate:
    """Says when no token pattern can match a text, so the spaCy Doc and Matcher can be skipped.

    Each pattern's required tokens (no ``OP`` or ``OP: "+"``) that name their
    text (``ORTH``/``TEXT``/``LOWER``, a string or ``IN`` a list) need that text
    somewhere in the utterance, and ``IS_DIGIT: true`` needs a digit. A pattern
    with nothing such to check always passes.
    """

    def __init__(self, patterns: Iterable[Iterable[dict]]):
        # the text checks first: they are cheap and rarely pass
        self.patterns = [sorted(self._needs(p), key=lambda need: need[0] == "digit") for p in patterns]

    @staticmethod
    def _needs(pattern: Iterable[dict]) -> list[tuple[str, tuple[str, ...]]]:
        needs = []
        for token in pattern:
            if token.get("OP") not in (None, "+"):
                continue
            for attr, value in token.items():
                key = attr.upper() if isinstance(attr, str) else attr
                if key in ("ORTH", "TEXT", "LOWER"):
                    if isinstance(value, str):
                        options = (value,)
                    elif isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(v, str) for v in value["IN"]):
                        options = tuple(value["IN"])
                    else:
                        continue
                    needs.append(("lower" if key == "LOWER" else "text", options))
                elif key == "IS_DIGIT" and value is True:
                    needs.append(("digit", ()))
        return needs

    def may_match(self, text: str) -> bool:
        lowered = None
        if len(text.lower()) != len(text):  # a character whose lower case is longer: don't guess
            return True
        for needs in self.patterns:
            for kind, options in needs:
                if kind == "digit":
                    if not any(ch.isdigit() for ch in text):
                        break
                else:
                    if kind == "lower" and lowered is None:
                        lowered = text.lower()
                    haystack = lowered if kind == "lower" else text
                    if not any(o in haystack for o in options):
                        break
            else:
                return True
        return False


# --- matching ----------------------------------------------------------------


@dataclass(slots=True)
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
        self.cache_lock = threading.Lock()
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
        self.pattern_gate = _PatternGate(e.pattern for e in lexicon.entries if e.pattern is not None)
        phrases: dict[str, list[LexiconEntry]] = {}
        for entry in lexicon.entries:
            if entry.phrase is not None:
                phrases.setdefault(entry.phrase.lower(), []).append(entry)
        self.phrase_set = frozenset(phrases)
        self.negators = tuple(p for p, es in phrases.items() if any(e.kind == NEGATION_KIND for e in es))
        if self.language == "zh":
            # Every phrase in one Aho-Corasick automaton: all occurrences, overlapping ones
            # too, in one pass in C. Each carries its rank, so the cues of one position come
            # out in a fixed order: one-character phrases, then longer before shorter.
            self.zh_automaton = ahocorasick.Automaton()
            ranked = sorted(phrases.items(), key=lambda kv: (len(kv[0]) > 1, -len(kv[0])))
            for rank, (phrase, entries) in enumerate(ranked):
                self.zh_automaton.add_word(phrase, (rank, phrase, entries))
            if ranked:
                self.zh_automaton.make_automaton()
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

    def clear_cache(self) -> None:
        """Forget every remembered result (per text, and the segmenter's), e.g. to time cold matching."""
        with self.cache_lock:
            self.cache.clear()
        segmenter = getattr(self.nlp.tokenizer, "jieba_seg", None)
        if isinstance(segmenter, Segmenter):
            segmenter.clear_memo()

    def match(self, text: str) -> tuple[LexMatch, ...]:
        # The LRU bookkeeping is several steps: under a lock, as two calls may be tagged in
        # parallel threads (one could evict an entry between another's lookup and its
        # move-to-end). The matching itself runs outside it.
        with self.cache_lock:
            hit = self.cache.get(text)
            if hit is not None:
                self.cache.move_to_end(text)
                return hit
        result = self._match(text)
        with self.cache_lock:
            self.cache[text] = result
            while len(self.cache) > self.settings.cache_size:
                self.cache.popitem(last=False)
        return result

    def _match(self, text: str) -> tuple[LexMatch, ...]:
        if self.phrase_matcher is None:
            return self._match_zh(text)
        doc = self.nlp.make_doc(text)
        if len(doc) == 0:
            return ()
        raws: list[_Raw] = []
        for key, start, end in self.phrase_matcher(doc):
            span = doc[start:end]
            for entry in self.phrase_entries[key]:
                raws.append(_Raw(entry, start, end, span.start_char, span.end_char))
        for key, start, end in self.matcher(doc) if self.pattern_entries else ():
            span = doc[start:end]
            for entry in self.pattern_entries[key]:
                raws.append(_Raw(entry, start, end, span.start_char, span.end_char))
        return self._finish(text, raws, lambda: [t.lower_ for t in doc])

    def _match_zh(self, text: str) -> tuple[LexMatch, ...]:
        """Chinese: jieba's words give the token offsets; a Doc is made only for token patterns."""
        segmenter = self.nlp.tokenizer.jieba_seg
        words = segmenter.words(text) if isinstance(segmenter, Segmenter) else list(segmenter.cut(text))
        tokens, spaces, starts = _words_and_spaces([w for w in words if w], text)
        if not tokens:
            return ()
        ends = [s + len(t) for s, t in zip(starts, tokens)]
        raws = self._zh_phrases(text, starts, ends)
        if self.pattern_entries and self.pattern_gate.may_match(text):
            doc = Doc(self.nlp.vocab, words=tokens, spaces=spaces)
            for key, start, end in self.matcher(doc):
                for entry in self.pattern_entries[key]:
                    raws.append(_Raw(entry, start, end, starts[start], ends[end - 1]))
        return self._finish(text, raws, lambda: [t.lower() for t in tokens])

    def _finish(self, text: str, raws: list[_Raw], lowers) -> tuple[LexMatch, ...]:
        """Longest cue per kind, in order, each with its negation (``lowers()``: the tokens, lower-cased)."""
        raws = _longest_per_kind(raws)
        negators = [r for r in raws if r.entry.kind == NEGATION_KIND]
        tokens = lowers() if negators else []
        out = []
        for raw in sorted(raws, key=lambda r: (r.start_char, -r.end_char, r.entry.kind)):
            negated = raw.entry.negatable and (raw.negated_inside or self._negated(raw, negators, raws, tokens))
            out.append(LexMatch(raw.entry, raw.start_char, raw.end_char, text[raw.start_char : raw.end_char], negated))
        return tuple(out)

    def _zh_phrases(self, text: str, starts: list[int], ends: list[int]) -> list[_Raw]:
        """Phrases on the character sequence, reported on token boundaries (``starts``/``ends``: token offsets)."""
        if len(self.zh_automaton) == 0:
            return []
        lowered = text.lower()
        if len(lowered) != len(text):  # a rare character whose lower case is longer
            lowered = text
        found = sorted((last - len(phrase) + 1, rank, phrase, entries)
                       for last, (rank, phrase, entries) in self.zh_automaton.iter(lowered))
        raws: list[_Raw] = []
        align = self._zh_align
        for i, _, phrase, entries in found:
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
                negated_inside = prefix.endswith(self.negators)
            else:
                return []
            start_char, end_char = i, end
        else:
            start_char, end_char = starts[first], ends[last]
            if starts[first] < i and lowered[starts[first]: i].endswith(self.negators):
                # the cue starts inside a word, right after a negator there: a negatable cue is
                # negated (满意 in 不满/意), any other is a different word (是的 in 不是/的)
                negated_inside = True
                entries = [e for e in entries if e.negatable]
        return [_Raw(e, first, last + 1, start_char, end_char, negated_inside) for e in entries]

    def _negated(self, cue: _Raw, negators: list[_Raw], raws: list[_Raw], tokens: list[str]) -> bool:
        window = self.settings.negation_window
        for neg in negators:
            between = cue.start_tok - neg.end_tok
            if neg.end_char > cue.start_char or between < 0 or between > window:
                continue
            if any(t in self.settings.barriers for t in tokens[neg.end_tok : cue.start_tok]):
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


@shared(maxsize=16)
def _lexicon_matcher(language: str, root: str) -> _LexiconMatcher:
    """One matcher per lexicon and process, built once even when two threads ask at once (~2 s)."""
    return _LexiconMatcher(load_lexicon(language, root), load_settings(language, root))


def match_lexicon(
    text: str, language: str, role: str | None = None, *, root: Path | str | None = None
) -> list[LexMatch]:
    """Every lexicon cue in ``text``, in order; ``role`` keeps entries for that speaker (and 'any')."""
    return _for_role(_lexicon_matcher(language, str(lexicon_root(root).resolve())).match(text), role)


def match_lexicon_many(
    items: Iterable[tuple[str, str | None]], language: str, *, root: Path | str | None = None
) -> list[list[LexMatch]]:
    """``match_lexicon`` for many (text, role) pairs, e.g. a call's utterances: the lexicon is looked up once."""
    match = _lexicon_matcher(language, str(lexicon_root(root).resolve())).match
    return [_for_role(match(text), role) for text, role in items]


def _for_role(found: tuple[LexMatch, ...], role: str | None) -> list[LexMatch]:
    if role is None:
        return list(found)
    return [m for m in found if m.entry.role == "any" or m.entry.role == role]


def tokenize(text: str, language: str, *, root: Path | str | None = None) -> Doc:
    """The spaCy Doc for an utterance, with the same segmentation the matcher uses."""
    return get_nlp(language, root).make_doc(text)


__all__ = ["LexMatch", "MatchSettings", "get_nlp", "load_settings", "match_lexicon", "match_lexicon_many", "tokenize"]
