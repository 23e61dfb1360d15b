"""Lexicons as data: load, validate and index the phrase lists under ``lexicons/``.

Every cue a tagger looks for (anger words, polite markers, holds, stage cues …)
lives in YAML files that a QA team edits, one folder per language. This module
reads them, checks each entry against the schema (a course ID from
``qa.types.COURSE_IDS``, a kind from ``lexicons/kinds.yaml``, a role, exactly
one of ``phrase``/``pattern``) and reports a bad entry by file and line, so a
typo never silently disables a cue.

``python -m qa.text.lexicon check`` validates every language and prints counts.
"""

from __future__ import annotations

import functools
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from qa.errors import LexiconError
from qa.types import COURSE_IDS, check_course_id

#: The lexicons shipped with the repository: qa/../lexicons.
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "lexicons"
ENV_VAR = "CALLQA_LEXICONS"
KINDS_FILE = "kinds.yaml"
ENTRY_ROLES: tuple[str, ...] = ("agent", "customer", "any")


@dataclass(frozen=True)
class LexiconEntry:
    """One cue: a literal phrase or a spaCy Matcher token pattern, tied to a course ID."""

    id: str
    kind: str
    role: str  # agent | customer | any
    phrase: str | None = None
    pattern: tuple[dict[str, Any], ...] | None = field(default=None, hash=False)
    weight: float = 1.0
    negatable: bool = False
    language: str = ""
    source: str = ""  # file path, for error messages and reports
    line: int = 0

    @property
    def label(self) -> str:
        """What a reviewer reads: the phrase, or the pattern in short form."""
        if self.phrase is not None:
            return self.phrase
        return " ".join(_describe_token(t) for t in self.pattern or ())

    def applies_to(self, role: str | None) -> bool:
        """True when the cue is meant for this speaker role (None = any speaker)."""
        return role is None or self.role == "any" or self.role == role


def _describe_token(token: dict[str, Any]) -> str:
    parts = []
    for key, value in token.items():
        if isinstance(value, dict) and "IN" in value:
            value = "|".join(map(str, value["IN"]))
        parts.append(f"{value}" if key in ("LOWER", "ORTH", "TEXT") else f"{key}={value}")
    return "[" + ",".join(parts) + "]"


@dataclass
class Lexicon:
    """All entries of one language, with indexes by kind and by course ID."""

    language: str
    root: Path
    entries: list[LexiconEntry]
    files: list[Path]
    _by_kind: dict[str, list[LexiconEntry]] = field(default_factory=dict, repr=False)
    _by_id: dict[str, list[LexiconEntry]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_kind.setdefault(entry.kind, []).append(entry)
            self._by_id.setdefault(entry.id, []).append(entry)

    def by_kind(self, kind: str) -> list[LexiconEntry]:
        return list(self._by_kind.get(kind, ()))

    def by_id(self, course_id: str) -> list[LexiconEntry]:
        return list(self._by_id.get(course_id, ()))

    def phrases(self, kind: str | None = None) -> list[str]:
        return [e.phrase for e in self.entries if e.phrase is not None and (kind is None or e.kind == kind)]

    def counts(self) -> dict[str, Counter]:
        """Entries per course ID and per kind (for ``check`` and coverage tests)."""
        return {"id": Counter(e.id for e in self.entries), "kind": Counter(e.kind for e in self.entries)}


# --- schema -----------------------------------------------------------------


@dataclass(frozen=True)
class KindSpec:
    name: str
    description: str
    ids: tuple[str, ...]  # allowed course IDs; empty = any


class _EntryModel(BaseModel):
    """The schema of one entry, as promised to the QA team in lexicons/README.md."""

    model_config = ConfigDict(extra="forbid", strict=False)

    phrase: str | None = None
    pattern: list[dict[str, Any]] | None = None
    id: str
    kind: str
    role: Literal["agent", "customer", "any"]
    weight: float = Field(default=1.0, gt=0.0, le=10.0)
    negatable: bool = False

    @field_validator("id")
    @classmethod
    def _known_id(cls, value: str) -> str:
        return check_course_id(value)

    @field_validator("phrase", mode="before")
    @classmethod
    def _not_yaml_bool(cls, value: Any) -> Any:
        if isinstance(value, (bool, int, float)):
            raise ValueError(f'YAML read this phrase as {value!r}; put it in quotes (phrase: "yes")')  # noqa: TRY004 (pydantic reports only ValueError)
        return value

    @field_validator("phrase")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("phrase is empty")
        return None if value is None else " ".join(value.split())

    @model_validator(mode="after")
    def _one_of(self) -> _EntryModel:
        if (self.phrase is None) == (self.pattern is None):
            raise ValueError("give exactly one of 'phrase' or 'pattern'")
        if self.pattern is not None:
            from spacy.schemas import validate_token_pattern

            if not self.pattern:
                raise ValueError("pattern is an empty list")
            problems = validate_token_pattern(self.pattern)
            if problems:
                raise ValueError("bad spaCy token pattern: " + "; ".join(problems))
        return self


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str
    entries: list[Any]


# --- loading ----------------------------------------------------------------


def lexicon_root(root: Path | str | None = None) -> Path:
    """The folder holding one sub-folder per language (argument, then $CALLQA_LEXICONS, then the repo's)."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_ROOT


def config_file(name: str, root: Path | str | None = None) -> Path:
    """A shared settings file (kinds.yaml, matching.yaml): from the root if it has one, else the built-in."""
    candidate = lexicon_root(root) / name
    return candidate if candidate.is_file() else DEFAULT_ROOT / name


def available_languages(root: Path | str | None = None) -> list[str]:
    """Languages that have a lexicon folder with at least one YAML file."""
    base = lexicon_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def load_lexicon(language: str, root: Path | str | None = None) -> Lexicon:
    """Load and validate one language's lexicon (cached per language and root)."""
    return _load_cached(language, str(lexicon_root(root).resolve()))


@functools.lru_cache(maxsize=32)
def _load_cached(language: str, root: str) -> Lexicon:
    base = Path(root)
    folder = base / language
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        have = ", ".join(available_languages(base)) or "none"
        raise LexiconError(
            f"no lexicon for language {language!r} in {folder} (available: {have}); "
            f"create {folder}/ with YAML files as described in lexicons/README.md, "
            f"or point ${ENV_VAR} at a folder that has one"
        )
    kinds = load_kinds(base)
    entries: list[LexiconEntry] = []
    seen: dict[tuple[str, str], LexiconEntry] = {}
    files = sorted(folder.glob("*.yaml"))
    for path in files:
        for entry in _load_file(path, language, kinds):
            key = (_normal(entry.phrase), entry.kind) if entry.phrase is not None else None
            if key is not None:
                if key in seen:
                    first = seen[key]
                    raise LexiconError(
                        f"{path}:{entry.line}: duplicate phrase {entry.phrase!r} with kind {entry.kind!r} "
                        f"(first at {first.source}:{first.line}); delete one of them"
                    )
                seen[key] = entry
            entries.append(entry)
    return Lexicon(language=language, root=base, entries=entries, files=files)


def _normal(phrase: str | None) -> str:
    return (phrase or "").casefold()


@functools.lru_cache(maxsize=8)
def _kinds_cached(path: str) -> dict[str, KindSpec]:
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"cannot read the kinds list {file}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("kinds"), dict):
        raise LexiconError(f"{file}: expected a mapping 'kinds: {{name: {{description, ids}}}}'")
    kinds = {}
    for name, spec in data["kinds"].items():
        spec = spec or {}
        ids = tuple(spec.get("ids") or ())
        bad = [i for i in ids if i not in COURSE_IDS]
        if bad:
            raise LexiconError(f"{file}: kind {name!r} lists unknown course IDs {bad}")
        kinds[str(name)] = KindSpec(str(name), str(spec.get("description", "")), ids)
    return kinds


def load_kinds(root: Path | str | None = None) -> dict[str, KindSpec]:
    """The known kinds (lexicons/kinds.yaml), each with a description and allowed course IDs."""
    return _kinds_cached(str(config_file(KINDS_FILE, root)))


def _load_file(path: Path, language: str, kinds: dict[str, KindSpec]) -> list[LexiconEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: cannot read ({exc}); save it as UTF-8") from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise LexiconError(f"{path}:1: file is empty; it needs 'language:' and 'entries:'")
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        # An unclosed bracket is noticed lines later: name where it was opened.
        context, problem_mark = getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
        mark = context or problem_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        if problem_mark is not None and context is not None and problem_mark.line != context.line:
            problem += f", noticed on line {problem_mark.line + 1}"
        raise LexiconError(
            f"{path}:{line}: not valid YAML ({problem or exc}); fix the indentation, brackets or quoting"
        ) from exc
    finally:
        loader.dispose()

    try:
        header = _FileModel.model_validate(data)
    except ValidationError as exc:
        raise LexiconError(
            f"{path}:{root.start_mark.line + 1}: the file must be a mapping with 'language:' and 'entries:' "
            f"({_pydantic_message(exc)})"
        ) from exc
    if header.language != language:
        line = _key_line(root, "language") or 1
        raise LexiconError(
            f"{path}:{line}: says language {header.language!r} but lies in the {language!r} folder; "
            f"fix 'language:' or move the file"
        )
    entries_node = _value_node(root, "entries")
    nodes = entries_node.value if isinstance(entries_node, yaml.SequenceNode) else []
    result = []
    for raw, node in zip(header.entries, nodes):
        result.append(_entry(raw, node, path, language, kinds))
    return result


def _entry(raw: Any, node: yaml.Node, path: Path, language: str, kinds: dict[str, KindSpec]) -> LexiconEntry:
    line = node.start_mark.line + 1
    if not isinstance(raw, dict):
        raise LexiconError(f"{path}:{line}: an entry must be a mapping (phrase/pattern, id, kind, role)")
    try:
        model = _EntryModel.model_validate(raw)
    except ValidationError as exc:
        field_name = next((str(err["loc"][0]) for err in exc.errors() if err["loc"]), None)
        where = _key_line(node, field_name) if field_name else None
        raise LexiconError(f"{path}:{where or line}: bad entry: {_pydantic_message(exc)}") from exc
    spec = kinds.get(model.kind)
    if spec is None:
        where = _key_line(node, "kind") or line
        raise LexiconError(
            f"{path}:{where}: unknown kind {model.kind!r}; use one of the kinds in lexicons/kinds.yaml "
            f"(or add it there with a description)"
        )
    if spec.ids and model.id not in spec.ids:
        where = _key_line(node, "id") or line
        raise LexiconError(
            f"{path}:{where}: kind {model.kind!r} must carry id {' or '.join(spec.ids)}, not {model.id!r}"
        )
    return LexiconEntry(
        id=model.id,
        kind=model.kind,
        role=model.role,
        phrase=model.phrase,
        pattern=tuple(model.pattern) if model.pattern is not None else None,
        weight=model.weight,
        negatable=model.negatable,
        language=language,
        source=str(path),
        line=line,
    )


def _value_node(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _key_line(mapping: yaml.Node, key: str) -> int | None:
    if isinstance(mapping, yaml.MappingNode):
        for k, _ in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k.start_mark.line + 1
    return None


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


# --- command line -----------------------------------------------------------


def check(root: Path | str | None = None, out=None) -> int:
    """Validate every language; print entries per course ID and kind. Returns a process exit code."""
    out = out or sys.stdout
    base = lexicon_root(root)
    languages = available_languages(base)
    if not languages:
        print(f"no lexicon folders under {base}", file=out)
        return 1
    status = 0
    for language in languages:
        try:
            lexicon = load_lexicon(language, base)
        except LexiconError as exc:
            print(f"{language}: ERROR {exc}", file=out)
            status = 1
            continue
        counts = lexicon.counts()
        print(f"{language}: {len(lexicon.entries)} entries in {len(lexicon.files)} files", file=out)
        print("  by id:   " + ", ".join(f"{k} {v}" for k, v in sorted(counts["id"].items())), file=out)
        print("  by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(counts["kind"].items())), file=out)
        missing = [k for k in load_kinds(base) if k not in counts["kind"]]
        if missing:
            print("  kinds without entries: " + ", ".join(missing), file=out)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "check":
        print("usage: python -m qa.text.lexicon check [ROOT]", file=sys.stderr)
        return 2
    return check(argv[1] if len(argv) > 1 else None)


if __name__ == "__main__":
    raise SystemExit(main())
