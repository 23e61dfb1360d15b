"""What one call may bring in (``qa/data/limits.yaml``), and the checks that hold every reader to it.

Each limit exceeded is a one-line coded error that the nightly run quarantines
(``InputLimitError`` E330, ``FindingsLimitError`` E331, ``MetadataLimitError``
E311), so a hostile or broken file costs its own call a moment, never the
machine its memory or the night its time.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from qa.errors import FindingsLimitError, InputLimitError, MetadataLimitError
from qa.common.settings import Settings, load_settings, shipped
from qa.types import Transcript

LIMITS_FILE = "limits.yaml"


class CallLimits(Settings):
    max_duration: float = Field(gt=0)
    max_utterances: int = Field(ge=1)
    max_findings: int = Field(ge=1)
    max_utterance_chars: int = Field(ge=1, le=999_999)  # spaCy refuses 1,000,000 characters
    max_words_per_utterance: int = Field(ge=1)
    max_words: int = Field(ge=1)
    max_decoded_copy_seconds: float = Field(default=7200, ge=0)


class TranscriptLimits(Settings):
    max_bytes: int = Field(ge=1)
    max_line_chars: int = Field(ge=1)
    max_json_depth: int = Field(ge=4, le=200)


class MetadataLimits(Settings):
    max_sidecar_bytes: int = Field(ge=1)
    max_manifest_bytes: int = Field(ge=1)
    max_field_chars: int = Field(ge=1)
    max_json_depth: int = Field(ge=1, le=200)


class Limits(Settings):
    calls: CallLimits
    transcripts: TranscriptLimits
    metadata: MetadataLimits


@functools.lru_cache(maxsize=1)
def limits() -> Limits:
    """The limits shipped in ``qa/data/limits.yaml`` (read once)."""
    return load_settings(shipped(LIMITS_FILE), Limits)


def json_depth(data: Any) -> int:
    """How deeply ``data`` nests lists and objects (iteratively: no recursion whatever the input)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str, where: str, max_depth: int, error: type[Exception] = InputLimitError,
              limit_error: type[Exception] = InputLimitError) -> Any:
    """``json.loads`` with NaN/Infinity refused and nesting bounded; every failure a coded ``error``.

    The C decoder recurses per level, so a deep file is caught as RecursionError
    and reported like any other file nested beyond ``max_depth``.
    """
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise limit_error(f"{where}: JSON nested deeper than {max_depth} levels") from exc
    except ValueError as exc:
        raise error(f"{where}: not valid JSON ({' '.join(str(exc).split())[:200]})") from exc
    depth = json_depth(data)
    if depth > max_depth:
        raise limit_error(f"{where}: JSON nested {depth} levels deep, more than the {max_depth} allowed "
                    f"(qa/data/limits.yaml)")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def check_bytes(size: int, limit: int, where: str, what: str, error: type[Exception] = InputLimitError) -> None:
    if size > limit:
        raise error(f"{where}: {what} is {size} bytes, more than the {limit} allowed (qa/data/limits.yaml)")


def check_time(value: float, where: str) -> None:
    """A start or end time: finite, not negative, within ``calls.max_duration``."""
    bound = limits().calls.max_duration
    if not math.isfinite(value) or value < 0 or value > bound:
        raise InputLimitError(f"{where}: time {value!r} s is outside 0..{bound:g} s "
                              f"(calls.max_duration in qa/data/limits.yaml)")


def check_transcript(t: Transcript, where: str) -> None:
    """The call-level limits on a transcript built by any reader (utterances, times, text, words)."""
    calls = limits().calls
    if len(t.utterances) > calls.max_utterances:
        raise InputLimitError(f"{where}: {len(t.utterances)} utterances, more than the {calls.max_utterances} "
                              f"allowed (calls.max_utterances in qa/data/limits.yaml)")
    check_time(t.duration, f"{where}: duration")
    words = sum(len(u.words) for u in t.utterances)
    if words > calls.max_words:
        raise InputLimitError(f"{where}: {words} words, more than the {calls.max_words} allowed "
                              f"(calls.max_words in qa/data/limits.yaml)")
    for number, u in enumerate(t.utterances, start=1):
        check_time(u.start, f"{where}: utterance {number} start")
        check_time(u.end, f"{where}: utterance {number} end")
        if len(u.text) > calls.max_utterance_chars:
            raise InputLimitError(f"{where}: utterance {number} has {len(u.text)} characters, more than the "
                                  f"{calls.max_utterance_chars} allowed (calls.max_utterance_chars)")
        if len(u.words) > calls.max_words_per_utterance:
            raise InputLimitError(f"{where}: utterance {number} has {len(u.words)} words, more than the "
                                  f"{calls.max_words_per_utterance} allowed (calls.max_words_per_utterance)")
        for w in u.words:
            check_time(w.start, f"{where}: utterance {number} word start")
            check_time(w.end, f"{where}: utterance {number} word end")
    for gap in t.gaps:
        check_time(gap.start, f"{where}: gap start")
        check_time(gap.end, f"{where}: gap end")


def precheck_counts(data: Any, where: str) -> None:
    """Utterance and word counts of a raw JSON transcript, before the (slower) schema check builds anything."""
    calls = limits().calls
    utterances = data.get("utterances") if isinstance(data, dict) else None
    if not isinstance(utterances, list):
        return
    if len(utterances) > calls.max_utterances:
        raise InputLimitError(f"{where}: {len(utterances)} utterances, more than the {calls.max_utterances} "
                              f"allowed (calls.max_utterances in qa/data/limits.yaml)")
    for name in ("gaps", "dropped"):
        listed = data.get(name)
        if isinstance(listed, list) and len(listed) > calls.max_utterances:
            raise InputLimitError(f"{where}: {len(listed)} {name}, more than the {calls.max_utterances} allowed "
                                  f"(calls.max_utterances in qa/data/limits.yaml)")
    total = 0
    for number, u in enumerate(utterances, start=1):
        words = u.get("words") if isinstance(u, dict) else None
        if isinstance(words, list):
            if len(words) > calls.max_words_per_utterance:
                raise InputLimitError(f"{where}: utterance {number} has {len(words)} words, more than the "
                                      f"{calls.max_words_per_utterance} allowed (calls.max_words_per_utterance)")
            total += len(words)
    if total > calls.max_words:
        raise InputLimitError(f"{where}: {total} words, more than the {calls.max_words} allowed "
                              f"(calls.max_words in qa/data/limits.yaml)")


def check_findings(count: int, call_id: str) -> None:
    bound = limits().calls.max_findings
    if count > bound:
        raise FindingsLimitError(f"call {call_id}: {count} findings, more than the {bound} allowed "
                                 f"(calls.max_findings in qa/data/limits.yaml)")


def check_field(value: str, where: str) -> None:
    bound = limits().metadata.max_field_chars
    if len(value) > bound:
        raise MetadataLimitError(f"{where}: a value of {len(value)} characters, more than the {bound} allowed "
                                 f"(metadata.max_field_chars in qa/data/limits.yaml)")
