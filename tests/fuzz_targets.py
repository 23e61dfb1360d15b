"""Fuzz targets shared by tests/test_fuzz.py (a few hundred examples each) and bench/fuzz.py (10^5 each).

Each target is a hypothesis strategy of inputs and a function that feeds one
input to a callqa reader or loader. The only outcomes allowed are a result or
a ``CallqaError`` (a coded error); anything else is a crash. Inputs mix
well-formed files with the kinds of damage found in real archives: wrong
scalar types, non-finite and huge numbers, deep nesting, stray bytes, long
fields, empty and emoji-only turns.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- building blocks
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", " ", "agent", "customer", "zh", "en", "es", "😀", "0", "1", "agent,customer", "1e308"]),
)
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=12)
_TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["", "   ", "😀😀", "您好，请问有什么可以帮您？", "hola", "ok\u200b",
                                                            "\ufeff", "\x00", "a" * 300]))
_TIME = st.one_of(st.floats(min_value=0, max_value=50_000, allow_nan=False).map(lambda x: f"{x:.2f}"),
                  st.sampled_from(["00:01.5", "0:00:02", "99999999999", "99999999999.5", "-1", "nan", "inf", "1e5",
                                   "9" * 400, "", "12:", "::"]))
_ROLE = st.sampled_from(["agent", "customer", "客户", "坐席", "agente", "c", "robot", "agent:", "客户：", ""])


_GOOD_TIME = st.floats(min_value=0, max_value=30_000, allow_nan=False).map(lambda x: f"{x:.2f}")
_GOOD_ROLE = st.sampled_from(["agent", "customer", "客户", "坐席", "agente", "cliente", "c", "a"])


@st.composite
def timed_text(draw) -> str:
    """Mostly well-formed chat logs and transcripts, with every kind of damage now and then."""
    header = ["# language: " + draw(st.sampled_from(["zh", "zh", "en", "es", "fr", ""]))]
    header += draw(st.lists(st.sampled_from(["# call_id: x", "# agent_id: A1", "#", "# team:"]), max_size=2))
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["timed"] * 5 + ["untimed"] * 2 + ["empty", "hostile", "junk"]))
        if kind == "timed":
            start, end = sorted([float(draw(_GOOD_TIME)), float(draw(_GOOD_TIME))])
            lines.append(f"{start:.2f} {end:.2f} {draw(_GOOD_ROLE)} {draw(_TEXT)}")
        elif kind == "untimed":
            lines.append(f"{draw(_GOOD_ROLE)}{draw(st.sampled_from([' ', ': ', '：']))}{draw(_TEXT)}")
        elif kind == "empty":
            lines.append(f"{draw(_GOOD_TIME)} {draw(_GOOD_TIME)} {draw(_GOOD_ROLE)}")
        elif kind == "hostile":
            lines.append(f"{draw(_TIME)} {draw(_TIME)} {draw(_ROLE)} {draw(_TEXT)}")
        else:
            lines.append(draw(_TEXT))
    return "\n".join(header + lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@functools.lru_cache(maxsize=1)
def _valid_base() -> str:
    """Built once, at import: parsing it in every draw made each draw long, and Hypothesis warns when
    anything (another test's background thread too) touches the global ``random`` while a draw runs."""
    from qa.intake.transcript_io import parse_timed_text, transcript_to_dict

    t = parse_timed_text("# language: zh\n# call_id: fz\n0 2 agent 您好\n2.5 4 customer 我要退款\n")
    data = transcript_to_dict(t)
    data["utterances"][0]["words"] = [{"start": 0.0, "end": 0.5, "text": "您", "probability": 0.9}]
    data["gaps"] = [{"start": 2.0, "end": 2.5}]
    return json.dumps(data)


def _valid_transcript() -> dict[str, Any]:
    return json.loads(_valid_base())


_TRANSCRIPT_PATHS = [
    ("call_id",), ("language",), ("duration",), ("utterances",), ("utterances", 0), ("utterances", 0, "text"),
    ("utterances", 0, "start"), ("utterances", 0, "end"), ("utterances", 0, "role"), ("utterances", 0, "words"),
    ("utterances", 0, "words", 0, "start"), ("utterances", 0, "words", 0, "text"), ("utterances", 1, "confidence"),
    ("gaps",), ("gaps", 0, "end"), ("roles",), ("roles", "notes"), ("roles", "confidence"),
    ("roles", "speaker_roles"), ("meta",), ("meta", "channel_map"), ("meta", "call_id"), ("meta", "language"),
    ("meta", "extra"), ("language_probability",), ("source",), ("asr",), ("format",), ("version",),
]


_valid_base()


@st.composite
def json_transcript(draw) -> str:
    if draw(st.integers(0, 9)) == 0:  # raw text now and then: broken JSON, deep nesting
        return draw(st.one_of(st.text(max_size=60), st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)))
    data = _valid_transcript()
    data["meta"] = {"call_id": "fz", "channel_map": {"0": "agent", "1": "customer"}, "language": "zh"}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_TRANSCRIPT_PATHS))
        node = data
        for part in path[:-1]:
            node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
            if node is None:
                break
        if node is not None and _has(node, path[-1]):
            node[path[-1]] = draw(_JSON)
    return json.dumps(data, ensure_ascii=False, allow_nan=True)


def _has(node: Any, part: Any) -> bool:
    return (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int)
                                                         and part < len(node))


@st.composite
def sidecar(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=80))
    if kind == 1:
        n = draw(st.integers(1, 2000))
        return ('{"x": ' + "[" * n + "]" * n * draw(st.integers(0, 1)) + "}").encode()
    base = {"call_id": "c1", "agent_id": "A1", "team": "T", "started_at": "2024-05-01T10:00:00",
            "language": "zh", "channel_map": "agent,customer"}
    for key in draw(st.lists(st.sampled_from(list(base) + ["queue"]), max_size=3)):
        base[key] = draw(st.one_of(_JSON, st.sampled_from(["x" * 5000, "\udcff", "customer,agent,agent"])))
    text = json.dumps(base, ensure_ascii=False, allow_nan=True) if draw(st.booleans()) else json.dumps(draw(_JSON))
    return text.encode("utf-8", "surrogatepass") + (b"\xff" if draw(st.integers(0, 9)) == 0 else b"")


@st.composite
def manifest(draw) -> bytes:
    columns = draw(st.lists(st.sampled_from(["file", "call_id", "agent_id", "team", "language", "channel_map",
                                             "started_at", "", "file"]), min_size=0, max_size=5))
    rows = [",".join(columns)]
    for _ in range(draw(st.integers(0, 4))):
        cells = [draw(st.one_of(st.text(max_size=10), st.sampled_from(["call.txt", '"open', "x" * 5000, "zh",
                                                                        '"agent,customer"', "\x00", "fr"])))
                 for _ in range(draw(st.integers(0, 6)))]
        rows.append(",".join(cells))
    text = "\n".join(rows).encode("utf-8", "surrogatepass")
    extra = draw(st.sampled_from([b"", b"", b"\xff\xfe", b'\ncall.txt,"' + b"y" * 140_000 + b'"']))
    return text + extra


_THRESHOLD_KEYS = [("silence", "dead_air"), ("silence", "hold_min"), ("repetition", "similarity"),
                   ("repetition", "max_earlier"), ("complaint_class", "major_on_harm"), ("stages", "loud_cap"),
                   ("cues", "closing_share"), ("silense", "dead_air"), ("silence", "dead_ari"), ("rate",)]


@st.composite
def thresholds_override(draw) -> Any:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(st.text(max_size=80), st.integers(1, 500).map(lambda n: "a: " + "[" * n + "]" * n)))
    override: dict[str, Any] = {}
    for path in draw(st.lists(st.sampled_from(_THRESHOLD_KEYS), min_size=1, max_size=3)):
        value = draw(st.one_of(_JSON, st.sampled_from([float("inf"), float("nan"), 1e308, -1, 0, 0.5, True])))
        if len(path) == 1:
            override[path[0]] = value
        else:
            if not isinstance(override.get(path[0]), dict):
                override[path[0]] = {}
            override[path[0]][path[1]] = value
    return override


def _yaml_dump(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, default_flow_style=False)


@st.composite
def lexicon_file(draw) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.one_of(st.text(max_size=80), st.integers(1, 400).map(lambda n: "[" * n + "]" * n)))
    entry = {"phrase": "太过分了", "id": "T-TONE", "kind": "anger", "role": "customer", "weight": 1.0}
    entries = [dict(entry) for _ in range(draw(st.integers(0, 3)))]
    for e in entries:
        for key in draw(st.lists(st.sampled_from(["phrase", "id", "kind", "role", "weight", "negatable", "pattern",
                                                  "knd"]), max_size=2)):
            e[key] = draw(st.one_of(_JSON, st.sampled_from([float("nan"), float("inf"), 1e308, "angr", "P99",
                                                            [{"LOWER": "x"}], [{"BAD": 1}]])))
    data: Any = {"language": draw(st.sampled_from(["zh", "en", 1, None])), "entries": entries}
    if draw(st.integers(0, 6)) == 0:
        data = draw(_JSON)
    return _yaml_dump(data)


@st.composite
def settings_file(draw) -> str:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.text(max_size=120))
    if choice == 1:
        n = draw(st.integers(1, 3000))
        return draw(st.sampled_from(["a: " + "[" * n + "]" * n, "a: " + "{b: " * n + "1" + "}" * n,
                                     "".join("  " * k + "- \n" for k in range(min(n, 300))),
                                     "a: &a [*a]\n", "a: !!python/object:os.system {}\n"]))
    inner = {"seconds": draw(st.one_of(st.floats(0, 100), _JSON, st.sampled_from([".inf", ".nan", "1.0e+308", "3"]))),
             "name": draw(st.one_of(st.text(max_size=10), _JSON))}
    data = {"first": inner}
    if draw(st.booleans()):
        data[draw(st.sampled_from(["items", "extra", "first"]))] = draw(st.one_of(st.just([]), st.just([inner]), _JSON))
    return _yaml_dump(data)


@functools.cache
def _default_rubric() -> dict:
    """Parsed once: re-parsing 40 KB of YAML per example was 90% of the target's time."""
    import yaml

    return yaml.load((REPO / "rubrics" / "default.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@st.composite
def rubric_file(draw) -> str:
    import yaml

    data = copy.deepcopy(_default_rubric())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "item", "matcher"]))
        value = draw(st.one_of(_JSON, st.sampled_from([float("inf"), float("nan"), 1e308, -1, "knd", [], {}])))
        if where == "top":
            data[draw(st.sampled_from(["partial_credit", "version", "name", "items", "extra"]))] = value
        elif isinstance(data.get("items"), list) and data["items"]:
            item = data["items"][draw(st.integers(0, len(data["items"]) - 1))]
            if not isinstance(item, dict):
                continue
            if where == "item":
                item[draw(st.sampled_from(["weight", "id", "title", "otherwise", "tip", "fail_if", "wieght"]))] = value
            else:
                rules = item.get("fail_if") or item.get("pass_if")
                if isinstance(rules, list) and rules and isinstance(rules[0], dict):
                    rules[0][draw(st.sampled_from(["kind", "value_min", "value_max", "count_min", "detail",
                                                   "role", "knd"]))] = value
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True)


# ---------------------------------------------------------------- runners
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="callqa-fuzz-"))


def run_timed_text(text: str) -> Any:
    from qa.intake.transcript_io import parse_timed_text

    return parse_timed_text(text, source="fuzz.txt")


def run_json_transcript(text: str) -> Any:
    from qa.intake.transcript_io import loads

    return loads(text, "fuzz.json")


def _in_file(name: str, data: bytes | str, reader: Callable[[Path], Any]) -> Any:
    folder = _scratch()
    path = folder / name
    (path.write_bytes if isinstance(data, bytes) else lambda d: path.write_text(d, encoding="utf-8"))(data)
    try:
        return reader(path)
    finally:
        for p in folder.rglob("*"):
            if p.is_file():
                p.unlink()
        for p in sorted(folder.rglob("*"), reverse=True):
            p.rmdir()
        folder.rmdir()


def run_transcript_file(data: bytes) -> Any:
    from qa.intake.transcript_io import read_transcript

    return _in_file("call.txt", data, read_transcript)


def run_sidecar(data: bytes) -> Any:
    from qa.intake.meta import read_sidecar

    return _in_file("call.wav.json", data, lambda p: read_sidecar(p, "call"))


def run_manifest(data: bytes) -> Any:
    from qa.intake.meta import _manifest

    return _in_file("manifest.csv", data, lambda p: _manifest(p, os.stat(p).st_mtime_ns + id(data)))


def run_thresholds(override: Any) -> Any:
    from qa.tagging.thresholds import load_thresholds

    if isinstance(override, str):
        return _in_file("mine.yaml", override, load_thresholds)
    return load_thresholds(override)


def run_lexicon(text: str) -> Any:
    from qa.text.lexicon import load_lexicon

    folder = _scratch()
    (folder / "zh").mkdir()
    (folder / "zh" / "tone.yaml").write_text(text, encoding="utf-8")
    (folder / "kinds.yaml").write_text((REPO / "lexicons" / "kinds.yaml").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    try:
        return load_lexicon("zh", folder)
    finally:
        for p in sorted(folder.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        folder.rmdir()


def run_settings(text: str) -> Any:
    from pydantic import Field

    from qa.common.settings import Number, Settings, load_settings

    class Inner(Settings):
        seconds: Number = Field(ge=0, le=100)
        name: str = "x"

    class Outer(Settings):
        first: Inner
        items: list[Inner] = []

    return _in_file("s.yaml", text, lambda p: load_settings(p, Outer))


def run_rubric(text: str) -> Any:
    from qa.scoring.rubric import load_rubric

    return _in_file("rubric.yaml", text, load_rubric)


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy
    run: Callable[[Any], Any]


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("timed_text", timed_text(), run_timed_text),
    Target("transcript_file", st.one_of(timed_text().map(lambda s: s.encode("utf-8", "surrogatepass")),
                                        json_transcript().map(lambda s: s.encode("utf-8", "surrogatepass")),
                                        st.binary(max_size=100)), run_transcript_file),
    Target("json_transcript", json_transcript(), run_json_transcript),
    Target("sidecar", sidecar(), run_sidecar),
    Target("manifest", manifest(), run_manifest),
    Target("thresholds", thresholds_override(), run_thresholds),
    Target("lexicon", lexicon_file(), run_lexicon),
    Target("settings", settings_file(), run_settings),
    Target("rubric", rubric_file(), run_rubric),
)}


def outcome(target: Target, value: Any) -> tuple[str, BaseException | None]:
    """("accepted" | the error code | "crash:<type>", the crash) for one input."""
    from qa.errors import CallqaError

    try:
        target.run(value)
    except CallqaError as exc:
        return exc.code, None
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        return f"crash:{type(exc).__name__}", exc
    return "accepted", None

