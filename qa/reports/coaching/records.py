"""What a coaching report is made of: counts per item, weeks, agents, examples, and the report itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from qa.reports.coaching.settings import CoachingSettings
from qa.types import Evidence

#: The customer's complaint stages in course order (COURSE.md section 5).
STAGES = ("S1", "S2", "S3", "S4", "S5", "S6")
#: Label for calls whose scorecard names no stage or class.
NONE_LABEL = "none"


@dataclass(frozen=True)
class Counts:
    """How many calls got each status on one item (or on all items together)."""

    passed: int = 0
    partial: int = 0
    failed: int = 0
    na: int = 0
    other: int = 0  # statuses outside pass/partial/fail/n/a: excluded like n/a, and reported

    @property
    def applicable(self) -> int:
        return self.passed + self.partial + self.failed

    def _rate(self, part: int) -> float | None:
        return part / self.applicable if self.applicable else None

    @property
    def pass_rate(self) -> float | None:
        return self._rate(self.passed)

    @property
    def partial_rate(self) -> float | None:
        return self._rate(self.partial)

    @property
    def fail_rate(self) -> float | None:
        return self._rate(self.failed)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.partial + other.partial, self.failed + other.failed,
                      self.na + other.na, self.other + other.other)


def tally(statuses: Iterable[str]) -> Counts:
    seen = Counter(statuses)
    known = seen["pass"] + seen["partial"] + seen["fail"] + seen["n/a"]
    return Counts(seen["pass"], seen["partial"], seen["fail"], seen["n/a"], sum(seen.values()) - known)


@dataclass(frozen=True)
class CourseWords:
    """An item in the course's own words: the seed's Chinese title, its translation, section and tip."""

    title_zh: str
    title_en: str
    title_es: str
    course: str
    tip: str  # in the report's language
    tip_en: str
    language: str

    @property
    def title_local(self) -> str:
        """The translation shown under the Chinese title: Spanish for Spanish teams, else English."""
        return self.title_es if self.language == "es" else self.title_en


@dataclass(frozen=True)
class CallRow:
    """One scored call, folded from its ``scores_frame`` rows."""

    call_id: str
    agent_id: str | None
    team: str | None
    started_at: str | None
    day: date | None
    score: float
    rubric_version: str
    statuses: dict[str, str]  # item_id -> status, in scorecard order


@dataclass(frozen=True)
class CallFacts:
    """What the scorecard says beyond its items: language and complaint stages."""

    language: str | None
    peak_stage: str | None
    final_stage: str | None
    complaint_class: str | None


@dataclass(frozen=True)
class Week:
    """One ISO week (Monday start); ``first``/``last`` are the days of it inside the report's range."""

    label: str  # e.g. 2024-W19
    monday: date
    first: date
    last: date
    calls: int
    mean_score: float | None
    items: dict[str, Counts]
    call_ids: tuple[str, ...] = ()  # which calls made these numbers, for audits

    @property
    def partial(self) -> bool:
        return (self.last - self.first).days < 6


@dataclass(frozen=True)
class ItemReport:
    item_id: str
    words: CourseWords
    counts: Counts
    comparison: Counts | None  # the team's counts beside an agent's; None in a team report
    weekly: list[tuple[str, Counts]]  # (week label, counts) for every week of the range


@dataclass(frozen=True)
class Example:
    """A call to listen to for one item, with the moment to start at."""

    item_id: str
    kind: str  # best | worst
    call_id: str
    agent_id: str | None
    team: str | None
    started_at: str | None
    score: float
    status: str
    quote: Evidence | None
    second: int | None  # whole second where the quote starts (floor), None without a quote
    link: str


@dataclass(frozen=True)
class WeakItem:
    rank: int
    item: ItemReport
    best: list[Example]
    worst: list[Example]
    trend_first: tuple[str, float] | None  # (week label, pass rate) of the first week with enough calls
    trend_last: tuple[str, float] | None

    @property
    def trend_change(self) -> float | None:
        if self.trend_first is None or self.trend_last is None or self.trend_first[0] == self.trend_last[0]:
            return None
        return self.trend_last[1] - self.trend_first[1]


@dataclass(frozen=True)
class GroupRow:
    """One agent (or team) in a team (or centre) report."""

    key: str | None  # agent id or team name
    team: str | None
    calls: int
    mean_score: float | None
    overall: Counts
    weakest_item: str | None
    weakest: Counts | None
    focus: dict[str, Counts]  # the report's weakest items, for this agent


@dataclass(frozen=True)
class StageDistribution:
    peak: dict[str, int]  # S1..S6 (all present, maybe 0), then other labels, then "none"
    final: dict[str, int]
    classes: dict[str, int]
    calls: int


@dataclass(frozen=True)
class Scope:
    start: date  # inclusive
    end: date  # inclusive
    team: str | None
    agent: str | None
    language: str
    comparison_team: str | None = None  # an agent report compares against this team ...
    compare_all: bool = False  # ... or against all calls when the agent's calls have no team

    @property
    def kind(self) -> str:
        return "agent" if self.agent is not None else "team" if self.team is not None else "all"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def comparison_label(self) -> str | None:
        if self.kind != "agent":
            return None
        if self.comparison_team is not None:
            return f"team {self.comparison_team}"
        return "all teams" if self.compare_all else None


@dataclass
class CoachingReport:
    scope: Scope
    generated_at: datetime
    calls: int
    mean_score: float | None
    overall: Counts
    items: list[ItemReport]
    weeks: list[Week]
    weakest: list[WeakItem]
    agents: list[GroupRow]
    teams: list[GroupRow]
    stages: StageDistribution
    comparison_calls: int | None
    comparison_mean_score: float | None
    rubric_versions: dict[str, int]
    rubric_used: str
    settings: CoachingSettings
    notes: list[str] = field(default_factory=list)

    def item(self, item_id: str) -> ItemReport:
        for it in self.items:
            if it.item_id == item_id:
                return it
        raise KeyError(f"item {item_id!r} is not in this report (items: {', '.join(i.item_id for i in self.items)})")
