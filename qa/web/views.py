"""What the pages and the API show of a call: built once from the store, rendered as HTML or JSON.

The call page is the scorecard page (qa.reports.scorecard_html's view model and
template) with the workspace's parts added: both scores, the evaluation state,
reviewer verdict and appeal forms, and the call's history from the audit log.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from qa.errors import AudioAccessError, NotFound, VerdictError
from qa.reports.export import scorecard_to_dict
from qa.reports.scorecard_html import scorecard_page
from qa.store.workspace import CallFilter, User, WorkspaceStore
from .audio import recording_file
from .settings import WebSettings

FILTER_FIELDS = ("agent", "team", "from", "to", "language", "min_score", "max_score", "item", "status", "stage",
                 "class", "review", "q", "sort", "order", "page", "per_page", "after", "before")


class _PageCache:
    """The rendered view model per (call, stored review, score version): the timeline plot costs ~0.3 s."""

    def __init__(self, size: int = 64):
        self._items: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple, build) -> dict[str, Any]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_cache = _PageCache()


def parse_filter(params: dict[str, str], settings: WebSettings) -> CallFilter:
    """The list filters from query parameters; a bad number is a VerdictError naming the parameter."""
    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value[:200] or None

    def number(name: str, kind=float) -> Any:
        value = text(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError as exc:
            raise VerdictError(f"{name}={value!r} is not a number") from exc

    per_page = number("per_page", int) or settings.per_page
    return CallFilter(
        agent=text("agent"), team=text("team"), start=text("from"), end=text("to"), language=text("language"),
        min_score=number("min_score"), max_score=number("max_score"), item=text("item"), status=text("status"),
        peak_stage=text("stage"), complaint_class=text("class"), review=text("review"), q=text("q"),
        sort=text("sort") or "date", descending=(text("order") or "desc") != "asc",
        page=max(1, number("page", int) or 1), per_page=max(1, min(per_page, settings.max_per_page)),
        after=(params.get("after") or "").strip() or None, before=(params.get("before") or "").strip() or None,
    )


def _verdict_dicts(verdicts: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {k: {"status": v.status, "note": v.note, "reviewer": v.reviewer, "created_at": v.created_at}
            for k, v in verdicts.items()}


def call_page(ws: WorkspaceStore, user: User, call_id: str, settings: WebSettings,
              audio_roots: list | None = None) -> dict[str, Any]:
    """Everything the call page shows; NotFound when the user may not see the call."""
    header = ws.call_header(user, call_id)
    if header is None:
        raise NotFound(f"no call {call_id!r}")
    store = ws.store
    evaluation, verdicts = ws.evaluation(call_id)
    human = _verdict_dicts(verdicts)

    def build() -> dict[str, Any]:
        card = store.load_scorecard(call_id)
        return scorecard_page(card, store.load_transcript(call_id), store.load_findings(call_id),
                              audio_path=None, disputes=human, embed_audio=False, timeline=False)

    key = (call_id, header["reviewed_at"], evaluation.rubric_version,
           tuple(sorted((k, v["status"], v["note"], v["created_at"]) for k, v in human.items())))
    page = dict(_cache.get(key, build))
    if any(row["kind"] == "utterance" for row in page["transcript"]):
        page["timeline"] = f"/calls/{quote(call_id, safe='')}/timeline.png?v={quote(header['reviewed_at'])}"
    try:
        recording_file(header["path"], settings.audio_types, audio_roots)
        # streamed on demand; "embedded" gives the page's plain hint (click a time to hear it)
        page["audio"] = {"src": f"/calls/{quote(call_id, safe='')}/audio", "embedded": True, "note": ""}
    except AudioAccessError as exc:
        page["audio"] = None
        page["audio_missing"] = str(exc).split("] ", 1)[-1]
    appeals = ws.appeals(user, state=None, call_id=call_id)
    by_item: dict[str, list] = {}
    for a in appeals:
        by_item.setdefault(a.item_id, []).append(a)
    return {
        "p": page, "evaluation": evaluation, "appeals": appeals, "appeals_by_item": by_item,
        "history": [history_line(e) for e in ws.audit_log(target=f"call:{call_id}", limit=100)], "call_id": call_id,
        "call_url": f"/calls/{quote(call_id, safe='')}",
    }


_ACTIONS = {"verdict.set": "verdict", "evaluation.set": "evaluation", "appeal.open": "appeal",
            "appeal.resolve": "appeal answered"}


def history_line(entry: Any) -> dict[str, str]:
    """One audit entry of a call as a line of its history: when, who, what changed (before -> after)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    what = _ACTIONS.get(entry.action, entry.action)
    if entry.action == "verdict.set":
        change = f"{after.get('item')}: {before.get('status')} → {after.get('status')}"
        words = after.get("note") or ""
    elif entry.action == "evaluation.set":
        change = f"{before.get('state', 'automatic')} → {after.get('state')}".replace("_", " ")
        words = after.get("comment") or ""
    elif entry.action == "appeal.open":
        change, words = str(after.get("item", "")), after.get("reason") or ""
    elif entry.action == "appeal.resolve":
        change = f"#{after.get('appeal')} {after.get('state', '')}"
        words = after.get("resolution_note") or ""
    else:
        change, words = "", ""
    return {"at": entry.at[:16].replace("T", " "), "actor": entry.actor, "action": entry.action, "what": what,
            "change": change, "words": words}


def timeline_png(ws: WorkspaceStore, user: User, call_id: str) -> bytes:
    """The call's timeline plot (who speaks when, rate, stage, holds) as PNG bytes; NotFound outside scope."""
    header = ws.call_header(user, call_id)
    if header is None:
        raise NotFound(f"no call {call_id!r}")

    def build() -> dict[str, Any]:
        from qa.reports.scorecard_html import load_page_settings
        from qa.reports.plots import timeline_png as plot

        uri = plot(ws.store.load_transcript(call_id), ws.store.load_findings(call_id), None,
                   load_page_settings()["plot"])
        return {"png": base64.b64decode(uri.split(",", 1)[1]) if uri else b""}

    png = _cache.get(("timeline", call_id, header["reviewed_at"]), build)["png"]
    if not png:
        raise NotFound(f"call {call_id!r} has no utterances to plot")
    return png


def call_json(ws: WorkspaceStore, user: User, call_id: str) -> dict[str, Any]:
    """The scorecard JSON with reviewer verdicts, both scores, the evaluation state and the call's appeals."""
    header = ws.call_header(user, call_id)
    if header is None:
        raise NotFound(f"no call {call_id!r}")
    evaluation, verdicts = ws.evaluation(call_id)
    card = ws.store.load_scorecard(call_id)
    out = scorecard_to_dict(card, verdicts)
    out["automatic_score"] = card.score
    out["reviewed_score"] = evaluation.reviewed_score
    out["evaluation"] = {"state": evaluation.state, "comment": evaluation.comment,
                         "updated_by": evaluation.updated_by, "updated_at": evaluation.updated_at}
    out["appeals"] = [asdict(a) for a in ws.appeals(user, state=None, call_id=call_id)]
    out["audio"] = f"/calls/{quote(call_id, safe='')}/audio"
    return out


@functools.lru_cache(maxsize=1)
def rubric_items() -> list[str]:
    from qa.scoring.rubric import load_rubric

    return [i.id for i in load_rubric().items]
