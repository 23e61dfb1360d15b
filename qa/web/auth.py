"""Passwords (argon2id) and the login check with its per-user-and-address rate limit.

The failure counter lives in the store, so every server process over one
database counts the same attempts. A locked-out login is refused even with
the right password until the window has passed, and the answer does not say
whether the user exists.
"""

from __future__ import annotations

import argon2

from qa.errors import AuthError, LoginRateLimited
from qa.store.workspace import User, WorkspaceStore
from .settings import WebSettings

_hasher = argon2.PasswordHasher()
#: Verified against when the user does not exist, so both answers take as long.
_DUMMY_HASH = _hasher.hash("callqa-no-such-user")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AuthError(f"the password is too long: at most {MAX_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def login(ws: WorkspaceStore, settings: WebSettings, username: str, password: str, client: str) -> User:
    """The user for these credentials, or AuthError / LoginRateLimited."""
    username = (username or "").strip()[:64]
    password = (password or "")[:MAX_PASSWORD_CHARS]
    key = f"{username.lower()}|{client}"
    if ws.recent_failures(key, settings.failure_window) >= settings.max_failures:
        minutes = int(settings.failure_window.total_seconds() // 60)
        raise LoginRateLimited(f"too many failed logins for {username!r} from this address; try again in "
                               f"{minutes} minutes")
    found = ws.find_user(username) if username else None
    ok = _verify(found[1] if found else _DUMMY_HASH, password) and found is not None and not found[0].disabled
    if not ok:
        ws.record_failure(key, settings.failure_window)
        raise AuthError("wrong user name or password (or the account is disabled)")
    ws.clear_failures(key)
    return found[0]
