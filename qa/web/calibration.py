"""Calibration sessions in the browser and the API: start one, evaluate blind, read the agreement.

Pages: ``/calibration`` (sessions you may see; leads and admins start one),
``/calibration/{id}`` (progress; the agreement tables for its lead, and for
everyone in it once closed), ``/calibration/{id}/calls/{call}`` (the blind
evaluation: transcript and recording, the rubric's items, no verdicts but your
own), ``/calibration/{id}/labels.csv`` (majority labels in ``callqa
calibrate``'s format). API: ``GET /api/calibration/{id}``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qa.errors import AccessDenied, AudioAccessError, NotFound
from qa.scoring.agreement import MULTI_REVIEWER_METHOD, consensus, session_agreement
from qa.store.calibration_sessions import CalibrationSession, CalibrationStore
from .access import require_role, viewer, ws_of

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])


def cal_of(request: Request) -> CalibrationStore:
    return CalibrationStore(ws_of(request))


def _url(session_id: int, call_id: str | None = None) -> str:
    base = f"/calibration/{session_id}"
    return base + (f"/calls/{quote(call_id, safe='')}" if call_id else "")


def results_model(cal: CalibrationStore, session: CalibrationSession) -> dict[str, Any]:
    """The agreement tables and the consensus, as the page and the API show them."""
    from .views import rubric_items

    machine, verdicts = cal.results(session.session_id)
    seen = {i for by_item in machine.values() for i in by_item}
    items = [i for i in rubric_items() if i in seen] + sorted(seen - set(rubric_items()))
    per_item, overall, per_reviewer = session_agreement(machine, verdicts, items)
    labels, ties = consensus(verdicts)
    method = "Cohen's kappa" if len(verdicts) <= 2 else MULTI_REVIEWER_METHOD
    return {"per_item": per_item, "overall": overall, "per_reviewer": per_reviewer, "method": method,
            "labels": labels, "ties": ties, "submitted_reviewers": sorted(verdicts), "machine": machine}


def _agreement_dict(row) -> dict[str, Any]:
    def part(a):
        return {"pairs": a.pairs, "agreed": a.agreed, "rate": a.rate, "kappa": a.kappa}

    return {"key": row.key, "calls": row.calls, "reviewer_vs_reviewer": part(row.reviewers),
            "machine_vs_reviewer": part(row.machine)}


def labels_csv(labels: dict[str, dict[str, str]], items: list[str]) -> str:
    """``callqa calibrate --labels`` CSV: call_id, rating (empty), one column per item."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["call_id", "rating", *items])
    for call_id, by_item in sorted(labels.items()):
        writer.writerow([call_id, "", *[by_item.get(i, "") for i in items]])
    return buffer.getvalue()


# ---------------------------------------------------------------- pages
@router.get("/calibration", response_class=HTMLResponse)
def sessions_page(request: Request, calls: str = "") -> HTMLResponse:
    from .pages import render

    who = viewer(request)
    require_role(who, "admin", "reviewer", "lead")
    cal = cal_of(request)
    return render(request, "calibration.html.j2", who=who, sessions=cal.sessions_for(who.user),
                  reviewers=cal.eligible_reviewers() if who.user.role in ("admin", "lead") else [],
                  prefill=calls[:20000])


@router.post("/calibration")
async def create_submit(request: Request) -> Response:
    from .pages import _form

    who = viewer(request)
    form = await request.form()
    data = await _form(request, who)
    require_role(who, "admin", "lead")
    call_ids = re.split(r"[\s,;]+", data.get("calls", "")[:20000])
    reviewers = [v for k, v in form.multi_items() if k == "reviewer" and isinstance(v, str)]
    session = cal_of(request).create(who.user, data.get("name", ""), call_ids, reviewers)
    return RedirectResponse(_url(session.session_id), status_code=303)


@router.get("/calibration/{session_id}", response_class=HTMLResponse)
def session_page(session_id: int, request: Request) -> HTMLResponse:
    from .pages import render

    who = viewer(request)
    cal = cal_of(request)
    session = cal.visible(who.user, session_id)
    results = results_model(cal, session) if session.may_see_results(who.user) else None
    notes = {}
    if results is not None and not session.is_open:
        notes = {k: [v for v in rows if (k[0], v[0]) in session.submitted] for k, rows in cal.notes(session_id).items()}
    return render(request, "calibration_session.html.j2", who=who, s=session, results=results, notes=notes,
                  headers=cal.call_headers(session), call_url=lambda c: _url(session_id, c), quote=quote)


@router.get("/calibration/{session_id}/calls/{call_id}", response_class=HTMLResponse)
def blind_call_page(session_id: int, call_id: str, request: Request) -> HTMLResponse:
    """The call for one reviewer of the session: words and recording, the items, their own verdicts only."""
    from qa.reports.text import clock, role_label
    from qa.scoring.rubric import load_rubric
    from .audio import recording_file
    from .pages import render

    who = viewer(request)
    cal = cal_of(request)
    session = cal.visible(who.user, session_id)
    if who.user.username not in session.reviewers or call_id not in session.call_ids:
        raise NotFound(f"call {call_id!r} is not yours to evaluate in calibration session {session_id}")
    header = ws_of(request).call_header(who.user, call_id)
    if header is None:
        raise NotFound(f"no call {call_id!r}")
    transcript = ws_of(request).store.load_transcript(call_id)
    rows = [{"t": round(u.start, 2), "clock": clock(u.start), "role": u.role if u.role in ("agent", "customer") else
             "unknown", "role_label": role_label(u.role), "text": u.text, "index": n}
            for n, u in enumerate(transcript.utterances)]
    rubric = {i.id: i for i in load_rubric().items}
    language = header["language"] or "en"
    items = [{"id": i, "title": rubric[i].title.get(language) if i in rubric else "",
              "title_en": rubric[i].title.en if i in rubric else ""} for i in cal.machine_items(session_id, call_id)]
    try:
        recording_file(header["path"], request.app.state.settings.audio_types, request.app.state.audio_roots)
        audio = f"/calls/{quote(call_id, safe='')}/audio"
    except AudioAccessError:  # no player; the page says the recording is not available
        audio = None
    position = session.call_ids.index(call_id)
    following = session.call_ids[position + 1] if position + 1 < len(session.call_ids) else None
    return render(request, "calibration_call.html.j2", who=who, s=session, call_id=call_id, header=header,
                  rows=rows, items=items, mine=cal.my_verdicts(session_id, call_id, who.user.username), audio=audio,
                  submitted=(call_id, who.user.username) in session.submitted, position=position,
                  next_url=_url(session_id, following) if following else None, action=_url(session_id, call_id),
                  session_url=_url(session_id), language=language)


@router.post("/calibration/{session_id}/calls/{call_id}")
async def blind_call_submit(session_id: int, call_id: str, request: Request) -> Response:
    from .pages import _form

    who = viewer(request)
    cal = cal_of(request)
    session = cal.visible(who.user, session_id)
    if call_id not in session.call_ids:
        raise NotFound(f"call {call_id!r} is not in calibration session {session_id}")
    data = await _form(request, who)
    items = cal.machine_items(session_id, call_id)
    verdicts = {i: (data.get(f"status-{i}", ""), data.get(f"note-{i}", "")[:5000]) for i in items
                if f"status-{i}" in data}
    submit = data.get("action") == "submit"
    session = cal.save(who.user, session_id, call_id, verdicts, submit)
    if submit:
        pending = [c for c in session.call_ids if (c, who.user.username) not in session.submitted]
        return RedirectResponse(_url(session_id, pending[0]) if pending else _url(session_id), status_code=303)
    return RedirectResponse(_url(session_id, call_id) + "#verdicts", status_code=303)


@router.post("/calibration/{session_id}/close")
async def close_submit(session_id: int, request: Request) -> Response:
    from .pages import _form

    who = viewer(request)
    await _form(request, who)
    cal_of(request).close(who.user, session_id)
    return RedirectResponse(_url(session_id), status_code=303)


@router.get("/calibration/{session_id}/labels.csv")
def labels_download(session_id: int, request: Request) -> Response:
    who = viewer(request)
    cal = cal_of(request)
    session = cal.visible(who.user, session_id)
    if not session.may_see_results(who.user):
        raise AccessDenied("the labels are for the session's lead, and for its reviewers once it is closed")
    results = results_model(cal, session)
    items = [row.key for row in results["per_item"]]
    return Response(labels_csv(results["labels"], items), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="calibration-{session_id}-labels.csv"'})


# ---------------------------------------------------------------- API
@api_router.get("/calibration/{session_id}", summary="A calibration session: progress, and agreement when you may "
                "see it (Cohen's kappa per item, reviewer vs reviewer and machine vs reviewer)")
def api_session(session_id: int, request: Request) -> dict[str, Any]:
    who = viewer(request)
    cal = cal_of(request)
    session = cal.visible(who.user, session_id)
    out: dict[str, Any] = {
        "session_id": session.session_id, "name": session.name, "state": session.state,
        "created_by": session.created_by, "created_at": session.created_at, "closed_at": session.closed_at,
        "calls": list(session.call_ids), "reviewers": list(session.reviewers),
        "submitted": {r: session.progress(r) for r in session.reviewers},
    }
    if session.may_see_results(who.user):
        results = results_model(cal, session)
        out["agreement"] = {"method_reviewers": results["method"],
                            "items": [_agreement_dict(r) for r in results["per_item"]],
                            "overall": _agreement_dict(results["overall"]),
                            "reviewers": [_agreement_dict(r) for r in results["per_reviewer"]]}
        out["labels"] = results["labels"]
        out["ties_left_out"] = results["ties"]
    return out

