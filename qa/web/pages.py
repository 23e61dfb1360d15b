"""The HTML pages: login, call list, call page (with verdict and appeal forms), dispute queue, audit log.

Forms post back with the session's CSRF token in a hidden field and are
answered with a redirect (303) to the page they came from, so a reload never
posts twice.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from qa.errors import AuthError, CallqaError, CsrfError, LoginRateLimited, NotFound
from qa.reports.scorecard_html import _status_key as status_key
from qa.scoring.reviewed import STATUSES
from . import auth
from .access import (CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, Viewer, check_csrf, client_address, require_role,
                     safe_next, viewer, ws_of)
from .api import set_session_cookie
from .audio import masked_recording, recording_file
from .views import FILTER_FIELDS, call_page, parse_filter, rubric_items, timeline_png
from qa.store.calibration_sessions import CalibrationStore
from qa.store.workspace import MAX_NUMBERED_PAGE

router = APIRouter(include_in_schema=False)
LOGIN_ERRORS = {"wrong": "Wrong user name or password, or the account is disabled.",
                "locked": "Too many failed attempts for this user from this address: wait and try again later."}


def render(request: Request, template: str, status_code: int = 200, who: Viewer | None = None,
           **context: Any) -> HTMLResponse:
    env = request.app.state.templates
    html = env.get_template(template).render(me=who.user if who else None, csrf=who.csrf_token if who else "",
                                             statuses=STATUSES, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status: int, exc: CallqaError) -> HTMLResponse:
    try:
        who = viewer(request)
    except CallqaError:
        who = None
    return render(request, "error.html.j2", status_code=status, who=who, status=status, message=str(exc))


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request, who: Viewer) -> dict[str, str]:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(who, data.get(CSRF_FIELD))
    return data


# ---------------------------------------------------------------- login
@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return _back("/calls")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/calls", error: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html.j2", login_token=token, next=safe_next(next),
                      error=LOGIN_ERRORS.get(error, ""))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies, path="/login", max_age=3600)
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    target = safe_next(data.get("next"))
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, data.get(CSRF_FIELD, "")):
        raise CsrfError("the login form expired; open the login page again")
    ws, settings = ws_of(request), request.app.state.settings
    try:
        user = auth.login(ws, settings, data.get("username", ""), data.get("password", ""), client_address(request))
    except AuthError as exc:  # a fixed code in the URL, so nobody can put their own words on the login page
        code = "locked" if isinstance(exc, LoginRateLimited) else "wrong"
        return _back("/login?" + urlencode({"next": target, "error": code}))
    token, _ = ws.create_session(user, settings.session_lifetime, client_address(request))
    response = _back(target)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = viewer(request)
    await _form(request, who)
    ws_of(request).end_session(who.session_token, who.user.username)
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- calls
@router.get("/calls", response_class=HTMLResponse)
def calls_page(request: Request) -> HTMLResponse:
    who = viewer(request)
    ws, settings = ws_of(request), request.app.state.settings
    params = {k: v for k, v in request.query_params.items() if k in FILTER_FIELDS}
    f = parse_filter(params, settings)
    ws.refresh_statistics_if_due(settings.statistics_check_seconds)
    if f.q:
        ws.sync_search_if_due(settings.search_refresh_seconds)
    result = ws.list_calls(who.user, f)
    blind = CalibrationStore(ws).blind_calls(who.user, [r.call_id for r in result.rows])
    teams, agents = ws.teams_and_agents(who.user)
    kept = {k: v for k, v in params.items() if v and k not in ("page", "after", "before")}

    def page_url(n: int, **cursor: str) -> str:
        return "/calls?" + urlencode({**kept, **cursor, "page": n})

    def sort_url(key: str) -> str:
        order = "asc" if f.sort == key and f.descending else "desc"
        return "/calls?" + urlencode({**{k: v for k, v in kept.items() if k not in ("sort", "order")},
                                      "sort": key, "order": order})

    return render(request, "calls.html.j2", who=who, result=result, f=f, params=params, teams=teams,
                  agents=agents, items=rubric_items(), page_url=page_url, sort_url=sort_url, blind=blind,
                  numbered=min(result.pages, MAX_NUMBERED_PAGE),
                  open_queue=len(ws.appeals(who.user, state="open")) if who.user.role != "agent" else 0,
                  quote=quote)


def _call_or_404(request: Request, who: Viewer, call_id: str) -> str:
    """The call id the user may see: ``x.html`` is accepted for ``x`` (coaching reports link that way)."""
    ws = ws_of(request)
    if ws.call_header(who.user, call_id) is not None:
        return call_id
    if call_id.endswith(".html") and ws.call_header(who.user, call_id[:-5]) is not None:
        return call_id[:-5]
    raise NotFound(f"no call {call_id!r}")


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_view(call_id: str, request: Request) -> Response:
    who = viewer(request)
    call_id = _call_or_404(request, who, call_id)
    blind_in = CalibrationStore(ws_of(request)).blind_session_of(who.user, call_id)
    if blind_in is not None:  # evaluating it blind: the scorecard would show the machine's verdicts
        return _back(f"/calibration/{blind_in}/calls/{quote(call_id, safe='')}")
    model = call_page(ws_of(request), who.user, call_id, request.app.state.settings, request.app.state.audio_roots)
    return render(request, "call.html.j2", who=who, status_key=status_key, **model)


@router.get("/calls/{call_id}/audio")
def call_audio(call_id: str, request: Request) -> FileResponse:
    who = viewer(request)
    header = ws_of(request).call_header(who.user, call_id)
    if header is None:
        raise NotFound(f"no call {call_id!r}")
    path, _ = recording_file(header["path"], request.app.state.settings.audio_types, request.app.state.audio_roots)
    store = ws_of(request).store
    masked = masked_recording(path, header["reviewed_at"], lambda: store.load_transcript(call_id),
                              request.app.state.audio_cache)
    return FileResponse(masked, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})


@router.get("/calls/{call_id}/timeline.png")
def call_timeline(call_id: str, request: Request) -> Response:
    who = viewer(request)
    CalibrationStore(ws_of(request)).check_not_blind(who.user, call_id)
    png = timeline_png(ws_of(request), who.user, call_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/calls/{call_id}/verdict")
async def verdict_submit(call_id: str, request: Request) -> Response:
    who = viewer(request)
    call_id = _call_or_404(request, who, call_id)
    data = await _form(request, who)
    require_role(who, "admin", "reviewer", "lead")
    CalibrationStore(ws_of(request)).check_not_blind(who.user, call_id)
    item = data.get("item", "")
    ws_of(request).set_verdict(call_id, item, data.get("status", ""), data.get("note", ""), who.user.username)
    return _back(f"/calls/{quote(call_id, safe='')}#item-{quote(item, safe='')}")


@router.post("/calls/{call_id}/evaluation")
async def evaluation_submit(call_id: str, request: Request) -> Response:
    who = viewer(request)
    call_id = _call_or_404(request, who, call_id)
    data = await _form(request, who)
    require_role(who, "admin", "reviewer", "lead")
    CalibrationStore(ws_of(request)).check_not_blind(who.user, call_id)
    ws_of(request).set_evaluation(call_id, who.user.username, state=data.get("state") or None,
                                  comment=data.get("comment"))
    return _back(f"/calls/{quote(call_id, safe='')}#evaluation")


@router.post("/calls/{call_id}/appeal")
async def appeal_submit(call_id: str, request: Request) -> Response:
    who = viewer(request)
    call_id = _call_or_404(request, who, call_id)
    data = await _form(request, who)
    require_role(who, "agent")
    item = data.get("item", "")
    ws_of(request).add_appeal(call_id, item, data.get("reason", ""), who.user.username)
    return _back(f"/calls/{quote(call_id, safe='')}#item-{quote(item, safe='')}")


@router.post("/appeals/{appeal_id}/resolve")
async def resolve_submit(appeal_id: int, request: Request) -> Response:
    who = viewer(request)
    ws = ws_of(request)
    appeal = ws.appeal(appeal_id)
    if appeal is None or ws.call_header(who.user, appeal.call_id) is None:
        raise NotFound(f"no appeal {appeal_id}")
    data = await _form(request, who)
    require_role(who, "admin", "reviewer", "lead")
    accept = data.get("decision") == "accept"
    ws.resolve_appeal(appeal_id, accept, data.get("note", ""), who.user.username,
                      data.get("status") if accept else None)
    return _back(safe_next(data.get("back")) if data.get("back") else "/disputes")


# ---------------------------------------------------------------- queues and logs
@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(request: Request, state: str = "open") -> HTMLResponse:
    who = viewer(request)
    state_filter = None if state == "all" else state
    appeals = ws_of(request).appeals(who.user, state=state_filter)
    return render(request, "disputes.html.j2", who=who, appeals=appeals, state=state, quote=quote)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, target: str = "") -> HTMLResponse:
    who = viewer(request)
    require_role(who, "admin")
    entries = ws_of(request).audit_log(target=target or None, limit=500)
    return render(request, "audit.html.j2", who=who, entries=entries, target=target)


# ---------------------------------------------------------------- coaching
@router.get("/coaching", response_class=HTMLResponse)
def coaching_page(request: Request, start: str = "", end: str = "", team: str = "", agent: str = "") -> HTMLResponse:
    """The coaching report live from the store, for a team or agent and a date range; a lead only for their
    teams, an agent only for themselves. Example calls link to the call page at the second."""
    from datetime import date, timedelta

    from qa.pipeline.coaching import build_report
    from qa.reports.coaching_html import page_context

    who = viewer(request)
    user = who.user
    today = date.today()
    start = start or (today - timedelta(days=28)).isoformat()
    end = end or today.isoformat()
    team, agent = team.strip() or None, agent.strip() or None
    if user.role == "agent":
        team, agent = None, user.agent_id
    elif user.role == "lead":
        if team is None:
            team = user.teams[0] if user.teams else None
        if team not in user.teams:
            raise NotFound(f"no team {team!r} among yours ({', '.join(user.teams)})")
    teams, _ = ws_of(request).teams_and_agents(user)
    form = {"start": start, "end": end, "team": team or "", "agent": agent or ""}
    report = build_report(ws_of(request).store, start, end, team=team, agent=agent, link_base="/calls/")
    return render(request, "coaching_live.html.j2", who=who, form=form, teams=teams, **page_context(report))
