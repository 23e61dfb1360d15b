"""Chinese words as jieba cuts them, from a private dictionary, faster.

``private_jieba`` gives a jieba tokenizer of our own that knows the lexicon's
phrases (the global ``jieba.dt`` is never touched). ``Segmenter`` cuts with it
word for word as ``Tokenizer.cut(text)`` does: through jieba-rs (``rjieba``)
loaded with the same dictionary and total when it is installed, through the
pure-Python walk otherwise (kept as the fallback and the reference; identical
cuts on 84,527 lines of the shared Chinese dialogues).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from math import log
from pathlib import Path


def private_jieba(words: Iterable[str]):
    """A jieba tokenizer of our own, so adding the lexicon's words leaves ``jieba.dt`` alone."""
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(set(words)):
        tokenizer.add_word(word)
    return tokenizer


@functools.lru_cache(maxsize=1)
def _rjieba_class():
    """rjieba's ``Jieba`` class, loaded without the package's default dictionary (None without rjieba).

    ``import rjieba`` builds a ``Jieba()`` with jieba-rs's own dictionary at
    import, 33 MB that callqa never uses (its copy holds our tokenizer's
    words, ``Jieba.empty``), in every process that reviews Chinese calls
    (a Dask worker stays under 1 GB with this). So the compiled module is
    loaded on its own; should that fail, the package is imported after all.
    """
    import importlib.machinery
    import importlib.util
    import sys

    if "rjieba" in sys.modules:
        return sys.modules["rjieba"].Jieba
    found = importlib.util.find_spec("rjieba")
    if found is None:
        return None
    for folder in found.submodule_search_locations or ():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"rjieba{suffix}"
            if path.is_file():
                try:
                    loader = importlib.machinery.ExtensionFileLoader("rjieba.rjieba", str(path))
                    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("rjieba.rjieba", loader))
                    loader.exec_module(module)
                    return module.Jieba
                except ImportError:
                    break
    import rjieba

    return rjieba.Jieba


class Segmenter:
    """jieba's accurate mode with HMM (``Tokenizer.cut(text)``), word for word, with less overhead.

    A block goes to the Rust copy of the dictionary when rjieba is installed
    (``_rust_cut``); otherwise, or when its answer is uncertain, to the walk below.

    jieba finds every dictionary word starting at each character, picks the most
    probable route from the end backwards (ties to the longer word), and runs its
    HMM over stretches of single characters that form no dictionary word. Here
    the log-probabilities are computed once per word instead of once per use,
    the two passes are one loop, and the HMM's answer for a stretch is
    remembered. Anything else (``cut_all``, no HMM, other methods) goes to jieba.
    """

    _MEMO_SIZE = 50000
    _PURE_HAN = re.compile("[\u4E00-\u9FD5]+")
    _HAN_CHAR = re.compile("[\u4E00-\u9FD5]")

    def __init__(self, tokenizer):
        import jieba
        from jieba import finalseg

        self.tokenizer = tokenizer
        self._freq = tokenizer.FREQ
        self._unknown = log(1) - log(tokenizer.total)  # a character that is no word: jieba counts it with frequency 1
        self._han, self._skip = jieba.re_han_default, jieba.re_skip_default
        self._finalseg = finalseg
        self._hmm_memo: dict[str, tuple[str, ...]] = {}
        self._block_memo: dict[str, tuple[str, ...]] = {}  # a run of Han/alphanumerics is cut on its own
        self._forced = len(finalseg.Force_Split_Words)
        self._rust = self._rust_copy(tokenizer)  # None without rjieba: then all in Python

    @staticmethod
    def _rust_copy(tokenizer):
        """jieba-rs (``rjieba``) holding exactly this tokenizer's words, frequencies and total.

        jieba's ``add_word`` on a word it already has adds the frequency to the
        total again; jieba-rs replaces it. A word no text can contain carries the
        difference, so both score every route alike. None without rjieba.
        """
        jieba_rs = _rjieba_class()
        if jieba_rs is None:
            return None
        rust = jieba_rs.empty()
        added = 0
        for word, freq in tokenizer.FREQ.items():
            if freq:
                rust.add_word(word, freq, None)
                added += freq
        if tokenizer.total > added:
            rust.add_word("\ue000\ue000", tokenizer.total - added, None)  # private use: never in a Han run
        return rust

    @functools.cached_property
    def _logp(self) -> dict[str, float]:
        """Each word's log-probability, for the Python walk only (~40 MB: built when first needed)."""
        logtotal = log(self.tokenizer.total)
        return {w: log(f) - logtotal for w, f in self._freq.items() if f}

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def clear_memo(self) -> None:
        self._hmm_memo.clear()
        self._block_memo.clear()

    def cut(self, sentence: str, cut_all: bool = False, HMM: bool = True, use_paddle: bool = False):  # jieba's signature
        if cut_all or not HMM or use_paddle or not isinstance(sentence, str):
            return self.tokenizer.cut(sentence, cut_all=cut_all, HMM=HMM, use_paddle=use_paddle)
        return iter(self.words(sentence))

    def words(self, sentence: str) -> list[str]:
        forced = len(self._finalseg.Force_Split_Words)
        if forced != self._forced:  # someone changed jieba's forced splits: what we remember may be stale
            self.clear_memo()
            self._forced = forced
        out: list[str] = []
        han, skip, memo = self._han, self._skip, self._block_memo
        for block in han.split(sentence):
            if not block:
                continue
            if han.match(block):
                words = memo.get(block)
                if words is None:
                    cut = self._rust_cut(block) if self._rust is not None else None
                    if cut is None:
                        cut = []
                        self._cut_block(block, cut)
                    if len(memo) >= self._MEMO_SIZE:
                        memo.clear()
                    words = memo[block] = tuple(cut)
                out.extend(words)
            else:
                for piece in skip.split(block):
                    if skip.match(piece):
                        out.append(piece)
                    else:
                        out.extend(piece)
        return out

    def _rust_cut(self, block: str) -> list[str] | None:
        """jieba-rs's cut of a block, as jieba gives it; None when that is not certain.

        On Han characters jieba-rs walks the same dictionary with the same HMM.
        Runs of other characters it keeps whole (qq.com, 5.0.2), where jieba
        splits them with its ``finalseg.re_skip`` (qq . com, 5.0 . 2): that split
        is redone here. A word mixing Han and other characters that is not in
        the dictionary, or forced splits, leave the block to the Python walk.
        """
        if self._finalseg.Force_Split_Words:
            return None
        words = self._rust.cut(block, True)
        if self._PURE_HAN.fullmatch(block):
            return words
        out: list[str] = []
        freq, han, skip = self._freq, self._HAN_CHAR, self._finalseg.re_skip
        for word in words:
            if len(word) == 1 or freq.get(word) or self._PURE_HAN.fullmatch(word):
                out.append(word)
            elif han.search(word):
                return None
            else:
                out.extend(piece for piece in skip.split(word) if piece)
        return out

    def _cut_block(self, s: str, out: list[str]) -> None:
        freq_get, logp, unknown = self._freq.get, self._logp, self._unknown
        n = len(s)
        score = [0.0] * (n + 1)
        last = list(range(n + 1))  # the end (inclusive) of the best word starting at each position
        for k in range(n - 1, -1, -1):
            best = None
            i, frag = k, s[k]
            while True:
                f = freq_get(frag)
                if f is None:  # no dictionary word starts with frag
                    break
                if f:
                    v = logp[frag] + score[i + 1]
                    if best is None or v >= best:
                        best, last[k] = v, i
                i += 1
                if i >= n:
                    break
                frag = s[k:i + 1]
            score[k] = unknown + score[k + 1] if best is None else best
        buf = ""
        x = 0
        while x < n:
            y = last[x] + 1
            if y - x == 1:
                buf += s[x]
            else:
                if buf:
                    self._flush(buf, out)
                    buf = ""
                out.append(s[x:y])
            x = y
        if buf:
            self._flush(buf, out)

    def _flush(self, buf: str, out: list[str]) -> None:
        """Single characters in a row: as they are, or cut by the HMM when they are no word together."""
        if len(buf) == 1:
            out.append(buf)
        elif self._freq.get(buf):
            out.extend(buf)
        else:
            out.extend(self._hmm(buf))

    def _hmm(self, buf: str) -> tuple[str, ...]:
        words = self._hmm_memo.get(buf)
        if words is None:
            if len(self._hmm_memo) >= self._MEMO_SIZE:
                self._hmm_memo.clear()
            words = self._hmm_memo[buf] = tuple(self._finalseg.cut(buf))
        return words
