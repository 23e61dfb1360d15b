"""Text vs audio: what is not judged when a transcript's times are not real.

A chat log has no times; a vendor transcript may carry invented ones, and an
import may synthesise them from text length. Holds, dead air, speech rate,
talking over and loudness are then artefacts of the import, so scoring leaves
them out (``qa/data/timing.yaml``: the items become n/a with a reason, the
finding kinds are dropped) and normalises the score over what was judged.
"""

from __future__ import annotations

import functools

import yaml

from qa.common.paths import DATA_FILES
from qa.types import TIMINGS, Finding, Transcript

__all__ = ["TIMINGS", "judged_findings", "real_timing", "untimed_items"]


@functools.lru_cache(maxsize=1)
def _settings() -> tuple[dict[str, str], frozenset[str]]:
    raw = yaml.safe_load((DATA_FILES / "timing.yaml").read_text(encoding="utf-8"))
    return dict(raw["items"]), frozenset(raw["kinds"])


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
