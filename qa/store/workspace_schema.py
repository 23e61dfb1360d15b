"""The reviewer workspace's tables and migrations (users, sessions, audit log, evaluations, appeals, search).

Kept apart from ``qa.store.schema`` so the store's core tables and the workspace's
evolve independently; ``qa.store.schema.MIGRATIONS`` appends ``WORKSPACE_MIGRATIONS``.
Everything a server process needs to share with the others (sessions, login
failure counts) is a table here, never process memory, so several ``callqa
serve`` processes can run over one PostgreSQL store.

The audit log is append-only in the database itself: triggers refuse UPDATE
and DELETE on ``ws_audit`` (SQLite ``RAISE(ABORT)``, a PostgreSQL trigger
function), so no role, and no bug in the web layer, can rewrite history.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.Text  # ISO 8601 UTC text, as in qa.store.schema

metadata = sa.MetaData()

ROLES = ("admin", "reviewer", "lead", "agent")
EVALUATION_STATES = ("automatic", "in_review", "reviewed")
APPEAL_STATES = ("open", "accepted", "rejected")
CALIBRATION_STATES = ("open", "closed")

users = sa.Table(
    "ws_users", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("agent_id", sa.Text),  # the calls' agent_id an agent account may see
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("disabled_at", _TS),
    sqlite_autoincrement=True,
)

user_teams = sa.Table(
    "ws_user_teams", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("team", sa.Text, primary_key=True),
)

sessions = sa.Table(
    "ws_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie: a leaked table logs no one in
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("csrf_token", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
)

login_failures = sa.Table(
    "ws_login_failures", metadata,
    sa.Column("failure_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),  # lower-cased user name + "|" + client address
    sa.Column("at", _TS, nullable=False),
    sqlite_autoincrement=True,
)

audit = sa.Table(
    "ws_audit", metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("before", _JSON),
    sa.Column("after", _JSON),
    sqlite_autoincrement=True,
)

evaluations = sa.Table(
    "ws_evaluations", metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("reviewed_score", sa.Double),  # what reports use once a reviewer has set a verdict
    sa.Column("rubric_version", sa.Text),  # the automatic score the reviewed one was computed from
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

appeals = sa.Table(
    "ws_appeals", metadata,
    sa.Column("appeal_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.Text, nullable=False),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("agent", sa.Text, nullable=False),  # the user name who appealed
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("resolver", sa.Text),
    sa.Column("resolution_status", sa.Text),  # the item status recorded when accepted
    sa.Column("resolution_note", sa.Text),
    sa.Column("resolved_at", _TS),
    sqlite_autoincrement=True,
)

search_docs = sa.Table(
    "ws_search_docs", metadata,
    sa.Column("doc_id", sa.Integer, primary_key=True, autoincrement=True),  # the FTS5 rowid on SQLite
    sa.Column("call_id", sa.Text, nullable=False, unique=True),
    sa.Column("reviewed_at", _TS, nullable=False),  # calls.reviewed_at when indexed: a re-review re-indexes
    sa.Column("tsv", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")),  # PostgreSQL only
    sqlite_autoincrement=True,
)

WORKSPACE_TABLES = (users, user_teams, sessions, login_failures, audit, evaluations, appeals, search_docs)

_INDEXES = (
    sa.Index("ix_ws_sessions_user", sessions.c.user_id),
    sa.Index("ix_ws_login_failures_key", login_failures.c.key, login_failures.c.at),
    sa.Index("ix_ws_audit_target", audit.c.target),
    sa.Index("ix_ws_evaluations_state", evaluations.c.state),
    sa.Index("ix_ws_appeals_state", appeals.c.state, appeals.c.created_at),
    sa.Index("ix_ws_appeals_call", appeals.c.call_id),
)

_SQLITE_DDL = (
    "CREATE TRIGGER ws_audit_no_update BEFORE UPDATE ON ws_audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER ws_audit_no_delete BEFORE DELETE ON ws_audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    # One row per call; body is the masked transcript, Han characters one token each (qa.store.search_text).
    "CREATE VIRTUAL TABLE ws_search_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
    # The list filters by item verdict and sorts by score at 100k calls.
    "CREATE INDEX ix_ws_item_scores_item ON item_scores (item_id, status, score_id)",
    "CREATE INDEX ix_ws_scores_current_score ON scores (is_current, score)",
)

_PG_DDL = (
    "CREATE FUNCTION ws_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER ws_audit_no_change BEFORE UPDATE OR DELETE ON ws_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION ws_audit_append_only()",
    "CREATE INDEX ix_ws_search_tsv ON ws_search_docs USING GIN (tsv)",
    "CREATE INDEX ix_ws_item_scores_item ON item_scores (item_id, status, score_id)",
    "CREATE INDEX ix_ws_scores_current_score ON scores (is_current, score)",
)


def _m0010_workspace(conn: Connection) -> None:
    for table in WORKSPACE_TABLES:
        conn.execute(CreateTable(table))
    for index in _INDEXES:
        index.create(conn)
    for statement in (_PG_DDL if conn.dialect.name == "postgresql" else _SQLITE_DDL):
        conn.exec_driver_sql(statement)


# ---------------------------------------------------------------- calibration sessions (0011)
cal_metadata = sa.MetaData()

cal_sessions = sa.Table(
    "ws_cal_sessions", cal_metadata,
    sa.Column("session_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # open: reviewers evaluate blind; closed: results final
    sa.Column("closed_at", _TS),
    sqlite_autoincrement=True,
)

cal_calls = sa.Table(
    "ws_cal_calls", cal_metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("idx", sa.Integer, nullable=False),
    # The machine's verdicts the reviewers are blind to, as they were when the session started
    # ({"rubric_version", "items": {item: status}}): a later re-score does not move the comparison.
    sa.Column("machine", _JSON, nullable=False),
)

cal_reviewers = sa.Table(
    "ws_cal_reviewers", cal_metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("username", sa.Text, primary_key=True),
)

cal_verdicts = sa.Table(
    "ws_cal_verdicts", cal_metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("reviewer", sa.Text, primary_key=True),
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

cal_submissions = sa.Table(
    "ws_cal_submissions", cal_metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("reviewer", sa.Text, primary_key=True),
    sa.Column("submitted_at", _TS, nullable=False),
)

CALIBRATION_TABLES = (cal_sessions, cal_calls, cal_reviewers, cal_verdicts, cal_submissions)


def _m0011_calibration_sessions(conn: Connection) -> None:
    for table in CALIBRATION_TABLES:
        conn.execute(CreateTable(table))
    # "which open sessions is this reviewer blind in" runs on every list and call page
    sa.Index("ix_ws_cal_reviewers_user", cal_reviewers.c.username).create(conn)
    sa.Index("ix_ws_cal_calls_call", cal_calls.c.call_id).create(conn)


#: Appended to ``qa.store.schema.MIGRATIONS`` (append only; never edit an applied one).
WORKSPACE_MIGRATIONS: tuple[tuple[str, Callable[[Connection], None]], ...] = (
    ("0010_workspace", _m0010_workspace),
    ("0011_calibration_sessions", _m0011_calibration_sessions),
)
