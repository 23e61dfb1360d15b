"""The store's tables and its ordered, named migrations (SQLAlchemy Core, SQLite and PostgreSQL).

``qa.store.database`` applies ``MIGRATIONS`` in order and records each in
``schema_migrations``; the tables here are what the store reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.Text  # ISO 8601 text: identical on both back ends, sorts correctly when normalised

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("applied_at", _TS, nullable=False),
)

files = sa.Table(
    "files", metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("first_seen", _TS, nullable=False),
    sa.Column("last_seen", _TS, nullable=False),
)

calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("agent_id", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("started_at", sa.Text),  # as the sidecar/manifest gave it
    sa.Column("started_utc", sa.Text),  # normalised for range filters (see _time_key)
    sa.Column("language", sa.Text),
    sa.Column("duration", sa.Double),
    sa.Column("reviewed_at", _TS, nullable=False),
    sa.Column("transcript", _JSON, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
)

utterances = sa.Table(
    "utterances", metadata,
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("start", sa.Double, nullable=False),
    sa.Column("end", sa.Double, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("confidence", sa.Double),
)

findings_table = sa.Table(
    "findings", metadata,
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("course_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("value", _JSON),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("start", sa.Double, nullable=False),
    sa.Column("end", sa.Double, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tagger", sa.Text, nullable=False),
    sa.Column("detail", _JSON, nullable=False),
)

scores = sa.Table(
    "scores", metadata,
    sa.Column("score_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("rubric_version", sa.Text, nullable=False),
    sa.Column("scored_at", _TS, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("peak_stage", sa.Text),
    sa.Column("final_stage", sa.Text),
    sa.Column("complaint_class", sa.Text),
    sa.Column("warnings", _JSON, nullable=False),
    sa.Column("summary", _JSON, nullable=False),
    sa.Column("meta", _JSON),
    sa.Column("is_current", sa.Boolean, nullable=False),
    # What the findings were made with (migration 0004): {"taggers": {name: version}, "lexicon":
    # {"language", "sha256"}, "thresholds": {"sha256"}, "questions": version}; NULL before 0004.
    sa.Column("versions", _JSON),
    sa.UniqueConstraint("call_id", "rubric_version", name="uq_scores_call_rubric"),
    sqlite_autoincrement=True,
)

item_scores = sa.Table(
    "item_scores", metadata,
    sa.Column("score_id", sa.Integer, sa.ForeignKey("scores.score_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("points", sa.Double, nullable=False),
    sa.Column("max_points", sa.Double, nullable=False),
    sa.Column("evidence", _JSON, nullable=False),
    sa.Column("tip", sa.Text, nullable=False),
    sa.Column("tip_en", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("auto_fail", sa.Boolean, nullable=False),
)

disputes_table = sa.Table(
    "disputes", metadata,
    sa.Column("dispute_id", sa.Integer, primary_key=True, autoincrement=True),
    # No cascade: a human's dispute outlives any re-save or re-score of the call.
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id"), nullable=False),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sqlite_autoincrement=True,
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", _TS, nullable=False),
    sa.Column("finished_at", _TS),
    sa.Column("archive", sa.Text, nullable=False),
    sa.Column("counts", _JSON, nullable=False),
    sa.Column("summary", _JSON, nullable=False),
    sqlite_autoincrement=True,
)

quarantine_table = sa.Table(
    "quarantine", metadata,
    sa.Column("qkey", sa.Text, primary_key=True),  # the sha256, or "path:" + path when unhashable
    sa.Column("sha256", sa.String(64)),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("error_class", sa.Text, nullable=False),
    sa.Column("first_seen", _TS, nullable=False),
    sa.Column("last_seen", _TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="SET NULL")),
)

# Created by migration 0002, not with the tables (CreateTable emits no indexes).
_INDEXES = (
    # At most one current score per call, enforced by the database itself.
    sa.Index("uq_scores_one_current", scores.c.call_id, unique=True,
             sqlite_where=scores.c.is_current == sa.true(),
             postgresql_where=scores.c.is_current == sa.true()),
    sa.Index("ix_calls_started_utc", calls.c.started_utc),
    sa.Index("ix_calls_team_started", calls.c.team, calls.c.started_utc),
    sa.Index("ix_calls_agent_started", calls.c.agent_id, calls.c.started_utc),
    sa.Index("ix_disputes_call_item", disputes_table.c.call_id, disputes_table.c.item_id),
    sa.Index("ix_quarantine_path", quarantine_table.c.path),
)

#: Per-utterance loudness and pitch of a reviewed recording (migration 0003).
call_acoustics = sa.Table(
    "call_acoustics", metadata,
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("utterances", _JSON, nullable=False),  # [{"loudness_db", "pitch_hz", "final_pitch_slope"}, ...]
)

V1_TABLES = (files, calls, utterances, findings_table, scores, item_scores, disputes_table, runs,
             quarantine_table)


#: Columns a later migration added to a V1 table: 0001 creates the table without them.
_ADDED_LATER = {"scores": ("versions",)}


def _as_created_by_0001(table: sa.Table) -> sa.Table:
    """``table`` as migration 0001 created it (a frozen copy without ``_ADDED_LATER`` columns)."""
    later = _ADDED_LATER.get(table.name)
    if not later:
        return table
    frozen = sa.MetaData()
    for other in V1_TABLES:
        if other is not table:
            other.to_metadata(frozen)  # foreign keys resolve against the same tables
    unique = [sa.UniqueConstraint(*(c.name for c in u.columns), name=u.name)
              for u in table.constraints if isinstance(u, sa.UniqueConstraint)]
    columns = [sa.Column(c.name, c.type, *(sa.ForeignKey(f.target_fullname, ondelete=f.ondelete) for f in c.foreign_keys),
                         primary_key=c.primary_key, nullable=c.nullable, autoincrement=c.autoincrement)
               for c in table.columns if c.name not in later]
    return sa.Table(table.name, frozen, *columns, *unique, **table.kwargs)


def _m0001_core_tables(conn: Connection) -> None:
    for table in V1_TABLES:
        conn.execute(CreateTable(_as_created_by_0001(table)))


def _m0002_indexes(conn: Connection) -> None:
    for index in _INDEXES:
        index.create(conn)


def _m0003_acoustics(conn: Connection) -> None:
    conn.execute(CreateTable(call_acoustics))


def _m0004_score_versions(conn: Connection) -> None:
    """Each score records the tagger versions and lexicon/thresholds fingerprints its findings were made with."""
    quote = conn.dialect.identifier_preparer.quote
    kind = _JSON.compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE {quote(scores.name)} ADD COLUMN {quote('versions')} {kind}"))


#: Ordered, named migrations. Append only; never rename or edit an applied one
#: (a later column change adds a migration here and updates the Table above;
#: 0001 then needs a frozen copy of the tables as they were).
MIGRATIONS: tuple[tuple[str, Callable[[Connection], None]], ...] = (
    ("0001_core_tables", _m0001_core_tables),
    ("0002_indexes", _m0002_indexes),
    ("0003_call_acoustics", _m0003_acoustics),
    ("0004_score_versions", _m0004_score_versions),
)

# The reviewer workspace's tables (qa.store.workspace_schema) come after the core ones.
from qa.store.workspace_schema import WORKSPACE_MIGRATIONS  # noqa: E402

MIGRATIONS = MIGRATIONS + WORKSPACE_MIGRATIONS
