"""Error rates for checking transcripts against references (CER for Chinese, WER otherwise)."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str, language: str) -> str:
    """Lower-case, simplified Chinese, no punctuation; words separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "zh":
        from .asr import normalise_word

        text = normalise_word(text, "zh")
        return _PUNCT.sub("", text)
    return " ".join(_PUNCT.sub(" ", text).split())


def edit_distance(ref: list[str] | str, hyp: list[str] | str) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str, language: str = "zh") -> float:
    ref = normalise(reference, language).replace(" ", "")
    hyp = normalise(hypothesis, language).replace(" ", "")
    return edit_distance(ref, hyp) / max(1, len(ref))


def wer(reference: str, hypothesis: str, language: str = "en") -> float:
    ref = normalise(reference, language).split()
    hyp = normalise(hypothesis, language).split()
    return edit_distance(ref, hyp) / max(1, len(ref))


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    """CER for Chinese, WER for Spanish and English."""
    return cer(reference, hypothesis) if language == "zh" else wer(reference, hypothesis, language)
