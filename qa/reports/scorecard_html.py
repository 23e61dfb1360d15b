"""One call's scorecard as a single self-contained HTML page for a QA reviewer.

Pure rendering: it takes a finished scorecard, the transcript, the findings
and (optionally) the audio, acoustics and human verdicts; it never queries a
store or re-scores. Everything the page needs is inline (CSS, a small script
whose hash the Content-Security-Policy pins, the timeline PNG, the audio as a
data URI), so it works from a file with no network. All text goes through
Jinja2 autoescaping after control characters are stripped (``text.clean_text``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup
from pydantic import Field

from qa.common.settings import Count, Number, Seconds, Settings, Share, Text, load_settings
from qa.errors import ConfigError
from qa.reports.text import FindingIndex, UtteranceIndex, clean_text, clock, role_label, segments, shorten
from qa.reports.validity import trust
from qa.types import COURSE_IDS, Finding, Scorecard, Transcript, UtteranceAcoustics

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "scorecard.html.j2"
SCRIPT = "scorecard.js"
#: Found through importlib.resources (package data), so an installed wheel finds it too.
SETTINGS = files("qa.reports") / "templates" / "scorecard_page.yaml"
STATUSES = ("pass", "partial", "fail", "n/a")


class _Group(Settings):
    title: Text
    title_zh: Text = ""
    ids: list[Text] = Field(min_length=1)


class _Names(Settings):
    zh: Text
    en: Text


class _Advice(Settings):
    contains: Text = Field(min_length=1)
    advice: Text


class _Audio(Settings):
    embed_raw_max_bytes: Count = Field(ge=0, le=2**31)
    raw_types: dict[Text, Text]
    opus_sample_rate: Literal[8000, 12000, 16000, 24000, 48000]  # the rates Opus encodes
    opus_bitrate_per_channel: Count = Field(ge=6000, le=510_000)
    embed_max_seconds: Seconds


class _Plot(Settings):
    width_in: Number = Field(gt=0, le=100)
    panel_height_in: Number = Field(gt=0, le=100)
    dpi: Count = Field(ge=10, le=1200)
    colours: dict[Text, Text]


class _Bands(Settings):
    good: Number = Field(ge=0, le=100)
    fair: Number = Field(ge=0, le=100)


class PageSettings(Settings):
    """``qa/reports/templates/scorecard_page.yaml``: the page's words and limits, every key typed."""

    groups: list[_Group]
    stages: dict[Text, _Names]
    classes: dict[Text, _Names]
    unmarked_kinds: list[Text]
    warning_advice: list[_Advice]
    quote_chars: Count = Field(ge=10, le=100_000)
    long_utterance_chars: Count = Field(ge=1, le=1_000_000)
    low_confidence: Share
    evidence_per_item: Count = Field(ge=1, le=1000)
    audio: _Audio
    plot: _Plot
    score_bands: _Bands
    languages: dict[Text, Text]


@functools.lru_cache(maxsize=4)
def _load_settings(path: str, mtime_ns: int) -> dict[str, Any]:
    # bounded, UTF-8, depth-checked, typed; errors name the file and line. Plain data for the templates.
    return load_settings(Path(path), PageSettings, error=ConfigError).model_dump()


def load_page_settings(path: Path | None = None) -> dict[str, Any]:
    """The page's words and limits (qa/reports/templates/scorecard_page.yaml unless ``path`` is given)."""
    p = Path(path) if path is not None else Path(str(SETTINGS))
    if not p.is_file():
        raise ConfigError(f"{p}: no such settings file for the scorecard page")
    return _load_settings(str(p), p.stat().st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2", "html.j2"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    return env


# ---------------------------------------------------------------- view model
@dataclass
class TimeLink:
    t: float
    clock: str
    anchor: str  # "#u-12": the utterance the time falls in (works without script or audio)


@dataclass
class EvidenceRow:
    role: str
    role_label: str
    link: TimeLink
    quote: str
    full: str


@dataclass
class ItemRow:
    id: str
    title: str
    title_en: str
    status: str
    points: float
    max_points: float
    reason: str
    evidence: list[EvidenceRow]
    tip: str
    tip_en: str
    auto_fail: bool
    human: dict[str, str] | None
    commands: dict[str, str]
    default_status: str


@dataclass
class ItemGroup:
    title: str
    title_zh: str
    rows: list[ItemRow] = field(default_factory=list)


def _status_key(status: str) -> str:
    return {"n/a": "na"}.get(status, status if status in STATUSES else "na")


def _titles(language: str, rubric: Any) -> dict[str, tuple[str, str]]:
    """Item titles (call language, English) from the rubric, or the default rubric when none is given."""
    if rubric is None:
        try:
            from qa.scoring.rubric import load_rubric

            rubric = load_rubric()
        except Exception:  # noqa: BLE001 - titles are a courtesy; the page still names every item by ID
            return {}
    out = {}
    for item in getattr(rubric, "items", ()):
        out[item.id] = (item.title.get(language), item.title.en)
    return out


def _verdict(raw: Any) -> dict[str, str] | None:
    """A human verdict from a dict ({"status", "note", "reviewer"}) or a store Dispute-like object."""
    if raw is None:
        return None
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    status = clean_text(get("status", "")).strip()
    if not status:
        return None
    return {"status": status, "key": _status_key(status), "note": clean_text(get("note", "") or ""),
            "reviewer": clean_text(get("reviewer", "") or ""), "created_at": clean_text(get("created_at", "") or "")}


def dispute_command(call_id: str, item_id: str, status: str) -> str:
    """The exact command line that records a reviewer's verdict on one item."""
    return f'callqa dispute {shlex.quote(call_id)} {shlex.quote(item_id)} --status {status} --note "…"'


def _order(item_id: str, settings: dict[str, Any]) -> tuple[int, int]:
    for g, group in enumerate(settings["groups"]):
        if item_id in group["ids"]:
            return g, group["ids"].index(item_id)
    return len(settings["groups"]), COURSE_IDS.index(item_id) if item_id in COURSE_IDS else len(COURSE_IDS)


def _groups(scorecard: Scorecard, links: "_Linker", disputes: dict[str, Any], titles: dict[str, tuple[str, str]],
            settings: dict[str, Any]) -> list[ItemGroup]:
    groups = [ItemGroup(g["title"], g.get("title_zh", "")) for g in settings["groups"]] + [ItemGroup("Other", "")]
    call_id = clean_text(scorecard.call_id)
    for item in sorted(scorecard.items, key=lambda i: _order(i.id, settings)):
        item_id = clean_text(item.id)
        evidence, seen = [], set()
        for ev in item.evidence:
            full = clean_text(ev.text)
            if (ev.role, round(ev.start, 2), full) in seen:  # e.g. hold and hold_without_thanks: same words
                continue
            seen.add((ev.role, round(ev.start, 2), full))
            evidence.append(EvidenceRow(ev.role, role_label(ev.role), links.at(ev.start, ev.end, full),
                                        shorten(full, settings["quote_chars"]), full))
        evidence = evidence[: settings["evidence_per_item"]]
        title, title_en = titles.get(item.id, ("", ""))
        default = next(s for s in ("pass", "fail", "partial", "n/a") if s != item.status)
        row = ItemRow(
            id=item_id, title=clean_text(title), title_en=clean_text(title_en), status=item.status,
            points=item.points, max_points=item.max_points, reason=clean_text(item.reason), evidence=evidence,
            tip=clean_text(item.tip), tip_en=clean_text(item.tip_en), auto_fail=item.auto_fail,
            human=_verdict(disputes.get(item.id)),
            commands={s: dispute_command(call_id, item_id, s) for s in STATUSES}, default_status=default,
        )
        groups[_order(item.id, settings)[0]].rows.append(row)
    return [g for g in groups if g.rows]


class _Linker:
    """Time links for evidence: to the second the quoted words are said, and to their utterance."""

    def __init__(self, transcript: Transcript):
        self._utterances = transcript.utterances
        self._texts = [clean_text(u.text) for u in transcript.utterances]
        self._index = UtteranceIndex(transcript.utterances)

    def at(self, t: float, end: float | None = None, quote: str = "") -> TimeLink:
        """``t``, unless the quote is not in the utterance at ``t`` but in a later one before ``end``
        (a finding about a stretch of the call quotes the words that decided it)."""
        i = self._index.at(t)
        quote = clean_text(quote).strip()
        if quote and end is not None and (i is None or quote not in self._texts[i]):
            inside = next((j for j, u in enumerate(self._utterances)
                           if u.end >= t - 0.05 and u.start <= end + 0.05 and quote in self._texts[j]), None)
            if inside is not None:
                i, t = inside, self._utterances[inside].start
        return TimeLink(round(float(t), 2), clock(t), f"#u-{i}" if i is not None else "#transcript")


def _role_rank(role: str) -> int:
    return {"agent": 0, "customer": 1}.get(role, 2)


def _summary_cards(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Cards for the summary strip: known keys nicely, any other key as it is."""
    s = dict(summary)
    cards: list[dict[str, Any]] = []

    def num(v: Any, digits: int = 1) -> str:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return clean_text(v)
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)

    if "duration" in s:
        cards.append({"label": "Duration", "value": clock(s.pop("duration") or 0)})
    ratio = s.pop("talk_ratio_agent", None)
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
        cards.append({"label": "Talk share", "value": f"{ratio * 100:.0f}% agent",
                      "sub": f"{(1 - ratio) * 100:.0f}% customer", "bar": round(max(0.0, min(1.0, ratio)) * 100, 1)})
    silent, share = s.pop("non_talk_seconds", None), s.pop("non_talk_share", None)
    if silent is not None:
        sub = f"{share * 100:.0f}% of the call" if isinstance(share, (int, float)) else ""
        cards.append({"label": "Silence", "value": f"{num(silent)} s", "sub": sub})
    unit = clean_text(s.pop("rate_unit", "") or "")
    rate_keys = sorted((k for k in s if k.startswith("rate_")), key=lambda k: _role_rank(k[len("rate_"):]))
    if rate_keys:
        cards.append({"label": "Speech rate", "sub": unit,
                      "rows": [(role_label(k[len("rate_"):]), num(s.pop(k), 2), k[len("rate_"):]) for k in rate_keys]})
    for key in sorted((k for k in s if k.startswith("questions_")), key=lambda k: _role_rank(k[len("questions_"):])):
        role = key[len("questions_"):]
        value = s.pop(key)
        if isinstance(value, dict):
            total = sum(v for v in value.values() if isinstance(v, (int, float)))
            cards.append({"label": f"Questions · {role_label(role)}", "value": num(total),
                          "chips": [(clean_text(k), num(v)) for k, v in value.items()], "role": role})
        else:
            cards.append({"label": f"Questions · {role_label(role)}", "value": num(value), "role": role})
    for key, label in (("holds", "Holds"), ("utterances", "Utterances"), ("findings", "Findings")):
        if key in s:
            cards.append({"label": label, "value": num(s.pop(key))})
    for key, value in s.items():  # anything the scorer adds later still shows
        label = clean_text(key).replace("_", " ").capitalize()
        if isinstance(value, dict):
            cards.append({"label": label, "value": "", "chips": [(clean_text(k), num(v)) for k, v in value.items()]})
        elif isinstance(value, (list, tuple)):
            cards.append({"label": label, "value": ", ".join(num(v) for v in value)})
        else:
            cards.append({"label": label, "value": num(value, 2)})
    defaults = {"value": "", "sub": "", "chips": [], "role": "", "rows": []}
    return [{**defaults, **c} for c in cards]


def _named(code: str | None, table: dict[str, Any]) -> dict[str, str] | None:
    if not code:
        return None
    code = clean_text(code)
    names = table.get(code) or {}
    zh = clean_text(names.get("zh", ""))
    if zh and code in zh:  # a class given in Chinese (普通): its full name says it all
        code, zh = zh, ""
    return {"code": code, "zh": zh, "en": clean_text(names.get("en", ""))}


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return clean_text(value)


def _warnings(warnings: list[str], settings: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for w in warnings:
        text = clean_text(w)
        advice = next((a["advice"] for a in settings["warning_advice"] if a["contains"].lower() in text.lower()), "")
        out.append({"text": text, "advice": advice})
    return out


def _transcript_rows(transcript: Transcript, findings: list[Finding], item_ids: set[str],
                     settings: dict[str, Any]) -> list[dict[str, Any]]:
    said = FindingIndex(findings, set(settings["unmarked_kinds"]))
    rates = {(round(f.start, 3), f.role): f for f in findings if f.id == "T-RATE" and f.kind == "rate"}
    silences = sorted(
        (f for f in findings if f.id == "K1" and f.kind in ("hold", "dead_air")),
        key=lambda f: f.detail.get("silence_start", f.end) if isinstance(f.detail, dict) else f.end,
    )
    rows: list[dict[str, Any]] = []
    pending = list(silences)
    for i, u in enumerate(transcript.utterances):
        while pending and (pending[0].detail.get("silence_end", pending[0].end) if isinstance(pending[0].detail, dict)
                           else pending[0].end) <= u.start + 1e-6:
            rows.append(_silence_row(pending.pop(0)))
        here = said.in_utterance(u)
        chips = []
        for f in here:
            label = (clean_text(f.id), clean_text(f.kind))
            if label not in [(c["id"], c["kind"]) for c in chips]:
                chips.append({"id": label[0], "kind": label[1], "linked": f.id in item_ids})
        rate = rates.get((round(u.start, 3), u.role))
        rows.append({
            "kind": "utterance", "index": i, "role": u.role if u.role in ("agent", "customer") else "unknown",
            "role_label": role_label(u.role), "t": round(u.start, 2), "clock": clock(u.start), "end": round(u.end, 2),
            "segments": segments(u.text, here), "chips": chips,
            "rate": _rate_label(rate),
            "low_confidence": u.confidence < settings["low_confidence"],
            "long": len(u.text) > settings["long_utterance_chars"],
        })
    rows.extend(_silence_row(f) for f in pending)
    return rows


def _rate_label(f: Finding | None) -> str:
    if f is None or isinstance(f.value, bool) or not isinstance(f.value, (int, float)):
        return ""
    unit = f.detail.get("unit", "") if isinstance(f.detail, dict) else ""
    return f"{f.value:.1f} {clean_text(unit)}".strip()


def _silence_row(f: Finding) -> dict[str, Any]:
    d = f.detail if isinstance(f.detail, dict) else {}
    start, end = d.get("silence_start", f.start), d.get("silence_end", f.end)
    notes = []
    if f.kind == "hold":
        notes.append("time estimate given" if d.get("estimate") else "no time estimate")
        notes.append("thanked after" if d.get("thanked") else "no thanks after")
    return {"kind": "silence", "what": "Hold" if f.kind == "hold" else "Dead air", "t": round(float(start), 2),
            "clock": clock(start), "seconds": round(float(end) - float(start), 1), "notes": notes}


def scorecard_page(
    scorecard: Scorecard,
    transcript: Transcript,
    findings: list[Finding],
    audio_path: Path | None = None,
    acoustics: list[UtteranceAcoustics] | None = None,
    disputes: dict[str, dict] | None = None,
    embed_audio: bool = True,
    rubric: Any = None,
    settings: dict[str, Any] | None = None,
    timeline: bool = True,
) -> dict[str, Any]:
    """The page's view model (what the template reads as ``p``); the web workspace renders it too
    (without the timeline plot, which it serves as an image of its own)."""
    from qa.reports.audio import audio_source
    from qa.reports.plots import timeline_png

    settings = settings or load_page_settings()
    meta = scorecard.meta or transcript.meta
    language = clean_text(scorecard.language or transcript.language)
    links = _Linker(transcript)
    groups = _groups(scorecard, links, disputes or {}, _titles(language, rubric), settings)
    rows = [r for g in groups for r in g.rows]
    bands = settings["score_bands"]
    score_band = "good" if scorecard.score >= bands["good"] else "fair" if scorecard.score >= bands["fair"] else "poor"
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    audio = audio_source(Path(audio_path), settings["audio"], embed_audio) if audio_path is not None else None
    return {
        "call_id": clean_text(scorecard.call_id),
        "agent": clean_text(meta.agent_id) if meta and meta.agent_id else "",
        "team": clean_text(meta.team) if meta and meta.team else "",
        "when": _when(meta.started_at if meta else None),
        "language": language,
        "language_name": settings["languages"].get(language, language),
        "duration": clock(transcript.duration),
        "score": scorecard.score,
        "score_band": score_band,
        "rubric_version": clean_text(scorecard.rubric_version),
        "trust": trust(),
        "peak": _named(scorecard.peak_stage, settings["stages"]),
        "final": _named(scorecard.final_stage, settings["stages"]),
        "klass": _named(scorecard.complaint_class, settings["classes"]),
        "warnings": _warnings(scorecard.warnings, settings),
        "roles_note": [clean_text(n) for n in transcript.roles.notes],
        "counts": counts,
        "disputed": sum(1 for r in rows if r.human),
        "auto_fail": [r.id for r in rows if r.auto_fail],
        "cards": _summary_cards(scorecard.summary),
        "groups": groups,
        "transcript": _transcript_rows(transcript, findings, {r.id for r in rows}, settings),
        # speech the VAD heard but the model gave no words for (qa.speech.asr.decode_tracks): listen to it
        "not_transcribed": [{"link": links.at(d.start), "end": clock(d.end), "role": clean_text(d.role),
                             "reason": clean_text(d.reason)} for d in transcript.dropped],
        "timeline": timeline_png(transcript, findings, acoustics, settings["plot"]) if timeline else None,
        "audio": audio,
        "statuses": STATUSES,
        "show_en_tip": language != "en",
    }


def render_scorecard_html(
    scorecard: Scorecard,
    transcript: Transcript,
    findings: list[Finding],
    audio_path: Path | None = None,
    acoustics: list[UtteranceAcoustics] | None = None,
    disputes: dict[str, dict] | None = None,
    embed_audio: bool = True,
    rubric: Any = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """The whole page as one string; ``disputes`` maps item ID -> {"status", "note", "reviewer"}."""
    page = scorecard_page(scorecard, transcript, findings, audio_path, acoustics, disputes, embed_audio, rubric,
                          settings)
    script = (TEMPLATE_DIR / SCRIPT).read_text(encoding="utf-8")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return _environment().get_template(TEMPLATE).render(
        p=page, script=Markup(script), script_hash=script_hash, status_key=_status_key,
    )
