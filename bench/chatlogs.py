"""Real chat logs as timed text: how many import, before and after the chat-log handling (issue 12, item 4).

Each real helpdesk dialogue (NTCIR-14 STC-3 Chinese, JD.com JDDC sessions) is
written as callqa timed text, one turn a line, and read with
``parse_timed_text``. Two forms: timed (times from the turn's length, 4
characters a second, as bench/scoring.py does) and untimed (``customer: text``,
as many chat exports are). An empty turn (an image or a sticker in the chat)
becomes a line with no text. ``--old REV`` also reads them with the parser of
an older commit, to compare. The texts stay in ../shared/data (research use).

    python bench/chatlogs.py [--old cb38056]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data")) / "dialogues"
CHARS_PER_SECOND = 4.0


def stc3(limit: int | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    dialogues = json.loads((DATA / "stc3" / "stc3_zh_dev.json").read_text(encoding="utf-8"))[:limit]
    return [(d["id"], [("customer" if t["sender"] == "customer" else "agent", " ".join(t["utterances"]).strip())
                       for t in d["turns"]]) for d in dialogues]


def jddc() -> list[tuple[str, list[tuple[str, str]]]]:
    sessions: dict[str, list[tuple[str, str]]] = collections.OrderedDict()
    for line in (DATA / "jddc" / "chat_300_sessions.tsv").read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        sessions.setdefault(cells[0], []).append(("agent" if cells[2] == "1" else "customer", cells[-1].strip()))
    return list(sessions.items())


def timed(turns: list[tuple[str, str]]) -> str:
    lines, t = ["# language: zh"], 0.0
    for role, text in turns:
        length = max(1.0, len(text) / CHARS_PER_SECOND)
        lines.append(f"{t:.2f} {t + length:.2f} {role} {' '.join(text.split())}".rstrip())
        t += length + 1.0
    return "\n".join(lines) + "\n"


def untimed(turns: list[tuple[str, str]]) -> str:
    return "# language: zh\n" + "".join(f"{role}: {' '.join(text.split())}\n" for role, text in turns)


def _old_parser(rev: str):
    """``parse_timed_text`` as it was at ``rev`` (its relative imports pointed at today's qa.errors / qa.types)."""
    path = "qa/transcript_io.py"
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], capture_output=True, text=True,
                            check=True).stdout
    source = source.replace("from .errors import", "from qa.errors import").replace("from .types import",
                                                                                     "from qa.types import")
    folder = Path(tempfile.mkdtemp())
    (folder / "old_transcript_io.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_transcript_io", folder / "old_transcript_io.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_timed_text


def count(parse, dialogues, form) -> dict:
    from qa.errors import CallqaError

    refused, notes = 0, collections.Counter()
    for name, turns in dialogues:
        try:
            t = parse(form(turns), default_call_id=name, source=name)
        except CallqaError:
            refused += 1
            continue
        for note in getattr(t.roles, "notes", []):
            notes[note.split(" (")[0].split(":")[0].lstrip("0123456789 ")] += 1
    return {"dialogues": len(dialogues), "refused": refused, "notes": dict(notes)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=None, help="also read with the parser of this commit (e.g. cb38056)")
    args = parser.parse_args()
    from qa.intake.transcript_io import parse_timed_text

    sets = {"stc3_zh_first_300": stc3(300), "stc3_zh_all_1200": stc3(), "jddc_300": jddc()}
    for name, dialogues in sets.items():
        empty = sum(any(not text for _, text in turns) for _, turns in dialogues)
        row = {"set": name, "with_an_empty_turn": empty,
               "timed_now": count(parse_timed_text, dialogues, timed),
               "untimed_now": count(parse_timed_text, dialogues, untimed)}
        if args.old:
            old = _old_parser(args.old)
            row["timed_before"] = count(old, dialogues, timed)
            row["untimed_before"] = count(old, dialogues, untimed)
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
