"""Read and write transcripts: the versioned JSON form, the timed text form, SRT.

The JSON form round-trips exactly (``transcript_from_dict(transcript_to_dict(t)) == t``).
The timed text form lets chat logs and other vendors' transcripts be scored
without audio: one utterance a line, ``start end role text``::

    # language: zh
    # call_id: demo-001
    00:00.0 00:04.2 agent 您好，工号1024为您服务，请问有什么可以帮您？
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa.errors import TranscriptFormatError
from qa.types import LANGUAGES, CallMeta, Gap, RoleAssignment, Transcript, Utterance, Word

FORMAT = "callqa.transcript"
VERSION = 1

ROLE_ALIASES = {
    "agent": "agent", "customer": "customer", "unknown": "unknown",
    "坐席": "agent", "客服": "agent", "客户": "customer", "顾客": "customer",
    "agente": "agent", "cliente": "customer",
    "a": "agent", "c": "customer",
}
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


# ---------------------------------------------------------------- JSON
def transcript_to_dict(t: Transcript) -> dict[str, Any]:
    data = asdict(t)
    if t.meta is not None:
        data["meta"]["channel_map"] = {str(k): v for k, v in t.meta.channel_map.items()}
    return {"format": FORMAT, "version": VERSION, **data}


def _meta_from(raw: dict[str, Any] | None) -> CallMeta | None:
    if raw is None:
        return None
    raw = dict(raw)
    raw["channel_map"] = {int(k): v for k, v in (raw.get("channel_map") or {}).items()}
    return CallMeta(**raw)


def transcript_from_dict(data: dict[str, Any]) -> Transcript:
    if data.get("format") != FORMAT:
        raise TranscriptFormatError(f"not a callqa transcript (format is {data.get('format')!r}, expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise TranscriptFormatError(
            f"transcript version {data.get('version')!r} is not readable by this callqa (reads version {VERSION})"
        )
    try:
        utterances = [
            Utterance(**{**u, "words": [Word(**w) for w in u.get("words", [])]}) for u in data["utterances"]
        ]
        return Transcript(
            call_id=data["call_id"],
            language=data["language"],
            duration=data["duration"],
            utterances=utterances,
            gaps=[Gap(**g) for g in data.get("gaps", [])],
            roles=RoleAssignment(**data["roles"]),
            meta=_meta_from(data.get("meta")),
            language_probability=data.get("language_probability", 1.0),
            source=data.get("source", {}),
            asr=data.get("asr", {}),
        )
    except (KeyError, TypeError) as exc:
        raise TranscriptFormatError(f"malformed transcript JSON: {exc}") from exc


def dumps(t: Transcript) -> str:
    return json.dumps(transcript_to_dict(t), ensure_ascii=False, indent=1)


def loads(text: str) -> Transcript:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TranscriptFormatError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TranscriptFormatError("a transcript JSON file holds one object")
    return transcript_from_dict(data)


# ---------------------------------------------------------------- timed text
def parse_time(value: str) -> float:
    """``83.5``, ``01:23.5`` or ``0:01:23.5`` -> seconds."""
    m = _TIME.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a time (use seconds, mm:ss.s or hh:mm:ss.s)")
    a, b, sec = m.groups()
    if a is not None and b is not None:
        hours, minutes = int(a), int(b)
    else:
        hours, minutes = 0, int(a or 0)
    return hours * 3600 + minutes * 60 + float(sec)


def format_time(seconds: float) -> str:
    minutes, sec = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{sec:05.2f}"


def parse_timed_text(text: str, default_call_id: str = "call", source: str = "<text>") -> Transcript:
    """Parse the timed text form; every malformed line is reported with its number."""
    header: dict[str, str] = {}
    utterances: list[Utterance] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                header[key.strip().lower()] = value.strip()
            continue
        parts = line.split(None, 3)
        if len(parts) < 4:
            errors.append(f"line {number}: expected 'start end role text', got {raw!r}")
            continue
        start_s, end_s, role_s, words = parts
        try:
            start, end = parse_time(start_s), parse_time(end_s)
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
            continue
        role = ROLE_ALIASES.get(role_s.strip().lower().rstrip(":："))
        if role is None:
            errors.append(f"line {number}: unknown role {role_s!r} (use agent or customer; 坐席/客服/客户, agente/cliente)")
            continue
        if end < start:
            errors.append(f"line {number}: ends ({end_s}) before it starts ({start_s})")
            continue
        utterances.append(Utterance(role=role, start=start, end=end, text=words.strip(), speaker=role))
    language = header.get("language", "").lower()
    if language not in LANGUAGES:
        errors.append(
            f"header: '# language: zh|es|en' is required (got {header.get('language')!r})"
        )
    if errors:
        raise TranscriptFormatError(f"{source}: " + "; ".join(errors))
    if not utterances:
        raise TranscriptFormatError(f"{source}: no utterances (expected lines 'start end role text')")
    utterances.sort(key=lambda u: (u.start, u.end))
    call_id = header.get("call_id") or default_call_id
    meta = CallMeta(
        call_id=call_id,
        agent_id=header.get("agent_id"),
        team=header.get("team"),
        started_at=header.get("started_at"),
        language=language,
    )
    roles_present = {u.role for u in utterances}
    return Transcript(
        call_id=call_id,
        language=language,
        duration=max(u.end for u in utterances),
        utterances=utterances,
        gaps=gaps_between(utterances, max(u.end for u in utterances)),
        roles=RoleAssignment(
            method="import",
            confidence=1.0,
            separated=len(roles_present & {"agent", "customer"}) == 2,
            notes=[] if len(roles_present) > 1 else ["only one role present in the imported transcript"],
        ),
        meta=meta,
        source={"format": "timed-text", "path": source},
    )


def gaps_between(utterances: list[Utterance], duration: float, min_gap: float = 0.0) -> list[Gap]:
    """Stretches where nobody speaks, from speech intervals on all channels."""
    spans = sorted((u.start, u.end) for u in utterances)
    gaps: list[Gap] = []
    cursor = 0.0
    for start, end in spans:
        if start - cursor > min_gap and start > cursor:
            gaps.append(Gap(round(cursor, 3), round(start, 3)))
        cursor = max(cursor, end)
    if duration - cursor > min_gap and duration > cursor:
        gaps.append(Gap(round(cursor, 3), round(duration, 3)))
    return gaps


def to_timed_text(t: Transcript) -> str:
    lines = [f"# language: {t.language}", f"# call_id: {t.call_id}"]
    if t.meta is not None:
        for key in ("agent_id", "team", "started_at"):
            if getattr(t.meta, key):
                lines.append(f"# {key}: {getattr(t.meta, key)}")
    for u in t.utterances:
        text = " ".join(u.text.split())
        lines.append(f"{format_time(u.start)} {format_time(u.end)} {u.role} {text}")
    return "\n".join(lines) + "\n"


def to_srt(t: Transcript) -> str:
    def stamp(seconds: float) -> str:
        ms = int(round(seconds * 1000))
        h, rem = divmod(ms, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    blocks = []
    for i, u in enumerate(t.utterances, start=1):
        blocks.append(f"{i}\n{stamp(u.start)} --> {stamp(u.end)}\n[{u.role}] {' '.join(u.text.split())}\n")
    return "\n".join(blocks)


RENDERERS = {"json": dumps, "txt": to_timed_text, "srt": to_srt}
TRANSCRIPT_SUFFIXES = (".json", ".txt", ".tsv")


def read_transcript(path: Path) -> Transcript:
    """Read a transcript file (JSON form or timed text) from disk."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TranscriptFormatError(f"{path}: not UTF-8 text ({exc})") from exc
    if text.lstrip().startswith("{"):
        return loads(text)
    return parse_timed_text(text, default_call_id=path.stem, source=str(path))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the whole new one (see qa.common.outputs)."""
    from qa.common.outputs import write_atomic as _write

    _write(path, text)
