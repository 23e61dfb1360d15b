"""Labelled real dialogues: read the references in datasets/real/ and the texts they point at.

The real dialogues (STC-3, JDDC, OASIS, DIHANA, USS, TWCS: research-only)
may not be copied into the repository, so their labels are kept as references
(source, dialogue id, turn, part, character span) and the words are read from
the shared research data at evaluation time: ``$CALLQA_SHARED_DATA``, else
``../shared/data`` next to the repository. Without it, ``shared_data_dir``
returns None and the callers skip with ``MISSING_DATA``; the shippable
sources (CrossWOZ Apache-2.0, ABCD MIT) carry their text in
datasets/real/licensed/ and are always available.

Every source is read into the same shape, ``{dialogue id: [Turn, ...]}``,
with each turn's role (agent / customer) and its parts (a turn of several
messages has several parts), so a reference is (source, dialogue, turn, part,
start, end) whatever the corpus. The train/test split is by dialogue and
deterministic (``split_of``).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qa.common.settings import shipped
from qa.errors import RealSetError

#: Only for finding ../shared/data beside a checkout (research data that never ships).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The labelled sets ship as package data (qa/data/datasets links to datasets/): found so in a wheel too.
REAL_DIR = Path(str(shipped("datasets", "real")))
SHARED_ENV = "CALLQA_SHARED_DATA"
#: Share of dialogues in the test split (by a hash of source and dialogue id).
TEST_SHARE = 0.3
MISSING_DATA = (f"the shared research data is not here (set ${SHARED_ENV}, or put it at ../shared/data next to "
                f"the repository): the research-only labelled sets are skipped")

#: source -> (file under the shared data, or None when the text ships in datasets/real/licensed/, language)
SOURCES: dict[str, tuple[str | None, str]] = {
    "stc3_zh": ("dialogues/stc3/stc3_zh_dev.json", "zh"),
    "stc3_en": ("dialogues/stc3/stc3_en_dev.json", "en"),
    "jddc": ("dialogues/jddc/chat_300_sessions.tsv", "zh"),
    "crosswoz": (None, "zh"),
    "dihana": ("dialogues/dihana_es/dihana_dev.csv", "es"),
    "oasis": ("dialogues/oasis_bt_calls/oasis_dev.txt", "en"),
    "uss_sgd": ("dialogues/uss_en/SGD_200.txt", "en"),
    "uss_mwoz": ("dialogues/uss_en/MWOZ_200.txt", "en"),
    "twcs": ("dialogues/twcs_en/twcs_200_labeled.csv", "en"),
    "abcd": (None, "en"),
}
LICENSED_TEXTS = REAL_DIR / "licensed" / "dialogues.jsonl"
#: Sources whose text ships with callqa (their licences allow it): the only real text the shipped models train on.
SHIPPABLE: tuple[str, ...] = tuple(name for name, (path, _) in SOURCES.items() if path is None)


@dataclass(frozen=True)
class Turn:
    role: str  # agent | customer
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Ref:
    """Where a labelled span is: part ``part`` of turn ``turn`` of a dialogue, characters [start, end)."""

    source: str
    dialogue: str
    turn: int
    part: int = 0
    start: int = 0
    end: int = -1  # -1: to the end of the part


def shared_data_dir() -> Path | None:
    """$CALLQA_SHARED_DATA, else ../shared/data next to the repository; None when neither exists."""
    env = os.environ.get(SHARED_ENV)
    candidates = [Path(env)] if env else [REPO_ROOT.parent / "shared" / "data"]
    return next((p for p in candidates if p.is_dir()), None)


def split_of(source: str, dialogue: str, salt: str = "") -> str:
    """'test' for about TEST_SHARE of the dialogues, fixed by a hash of source and id; else 'train'.

    Each labelled set has its own ``salt`` (the questions none, the dialogues "dialogues"): the
    dialogues were picked in the order of the unsalted hash, which would have put them all in test.
    """
    digest = hashlib.sha1(f"{salt}{source}:{dialogue}".encode()).digest()
    return "test" if int.from_bytes(digest[:4], "big") / 2 ** 32 < TEST_SHARE else "train"


def is_available(source: str) -> bool:
    """Whether this source's text can be read here (shippable ones always; others need the shared data)."""
    path, _ = _spec(source)
    if path is None:
        return LICENSED_TEXTS.is_file()
    root = shared_data_dir()
    return root is not None and (root / path).is_file()


def _spec(source: str) -> tuple[str | None, str]:
    try:
        return SOURCES[source]
    except KeyError:
        raise RealSetError(f"unknown source {source!r}; known: {', '.join(SOURCES)}") from None


@functools.lru_cache(maxsize=16)
def dialogues(source: str) -> dict[str, tuple[Turn, ...]]:
    """All dialogues of one source, ``{id: turns}``; RealSetError when its text is not here."""
    path, _ = _spec(source)
    if path is None:
        return _licensed(source)
    root = shared_data_dir()
    if root is None or not (root / path).is_file():
        raise RealSetError(f"{source}: {path} not found: {MISSING_DATA}")
    file = root / path
    try:
        return _READERS[source](file)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise RealSetError(f"{source}: cannot read {file}: {exc}") from exc


def resolve(ref: Ref) -> str:
    """The text a reference points at; RealSetError when it points outside the dialogue."""
    turns = dialogues(ref.source).get(ref.dialogue)
    if turns is None:
        raise RealSetError(f"{ref.source}: no dialogue {ref.dialogue!r}")
    if not 0 <= ref.turn < len(turns) or not 0 <= ref.part < len(turns[ref.turn].parts):
        raise RealSetError(f"{ref.source}/{ref.dialogue}: no turn {ref.turn} part {ref.part}")
    text = turns[ref.turn].parts[ref.part]
    end = len(text) if ref.end < 0 else ref.end
    if not 0 <= ref.start < end <= len(text):
        raise RealSetError(f"{ref.source}/{ref.dialogue} turn {ref.turn}: span {ref.start}:{ref.end} "
                           f"outside its {len(text)} characters")
    return text[ref.start:end]


def role_of(ref: Ref) -> str:
    return dialogues(ref.source)[ref.dialogue][ref.turn].role


# --- readers: one per corpus, each into {dialogue id: (Turn, ...)} ---------------------------------


def _read_stc3(file: Path) -> dict[str, tuple[Turn, ...]]:
    data = json.loads(file.read_text(encoding="utf-8"))
    return {str(d["id"]): tuple(Turn("customer" if t["sender"] == "customer" else "agent", tuple(t["utterances"]))
                                for t in d["turns"]) for d in data}


def _read_jddc(file: Path) -> dict[str, tuple[Turn, ...]]:
    out: dict[str, list[Turn]] = {}
    with file.open(encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(fields) < 7:
                continue
            role = "agent" if fields[2] == "1" else "customer"
            out.setdefault(fields[0], []).append(Turn(role, ("\t".join(fields[6:]),)))
    return {k: tuple(v) for k, v in out.items()}


def _read_dihana(file: Path) -> dict[str, tuple[Turn, ...]]:
    out: dict[str, list[Turn]] = {}
    with file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = f"{row['Dialogue_ID']}/{row['File_ID']}"
            out.setdefault(key, []).append(Turn("agent" if row["Speaker"] == "M" else "customer", (row["Utterance"],)))
    return {k: tuple(v) for k, v in out.items()}


def _read_oasis(file: Path) -> dict[str, tuple[Turn, ...]]:
    """OASIS has no dialogue ids: a call starts at a greeting after a line that is not one (id: its line number)."""
    out: dict[str, list[Turn]] = {}
    key, previous_act = "L1", "greet"
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("|")
        if len(fields) < 3:
            continue
        act = fields[-1]
        if act == "greet" and previous_act != "greet" and out.get(key):
            key = f"L{number}"
        previous_act = act
        out.setdefault(key, []).append(Turn("agent" if fields[0] == "a" else "customer", ("|".join(fields[1:-1]),)))
    return {k: tuple(v) for k, v in out.items()}


def _read_uss(file: Path) -> dict[str, tuple[Turn, ...]]:
    out: dict[str, tuple[Turn, ...]] = {}
    session: list[Turn] = []
    for line in [*file.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if session:
                out[str(len(out))] = tuple(session)
            session = []
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] == "OVERALL":
            continue
        session.append(Turn("agent" if fields[0] == "SYSTEM" else "customer", (fields[1],)))
    return out


def _read_twcs(file: Path) -> dict[str, tuple[Turn, ...]]:
    with file.open(encoding="utf-8", newline="") as handle:
        return {str(n): (Turn("customer", (row["text"],)),) for n, row in enumerate(csv.DictReader(handle))}


_READERS = {"stc3_zh": _read_stc3, "stc3_en": _read_stc3, "jddc": _read_jddc, "dihana": _read_dihana,
            "oasis": _read_oasis, "uss_sgd": _read_uss, "uss_mwoz": _read_uss, "twcs": _read_twcs}


def _licensed(source: str) -> dict[str, tuple[Turn, ...]]:
    """CrossWOZ / ABCD dialogues shipped in datasets/real/licensed/dialogues.jsonl (one dialogue a line)."""
    out = {}
    try:
        lines = LICENSED_TEXTS.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RealSetError(f"cannot read {LICENSED_TEXTS}: {exc}; restore it from the repository") from exc
    for number, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
            if item["source"] == source:
                out[str(item["dialogue"])] = tuple(Turn(t["role"], tuple(t["parts"])) for t in item["turns"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RealSetError(f"{LICENSED_TEXTS}:{number}: bad line ({exc})") from exc
    return out


def read_tsv(file: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    """A labels file (tab-separated, header line, '#' comments) as dicts; RealSetError names a bad line."""
    columns = tuple(columns)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RealSetError(f"cannot read {file}: {exc}; restore it from the repository") from exc
    rows, header = [], None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = tuple(fields)
            if header != columns:
                raise RealSetError(f"{file}:{number}: header must be {' '.join(columns)}, got {' '.join(header)}")
            continue
        if len(fields) != len(columns):
            raise RealSetError(f"{file}:{number}: expected {len(columns)} tab-separated fields, got {len(fields)}")
        rows.append(dict(zip(columns, fields), line=str(number)))
    return rows


# --- the labelled question set ------------------------------------------------------------------

QUESTIONS_FILE = REAL_DIR / "questions.tsv"
QUESTION_COLUMNS = ("id", "language", "source", "dialogue", "turn", "part", "start", "end", "role", "label", "split")
QUESTION_LABELS = ("closed", "open", "controlling")


@dataclass(frozen=True)
class RealQuestion:
    """One real question with the labeller's class; ``text`` read from the dialogue it points at."""

    id: str
    language: str
    ref: Ref
    role: str
    label: str
    split: str
    text: str


def _int(row: dict[str, str], key: str, file: Path) -> int:
    try:
        return int(row[key])
    except ValueError:
        raise RealSetError(f"{file}:{row['line']}: {key} must be an integer, got {row[key]!r}") from None


def load_real_questions(path: Path | None = None, sources: Iterable[str] | None = None,
                        ) -> tuple[list[RealQuestion], list[str]]:
    """The labelled real questions whose text is here, and the sources skipped because it is not.

    ``sources`` keeps only those sources (``SHIPPABLE`` for the ones a user's install has). Each row
    is checked: known source and label, the source's language, and the split the dialogue hash
    gives (a row cannot move between splits by hand).
    """
    file = path or QUESTIONS_FILE
    wanted = set(sources) if sources is not None else None
    found, skipped = [], []
    for row in read_tsv(file, QUESTION_COLUMNS):
        if wanted is not None and row["source"] not in wanted:
            continue
        source = row["source"]
        language = _spec(source)[1]
        where = f"{file}:{row['line']}"
        if row["language"] != language:
            raise RealSetError(f"{where}: {source} is {language}, not {row['language']}")
        if row["label"] not in QUESTION_LABELS:
            raise RealSetError(f"{where}: label {row['label']!r}; use one of {', '.join(QUESTION_LABELS)}")
        if row["split"] != split_of(source, row["dialogue"]):
            raise RealSetError(f"{where}: split {row['split']!r}, but dialogue {row['dialogue']} is in "
                               f"{split_of(source, row['dialogue'])!r} (splits are by dialogue, see split_of)")
        if not is_available(source):
            if source not in skipped:
                skipped.append(source)
            continue
        ref = Ref(source, row["dialogue"], _int(row, "turn", file), _int(row, "part", file),
                  _int(row, "start", file), _int(row, "end", file))
        found.append(RealQuestion(row["id"], language, ref, row["role"], row["label"], row["split"], resolve(ref)))
    return found, skipped


# --- the labelled dialogue set (complaint stages and item verdicts) -----------------------------

DIALOGUES_FILE = REAL_DIR / "dialogues.tsv"
#: Items whose verdict a text allows and the labeller gave (definitions in datasets/README.md).
VERDICT_ITEMS: tuple[str, ...] = ("P1", "P2", "P5", "R4", "R6", "P4")
DIALOGUE_COLUMNS = ("id", "source", "dialogue", "peak", "final", *VERDICT_ITEMS, "split")
STAGES = tuple(f"S{i}" for i in range(7))
VERDICTS = ("pass", "fail", "n/a")
DIALOGUE_SALT = "dialogues"
#: Text chats have no timings: each turn lasts its length at this rate (characters per second), then a gap.
CHARS_PER_SECOND = 4.0
TURN_GAP = 1.0


@dataclass(frozen=True)
class RealDialogue:
    """One real dialogue with the labeller's peak and final stage and item verdicts."""

    id: str
    source: str
    dialogue: str
    language: str
    peak: str
    final: str
    verdicts: dict[str, str]
    split: str
    turns: tuple[Turn, ...]


def load_real_dialogues(path: Path | None = None) -> tuple[list[RealDialogue], list[str]]:
    """The labelled dialogues whose text is here, and the sources skipped because it is not."""
    file = path or DIALOGUES_FILE
    found, skipped = [], []
    for row in read_tsv(file, DIALOGUE_COLUMNS):
        source, where = row["source"], f"{file}:{row['line']}"
        language = _spec(source)[1]
        bad = [f"{key} {row[key]!r}" for key in ("peak", "final") if row[key] not in STAGES]
        bad += [f"{key} {row[key]!r}" for key in VERDICT_ITEMS if row[key] not in VERDICTS]
        if bad:
            raise RealSetError(f"{where}: bad {', '.join(bad)}; stages are S0..S6, verdicts {', '.join(VERDICTS)}")
        expected = split_of(source, row["dialogue"], DIALOGUE_SALT)
        if row["split"] != expected:
            raise RealSetError(f"{where}: split {row['split']!r}, but dialogue {row['dialogue']} is in {expected!r}")
        if not is_available(source):
            if source not in skipped:
                skipped.append(source)
            continue
        turns = dialogues(source).get(row["dialogue"])
        if turns is None:
            raise RealSetError(f"{where}: {source} has no dialogue {row['dialogue']!r}")
        found.append(RealDialogue(row["id"], source, row["dialogue"], language, row["peak"], row["final"],
                                  {k: row[k] for k in VERDICT_ITEMS}, row["split"], turns))
    return found, skipped


def dialogue_transcript(item: RealDialogue):
    """A labelled dialogue as a Transcript: one utterance per turn, times made up from text length (not real)."""
    from qa.intake.transcript_io import gaps_between
    from qa.types import CallMeta, RoleAssignment, Transcript, Utterance

    utterances, t = [], 0.0
    for turn in item.turns:
        text = " ".join(" ".join(p.split()) for p in turn.parts).strip()
        if not text:
            continue
        seconds = max(1.0, len(text) / CHARS_PER_SECOND)
        utterances.append(Utterance(role=turn.role, start=round(t, 2), end=round(t + seconds, 2), text=text,
                                    speaker=turn.role))
        t += seconds + TURN_GAP
    call_id = f"{item.source}-{item.dialogue}"
    return Transcript(call_id=call_id, language=item.language, duration=round(t, 2), utterances=utterances,
                      gaps=gaps_between(utterances, t), roles=RoleAssignment("import", 1.0),
                      meta=CallMeta(call_id=call_id, language=item.language),
                      source={"format": f"realset:{item.source}", "timings": "made up from text length"},
                      timing="text")
