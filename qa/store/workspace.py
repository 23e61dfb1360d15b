"""The reviewer workspace's reads and writes: users, sessions, audit log, evaluations, appeals, the call list.

The web layer (qa.web) calls these and never SQL. Every change is written in
the same transaction as its audit entry (who, when, what, before -> after),
so a change without its entry cannot exist. Reviewer verdicts are rows of the
store's ``disputes`` table (the same the ``callqa dispute`` command writes:
latest per item wins, history kept, re-scoring never touches them).

What each role sees is one clause (``_scope``): admins and reviewers every
call, a lead the calls of their teams, an agent the calls with their agent id.
A call outside it is reported as not found, exactly like a call that does
not exist.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from qa.errors import NotFound, UserError, VerdictError
from qa.store.schema import calls, disputes_table, item_scores, scores, utterances
from qa.store.database import Store, _time_key
from qa.scoring.reviewed import STATUSES, ItemPoints, reviewed_score
from qa.store.workspace_schema import (APPEAL_STATES, EVALUATION_STATES, ROLES, appeals, audit, evaluations, login_failures,
                               search_docs, sessions, user_teams, users)
from qa.store.search_text import fts5_query, index_text, phrase_texts

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MAX_NOTE_CHARS = 4000
#: The list says "10,000+" beyond this many matches.
COUNT_CAP = 10_000
#: Numbered pages (OFFSET) go this deep; further pages are reached by Next/Previous, which carry a cursor
#: (keyset pagination: the last row's sort value and call id), so page 1,000 costs what page 1 costs.
MAX_NUMBERED_PAGE = 20
MAX_CURSOR_CHARS = 1200
#: A search (SQLite) whose words are in more calls than this walks the list in its order and keeps the
#: calls that match (50 are found early); a rarer one starts from its matches (sorting a few is cheap).
#: (bench/web.py at 100k calls: a phrase in half the calls took 0.7 s from its matches.)
COMMON_HITS = 2000
SORTS = ("date", "score", "agent", "team", "duration")
REVIEW_FILTERS = ("unreviewed", "in_review", "reviewed", "disputed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    role: str
    agent_id: str | None
    teams: tuple[str, ...]
    disabled: bool
    created_at: str

    @property
    def can_review(self) -> bool:
        """Sets item verdicts and the evaluation state (leads only on their teams' calls, by scope)."""
        return self.role in ("admin", "reviewer", "lead")


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: str


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    at: str
    actor: str
    action: str
    target: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Evaluation:
    call_id: str
    state: str
    comment: str
    reviewed_score: float | None
    rubric_version: str | None
    updated_by: str | None
    updated_at: str | None


@dataclass(frozen=True)
class Appeal:
    appeal_id: int
    call_id: str
    item_id: str
    agent: str
    reason: str
    state: str
    created_at: str
    resolver: str | None
    resolution_status: str | None
    resolution_note: str | None
    resolved_at: str | None


@dataclass(frozen=True)
class Verdict:
    item_id: str
    status: str
    note: str
    reviewer: str
    created_at: str


@dataclass
class CallFilter:
    """The call list's filters, as the page's form and the API's query parameters give them."""

    agent: str | None = None
    team: str | None = None
    start: str | None = None  # inclusive date or time
    end: str | None = None  # inclusive date (the whole day) or exclusive time
    language: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    item: str | None = None
    status: str | None = None
    peak_stage: str | None = None
    complaint_class: str | None = None
    review: str | None = None  # one of REVIEW_FILTERS
    q: str | None = None
    sort: str = "date"
    descending: bool = True
    page: int = 1
    per_page: int = 50
    after: str | None = None  # cursor: the rows after this one (Next)
    before: str | None = None  # cursor: the rows before this one (Previous)


def encode_cursor(value: Any, call_id: str) -> str:
    """A list position as an opaque URL-safe token: the sort value and call id of a row."""
    raw = json.dumps([value, call_id], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> tuple[Any, str]:
    """The (sort value, call id) of a cursor; a VerdictError for anything else (it arrives in a URL)."""
    try:
        if len(token) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        value, call_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
        if not isinstance(call_id, str) or not (value is None or isinstance(value, (str, int, float))) \
                or isinstance(value, bool):
            raise ValueError("wrong shape")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise VerdictError("this list position (after/before) is not valid; start again from page 1") from exc
    return value, call_id


@dataclass(frozen=True)
class CallListRow:
    call_id: str
    agent_id: str | None
    team: str | None
    started_at: str | None
    language: str | None
    duration: float | None
    auto_score: float
    reviewed_score: float | None
    state: str
    peak_stage: str | None
    final_stage: str | None
    complaint_class: str | None
    open_appeals: int

    @property
    def score(self) -> float:
        """What reports use: the reviewed score once there is one."""
        return self.reviewed_score if self.reviewed_score is not None else self.auto_score


@dataclass
class CallPage:
    rows: list[CallListRow]
    total: int
    page: int
    per_page: int
    timings: dict[str, float] = field(default_factory=dict)
    next_cursor: str | None = None  # None: this is the last page
    prev_cursor: str | None = None  # None: this is the first page

    @property
    def total_exact(self) -> bool:
        return self.total <= COUNT_CAP

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _user(row: Any, teams: list[str]) -> User:
    return User(user_id=row["user_id"], username=row["username"], role=row["role"], agent_id=row["agent_id"],
                teams=tuple(sorted(teams)), disabled=bool(row["disabled"]), created_at=row["created_at"])


def _appeal(row: Any) -> Appeal:
    return Appeal(**{k: row[k] for k in Appeal.__dataclass_fields__})


# ---------------------------------------------------------------- the store
class WorkspaceStore:
    """Workspace reads and writes over an open ``qa.store.Store`` (same engine, same transactions helper)."""

    def __init__(self, store: Store):
        self.store = store
        self._pg = store._pg
        self._last_run: dict[str, float] = {}  # what -> time.monotonic() it last ran (the *_if_due methods)

    def _tx(self, what: str, write: bool = False):
        return self.store._tx(what, write=write)

    # ------------------------------------------------------------ audit
    @staticmethod
    def _audit(conn: Connection, actor: str, action: str, target: str, before: Any, after: Any) -> None:
        conn.execute(audit.insert().values(at=_iso(_now()), actor=actor, action=action, target=target,
                                           before=before, after=after))

    def audit_log(self, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Newest first; ``target`` e.g. ``call:42`` or ``user:ana``."""
        query = sa.select(audit).order_by(audit.c.audit_id.desc()).limit(max(1, min(limit, 2000)))
        if target is not None:
            query = query.where(audit.c.target == target)
        with self._tx("reading the audit log") as conn:
            return [AuditEntry(**r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------ users
    def _teams(self, conn: Connection, user_id: int) -> list[str]:
        return list(conn.scalars(sa.select(user_teams.c.team).where(user_teams.c.user_id == user_id)))

    def add_user(self, username: str, role: str, password_hash: str, teams: list[str] | None = None,
                 agent_id: str | None = None, actor: str = "cli") -> User:
        teams = sorted({t.strip() for t in (teams or []) if t and t.strip()})
        if not _USERNAME.match(username or ""):
            raise UserError(f"user name {username!r} is not allowed: 1-64 letters, digits, '.', '_', '@' or '-', "
                            f"starting with a letter or digit")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == "lead" and not teams:
            raise UserError(f"a lead sees only their teams' calls: give --team for {username} (repeat it for more)")
        if role == "agent" and not (agent_id and agent_id.strip()):
            raise UserError(f"an agent sees only their own calls: give --agent-id for {username} "
                            f"(the agent_id in the calls' metadata)")
        row = {"username": username, "role": role, "agent_id": agent_id.strip() if agent_id else None,
               "password_hash": password_hash, "disabled": False, "created_at": _iso(_now()), "disabled_at": None}
        with self._tx(f"adding user {username!r}", write=True) as conn:
            if conn.scalar(sa.select(users.c.user_id).where(sa.func.lower(users.c.username) == username.lower())):
                raise UserError(f"user {username!r} already exists (callqa users list)")
            user_id = conn.execute(users.insert().values(**row).returning(users.c.user_id)).scalar_one()
            if teams:
                conn.execute(user_teams.insert(), [{"user_id": user_id, "team": t} for t in teams])
            self._audit(conn, actor, "user.add", f"user:{username}", None,
                        {"role": role, "teams": teams, "agent_id": row["agent_id"]})
        return User(user_id, username, role, row["agent_id"], tuple(teams), False, row["created_at"])

    def find_user(self, username: str) -> tuple[User, str] | None:
        """(user, password hash) by name, case-insensitively; None when there is no such user."""
        with self._tx("looking up a user") as conn:
            row = conn.execute(sa.select(users).where(sa.func.lower(users.c.username) == (username or "").lower())
                               ).mappings().first()
            if row is None:
                return None
            return _user(row, self._teams(conn, row["user_id"])), row["password_hash"]

    def list_users(self) -> list[User]:
        with self._tx("listing users") as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).mappings().all()
            teams: dict[int, list[str]] = {}
            for user_id, team in conn.execute(sa.select(user_teams.c.user_id, user_teams.c.team)):
                teams.setdefault(user_id, []).append(team)
        return [_user(r, teams.get(r["user_id"], [])) for r in rows]

    def disable_user(self, username: str, actor: str = "cli") -> User:
        """Disable a user and end every session they have; their old cookies stop working at once."""
        found = self.find_user(username)
        if found is None:
            raise UserError(f"no user {username!r} (callqa users list)")
        user = found[0]
        with self._tx(f"disabling user {username!r}", write=True) as conn:
            conn.execute(sa.update(users).where(users.c.user_id == user.user_id)
                         .values(disabled=True, disabled_at=_iso(_now())))
            conn.execute(sa.delete(sessions).where(sessions.c.user_id == user.user_id))
            self._audit(conn, actor, "user.disable", f"user:{user.username}", {"disabled": user.disabled},
                        {"disabled": True})
        return User(**{**user.__dict__, "disabled": True})

    def set_password(self, username: str, password_hash: str, actor: str = "cli") -> None:
        found = self.find_user(username)
        if found is None:
            raise UserError(f"no user {username!r} (callqa users list)")
        with self._tx(f"setting the password of {username!r}", write=True) as conn:
            conn.execute(sa.update(users).where(users.c.user_id == found[0].user_id).values(password_hash=password_hash))
            conn.execute(sa.delete(sessions).where(sessions.c.user_id == found[0].user_id))
            self._audit(conn, actor, "user.password", f"user:{found[0].username}", None, {"changed": True})

    # ------------------------------------------------------------ sessions
    def create_session(self, user: User, lifetime: timedelta, client: str) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token). Only the token's SHA-256 is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self._tx("starting a session", write=True) as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at < _iso(now)))
            conn.execute(sessions.insert().values(token_hash=_digest(token), user_id=user.user_id, csrf_token=csrf,
                                                  created_at=_iso(now), expires_at=_iso(now + lifetime)))
            self._audit(conn, user.username, "session.login", f"user:{user.username}", None, {"client": client})
        return token, csrf

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie: None if unknown, expired, or its user is disabled."""
        if not token or len(token) > 200:
            return None
        with self._tx("checking a session") as conn:
            row = conn.execute(
                sa.select(users, sessions.c.csrf_token, sessions.c.expires_at)
                .select_from(sessions.join(users, users.c.user_id == sessions.c.user_id))
                .where(sessions.c.token_hash == _digest(token), sessions.c.expires_at > _iso(_now()),
                       users.c.disabled == sa.false())).mappings().first()
            if row is None:
                return None
            return Session(_user(row, self._teams(conn, row["user_id"])), row["csrf_token"], row["expires_at"])

    def end_session(self, token: str, actor: str) -> None:
        with self._tx("ending a session", write=True) as conn:
            if conn.execute(sa.delete(sessions).where(sessions.c.token_hash == _digest(token))).rowcount:
                self._audit(conn, actor, "session.logout", f"user:{actor}", None, None)

    # ------------------------------------------------------------ login rate limit
    def recent_failures(self, key: str, window: timedelta) -> int:
        with self._tx("counting failed logins") as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(login_failures).where(
                login_failures.c.key == key, login_failures.c.at > _iso(_now() - window)))

    def record_failure(self, key: str, window: timedelta) -> None:
        now = _now()
        with self._tx("recording a failed login", write=True) as conn:
            conn.execute(sa.delete(login_failures).where(login_failures.c.at < _iso(now - window)))
            conn.execute(login_failures.insert().values(key=key, at=_iso(now)))

    def clear_failures(self, key: str) -> None:
        with self._tx("clearing failed logins", write=True) as conn:
            conn.execute(sa.delete(login_failures).where(login_failures.c.key == key))

    # ------------------------------------------------------------ scope
    @staticmethod
    def _scope(user: User) -> Any:
        if user.role in ("admin", "reviewer"):
            return sa.true()
        if user.role == "lead":
            return calls.c.team.in_(list(user.teams)) if user.teams else sa.false()
        if user.role == "agent" and user.agent_id:
            return calls.c.agent_id == user.agent_id
        return sa.false()

    def call_header(self, user: User, call_id: str) -> dict[str, Any] | None:
        """The call's stored facts if ``user`` may see it, else None (the caller answers 404 either way)."""
        with self._tx("looking up a call") as conn:
            row = conn.execute(sa.select(calls.c.call_id, calls.c.agent_id, calls.c.team, calls.c.started_at,
                                         calls.c.language, calls.c.duration, calls.c.path, calls.c.reviewed_at)
                               .where(calls.c.call_id == call_id, self._scope(user))).mappings().first()
        return dict(row) if row is not None else None

    def teams_and_agents(self, user: User) -> tuple[list[str], list[str]]:
        """The teams and agent ids of the calls ``user`` sees (for the filter menus)."""
        scope = self._scope(user)
        with self._tx("listing teams and agents") as conn:
            teams = [t for t in conn.scalars(sa.select(calls.c.team).where(scope, calls.c.team.is_not(None))
                                              .distinct().order_by(calls.c.team).limit(500))]
            agents = [a for a in conn.scalars(sa.select(calls.c.agent_id).where(scope, calls.c.agent_id.is_not(None))
                                               .distinct().order_by(calls.c.agent_id).limit(2000))]
        return teams, agents

    # ------------------------------------------------------------ call list
    @staticmethod
    def _time(value: str) -> str:
        key = _time_key(value)
        if key is None:
            raise VerdictError(f"{value!r} is not a date or time; give YYYY-MM-DD or an ISO 8601 time")
        return key

    def list_calls(self, user: User, f: CallFilter) -> CallPage:
        started = time.perf_counter()
        ev = evaluations
        effective = sa.func.coalesce(ev.c.reviewed_score, scores.c.score)
        open_appeals = (sa.select(sa.func.count()).select_from(appeals)
                        .where(appeals.c.call_id == calls.c.call_id, appeals.c.state == "open")
                        .correlate(calls).scalar_subquery())
        # SQLite, a list in the order of a calls column: "+calls.call_id" keeps the planner from driving the
        # join from scores (a 100k-row sort); calls are then read in date order from ix_calls_started_utc
        # (1.6 s -> 1 ms at 100k calls). Never for the count or a sort by score: there it drives from scores
        # and must look calls up by id, and "+" made that a scan of every call per score (8 s at 20k calls).
        in_calls_order = not self._pg and f.sort != "score"
        call_key = sa.literal_column("+calls.call_id") if in_calls_order else calls.c.call_id

        def joined(key: Any) -> Any:
            return (calls.join(scores, sa.and_(scores.c.call_id == key, scores.c.is_current == sa.true()))
                    .outerjoin(ev, ev.c.call_id == calls.c.call_id))

        base, count_base = joined(call_key), joined(calls.c.call_id)
        where = [self._scope(user)]
        if f.agent:
            where.append(calls.c.agent_id == f.agent)
        if f.team:
            where.append(calls.c.team == f.team)
        if f.language:
            where.append(calls.c.language == f.language)
        if f.start:
            where.append(calls.c.started_utc >= self._time(f.start))
        if f.end:
            key = self._time(f.end)
            if len(f.end.strip()) == 10:  # a bare date: the whole day is in
                key = _time_key(datetime.fromisoformat(key) + timedelta(days=1))
            where.append(calls.c.started_utc < key)
        if f.min_score is not None:
            where.append(effective >= f.min_score)
        if f.max_score is not None:
            where.append(effective <= f.max_score)
        if f.item or f.status:
            if f.status and f.status not in STATUSES:
                raise VerdictError(f"status {f.status!r} is not one of {', '.join(STATUSES)}")
            cond = [item_scores.c.score_id == scores.c.score_id]
            if f.item:
                cond.append(item_scores.c.item_id == f.item)
            if f.status:
                cond.append(item_scores.c.status == f.status)
            where.append(sa.exists(sa.select(1).select_from(item_scores).where(*cond)))
        if f.peak_stage:
            where.append(scores.c.peak_stage == f.peak_stage)
        if f.complaint_class:
            where.append(scores.c.complaint_class == f.complaint_class)
        if f.review:
            if f.review not in REVIEW_FILTERS:
                raise VerdictError(f"review filter {f.review!r} is not one of {', '.join(REVIEW_FILTERS)}")
            if f.review == "unreviewed":
                where.append(sa.or_(ev.c.state.is_(None), ev.c.state == "automatic"))
            elif f.review == "disputed":
                where.append(sa.exists(sa.select(1).select_from(appeals).where(
                    appeals.c.call_id == calls.c.call_id, appeals.c.state == "open")))
            else:
                where.append(ev.c.state == f.review)
        fts_hits: int | None = None  # SQLite: the search's matches in the index, counted up to COUNT_CAP + 1
        if f.q and not self._pg and fts5_query(f.q) is not None:
            fts_hits = self._fts_hits(fts5_query(f.q))
            if fts_hits > COMMON_HITS:
                # "+" keeps the planner from starting at the 10k+ matches (and sorting them all); it reads
                # the calls in list order and checks each against the matches instead.
                base = base.join(search_docs, search_docs.c.call_id == calls.c.call_id)
                count_base = count_base.join(search_docs, search_docs.c.call_id == calls.c.call_id)
                where.append(sa.literal_column("+ws_search_docs.doc_id").in_(self._fts_rowids(fts5_query(f.q))))
            else:
                where.append(self._search_clause(f.q))
        elif f.q:
            where.append(self._search_clause(f.q))
        if f.sort not in SORTS:
            raise VerdictError(f"sort {f.sort!r} is not one of {', '.join(SORTS)}")
        key = {"date": calls.c.started_utc, "score": effective, "agent": calls.c.agent_id,
               "team": calls.c.team, "duration": calls.c.duration}[f.sort]
        # No NULLS LAST: it keeps SQLite from reading the date index in order (2.1 s -> ms at 100k calls).
        order = [key.desc() if f.descending else key.asc(),
                 calls.c.call_id.desc() if f.descending else calls.c.call_id.asc()]
        per_page = max(1, min(int(f.per_page), 200))
        page = max(1, int(f.page))
        columns = (calls.c.call_id, calls.c.agent_id, calls.c.team, calls.c.started_at, calls.c.language,
                   calls.c.duration, scores.c.score.label("auto_score"), ev.c.reviewed_score, ev.c.state,
                   scores.c.peak_stage, scores.c.final_stage, scores.c.complaint_class,
                   open_appeals.label("open_appeals"), key.label("sort_key"))
        cursor = f.after or f.before
        if cursor is None and page > MAX_NUMBERED_PAGE:
            raise VerdictError(f"page {page} is past the {MAX_NUMBERED_PAGE} numbered pages: go on with Next / "
                               f"Previous (they keep their place at any depth), or narrow the list with filters")
        # Counted up to COUNT_CAP: an exact count of 100k joined rows costs more than the page itself.
        capped = sa.select(calls.c.call_id).select_from(count_base).where(*where).limit(COUNT_CAP + 1).subquery()
        count = sa.select(sa.func.count()).select_from(capped)
        with self._tx("listing calls") as conn:
            if cursor is None:
                rows = list(conn.execute(sa.select(*columns).select_from(base).where(*where).order_by(*order)
                                         .limit(per_page + 1).offset((page - 1) * per_page)).mappings())
                more, rows = len(rows) > per_page, rows[:per_page]
                has_prev = page > 1
            else:
                backwards = f.after is None
                value, last_id = decode_cursor(cursor)
                rows = self._seek(conn, columns, base, where, key, f.descending != backwards, value, last_id,
                                  per_page + 1)
                more, rows = len(rows) > per_page, rows[:per_page]
                if backwards:
                    rows.reverse()
                has_prev = more if backwards else True
                more = True if backwards else more
            t_rows = time.perf_counter()
            only_search = fts_hits is not None and user.role in ("admin", "reviewer") and not any(
                getattr(f, name) not in (None, "") for name in ("agent", "team", "start", "end", "language",
                                                                "min_score", "max_score", "item", "status",
                                                                "peak_stage", "complaint_class", "review"))
            # A search and nothing else: its matches in the index are the count (every indexed call is listed).
            total = fts_hits if only_search else conn.scalar(count)
        listed = [CallListRow(**{**{k: v for k, v in r.items() if k != "sort_key"}, "state": r["state"] or "automatic"})
                  for r in rows]
        done = time.perf_counter()
        return CallPage(listed, total, page, per_page,
                        {"rows_ms": round((t_rows - started) * 1000, 1), "count_ms": round((done - t_rows) * 1000, 1)},
                        next_cursor=encode_cursor(rows[-1]["sort_key"], rows[-1]["call_id"]) if more and rows else None,
                        prev_cursor=encode_cursor(rows[0]["sort_key"], rows[0]["call_id"]) if has_prev and rows else None)

    def _seek(self, conn: Connection, columns: tuple, base: Any, where: list, key: Any, descending: bool,
              value: Any, last_id: str, limit: int) -> list[Any]:
        """Up to ``limit`` rows after (value, last_id) in the order (key, call_id), both ``descending``.

        Rows with no sort value form their own segment: first or last as the database sorts NULLs
        (PostgreSQL: NULLs largest; SQLite: smallest). Within the segment of the cursor the condition is
        ``key <= value AND (key < value OR call_id < last_id)`` (mirrored ascending), whose first part an
        index can seek on; later segments are read from their start.
        """
        def before(a: Any, b: Any) -> Any:
            return a < b if descending else a > b

        def up_to(a: Any, b: Any) -> Any:
            return a <= b if descending else a >= b

        order = [key.desc() if descending else key.asc(), calls.c.call_id.desc() if descending else calls.c.call_id.asc()]
        nulls_first = self._pg == descending
        if value is None:
            segments = [sa.and_(key.is_(None), before(calls.c.call_id, last_id))]
            if nulls_first:
                segments.append(key.is_not(None))
        else:
            segments = [sa.and_(key.is_not(None), up_to(key, value),
                                sa.or_(before(key, value), before(calls.c.call_id, last_id)))]
            if not nulls_first:
                segments.append(key.is_(None))
        rows: list[Any] = []
        for condition in segments:
            rows += conn.execute(sa.select(*columns).select_from(base).where(*where, condition).order_by(*order)
                                 .limit(limit - len(rows))).mappings().all()
            if len(rows) >= limit:
                break
        return rows

    # ------------------------------------------------------------ full-text search
    @staticmethod
    def _fts_rowids(match: str) -> Any:
        return sa.text("SELECT rowid FROM ws_search_fts WHERE ws_search_fts MATCH :match").bindparams(match=match)

    def _fts_hits(self, match: str) -> int:
        """How many indexed calls match, counted up to COUNT_CAP + 1 (~10 ms at 100k calls)."""
        with self._tx("counting search matches") as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM (SELECT rowid FROM ws_search_fts WHERE ws_search_fts MATCH ? LIMIT ?)",
                (match, COUNT_CAP + 1)).scalar_one()

    def _search_clause(self, q: str) -> Any:
        if self._pg:
            texts = phrase_texts(q)
            if not texts:
                return sa.true()
            tsq = sa.func.phraseto_tsquery("simple", texts[0])
            for text in texts[1:]:
                tsq = tsq.op("&&")(sa.func.phraseto_tsquery("simple", text))
            return calls.c.call_id.in_(sa.select(search_docs.c.call_id).where(search_docs.c.tsv.op("@@")(tsq)))
        match = fts5_query(q)
        if match is None:
            return sa.true()
        hits = sa.text("SELECT rowid FROM ws_search_fts WHERE ws_search_fts MATCH :match").bindparams(match=match)
        return calls.c.call_id.in_(sa.select(search_docs.c.call_id).where(search_docs.c.doc_id.in_(hits)))

    def sync_search(self, batch: int = 2000, max_batches: int | None = None) -> int:
        """Index calls new or re-reviewed since they were last indexed; returns how many were indexed.

        Idempotent and safe from several processes at once (upserts); the
        server runs it before a search at most every few seconds.
        """
        done = 0
        rounds = 0
        while max_batches is None or rounds < max_batches:
            rounds += 1
            with self._tx("indexing transcripts for search", write=True) as conn:
                stale = conn.execute(
                    sa.select(calls.c.call_id, calls.c.reviewed_at)
                    .select_from(calls.outerjoin(search_docs, search_docs.c.call_id == calls.c.call_id))
                    .where(sa.or_(search_docs.c.call_id.is_(None), search_docs.c.reviewed_at != calls.c.reviewed_at))
                    .limit(batch)).all()
                if not stale:
                    break
                ids = [c for c, _ in stale]
                texts: dict[str, list[str]] = {c: [] for c in ids}
                for call_id, text in conn.execute(sa.select(utterances.c.call_id, utterances.c.text)
                                                  .where(utterances.c.call_id.in_(ids))
                                                  .order_by(utterances.c.call_id, utterances.c.idx)):
                    texts[call_id].append(text)
                for call_id, reviewed_at in stale:
                    self._index_one(conn, call_id, reviewed_at, index_text("\n".join(texts[call_id])))
            done += len(stale)
            if len(stale) < batch:
                break
        return done

    def _index_one(self, conn: Connection, call_id: str, reviewed_at: str, body: str) -> None:
        stmt = self.store._insert(search_docs)
        if self._pg:
            values = {"call_id": call_id, "reviewed_at": reviewed_at, "tsv": sa.func.to_tsvector("simple", body)}
            conn.execute(stmt.values(**values).on_conflict_do_update(
                index_elements=[search_docs.c.call_id],
                set_={"reviewed_at": stmt.excluded.reviewed_at, "tsv": stmt.excluded.tsv}))
            return
        stmt = stmt.values(call_id=call_id, reviewed_at=reviewed_at).on_conflict_do_update(
            index_elements=[search_docs.c.call_id], set_={"reviewed_at": reviewed_at})
        conn.execute(stmt)
        doc_id = conn.scalar(sa.select(search_docs.c.doc_id).where(search_docs.c.call_id == call_id))
        conn.exec_driver_sql("DELETE FROM ws_search_fts WHERE rowid = ?", (doc_id,))
        conn.exec_driver_sql("INSERT INTO ws_search_fts (rowid, body) VALUES (?, ?)", (doc_id, body))

    def _due(self, what: str, every_seconds: float) -> bool:
        """True, and the clock restarted, unless ``what`` ran in this process less than ``every_seconds`` ago."""
        now = time.monotonic()
        if now - self._last_run.get(what, float("-inf")) < every_seconds:
            return False
        self._last_run[what] = now
        return True

    def refresh_statistics_if_due(self, every_seconds: float) -> bool:
        """``Store.refresh_statistics`` unless this process checked less than ``every_seconds`` ago."""
        return self._due("statistics", every_seconds) and self.store.refresh_statistics()

    def sync_search_if_due(self, every_seconds: float) -> int:
        """``sync_search`` unless it ran in this process less than ``every_seconds`` ago."""
        return self.sync_search() if self._due("search", every_seconds) else 0

    # ------------------------------------------------------------ evaluation
    def _items(self, conn: Connection, call_id: str) -> tuple[str, list[ItemPoints]]:
        row = conn.execute(sa.select(scores.c.score_id, scores.c.rubric_version)
                           .where(scores.c.call_id == call_id, scores.c.is_current == sa.true())).first()
        if row is None:
            raise NotFound(f"call {call_id!r} has no current score")
        items = [ItemPoints(r.item_id, r.status, r.points, r.max_points, bool(r.auto_fail)) for r in conn.execute(
            sa.select(item_scores.c.item_id, item_scores.c.status, item_scores.c.points, item_scores.c.max_points,
                      item_scores.c.auto_fail).where(item_scores.c.score_id == row.score_id)
            .order_by(item_scores.c.idx))]
        return row.rubric_version, items

    @staticmethod
    def _latest_verdicts(conn: Connection, call_id: str) -> dict[str, Verdict]:
        latest: dict[str, Verdict] = {}
        for r in conn.execute(sa.select(disputes_table).where(disputes_table.c.call_id == call_id)
                              .order_by(disputes_table.c.dispute_id)).mappings():
            latest[r["item_id"]] = Verdict(r["item_id"], r["status"], r["note"], r["reviewer"], r["created_at"])
        return latest

    @staticmethod
    def _evaluation_row(conn: Connection, call_id: str) -> dict[str, Any] | None:
        row = conn.execute(sa.select(evaluations).where(evaluations.c.call_id == call_id)).mappings().first()
        return dict(row) if row is not None else None

    def verdict_history(self, call_id: str) -> list[Verdict]:
        with self._tx("reading verdicts") as conn:
            return [Verdict(r["item_id"], r["status"], r["note"], r["reviewer"], r["created_at"]) for r in
                    conn.execute(sa.select(disputes_table).where(disputes_table.c.call_id == call_id)
                                 .order_by(disputes_table.c.dispute_id)).mappings()]

    def evaluation(self, call_id: str) -> tuple[Evaluation, dict[str, Verdict]]:
        """The call's evaluation (its reviewed score computed now, from the current automatic score) and the
        latest verdict per item. A stored reviewed score left stale by a re-score is refreshed."""
        with self._tx(f"reading the evaluation of {call_id!r}") as conn:
            version, items = self._items(conn, call_id)
            verdicts = self._latest_verdicts(conn, call_id)
            row = self._evaluation_row(conn, call_id)
        score = reviewed_score(version, items, {k: v.status for k, v in verdicts.items()})
        if row is not None and (row["reviewed_score"] != score or row["rubric_version"] != version):
            with self._tx(f"refreshing the reviewed score of {call_id!r}", write=True) as conn:
                conn.execute(sa.update(evaluations).where(evaluations.c.call_id == call_id)
                             .values(reviewed_score=score, rubric_version=version))
        if row is None and verdicts:  # verdicts from `callqa dispute`: the call is in review
            state = "in_review"
        else:
            state = row["state"] if row else "automatic"
        return Evaluation(call_id, state, row["comment"] if row else "", score, version,
                          row["updated_by"] if row else None, row["updated_at"] if row else None), verdicts

    def _put_evaluation(self, conn: Connection, call_id: str, actor: str, *, state: str | None = None,
                        comment: str | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        version, items = self._items(conn, call_id)
        verdicts = self._latest_verdicts(conn, call_id)
        before = self._evaluation_row(conn, call_id)
        after = {
            "call_id": call_id,
            "state": state or (before["state"] if before else "automatic"),
            "comment": comment if comment is not None else (before["comment"] if before else ""),
            "reviewed_score": reviewed_score(version, items, {k: v.status for k, v in verdicts.items()}),
            "rubric_version": version, "updated_by": actor, "updated_at": _iso(_now()),
        }
        if before is None:
            conn.execute(evaluations.insert().values(**after))
        else:
            conn.execute(sa.update(evaluations).where(evaluations.c.call_id == call_id).values(**after))
        return before, after

    def set_verdict(self, call_id: str, item_id: str, status: str, note: str, actor: str) -> Verdict:
        """A reviewer's verdict on one item: recorded, the reviewed score recomputed, the call put in review."""
        if status not in STATUSES:
            raise VerdictError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        note = (note or "").strip()
        if len(note) > MAX_NOTE_CHARS:
            raise VerdictError(f"the note is {len(note)} characters; keep it under {MAX_NOTE_CHARS}")
        with self._tx(f"recording a verdict on {call_id!r}", write=True) as conn:
            return self._verdict(conn, call_id, item_id, status, note, actor)

    def _verdict(self, conn: Connection, call_id: str, item_id: str, status: str, note: str, actor: str) -> Verdict:
        _, items = self._items(conn, call_id)
        auto = next((i for i in items if i.item_id == item_id), None)
        if auto is None:
            raise VerdictError(f"call {call_id!r} has no rubric item {item_id!r} "
                               f"(its items: {', '.join(i.item_id for i in items)})")
        previous = self._latest_verdicts(conn, call_id).get(item_id)
        now = _iso(_now())
        conn.execute(disputes_table.insert().values(call_id=call_id, item_id=item_id, status=status, note=note,
                                                    reviewer=actor, created_at=now))
        row = self._evaluation_row(conn, call_id)
        state = "in_review" if row is None or row["state"] == "automatic" else row["state"]
        before_eval, after_eval = self._put_evaluation(conn, call_id, actor, state=state)
        self._audit(conn, actor, "verdict.set", f"call:{call_id}",
                    {"item": item_id, "status": previous.status if previous else auto.status,
                     "note": previous.note if previous else None, "source": "reviewer" if previous else "automatic",
                     "reviewed_score": before_eval["reviewed_score"] if before_eval else None},
                    {"item": item_id, "status": status, "note": note, "reviewed_score": after_eval["reviewed_score"]})
        return Verdict(item_id, status, note, actor, now)

    def set_evaluation(self, call_id: str, actor: str, state: str | None = None, comment: str | None = None
                       ) -> Evaluation:
        """Move the evaluation between automatic, in review and reviewed, and/or set its overall comment."""
        if state is not None and state not in EVALUATION_STATES:
            raise VerdictError(f"state {state!r} is not one of {', '.join(EVALUATION_STATES)}")
        if comment is not None and len(comment) > MAX_NOTE_CHARS:
            raise VerdictError(f"the comment is {len(comment)} characters; keep it under {MAX_NOTE_CHARS}")
        with self._tx(f"updating the evaluation of {call_id!r}", write=True) as conn:
            before, after = self._put_evaluation(conn, call_id, actor, state=state,
                                                 comment=comment.strip() if comment is not None else None)
            keys = ("state", "comment", "reviewed_score")
            self._audit(conn, actor, "evaluation.set", f"call:{call_id}",
                        {k: before[k] for k in keys} if before else {"state": "automatic"},
                        {k: after[k] for k in keys})
        return Evaluation(**{k: after[k] for k in Evaluation.__dataclass_fields__})

    # ------------------------------------------------------------ appeals
    def add_appeal(self, call_id: str, item_id: str, reason: str, agent: str) -> Appeal:
        reason = (reason or "").strip()
        if not reason:
            raise VerdictError("an appeal needs a reason: say what the scorecard got wrong")
        if len(reason) > MAX_NOTE_CHARS:
            raise VerdictError(f"the reason is {len(reason)} characters; keep it under {MAX_NOTE_CHARS}")
        with self._tx(f"appealing {item_id} of {call_id!r}", write=True) as conn:
            _, items = self._items(conn, call_id)
            if not any(i.item_id == item_id for i in items):
                raise VerdictError(f"call {call_id!r} has no rubric item {item_id!r}")
            if conn.scalar(sa.select(appeals.c.appeal_id).where(appeals.c.call_id == call_id,
                                                                appeals.c.item_id == item_id,
                                                                appeals.c.state == "open")):
                raise VerdictError(f"{item_id} of {call_id} already has an open appeal; wait for its answer")
            row = {"call_id": call_id, "item_id": item_id, "agent": agent, "reason": reason, "state": "open",
                   "created_at": _iso(_now()), "resolver": None, "resolution_status": None,
                   "resolution_note": None, "resolved_at": None}
            appeal_id = conn.execute(appeals.insert().values(**row).returning(appeals.c.appeal_id)).scalar_one()
            self._audit(conn, agent, "appeal.open", f"call:{call_id}", None,
                        {"appeal": appeal_id, "item": item_id, "reason": reason})
        return Appeal(appeal_id=appeal_id, **row)

    def appeal(self, appeal_id: int) -> Appeal | None:
        with self._tx("reading an appeal") as conn:
            row = conn.execute(sa.select(appeals).where(appeals.c.appeal_id == appeal_id)).mappings().first()
        return _appeal(row) if row is not None else None

    def resolve_appeal(self, appeal_id: int, accept: bool, note: str, actor: str, status: str | None = None) -> Appeal:
        """Accept (recording ``status`` as the item's verdict) or reject an open appeal, with a note."""
        note = (note or "").strip()
        if not note:
            raise VerdictError("say why in a note: the agent reads it")
        if accept and status not in STATUSES:
            raise VerdictError(f"accepting an appeal records the item's new status; give one of {', '.join(STATUSES)}")
        with self._tx(f"resolving appeal {appeal_id}", write=True) as conn:
            row = conn.execute(sa.select(appeals).where(appeals.c.appeal_id == appeal_id)).mappings().first()
            if row is None:
                raise NotFound(f"appeal {appeal_id} does not exist")
            if row["state"] != "open":
                raise VerdictError(f"appeal {appeal_id} was already {row['state']} by {row['resolver']}")
            values = {"state": "accepted" if accept else "rejected", "resolver": actor,
                      "resolution_status": status if accept else None, "resolution_note": note,
                      "resolved_at": _iso(_now())}
            conn.execute(sa.update(appeals).where(appeals.c.appeal_id == appeal_id).values(**values))
            if accept:
                self._verdict(conn, row["call_id"], row["item_id"], status, f"appeal {appeal_id} accepted: {note}",
                              actor)
            self._audit(conn, actor, "appeal.resolve", f"call:{row['call_id']}",
                        {"appeal": appeal_id, "state": "open"}, {"appeal": appeal_id, **values})
        return _appeal({**row, **values})

    def appeals(self, user: User, state: str | None = "open", call_id: str | None = None,
                limit: int = 500) -> list[Appeal]:
        """Appeals ``user`` may see: an agent their own, a lead their teams', reviewers and admins all."""
        if state is not None and state not in APPEAL_STATES:
            raise VerdictError(f"appeal state {state!r} is not one of {', '.join(APPEAL_STATES)}")
        query = (sa.select(appeals).select_from(appeals.join(calls, calls.c.call_id == appeals.c.call_id))
                 .where(self._scope(user)).order_by(appeals.c.created_at, appeals.c.appeal_id).limit(limit))
        if state is not None:
            query = query.where(appeals.c.state == state)
        if call_id is not None:
            query = query.where(appeals.c.call_id == call_id)
        with self._tx("listing appeals") as conn:
            return [_appeal(r) for r in conn.execute(query).mappings()]
