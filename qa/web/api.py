"""The JSON API: the same roles and rules as the pages, for scripts and integrations.

``POST /api/login`` sets the session cookie and returns the CSRF token; every
other POST needs it in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from qa.errors import NotFound
from . import auth
from .access import CSRF_HEADER, SESSION_COOKIE, check_csrf, client_address, require_role, viewer, ws_of
from .views import call_json, parse_filter
from qa.store.calibration_sessions import CalibrationStore

router = APIRouter(prefix="/api", tags=["api"])
Status = Literal["pass", "partial", "fail", "n/a"]
CsrfHeader = Annotated[Optional[str], Header(alias=CSRF_HEADER, description="the token POST /api/login returned")]


class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class VerdictBody(BaseModel):
    item: str = Field(max_length=32, description="rubric item (course ID), e.g. P1")
    status: Status
    note: str = Field("", max_length=4000)


class EvaluationBody(BaseModel):
    state: Optional[Literal["automatic", "in_review", "reviewed"]] = None
    comment: Optional[str] = Field(None, max_length=4000)


class AppealBody(BaseModel):
    item: str = Field(max_length=32)
    reason: str = Field(max_length=4000)


class ResolveBody(BaseModel):
    decision: Literal["accept", "reject"]
    note: str = Field(max_length=4000)
    status: Optional[Status] = Field(None, description="the item's new status when accepting")


def user_dict(user) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "teams": list(user.teams), "agent_id": user.agent_id}


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_lifetime.total_seconds()),
                        httponly=True, samesite="strict", secure=request.app.state.secure_cookies, path="/")


@router.post("/login", summary="Sign in: sets the session cookie, returns the CSRF token")
def api_login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    ws, settings = ws_of(request), request.app.state.settings
    user = auth.login(ws, settings, body.username, body.password, client_address(request))
    token, csrf = ws.create_session(user, settings.session_lifetime, client_address(request))
    set_session_cookie(request, response, token)
    return {"user": user_dict(user), "csrf_token": csrf}


@router.post("/logout", summary="End the session")
def api_logout(request: Request, response: Response, csrf: CsrfHeader = None) -> dict[str, str]:
    who = viewer(request)
    check_csrf(who, csrf)
    ws_of(request).end_session(who.session_token, who.user.username)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "signed out"}


@router.get("/me", summary="The signed-in user")
def api_me(request: Request) -> dict[str, Any]:
    return user_dict(viewer(request).user)


@router.get("/calls", summary="The calls you may see, filtered and paginated")
def api_calls(
    request: Request,
    agent: Optional[str] = None, team: Optional[str] = None,
    from_: Annotated[Optional[str], Query(alias="from", description="first day (YYYY-MM-DD) or time")] = None,
    to: Annotated[Optional[str], Query(description="last day (YYYY-MM-DD, inclusive) or time (exclusive)")] = None,
    language: Optional[str] = None, min_score: Optional[float] = None, max_score: Optional[float] = None,
    item: Optional[str] = None,
    status: Annotated[Optional[Status], Query(description="with item: that item's automatic status")] = None,
    stage: Annotated[Optional[str], Query(description="peak complaint stage, e.g. S5")] = None,
    class_: Annotated[Optional[str], Query(alias="class", description="complaint class, e.g. 升级")] = None,
    review: Optional[Literal["unreviewed", "in_review", "reviewed", "disputed"]] = None,
    q: Annotated[Optional[str], Query(description="full-text search over the masked transcripts")] = None,
    sort: Literal["date", "score", "agent", "team", "duration"] = "date",
    order: Literal["asc", "desc"] = "desc",
    page: Annotated[int, Query(ge=1, description="numbered pages go to 20; further, follow next_cursor")] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[Optional[str], Query(max_length=1200, description="next_cursor of the previous answer")] = None,
    before: Annotated[Optional[str], Query(max_length=1200, description="prev_cursor of the previous answer")] = None,
) -> dict[str, Any]:
    who = viewer(request)
    ws, settings = ws_of(request), request.app.state.settings
    params = {"agent": agent, "team": team, "from": from_, "to": to, "language": language,
              "min_score": min_score, "max_score": max_score, "item": item, "status": status, "stage": stage,
              "class": class_, "review": review, "q": q, "sort": sort, "order": order, "page": page,
              "per_page": per_page, "after": after, "before": before}
    f = parse_filter({k: str(v) for k, v in params.items() if v is not None}, settings)
    ws.refresh_statistics_if_due(settings.statistics_check_seconds)
    if f.q:
        ws.sync_search_if_due(settings.search_refresh_seconds)
    result = ws.list_calls(who.user, f)
    blind = CalibrationStore(ws).blind_calls(who.user, [r.call_id for r in result.rows])
    hidden = {"auto_score": None, "reviewed_score": None, "score": None, "state": None, "peak_stage": None,
              "final_stage": None, "complaint_class": None}
    return {"total": result.total, "total_exact": result.total_exact, "page": result.page, "per_page": result.per_page,
            "pages": result.pages, "next_cursor": result.next_cursor, "prev_cursor": result.prev_cursor,
            "calls": [{**asdict(r), "score": r.score, "blind": False} if r.call_id not in blind else
                      {**asdict(r), **hidden, "blind": True} for r in result.rows]}


@router.get("/calls/{call_id}", summary="One call's scorecard with reviewer verdicts and both scores")
def api_call(call_id: str, request: Request) -> dict[str, Any]:
    who = viewer(request)
    if ws_of(request).call_header(who.user, call_id) is None:
        raise NotFound(f"no call {call_id!r}")
    CalibrationStore(ws_of(request)).check_not_blind(who.user, call_id)
    return call_json(ws_of(request), who.user, call_id)


def _reviewable(request: Request, call_id: str):
    who = viewer(request)
    if ws_of(request).call_header(who.user, call_id) is None:
        raise NotFound(f"no call {call_id!r}")
    CalibrationStore(ws_of(request)).check_not_blind(who.user, call_id)
    return who


@router.post("/calls/{call_id}/verdicts", summary="Set a reviewer verdict on one item; returns the updated call")
def api_verdict(call_id: str, body: VerdictBody, request: Request, csrf: CsrfHeader = None) -> dict[str, Any]:
    who = _reviewable(request, call_id)
    check_csrf(who, csrf)
    require_role(who, "admin", "reviewer", "lead")
    ws_of(request).set_verdict(call_id, body.item, body.status, body.note, who.user.username)
    return call_json(ws_of(request), who.user, call_id)


@router.post("/calls/{call_id}/evaluation", summary="Set the evaluation state and/or the overall comment")
def api_evaluation(call_id: str, body: EvaluationBody, request: Request, csrf: CsrfHeader = None) -> dict[str, Any]:
    who = _reviewable(request, call_id)
    check_csrf(who, csrf)
    require_role(who, "admin", "reviewer", "lead")
    ws_of(request).set_evaluation(call_id, who.user.username, state=body.state, comment=body.comment)
    return call_json(ws_of(request), who.user, call_id)


@router.post("/calls/{call_id}/appeals", summary="An agent appeals one item of their own call")
def api_appeal(call_id: str, body: AppealBody, request: Request, csrf: CsrfHeader = None) -> dict[str, Any]:
    who = _reviewable(request, call_id)
    check_csrf(who, csrf)
    require_role(who, "agent")
    return asdict(ws_of(request).add_appeal(call_id, body.item, body.reason, who.user.username))


@router.get("/appeals", summary="Appeals you may see (agents: their own; leads: their teams'; reviewers: all)")
def api_appeals(request: Request,
                state: Optional[Literal["open", "accepted", "rejected"]] = "open") -> list[dict[str, Any]]:
    who = viewer(request)
    return [asdict(a) for a in ws_of(request).appeals(who.user, state=state)]


@router.post("/appeals/{appeal_id}/resolve", summary="Accept or reject an open appeal (reviewer, lead, admin)")
def api_resolve(appeal_id: int, body: ResolveBody, request: Request, csrf: CsrfHeader = None) -> dict[str, Any]:
    who = viewer(request)
    check_csrf(who, csrf)
    ws = ws_of(request)
    appeal = ws.appeal(appeal_id)
    if appeal is None or ws.call_header(who.user, appeal.call_id) is None:
        raise NotFound(f"no appeal {appeal_id}")
    require_role(who, "admin", "reviewer", "lead")
    return asdict(ws.resolve_appeal(appeal_id, body.decision == "accept", body.note, who.user.username, body.status))


@router.get("/audit", summary="The audit log, newest first (admins)")
def api_audit(request: Request, target: Optional[str] = None,
              limit: Annotated[int, Query(ge=1, le=2000)] = 200) -> list[dict[str, Any]]:
    who = viewer(request)
    require_role(who, "admin")
    return [asdict(e) for e in ws_of(request).audit_log(target=target, limit=limit)]
