"""T-RATE 愤怒感知法·听语速: speech rate per utterance and per speaker, against their own baseline.

Chinese is counted in characters (one syllable each) per second, Spanish and
English in syllables per second (and words per minute), over speaking time
only: pauses inside an utterance longer than ``rate.pause`` are left out.

Fires:
- ``rate`` for every utterance with at least ``rate.min_speech`` s of speech (value: its rate);
- ``speaker_rate`` once per speaker (value: median rate, detail: baseline);
- ``rate_rise`` when a customer utterance is ``rate.rise_ratio`` faster than
  the customer's own baseline (their first utterances): 客户越说越快;
- ``agent_faster`` when the agent's median rate is ``rate.agent_faster_ratio``
  times the customer's: the agent rushes a customer who speaks slowly.
Does not fire on one-word answers (嗯 / "yes"): too short to time.

Versions: 1, as ``rate@1``.
"""

from __future__ import annotations

import re
import statistics

from qa.tagging.context import TagContext, from_utterance
from qa.types import Finding, Utterance

NAME, VERSION = "t_rate", 1
COURSE_ID = "T-RATE"
CODES = (COURSE_ID,)
_HAN = re.compile(r"[\u3400-\u9fff0-9]")
_VOWEL_GROUPS = {
    # Spanish: a diphthong (weak vowel i/u/y next to another vowel) is one syllable.
    "es": re.compile(r"[iuüy]?[aeoáéíóú][iuy]?|[iuüy][iuy]?", re.IGNORECASE),
    "en": re.compile(r"[aeiouy]+", re.IGNORECASE),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def syllables(text: str, language: str) -> int:
    """Syllables in ``text``: one per Chinese character, vowel groups otherwise."""
    if language == "zh":
        return len(_HAN.findall(text))
    pattern = _VOWEL_GROUPS.get(language, _VOWEL_GROUPS["en"])
    total = 0
    for word in _WORD.findall(text.lower()):
        count = len(pattern.findall(word))
        if language == "en" and word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
            count -= 1  # silent final e: "make", "hope"
        total += max(1, count)
    return total


def speaking_time(u: Utterance, pause: float) -> float:
    """Seconds of speech in ``u``: its span less the pauses between words longer than ``pause``."""
    if not u.words:
        return u.duration
    total = u.duration
    for before, after in zip(u.words, u.words[1:]):
        gap = after.start - before.end
        if gap > pause:
            total -= gap
    return max(0.0, total)


def utterance_rate(u: Utterance, language: str, pause: float) -> tuple[float, float] | None:
    """(syllables per second, speaking seconds), or None when there is no speaking time."""
    seconds = speaking_time(u, pause)
    if seconds <= 0:
        return None
    return syllables(u.text, language) / seconds, seconds


def tag(ctx: TagContext) -> list[Finding]:
    t = ctx.thresholds["rate"]
    unit = "chars/s" if ctx.language == "zh" else "syll/s"
    findings: list[Finding] = []
    rates: dict[str, list[tuple[Utterance, float]]] = {}
    for u in ctx.utterances:
        measured = utterance_rate(u, ctx.language, t["pause"])
        if measured is None or measured[1] < t["min_speech"]:
            continue
        rate, seconds = measured
        detail = {"unit": unit, "speaking_seconds": round(seconds, 2)}
        if ctx.language != "zh":
            detail["wpm"] = round(len(_WORD.findall(u.text)) / seconds * 60, 1)
        findings.append(from_utterance(COURSE_ID, "rate", round(rate, 2), u, detail))
        rates.setdefault(u.role, []).append((u, rate))

    medians: dict[str, float] = {}
    for role, items in rates.items():
        baseline = statistics.median(r for _, r in items[: int(t["baseline_utterances"])])
        medians[role] = statistics.median(r for _, r in items)
        fastest = max(items, key=lambda item: item[1])[0]
        findings.append(from_utterance(
            COURSE_ID, "speaker_rate", round(medians[role], 2), fastest,
            {"unit": unit, "baseline": round(baseline, 2), "utterances": len(items),
             "evidence": "fastest utterance"},
        ))
        if role == "customer":
            for u, rate in items[int(t["baseline_utterances"]):]:
                if baseline > 0 and rate >= baseline * (1 + t["rise_ratio"]):
                    findings.append(from_utterance(
                        COURSE_ID, "rate_rise", round(rate / baseline, 2), u,
                        {"unit": unit, "rate": round(rate, 2), "baseline": round(baseline, 2)},
                    ))
    if "agent" in medians and "customer" in medians and medians["customer"] > 0:
        ratio = medians["agent"] / medians["customer"]
        if ratio >= t["agent_faster_ratio"]:
            fastest = max(rates["agent"], key=lambda item: item[1])[0]
            findings.append(from_utterance(
                COURSE_ID, "agent_faster", round(ratio, 2), fastest,
                {"agent_rate": round(medians["agent"], 2), "customer_rate": round(medians["customer"], 2),
                 "unit": unit},
            ))
    return findings
