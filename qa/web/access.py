"""Who is asking and may they: the session cookie, the CSRF check, and the error answers.

Pages and API share these. A missing or dead session is a redirect to the
login page for pages and a 401 for the API; a call outside the user's scope
is a 404 in both (``NotFound``), never a 403 that would confirm it exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request

from qa.errors import (AccessDenied, AudioAccessError, AuthError, CallqaError, CsrfError, LoginRateLimited, LoginRequired,
                      NotFound, StoreError, UserError, VerdictError)
from qa.store.workspace import Session, User, WorkspaceStore

SESSION_COOKIE = "callqa_session"
LOGIN_COOKIE = "callqa_login"  # double-submit token of the login form (there is no session yet)
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def status_of(exc: CallqaError) -> int:
    """The HTTP status for a refused request."""
    if isinstance(exc, LoginRateLimited):
        return 429
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, (AccessDenied, CsrfError)):
        return 403
    if isinstance(exc, (NotFound, AudioAccessError)):
        return 404
    if isinstance(exc, (VerdictError, UserError)):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 400


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request, with their session's CSRF token."""

    user: User
    csrf_token: str
    session_token: str


def ws_of(request: Request) -> WorkspaceStore:
    return request.app.state.ws


def viewer(request: Request) -> Viewer:
    """The request's live session, or LoginRequired (also for a disabled user's old cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    session: Session | None = ws_of(request).session(token)
    if session is None:
        raise LoginRequired("sign in first (your session ended, or the account was disabled)")
    return Viewer(session.user, session.csrf_token, token or "")


def check_csrf(who: Viewer, supplied: str | None) -> None:
    if not supplied or not secrets.compare_digest(str(supplied), who.csrf_token):
        raise CsrfError("this request has no valid CSRF token: reload the page, or send the token from "
                        "POST /api/login in the X-CSRF-Token header")


def require_role(who: Viewer, *roles: str) -> None:
    if who.user.role not in roles:
        raise AccessDenied(f"a {who.user.role} may not do this (needs: {', '.join(roles)})")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """Only a path on this site: '/calls?x', never '//evil' or 'https://…'."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/calls"
