"""Propose real questions to label: every question-marked sentence (or question act) in the real dialogues.

Prints one candidate a line, ``key  role  text`` (key = source/dialogue/turn/part/start/end), in a fixed
order (a hash of the key), so that labelling in batches is reproducible:

    CALLQA_SHARED_DATA=/work/shared/data python datasets/real/candidates.py SOURCE [--role agent] [--limit N]

The labeller reads each candidate and writes its verdict into datasets/real/questions.tsv (by the guide in
datasets/README.md); candidates that are not questions are left out. Research-only text is printed to the
terminal only, never written into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from qa.intake.realsets import SOURCES, Ref, dialogues, resolve  # noqa: E402

_ZH_BOUNDARY = re.compile(r"[。！!？?；;\n～~…】\]]")
_LATIN_BOUNDARY = re.compile(r"(?<=[.!?])\s+|[\n¡]")
MAX_CHARS = {"zh": 50, "es": 160, "en": 160}
#: OASIS is unpunctuated: its question acts stand for the question mark.
OASIS_ACTS = {"reqInfo", "reqDirect", "reqModal", "offer"}
#: DIHANA callers mostly ask indirectly, without marks (quería saber el precio): their request acts with a
#: verb of asking; and the operator's short confirmations said as questions (Le consulto horarios .).
DIHANA_ASKING = re.compile(r"\b(saber|conocer|consultar|preguntar|informaci[oó]n|d[ií]game|decirme|me podr[ií]a)\b",
                           re.IGNORECASE)
DIHANA_REQUEST_ACTS = {"Pregunta", "Nueva_consulta"}


def question_spans(text: str, language: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence that ends in a question mark, trimmed to MAX_CHARS at a comma."""
    spans = []
    for mark in re.finditer(r"[?？]+", text):
        end = mark.end()
        if language == "zh":
            before = [m.end() for m in _ZH_BOUNDARY.finditer(text, 0, mark.start())]
        else:
            before = [m.end() for m in _LATIN_BOUNDARY.finditer(text, 0, mark.start())]
            opening = text.rfind("¿", 0, mark.start())
            if opening >= 0:
                before.append(opening)
        start = max(before, default=0)
        while start < end and text[start] in " \t,，、:：\"'“”)）":
            start += 1
        if end - start > MAX_CHARS[language]:
            commas = [m.end() for m in re.finditer(r"[,，、]", text[start:mark.start()])]
            cut = [start + c for c in commas if end - (start + c) <= MAX_CHARS[language]]
            start = cut[0] if cut else end - MAX_CHARS[language]
            while start < end and text[start] in " ,，、":
                start += 1
        if end - start >= 2 and (not spans or start >= spans[-1][1]):
            spans.append((start, end))
    return spans


def candidates(source: str) -> list[tuple[Ref, str, str]]:
    language = SOURCES[source][1]
    out = []
    oasis_acts = _oasis_acts() if source == "oasis" else {}
    dihana_acts = _dihana_acts() if source == "dihana" else {}
    for dialogue, turns in dialogues(source).items():
        for t, turn in enumerate(turns):
            for p, text in enumerate(turn.parts):
                if source == "oasis":
                    if oasis_acts.get((dialogue, t)) in OASIS_ACTS and len(text.split()) >= 2:
                        out.append((Ref(source, dialogue, t, p, 0, len(text)), turn.role, text))
                    continue
                spans = question_spans(text, language)
                if source == "dihana" and not spans:
                    act = dihana_acts.get((dialogue, t))
                    asks = turn.role == "customer" and act in DIHANA_REQUEST_ACTS and DIHANA_ASKING.search(text)
                    confirms = turn.role == "agent" and act == "Confirmacion" and len(text.split()) <= 8
                    if asks or confirms:
                        spans = [(0, len(text.rstrip(" .,")))]
                for start, end in spans:
                    out.append((Ref(source, dialogue, t, p, start, end), turn.role, text[start:end]))
    return sorted(out, key=lambda c: hashlib.sha1(key(c[0]).encode()).hexdigest())


def _oasis_acts() -> dict[tuple[str, int], str]:
    from qa.intake.realsets import shared_data_dir
    lines = (shared_data_dir() / SOURCES["oasis"][0]).read_text(encoding="utf-8").splitlines()
    acts, key, previous, index = {}, "L1", "greet", -1
    for number, line in enumerate(lines, 1):
        fields = line.split("|")
        if len(fields) < 3:
            continue
        if fields[-1] == "greet" and previous != "greet" and index >= 0:
            key, index = f"L{number}", -1
        previous = fields[-1]
        index += 1
        acts[(key, index)] = fields[-1]
    return acts


def _dihana_acts() -> dict[tuple[str, int], str]:
    import csv
    from qa.intake.realsets import shared_data_dir
    acts, index = {}, {}
    with (shared_data_dir() / SOURCES["dihana"][0]).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            dialogue = f"{row['Dialogue_ID']}/{row['File_ID']}"
            index[dialogue] = index.get(dialogue, -1) + 1
            acts[(dialogue, index[dialogue])] = row["Dialogue_Act"]
    return acts


def key(ref: Ref) -> str:
    return f"{ref.source}/{ref.dialogue}/{ref.turn}/{ref.part}/{ref.start}/{ref.end}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=sorted(SOURCES))
    parser.add_argument("--role", choices=("agent", "customer"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--skip", type=int, default=0)
    args = parser.parse_args()
    found = [c for c in candidates(args.source) if args.role in (None, c[1])]
    found = found[args.skip:]
    for ref, role, text in found[: args.limit or None]:
        assert resolve(ref) == text
        print(f"{key(ref)}\t{role}\t{' '.join(text.split())}")
    print(f"# {len(found)} candidates", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
