"""Connecting to the store's database: URLs, SQLite's settings, JSON columns.

SQLite is set up for a nightly run and a reviewer writing at once: WAL (readers
never block the writer), a busy timeout, and writers taking the write lock when
their transaction begins. PostgreSQL needs only its driver picked from the URL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from qa.errors import StoreUrlError

#: How long a SQLite writer waits for another writer before giving up (ms).
#: Nightly runs and a reviewer's dispute may write at the same moment.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and pick the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("postgresql+psycopg://"):
        return url
    if url.startswith("sqlite://"):
        database = url[len("sqlite://"):].lstrip("/")
        if not database or database.startswith(":memory:") or database.startswith("?"):
            raise StoreUrlError(f"{url!r} names no database file, so nothing would be kept; write "
                                f"sqlite:///path/to/callqa.db (or no --store for the default file)")
        return url
    raise StoreUrlError(
        f"unsupported database URL {url.split('://')[0]}://...; use postgresql://user@host/db "
        f"or sqlite:///path/to/callqa.db (or no URL for the default SQLite file)"
    )


def _json_default(obj: Any) -> Any:
    """Let numpy scalars/arrays and paths through; refuse anything else by name."""
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable; store plain numbers, strings, lists and dicts")


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_json_default, allow_nan=False)


def postgres_engine(url: str) -> Engine:
    return sa.create_engine(url, json_serializer=json_dumps, pool_pre_ping=True,
                            connect_args={"connect_timeout": 10})


def sqlite_engine(url: str) -> Engine:
    """A SQLite engine: WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for writers."""
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).expanduser().parent
        if not folder.is_dir():
            raise StoreUrlError(f"{url}: the folder {folder} does not exist (a mistyped path?); create it first, "
                                f"or fix the URL")
    engine = sa.create_engine(url, json_serializer=json_dumps,
                              connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so SQLAlchemy's "begin" hook
        # below decides DEFERRED vs IMMEDIATE and DDL is transactional.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that
        # later upgrades to write gets SQLITE_BUSY without waiting.
        write = conn.get_execution_options().get("callqa_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once, waiting out other openers.

    WAL is stored in the file, so a database already in WAL is left alone. The
    switch itself needs the file to itself and SQLite does not run the busy
    handler for it: two processes opening a fresh database at once would get
    "database is locked" at once, so the switch is retried until the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
