"""The rubric: course items as data (``rubrics/default.yaml``), validated on load.

A team copies the YAML, edits titles, weights, rules and tips, and passes it
with ``--rubric``. Its sha256 is the version stored with every score.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.common.settings import Settings, Text, line_of, load_settings, parse_yaml, read_text, shipped
from qa.errors import RubricError
from qa.types import check_course_id

#: The shipped rubric, found through importlib.resources (``qa/data/rubrics`` is package data), so wheels work.
DEFAULT_RUBRIC = Path(str(shipped("rubrics", "default.yaml")))
STATUSES = ("pass", "partial", "fail", "n/a")
#: The largest weight an item may have: weights are relative, so anything above is a typo (1e308) or a bug.
MAX_WEIGHT = 1000.0


class _KindsFile(Settings):
    """``qa/data/finding_kinds.yaml``: the kinds of finding the taggers emit."""

    version: int
    kinds: list[Text] = Field(min_length=1)


@functools.lru_cache(maxsize=1)
def finding_kinds() -> frozenset[str]:
    """Every finding kind a tagger writes: a matcher naming another kind would match nothing, silently."""
    return frozenset(load_settings(shipped("finding_kinds.yaml"), _KindsFile).kinds)


class Matcher(BaseModel):
    """Picks findings by course ID, kind, role, value and detail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Union[str, tuple[str, ...]]
    id: str | None = None
    role: Literal["agent", "customer", "unknown"] | None = None
    value_min: float | None = None
    value_max: float | None = None
    value_in: tuple[Any, ...] | None = None
    detail: dict[str, Any] | None = None
    count_min: int = Field(default=1, ge=0)
    count_max: int | None = Field(default=None, ge=0)  # 0 = "no such finding" (absence)

    @model_validator(mode="before")
    @classmethod
    def _absence(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("count_max") == 0 and "count_min" not in data:
            data = {**data, "count_min": 0}
        return data

    @model_validator(mode="after")
    def _bounds(self) -> "Matcher":
        if self.count_max is not None and self.count_max < self.count_min:
            raise ValueError(f"count_max {self.count_max} is below count_min {self.count_min}")
        return self

    @field_validator("kind", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("kind")
    @classmethod
    def _known_kinds(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        unknown = sorted(set((value,) if isinstance(value, str) else value) - finding_kinds())
        if unknown:
            raise ValueError(f"no tagger writes a finding of kind {', '.join(unknown)} "
                             f"(a typo? the kinds are listed in qa/data/finding_kinds.yaml)")
        return value

    @field_validator("id")
    @classmethod
    def _course_id(cls, value: str | None) -> str | None:
        return value if value is None else check_course_id(value)

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.kind,) if isinstance(self.kind, str) else self.kind


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    all: tuple[Matcher, ...] = Field(min_length=1)


Rule = Union[AllOf, Matcher]


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str
    en: str
    es: str

    def get(self, language: str) -> str:
        return getattr(self, language, self.en)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: Texts
    course: str = ""
    weight: float = Field(gt=0, le=MAX_WEIGHT, allow_inf_nan=False)
    applies_if: tuple[Rule, ...] | None = None
    na_reason: str = "not applicable to this call"
    #: When ``applies_if`` does not hold: None = n/a (left out of the score); or the
    #: status to count instead (``callqa calibrate`` sets it when the data says so).
    na_status: Literal["pass", "partial", "fail"] | None = None
    auto_fail_if: tuple[Rule, ...] = ()
    fail_if: tuple[Rule, ...] = ()
    partial_if: tuple[Rule, ...] = ()
    pass_if: tuple[Rule, ...] = ()
    otherwise: Literal["pass", "partial", "fail"]
    tip: Texts

    @field_validator("id")
    @classmethod
    def _course_id(cls, value: str) -> str:
        return check_course_id(value)


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int
    partial_credit: float = Field(ge=0, le=1, allow_inf_nan=False)
    items: tuple[Item, ...] = Field(min_length=1)
    #: Provenance written by ``callqa calibrate``: data, n, fold scores, date, callqa version.
    calibration: dict[str, Any] | None = None
    sha256: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _unique(self) -> "Rubric":
        seen = [i.id for i in self.items]
        dupes = sorted({i for i in seen if seen.count(i) > 1})
        if dupes:
            raise ValueError(f"items listed twice: {', '.join(dupes)}")
        return self

    @property
    def version_tag(self) -> str:
        """What is stored with every score: the rubric's version and content hash."""
        return f"v{self.version}-{self.sha256[:12]}"

    def item(self, course_id: str) -> Item:
        return next(i for i in self.items if i.id == course_id)


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    """The rubric in ``text`` (read safely: size, depth and aliases bounded); every error names file and line."""
    doc = parse_yaml(text, source, RubricError)
    raw = doc.data
    if not isinstance(raw, dict):
        raise RubricError(f"{source}: a rubric is a mapping with name, version, partial_credit and items")
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_url=False)[:10]:
            loc = tuple(e["loc"])
            line = line_of(doc.root, loc)
            where = ".".join(map(str, loc))
            if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
                items = raw.get("items") or []
                entry = items[loc[1]] if loc[1] < len(items) else None
                ident = entry.get("id", "?") if isinstance(entry, dict) else "?"
                where = f"item {ident}: " + ".".join(map(str, loc[2:]))
            problems.append(f"{source}{f':{line}' if line else ''}: {where}: {e['msg']}")
        raise RubricError("; ".join(problems)) from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return rubric.model_copy(update={"sha256": digest, "source": source})


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Rubric:
    return parse_rubric(read_text(Path(path), RubricError), source=path)  # bounded, UTF-8 or a coded error


def load_rubric(path: Path | None = None) -> Rubric:
    path = Path(path or DEFAULT_RUBRIC)
    if not path.is_file():
        raise RubricError(f"{path}: no such rubric file")
    return _load(str(path), path.stat().st_mtime_ns)
