"""Text vs audio: what is not judged when a transcript's times are not real.

A chat log has no times; a vendor transcript may carry invented ones, and an
import may synthesise them from text length. Holds, dead air, speech rate,
talking over and loudness are then artefacts of the import, so scoring leaves
them out (``qa/data/timing.yaml``: the items become n/a with a reason, the
finding kinds are dropped) and normalises the score over what was judged.
"""

from __future__ import annotations

import functools
from typing import Annotated

from pydantic import AfterValidator

from qa.common.settings import Settings, Text, load_settings, shipped
from qa.types import TIMINGS, Finding, Transcript, check_course_id

__all__ = ["TIMINGS", "judged_findings", "real_timing", "untimed_items"]


class TimingFile(Settings):
    """``qa/data/timing.yaml``: items (course ID -> why n/a) and finding kinds left out without real times."""

    items: dict[Annotated[Text, AfterValidator(check_course_id)], Text]
    kinds: list[Text]


def load_timing(path=None) -> TimingFile:
    """Read a timing.yaml (the shipped one by default); errors are ``ConfigError`` with the file and line."""
    return load_settings(path if path is not None else shipped("timing.yaml"), TimingFile)


@functools.lru_cache(maxsize=1)
def _settings() -> tuple[dict[str, str], frozenset[str]]:
    raw = load_timing()
    return dict(raw.items), frozenset(raw.kinds)


def real_timing(transcript: Transcript) -> bool:
    """False only when the transcript says its times are not real (``timing: text``)."""
    return transcript.timing != "text"


def untimed_items() -> dict[str, str]:
    """Course ID -> why it is n/a without real times."""
    return _settings()[0]


def judged_findings(transcript: Transcript, findings: list[Finding]) -> list[Finding]:
    """``findings`` without those that need real times, when the transcript has none."""
    if real_timing(transcript):
        return findings
    items, kinds = _settings()
    return [f for f in findings if f.kind not in kinds and not (f.id in items and f.kind != "not_applicable")]
