"""Text helpers shared by the HTML page and the terminal summary.

Transcript text comes from speech recognition or from other vendors' files, so
it may hold anything: control characters, bidi overrides that reorder what a
reviewer sees, lone surrogates that cannot be written as UTF-8. ``clean_text``
makes it safe to show; escaping for HTML is left to Jinja2's autoescape.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from qa.types import Finding, Utterance

#: Bidi embeddings, overrides and isolates: they can make a quote read backwards.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
ROLE_LABELS = {"agent": "Agent", "customer": "Customer", "unknown": "Unknown"}


def clean_text(text: object) -> str:
    """``text`` without control characters, bidi overrides or lone surrogates; whitespace runs kept as spaces."""
    s = "" if text is None else str(text)
    s = _SURROGATE.sub("\ufffd", s)
    s = _BIDI.sub("", s)
    out = []
    for ch in s:
        if ch in "\t\n\r\f\v":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


def clock(seconds: float) -> str:
    """``83.4`` -> ``01:23``; ``3725`` -> ``1:02:05`` (what a reviewer types into a player)."""
    total = int(max(0.0, float(seconds)))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, clean_text(role).capitalize() or "Unknown")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "…"


class UtteranceIndex:
    """Which utterance a time falls in (or the nearest one), for links into the transcript."""

    def __init__(self, utterances: list[Utterance]):
        self._starts = [u.start for u in utterances]
        self._utterances = utterances

    def at(self, t: float) -> int | None:
        if not self._utterances:
            return None
        i = bisect.bisect_right(self._starts, t + 1e-6) - 1
        if i >= 0 and self._utterances[i].start - 1e-6 <= t <= self._utterances[i].end + 1e-6:
            return i
        candidates = [j for j in (i, i + 1) if 0 <= j < len(self._utterances)]
        return min(candidates, key=lambda j: min(abs(self._utterances[j].start - t), abs(self._utterances[j].end - t)))


@dataclass(frozen=True)
class Segment:
    """A run of utterance text and the findings (course ID, kind) whose text covers it."""

    text: str
    labels: tuple[tuple[str, str], ...] = ()
    part: bool = False  # covered by a finding that quotes only part of the utterance

    @property
    def tooltip(self) -> str:
        return "; ".join(f"{cid} {kind}" for cid, kind in self.labels)


class FindingIndex:
    """Findings that quote words, by start time, with their quotes cleaned once (a long call has thousands)."""

    def __init__(self, findings: Iterable[Finding], skip_kinds: set[str]):
        quoted = ((f.start, clean_text(f.text).strip(), f) for f in findings if f.kind not in skip_kinds and f.text)
        kept = sorted((x for x in quoted if x[1]), key=lambda x: x[0])
        self._starts = [start for start, _, _ in kept]
        self._items = [(quote, f) for _, quote, f in kept]

    def in_utterance(self, u: Utterance, tolerance: float = 0.05) -> list[Finding]:
        """Findings said in ``u``: they start inside it, by the same speaker, and quote some of its words."""
        text = clean_text(u.text)
        lo = bisect.bisect_left(self._starts, u.start - tolerance)
        hi = bisect.bisect_right(self._starts, u.end + tolerance)
        out = []
        for quote, f in self._items[lo:hi]:
            if f.role in ("agent", "customer") and u.role in ("agent", "customer") and f.role != u.role:
                continue
            if quote in text:
                out.append(f)
        return out


def segments(text: str, findings: Iterable[Finding]) -> list[Segment]:
    """``text`` split where the set of findings quoting it changes (a finding marks its first occurrence)."""
    text = clean_text(text)
    n = len(text)
    labels: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    part = [False] * n
    for f in findings:
        quote = clean_text(f.text).strip()
        at = text.find(quote) if quote else -1
        if at < 0:
            continue
        whole = quote == text.strip()
        label = (clean_text(f.id), clean_text(f.kind))
        for k in range(at, at + len(quote)):
            if label not in labels[k]:
                labels[k].append(label)
            part[k] = part[k] or not whole
    out: list[Segment] = []
    start = 0
    for k in range(1, n + 1):
        if k == n or labels[k] != labels[start] or part[k] != part[start]:
            out.append(Segment(text[start:k], tuple(labels[start]), part[start]))
            start = k
    return out
