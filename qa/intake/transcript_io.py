"""Read and write transcripts: the versioned JSON form, the timed text form, SRT.

The JSON form round-trips exactly (``transcript_from_dict(transcript_to_dict(t)) == t``).
The timed text form lets chat logs and other vendors' transcripts be scored
without audio: one utterance a line, ``start end role text``::

    # language: zh
    # call_id: demo-001
    00:00.0 00:04.2 agent 您好，工号1024为您服务，请问有什么可以帮您？

An optional ``# timing: audio|text|unknown`` header says whether the times are
real; ``text`` (a chat log, invented times) leaves holds, speech rate and
overlap unjudged (``qa.scoring.timing``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from qa.common.limits import check_bytes, check_transcript, limits, load_json, precheck_counts
from qa.common.settings import Settings, load_settings, shipped
from qa.errors import InputLimitError, TranscriptFormatError
from qa.types import LANGUAGES, TIMINGS, CallMeta, Dropped, Gap, RoleAssignment, Transcript, Utterance, Word

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


_Time = Annotated[float, Strict(), Field(allow_inf_nan=False)]
_Prob = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
_Str = Annotated[str, Strict()]


class _Form(BaseModel):
    """The JSON form's schema: exact types, so ``"text": null`` or ``"start": {}`` is refused at the door."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _WordForm(_Form):
    start: _Time
    end: _Time
    text: _Str
    probability: _Prob = 1.0


class _UtteranceForm(_Form):
    role: Literal["agent", "customer", "unknown"]
    start: _Time
    end: _Time
    text: _Str
    words: list[_WordForm] = []
    speaker: _Str = ""
    confidence: _Prob = 1.0
    no_speech_prob: _Prob = 0.0


class _GapForm(_Form):
    start: _Time
    end: _Time


class _DroppedForm(_Form):
    start: _Time
    end: _Time
    reason: _Str
    role: Literal["agent", "customer", "unknown"] = "unknown"
    speaker: _Str = ""


class _RolesForm(_Form):
    method: _Str
    confidence: _Prob
    separated: bool = True
    speaker_roles: dict[_Str, _Str] = {}
    notes: list[_Str] = []


class _MetaForm(_Form):
    call_id: _Str
    agent_id: _Str | None = None
    team: _Str | None = None
    started_at: _Str | None = None
    language: Literal["zh", "es", "en"] | None = None
    channel_map: dict[Literal["0", "1"], Literal["agent", "customer"]] = {"0": "agent", "1": "customer"}
    extra: dict[_Str, Any] = {}


class _TranscriptForm(_Form):
    format: Literal["callqa.transcript"]
    version: Literal[1]
    call_id: _Str
    language: Literal["zh", "es", "en"]
    duration: _Time
    utterances: list[_UtteranceForm]
    gaps: list[_GapForm] = []
    roles: _RolesForm
    meta: _MetaForm | None = None
    language_probability: _Prob = 1.0
    source: dict[_Str, Any] = {}
    asr: dict[_Str, Any] = {}
    timing: Literal["audio", "text", "unknown"] = "unknown"
    dropped: list[_DroppedForm] = []


def _json_path(loc: tuple[Any, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def transcript_from_dict(data: Any, source: str = "<json>") -> Transcript:
    """A ``Transcript`` from the JSON form; every wrong key, type or number is a coded error with its JSON path."""
    if not isinstance(data, dict):
        raise TranscriptFormatError(f"{source}: a transcript JSON file holds one object")
    if data.get("format") != FORMAT:
        raise TranscriptFormatError(f"{source}: not a callqa transcript (format is {_short(data.get('format'))}, "
                                    f"expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise TranscriptFormatError(f"{source}: transcript version {_short(data.get('version'))} is not readable "
                                    f"by this callqa (reads version {VERSION})")
    precheck_counts(data, source)
    try:
        form = _TranscriptForm.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = "; ".join(f"{_json_path(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise TranscriptFormatError(f"{source}: malformed transcript JSON: {problems}{more}") from exc
    notes = list(form.roles.notes)
    utterances = []
    for number, u in enumerate(form.utterances):
        if not u.text.strip():
            notes.append(f"utterance {number}: empty turn skipped (no text, e.g. an image or a sticker)")
            continue
        utterances.append(Utterance(role=u.role, start=u.start, end=u.end, text=u.text,
                                    words=[Word(w.start, w.end, w.text, w.probability) for w in u.words],
                                    speaker=u.speaker, confidence=u.confidence, no_speech_prob=u.no_speech_prob))
    meta = None
    if form.meta is not None:
        m = form.meta
        meta = CallMeta(call_id=m.call_id, agent_id=m.agent_id, team=m.team, started_at=m.started_at,
                        language=m.language, channel_map={int(k): v for k, v in m.channel_map.items()},
                        extra=dict(m.extra))
    transcript = Transcript(
        call_id=form.call_id,
        language=form.language,
        duration=form.duration,
        utterances=utterances,
        gaps=[Gap(g.start, g.end) for g in form.gaps],
        roles=RoleAssignment(method=form.roles.method, confidence=form.roles.confidence,
                             separated=form.roles.separated, speaker_roles=dict(form.roles.speaker_roles),
                             notes=notes),
        meta=meta,
        language_probability=form.language_probability,
        source=dict(form.source),
        asr=dict(form.asr),
        timing=form.timing,
        dropped=[Dropped(d.start, d.end, d.reason, d.role, d.speaker) for d in form.dropped],
    )
    check_transcript(transcript, source)
    return transcript


def _short(value: Any, width: int = 60) -> str:
    """A value for an error message, cut short (a 1 MB field never lands in a quarantine reason whole)."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def dumps(t: Transcript) -> str:
    return json.dumps(transcript_to_dict(t), ensure_ascii=False, indent=1)


def loads(text: str, source: str = "<json>") -> Transcript:
    """The JSON form from text: NaN/Infinity refused, nesting bounded (qa/data/limits.yaml)."""
    data = load_json(text, source, limits().transcripts.max_json_depth, TranscriptFormatError)
    return transcript_from_dict(data, source)


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


class _Untimed(Settings):
    chars_per_second: dict[Literal["zh", "es", "en"], Annotated[float, Strict(), Field(gt=0, le=1000)]]
    min_seconds: Annotated[float, Strict(), Field(ge=0, le=3600)]
    gap_seconds: Annotated[float, Strict(), Field(ge=0, le=3600)]


class ReadSettings(Settings):
    """``qa/data/transcripts.yaml``."""

    untimed: _Untimed
    max_listed_errors: Annotated[int, Strict(), Field(ge=1, le=1000)]


@functools.lru_cache(maxsize=1)
def read_settings() -> ReadSettings:
    return load_settings(shipped("transcripts.yaml"), ReadSettings)


def _role_of(token: str) -> str | None:
    return ROLE_ALIASES.get(token.strip().lower().rstrip(":："))


def _untimed_turn(line: str) -> tuple[str, str] | None:
    """(role, text) for a chat line without times: ``customer 你好``, ``客户：你好``, ``agent: hi``."""
    head, sep, rest = line.partition(" ")
    role = _role_of(head)
    if role is not None:
        return role, rest.strip()
    for colon in (":", "："):
        head, sep, rest = line.partition(colon)
        if sep and _role_of(head) is not None:
            return _role_of(head), rest.strip()
    return None


def parse_timed_text(text: str, default_call_id: str = "call", source: str = "<text>") -> Transcript:
    """Parse the timed text form; every malformed line is reported with its number.

    Chat logs are taken as they are: an empty turn (an image, a sticker) is
    skipped, a turn without times gets estimated ones (``qa/data/transcripts.yaml``),
    the same speaker twice in a row stays two turns; each is said in the notes.
    Limits (line length, utterance count, times) are those of ``qa/data/limits.yaml``.
    """
    bounds = limits()
    settings = read_settings()
    header: dict[str, str] = {}
    turns: list[tuple[int, float | None, float | None, str, str]] = []
    errors: list[str] = []
    skipped: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > bounds.transcripts.max_line_chars:
            raise InputLimitError(f"{source}: line {number} has {len(raw)} characters, more than the "
                                  f"{bounds.transcripts.max_line_chars} allowed (transcripts.max_line_chars)")
        line = raw.strip().lstrip("\ufeff").strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                header[key.strip().lower()] = value.strip()
            continue
        if len(turns) >= bounds.calls.max_utterances:
            raise InputLimitError(f"{source}: more than {bounds.calls.max_utterances} utterances "
                                  f"(calls.max_utterances in qa/data/limits.yaml)")
        parts = line.split(None, 3)
        timed = None
        if len(parts) >= 3:
            try:
                timed = parse_time(parts[0]), parse_time(parts[1])
            except (ValueError, OverflowError):
                timed = None
        if timed is None:
            untimed = _untimed_turn(line)
            if untimed is not None:
                role, words = untimed
                if not words:
                    skipped.append(number)
                else:
                    turns.append((number, None, None, role, words))
                continue
            if len(parts) < 3:
                errors.append(f"line {number}: expected 'start end role text' or 'role text', got {_short(line)}")
            else:
                try:
                    parse_time(parts[0]), parse_time(parts[1])
                except (ValueError, OverflowError) as exc:
                    errors.append(f"line {number}: {exc}")
            continue
        start, end = timed
        role = _role_of(parts[2])
        if role is None:
            errors.append(f"line {number}: unknown role {_short(parts[2])} (use agent or customer; 坐席/客服/客户, "
                          f"agente/cliente)")
            continue
        if not (math.isfinite(start) and math.isfinite(end)):
            errors.append(f"line {number}: a time is not a finite number")
            continue
        if end < start:
            errors.append(f"line {number}: ends ({parts[1][:20]}) before it starts ({parts[0][:20]})")
            continue
        words = parts[3].strip() if len(parts) > 3 else ""
        if not words:
            skipped.append(number)
            continue
        turns.append((number, start, end, role, words))
    language = header.get("language", "").lower()
    timing = header.get("timing", "unknown").lower()
    if timing not in TIMINGS:
        errors.append(f"header: '# timing: audio|text|unknown' (got {header.get('timing')!r})")
    if language not in LANGUAGES:
        errors.append("header: '# language: zh|es|en' is required")
    if errors:
        listed = settings.max_listed_errors
        more = f"; and {len(errors) - listed} more" if len(errors) > listed else ""
        raise TranscriptFormatError(f"{source}: " + "; ".join(errors[:listed]) + more)
    if not turns:
        raise TranscriptFormatError(f"{source}: no utterances (expected lines 'start end role text')"
                                    + (f"; {len(skipped)} empty turn(s) skipped" if skipped else ""))
    notes: list[str] = []
    utterances, estimated, cursor = [], 0, 0.0
    for number, start, end, role, words in turns:
        if start is None or end is None:
            untimed = settings.untimed
            start = round(cursor + (untimed.gap_seconds if utterances else 0.0), 2)
            end = round(start + max(untimed.min_seconds, len(words) / untimed.chars_per_second[language]), 2)
            estimated += 1
        cursor = max(cursor, end)
        utterances.append(Utterance(role=role, start=start, end=end, text=words, speaker=role))
    if skipped:
        notes.append(f"{len(skipped)} empty turn(s) skipped (lines {_lines(skipped)}): no text, e.g. an image or a sticker")
    if estimated:
        notes.append(f"{estimated} turn(s) without times: times estimated from their length "
                     f"({settings.untimed.chars_per_second[language]:g} characters a second)")
        if "timing" not in header:
            timing = "text"  # estimated times are not audio: holds and speech rate stay unjudged
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
    if len(roles_present) <= 1:
        notes.append("only one role present in the imported transcript")
    end_time = max(u.end for u in utterances)
    transcript = Transcript(
        call_id=call_id,
        language=language,
        duration=end_time,
        utterances=utterances,
        gaps=gaps_between(utterances, end_time),
        roles=RoleAssignment(
            method="import",
            confidence=1.0,
            separated=len(roles_present & {"agent", "customer"}) == 2,
            notes=notes,
        ),
        meta=meta,
        source={"format": "timed-text", "path": source},
        timing=timing,
    )
    check_transcript(transcript, source)
    return transcript


def _lines(numbers: list[int], shown: int = 5) -> str:
    text = ", ".join(map(str, numbers[:shown]))
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


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
    lines = [f"# language: {t.language}", f"# call_id: {t.call_id}", f"# timing: {t.timing}"]
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


def read_transcript(path: Path, content: Path | None = None) -> Transcript:
    """Read a transcript file (JSON form or timed text) from disk, within the limits of qa/data/limits.yaml.

    ``content``: read the bytes there instead (a file already opened safely,
    ``/proc/self/fd/N``); the name and the messages stay ``path``'s.
    """
    path = Path(path)
    bound = limits().transcripts.max_bytes
    with Path(content or path).open("rb") as fh:
        raw = fh.read(bound + 1)
    check_bytes(len(raw), bound, str(path), "the transcript")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TranscriptFormatError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                    f"{exc.start}); save it as UTF-8") from exc
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        return loads(text.lstrip("\ufeff"), str(path))
    return parse_timed_text(text, default_call_id=path.stem, source=str(path))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the whole new one (see qa.common.outputs)."""
    from qa.common.outputs import write_atomic as _write

    _write(path, text)
