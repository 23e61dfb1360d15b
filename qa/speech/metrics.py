"""Error rates for checking transcripts against references (CER for Chinese, WER otherwise)."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str, language: str) -> str:
    """Lower-case, simplified Chinese, no punctuation; words separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "zh":
        from qa.speech.asr import normalise_word

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


def read_stm(path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) segments of a NIST STM reference transcript."""
    segments = []
    for line in open(path, encoding="utf-8"):
        parts = line.split(None, 5)
        if len(parts) >= 5 and not line.startswith(";;"):
            segments.append((float(parts[3]), float(parts[4]), parts[2]))
    return segments


def word_speaker_accuracy(transcript, reference: list[tuple[float, float, str]], tolerance: float = 0.1) -> float:
    """Share of transcribed words given to the right speaker, under the best speaker mapping.

    A word counts when its midpoint falls inside one reference segment (with
    ``tolerance`` seconds of slack); labels are matched by trying every
    one-to-one mapping of hypothesis to reference speakers.
    """
    from itertools import permutations

    counts: dict[tuple[str, str], int] = {}
    total = 0
    for u in transcript.utterances:
        for w in u.words:
            mid = (w.start + w.end) / 2
            owners = {s for a, b, s in reference if a - tolerance <= mid <= b + tolerance}
            if len(owners) == 1:
                key = (u.speaker, owners.pop())
                counts[key] = counts.get(key, 0) + 1
                total += 1
    if not total:
        return 0.0
    hyps = sorted({h for h, _ in counts})
    refs = sorted({r for _, r in counts})
    best = 0
    for perm in permutations(refs, min(len(refs), len(hyps))):
        best = max(best, sum(counts.get((h, r), 0) for h, r in zip(hyps, perm)))
    return best / total
