"""Typed records passed between callqa's stages.

The data flows one way: ``Recording`` -> ``Transcript`` (of ``Utterance``s
with ``Word``s and ``Gap``s) -> ``list[Finding]`` -> scorecard. Every stage
takes and returns these records; nothing passes plain dicts between modules.
Times are seconds from the start of the recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Role = Literal["agent", "customer", "unknown"]
ROLES: tuple[str, ...] = ("agent", "customer", "unknown")
LANGUAGES: tuple[str, ...] = ("zh", "es", "en")
#: Transcript.timing: real times (audio), a chat log or invented times (text), or not said (unknown).
TIMINGS: tuple[str, ...] = ("audio", "text", "unknown")

#: Course IDs from shared/COURSE.md that lexicons, rubric and findings use.
COURSE_IDS: tuple[str, ...] = (
    "T-RATE", "T-TONE", "T-ADDRESS", "T-QUESTION",
    "P1", "P2", "P3", "P4", "P5", "P6",
    "K1", "K2", "K3", "K4",
    "R1", "R2", "R3", "R4", "R5", "R6",
    "S1", "S2", "S3", "S4", "S5", "S6",
    "IDL+PPC",
    "X1", "X2", "X3", "X4", "X5", "X6",
)


def check_course_id(value: str) -> str:
    """``value`` if it is a course ID; else ValueError naming the valid ones (for the lexicon and rubric schemas)."""
    if value not in COURSE_IDS:
        raise ValueError(f"unknown course ID {value!r}; use one of {', '.join(COURSE_IDS)} (see shared/COURSE.md)")
    return value


@dataclass(frozen=True)
class CallMeta:
    """What the contact centre knows about a call before anyone listens to it."""

    call_id: str
    agent_id: str | None = None
    team: str | None = None
    started_at: str | None = None  # ISO 8601, as given by the sidecar/manifest
    language: str | None = None  # zh | es | en, or None to detect
    channel_map: dict[int, str] = field(default_factory=lambda: {0: "agent", 1: "customer"})
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    """An audio file that has been probed and found decodable."""

    path: Path
    meta: CallMeta
    sha256: str
    duration: float
    sample_rate: int
    channels: int
    codec: str
    # Where this review keeps the recording decoded (qa/speech/decoded.py); None: decode at each pass.
    decoded: Path | None = None


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass
class Utterance:
    """One stretch of speech by one speaker."""

    role: str  # agent | customer | unknown
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str = ""  # "ch0"/"ch1" for stereo, "spk0"/"spk1" for a mono split
    confidence: float = 1.0  # mean word probability (1.0 for imported text)
    no_speech_prob: float = 0.0

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Dropped:
    """A stretch the VAD called speech that yielded no words in the transcript, and why.

    Kept so nothing is lost silently: the scorecard lists it as "not transcribed"
    and a reviewer can listen to it.
    """

    start: float
    end: float
    reason: str
    role: str = "unknown"
    speaker: str = ""


@dataclass(frozen=True)
class Gap:
    """A stretch where nobody speaks (dead air, a hold), kept for the K1 checks."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class RoleAssignment:
    """How agent and customer were told apart, and how sure we are.

    ``separated`` is False when a mono call's two voices could not be split:
    the transcript then says so instead of guessing.
    """

    method: str  # channel | diarization | import | single
    confidence: float
    separated: bool = True
    speaker_roles: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Transcript:
    call_id: str
    language: str
    duration: float
    utterances: list[Utterance]
    gaps: list[Gap] = field(default_factory=list)
    roles: RoleAssignment = field(default_factory=lambda: RoleAssignment("import", 1.0))
    meta: CallMeta | None = None
    language_probability: float = 1.0
    source: dict[str, Any] = field(default_factory=dict)  # path, sha256, format
    asr: dict[str, Any] = field(default_factory=dict)  # model and options used
    #: Whether the times are real: audio (transcribed), text (a chat log, invented or
    #: synthesised times: holds, rate, overlap and loudness are not judged), unknown.
    timing: str = "unknown"
    dropped: list[Dropped] = field(default_factory=list)  # speech the model gave no words for

    def by_role(self, role: str) -> list[Utterance]:
        return [u for u in self.utterances if u.role == role]


@dataclass(frozen=True)
class Evidence:
    """The words behind a finding: who said them and when."""

    role: str
    start: float
    end: float
    text: str


@dataclass
class Finding:
    """One observation tied to a course ID, always with its evidence."""

    id: str  # course ID, e.g. "T-TONE", "K1"
    kind: str  # e.g. "anger", "hold", "closed_question"
    value: Any
    role: str
    start: float
    end: float
    text: str
    tagger: str = ""  # name@version of the tagger that made it
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.role, self.start, self.end, self.text)


ItemStatus = Literal["pass", "partial", "fail", "n/a"]


@dataclass
class ItemScore:
    """One rubric item's verdict on one call, with the evidence behind it."""

    id: str  # course ID
    status: str  # pass | partial | fail | n/a
    points: float
    max_points: float
    evidence: list[Evidence] = field(default_factory=list)
    tip: str = ""
    tip_en: str = ""
    reason: str = ""
    auto_fail: bool = False


@dataclass
class Scorecard:
    call_id: str
    language: str
    score: float  # 0..100, weighted over applicable items
    items: list[ItemScore]
    rubric_version: str
    peak_stage: str | None = None
    final_stage: str | None = None
    complaint_class: str | None = None
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    meta: CallMeta | None = None
    #: what the findings were made with: tagger versions, lexicon/thresholds fingerprints (qa.tagging.versions)
    versions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UtteranceAcoustics:
    """Loudness and pitch of one utterance, from its own channel (None where unvoiced)."""

    loudness_db: float | None
    pitch_hz: float | None
    final_pitch_slope: float | None = None  # semitones per second over the last 0.5 s
