"""callqa's persistent store: reviewed calls, their scores, disputes, runs, quarantine.

Nightly runs need to know which content was already reviewed (by SHA-256, so a
renamed or moved file is not reviewed twice), must survive being killed at any
moment (one transaction per call), and feed reports per agent, team and week.
One SQLAlchemy Core schema serves SQLite (the default: ``callqa.db`` in the data
dir) and PostgreSQL (when a URL is given). All of callqa's SQL lives here and
in ``qa.schema`` (the tables and migrations); ``qa.db_engine`` connects.

Migrations are named, ordered and recorded in ``schema_migrations``; opening a
store applies the missing ones under a lock (SQLite ``BEGIN IMMEDIATE``, a
PostgreSQL advisory lock), so two processes may open a fresh database at once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTable

from qa.common.paths import data_dir as default_data_dir
from qa.errors import (
    CallIdTaken,
    DuplicateContent,
    NotFound,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
    StoreUrlError,
)
from qa.intake.transcript_io import transcript_from_dict, transcript_to_dict
from qa.store.engine import normalise_url, postgres_engine, sqlite_engine
from qa.store.schema import (
    MIGRATIONS,
    V1_TABLES,
    call_acoustics,
    calls,
    disputes_table,
    files,
    findings_table,
    item_scores,
    quarantine_table,
    runs,
    schema_migrations,
    scores,
    utterances,
)
from qa.types import CallMeta, Evidence, Finding, ItemScore, Scorecard, Transcript

__all__ = [
    "DB_FILENAME",
    "ENV_DB_URL",
    "MIGRATIONS",
    "CallIdTaken",
    "Dispute",
    "DuplicateContent",
    "NotFound",
    "QuarantineEntry",
    "RunRecord",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoreUrlError",
]

DB_FILENAME = "callqa.db"
#: Environment variable naming the database when ``Store.open`` gets no URL.
ENV_DB_URL = "CALLQA_DB_URL"
#: Arbitrary constant key of the PostgreSQL advisory lock held while migrating.
_PG_MIGRATION_LOCK = 0x63616C6C7161  # "callqa"
#: Rows per ``IN (...)`` lookup: well under SQLite's and PostgreSQL's bind limits.
_LOOKUP_CHUNK = 900


# ---------------------------------------------------------------- errors
# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Dispute:
    """A reviewer's objection to one rubric item of one call; re-scoring keeps it."""

    dispute_id: int
    call_id: str
    item_id: str
    status: str
    note: str
    reviewer: str
    created_at: str


@dataclass(frozen=True)
class QuarantineEntry:
    """A file that failed; ``attempts`` counts the runs it failed in."""

    key: str
    sha256: str | None
    path: str
    reason: str
    error_class: str
    first_seen: str
    last_seen: str
    attempts: int
    run_id: int | None


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    started_at: str
    finished_at: str | None
    archive: str
    counts: dict[str, Any]
    summary: dict[str, Any]


# ---------------------------------------------------------------- helpers
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _time_key(value: str | datetime | date | None) -> str | None:
    """A sortable text key for a timestamp: aware times in UTC, naive ones as given.

    Contact centres send ``started_at`` in many shapes ("2024-05-01T09:00:00+08:00",
    "...Z", a bare date); range filters compare these keys as text.
    Unparseable text gives None (the call is then left out of date-filtered reports).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def is_transient_db_error(exc: BaseException | None) -> bool:
    """A database error worth retrying in a moment: busy, unreachable, or its connection dropped."""
    if isinstance(exc, sa.exc.OperationalError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def _check_sha(sha256: str) -> None:
    if not (isinstance(sha256, str) and len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)):
        raise StoreError(f"sha256 must be 64 lower-case hex digits (hashlib.sha256(...).hexdigest()), got {sha256!r}")


def _meta_to_dict(meta: CallMeta | None) -> dict[str, Any] | None:
    if meta is None:
        return None
    return {
        "call_id": meta.call_id, "agent_id": meta.agent_id, "team": meta.team,
        "started_at": meta.started_at, "language": meta.language,
        "channel_map": {str(k): v for k, v in meta.channel_map.items()},
        "extra": meta.extra,
    }


def _meta_from_dict(raw: dict[str, Any] | None) -> CallMeta | None:
    if raw is None:
        return None
    raw = dict(raw)
    raw["channel_map"] = {int(k): v for k, v in (raw.get("channel_map") or {}).items()}
    return CallMeta(**raw)


def _evidence_to_list(evidence: list[Evidence]) -> list[dict[str, Any]]:
    return [{"role": e.role, "start": e.start, "end": e.end, "text": e.text} for e in evidence]


# ---------------------------------------------------------------- store
class Store:
    """The reviewed-call database. Thread-safe: each call takes its own connection."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        self.url = engine.url.render_as_string(hide_password=True)

    # ------------------------------------------------------------ opening
    @classmethod
    def open(cls, url: str | None = None, data_dir: Path | None = None) -> Store:
        """Open (and migrate) a store.

        Precedence: ``url``; else the SQLite file ``callqa.db`` in ``data_dir`` if
        given; else ``$CALLQA_DB_URL``; else ``callqa.db`` in ``qa.paths.data_dir()``
        (``$CALLQA_DATA_DIR`` or the platform's user data dir).
        """
        if url is None and data_dir is None:
            url = os.environ.get(ENV_DB_URL) or None
        if url is None:
            directory = Path(data_dir) if data_dir is not None else default_data_dir()
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the data dir {directory} ({exc}); "
                                 f"set CALLQA_DATA_DIR to a writable directory") from exc
            url = f"sqlite:///{directory / DB_FILENAME}"
        url = normalise_url(url)
        try:
            engine = sqlite_engine(url) if url.startswith("sqlite") else postgres_engine(url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise StoreUrlError(f"cannot use the store URL: {exc}; write postgresql://user@host:5432/db or "
                                f"sqlite:///path/to/callqa.db") from exc
        store = cls(engine)
        try:
            store.migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, what: str, write: bool = False) -> Iterator[Connection]:
        """One transaction; database errors become a StoreError naming ``what``."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(callqa_write=True)
                with conn.begin():
                    yield conn
        except StoreError:
            raise
        except sa.exc.DBAPIError as exc:
            if not is_transient_db_error(exc):
                cause = getattr(exc, "orig", None) or exc
                raise StoreError(f"{what} failed and was rolled back, nothing was written: {_one_line(cause)}") from exc
            raise StoreUnavailable(
                f"{what} failed: {_one_line(exc.orig)}. Check that the database at {self.url} is reachable "
                f"and writable (for SQLite: no other program holds a long write lock)"
            ) from exc
        except (sa.exc.SQLAlchemyError, TypeError, ValueError) as exc:
            # TypeError/ValueError: a value the driver could not encode (psycopg raises them unwrapped).
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"{what} failed and was rolled back, nothing was written: {_one_line(cause)}") from exc

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    # ------------------------------------------------------------ migrations
    def migrate(self) -> list[str]:
        """Apply missing migrations in order; returns the names applied now."""
        known = [name for name, _ in MIGRATIONS]
        applied_now: list[str] = []
        with self._tx("migrating the schema", write=True) as conn:
            if self._pg:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            conn.execute(CreateTable(schema_migrations, if_not_exists=True))
            applied = set(conn.scalars(sa.select(schema_migrations.c.name)))
            unknown = sorted(applied - set(known))
            if unknown:
                raise SchemaTooNew(
                    f"the database at {self.url} has migrations this callqa does not know ({', '.join(unknown)}); "
                    f"upgrade callqa, or point it at another database"
                )
            for name, apply in MIGRATIONS:
                if name in applied:
                    continue
                apply(conn)
                conn.execute(schema_migrations.insert().values(name=name, applied_at=_now()))
                applied_now.append(name)
        return applied_now

    def applied_migrations(self) -> list[str]:
        with self._tx("reading schema_migrations") as conn:
            return list(conn.scalars(sa.select(schema_migrations.c.name).order_by(schema_migrations.c.name)))

    def refresh_statistics(self, growth: float = 2.0) -> bool:
        """SQLite: ``ANALYZE`` when the calls have grown ``growth``-fold since the last one (or there was none).

        Without statistics SQLite's planner drove a one-month list from every
        score instead of the date index (300 ms -> 37 ms at 100k calls, after
        ANALYZE, which took 0.5 s there). PostgreSQL's autovacuum analyzes by
        itself. Returns whether it analyzed.
        """
        if self._pg:
            return False
        with self._tx("refreshing the planner's statistics", write=True) as conn:
            have = conn.scalar(sa.select(sa.func.count()).select_from(calls))
            analyzed = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            stat = analyzed and conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'calls'").scalar()
            if stat and have < growth * int(str(stat).split()[0]) + 100:  # stat: "rows per-column-estimates…"
                return False
            conn.exec_driver_sql("ANALYZE")
        return True

    def row_counts(self) -> dict[str, int]:
        """Rows per table, for health checks and tests."""
        with self._tx("counting rows") as conn:
            return {t.name: conn.scalar(sa.select(sa.func.count()).select_from(t)) for t in V1_TABLES}

    # ------------------------------------------------------------ file index
    def known_file(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The stored SHA-256 of ``path`` if its size and mtime are unchanged, else None."""
        with self._tx("looking up a file") as conn:
            return conn.scalar(sa.select(files.c.sha256).where(
                files.c.path == str(path), files.c.size == size, files.c.mtime_ns == mtime_ns))

    def known_files(self, stats: Iterable[tuple[str, int, int]]) -> dict[str, str]:
        """Batch ``known_file``: ``{path: sha256}`` for the unchanged ones among (path, size, mtime_ns)."""
        wanted = {str(p): (size, mtime) for p, size, mtime in stats}
        found: dict[str, str] = {}
        paths = list(wanted)
        with self._tx("looking up files") as conn:
            for i in range(0, len(paths), _LOOKUP_CHUNK):
                rows = conn.execute(sa.select(files.c.path, files.c.size, files.c.mtime_ns, files.c.sha256)
                                    .where(files.c.path.in_(paths[i:i + _LOOKUP_CHUNK])))
                for path, size, mtime, sha in rows:
                    if wanted[path] == (size, mtime):
                        found[path] = sha
        return found

    def remember_file(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        self.remember_files([(path, size, mtime_ns, sha256)])

    def remember_files(self, entries: Iterable[tuple[str, int, int, str]]) -> None:
        """Upsert (path, size, mtime_ns, sha256) rows; ``first_seen`` is kept, ``last_seen`` set to now."""
        now = _now()
        by_path: dict[str, dict[str, Any]] = {}  # a path listed twice: the last entry wins
        for path, size, mtime, sha in entries:
            _check_sha(sha)
            by_path[str(path)] = {"path": str(path), "size": size, "mtime_ns": mtime, "sha256": sha,
                                  "first_seen": now, "last_seen": now}
        rows = list(by_path.values())
        if not rows:
            return
        stmt = self._insert(files)
        stmt = stmt.on_conflict_do_update(index_elements=[files.c.path], set_={
            c: stmt.excluded[c] for c in ("size", "mtime_ns", "sha256", "last_seen")})
        with self._tx("remembering files", write=True) as conn:
            conn.execute(stmt, rows)

    # ------------------------------------------------------------ reviews
    def save_review(self, transcript: Transcript, findings: list[Finding], scorecard: Scorecard,
                    sha256: str, path: str, acoustics: list[Any] | None = None) -> None:
        """Store a whole review in one transaction: the call, utterances, findings and score.

        Idempotent by call: saving again replaces utterances and findings, and the
        score of the same rubric version (other versions are kept, the new one is
        current). A changed recording (same call id, new SHA-256) replaces the old
        content. Disputes are never touched; a quarantine entry for the hash is cleared.

        The call-id guard: when another file that still exists is stored under
        this call id with other content, the save is refused (``CallIdTaken``,
        naming both files), so the old call and its disputes stay as they were.
        ``acoustics`` (per-utterance loudness and pitch) are kept with the call.
        """
        _check_sha(sha256)
        call_id = transcript.call_id
        if scorecard.call_id != call_id:
            raise StoreError(f"scorecard is for call {scorecard.call_id!r} but the transcript is {call_id!r}; "
                             f"pass the scorecard made from this transcript")
        meta = transcript.meta or scorecard.meta
        now = _now()
        call_row = {
            "call_id": call_id, "sha256": sha256, "path": str(path),
            "agent_id": meta.agent_id if meta else None,
            "team": meta.team if meta else None,
            "started_at": meta.started_at if meta else None,
            "started_utc": _time_key(meta.started_at) if meta else None,
            "language": transcript.language, "duration": transcript.duration,
            "reviewed_at": now, "transcript": transcript_to_dict(transcript), "status": "reviewed",
        }
        utterance_rows = [
            {"call_id": call_id, "idx": i, "role": u.role, "start": u.start, "end": u.end,
             "text": u.text, "confidence": u.confidence}
            for i, u in enumerate(transcript.utterances)
        ]
        finding_rows = [
            {"call_id": call_id, "idx": i, "course_id": f.id, "kind": f.kind, "value": f.value,
             "role": f.role, "start": f.start, "end": f.end, "text": f.text,
             "tagger": f.tagger, "detail": f.detail}
            for i, f in enumerate(findings)
        ]
        with self._tx(f"saving the review of call {call_id!r}", write=True) as conn:
            held = conn.execute(sa.select(calls.c.path, calls.c.sha256).where(calls.c.call_id == call_id)).first()
            if held is not None and held.sha256 != sha256 and held.path != str(path) and os.path.exists(held.path):
                raise CallIdTaken(
                    f"call id {call_id!r} of {path} is already stored for another file, {held.path}; the stored call "
                    f"and its disputes are kept. Give one of them its own call_id (a sidecar "
                    f"{Path(path).name}.json with {{\"call_id\": ...}}, a manifest.csv row, or a '# call_id:' line)")
            owner = conn.scalar(sa.select(calls.c.call_id).where(calls.c.sha256 == sha256))
            if owner is not None and owner != call_id:
                raise DuplicateContent(
                    f"recording {sha256[:12]}… ({path}) is already stored as call {owner!r}, not {call_id!r}; "
                    f"skip it (Store.is_reviewed) or save it under call id {owner!r}"
                )
            stmt = self._insert(calls)
            stmt = stmt.on_conflict_do_update(index_elements=[calls.c.call_id], set_={
                c.name: stmt.excluded[c.name] for c in calls.c if c.name != "call_id"})
            conn.execute(stmt, call_row)
            conn.execute(sa.delete(utterances).where(utterances.c.call_id == call_id))
            conn.execute(sa.delete(findings_table).where(findings_table.c.call_id == call_id))
            if utterance_rows:
                conn.execute(utterances.insert(), utterance_rows)
            if finding_rows:
                conn.execute(findings_table.insert(), finding_rows)
            self._write_score(conn, scorecard, now)
            conn.execute(sa.delete(call_acoustics).where(call_acoustics.c.call_id == call_id))
            if acoustics is not None:
                conn.execute(call_acoustics.insert().values(call_id=call_id, utterances=[
                    dataclasses.asdict(a) if dataclasses.is_dataclass(a) else dict(a) for a in acoustics]))
            conn.execute(sa.delete(quarantine_table).where(quarantine_table.c.sha256 == sha256))

    def load_acoustics(self, call_id: str) -> list[dict[str, Any]] | None:
        """Per-utterance loudness and pitch stored with the call (None for transcripts and older calls)."""
        with self._tx(f"loading the acoustics of {call_id!r}") as conn:
            self._require_call(conn, call_id)
            return conn.scalar(sa.select(call_acoustics.c.utterances).where(call_acoustics.c.call_id == call_id))

    def call_path(self, call_id: str) -> str | None:
        """The file a stored call was reviewed from (None if the call is not stored)."""
        with self._tx(f"looking up call {call_id!r}") as conn:
            return conn.scalar(sa.select(calls.c.path).where(calls.c.call_id == call_id))

    def save_scorecard(self, scorecard: Scorecard) -> None:
        """Re-score a stored call (e.g. after a rubric change) without touching its transcript."""
        with self._tx(f"saving the score of call {scorecard.call_id!r}", write=True) as conn:
            self._require_call(conn, scorecard.call_id)
            self._write_score(conn, scorecard, _now())

    def _write_score(self, conn: Connection, card: Scorecard, now: str) -> None:
        existing = conn.scalar(sa.select(scores.c.score_id).where(
            scores.c.call_id == card.call_id, scores.c.rubric_version == card.rubric_version))
        values = {
            "call_id": card.call_id, "rubric_version": card.rubric_version, "scored_at": now,
            "language": card.language, "score": card.score, "peak_stage": card.peak_stage,
            "final_stage": card.final_stage, "complaint_class": card.complaint_class,
            "warnings": list(card.warnings), "summary": card.summary,
            "meta": _meta_to_dict(card.meta), "is_current": True, "versions": card.versions or None,
        }
        # Demote first: the partial unique index allows one current score per call.
        conn.execute(sa.update(scores).where(scores.c.call_id == card.call_id, scores.c.is_current == sa.true())
                     .values(is_current=False))
        if existing is None:
            score_id = conn.execute(scores.insert().values(**values).returning(scores.c.score_id)).scalar_one()
        else:
            score_id = existing
            conn.execute(sa.delete(item_scores).where(item_scores.c.score_id == score_id))
            conn.execute(sa.update(scores).where(scores.c.score_id == score_id).values(**values))
        item_rows = [
            {"score_id": score_id, "idx": i, "item_id": it.id, "status": it.status, "points": it.points,
             "max_points": it.max_points, "evidence": _evidence_to_list(it.evidence), "tip": it.tip,
             "tip_en": it.tip_en, "reason": it.reason, "auto_fail": it.auto_fail}
            for i, it in enumerate(card.items)
        ]
        if item_rows:
            conn.execute(item_scores.insert(), item_rows)

    @staticmethod
    def _require_call(conn: Connection, call_id: str) -> None:
        if conn.scalar(sa.select(calls.c.call_id).where(calls.c.call_id == call_id)) is None:
            raise NotFound(f"call {call_id!r} is not in the store; review it first (save_review)")

    def is_reviewed(self, sha256: str) -> bool:
        with self._tx("checking a hash") as conn:
            return conn.scalar(sa.select(calls.c.call_id).where(
                calls.c.sha256 == sha256, calls.c.status == "reviewed")) is not None

    def reviewed_hashes(self) -> set[str]:
        with self._tx("listing reviewed hashes") as conn:
            return set(conn.scalars(sa.select(calls.c.sha256).where(calls.c.status == "reviewed")))

    def load_transcript(self, call_id: str) -> Transcript:
        with self._tx(f"loading the transcript of {call_id!r}") as conn:
            data = conn.scalar(sa.select(calls.c.transcript).where(calls.c.call_id == call_id))
        if data is None:
            raise NotFound(f"call {call_id!r} is not in the store; check the id (Store.scores_frame lists calls)")
        return transcript_from_dict(data)

    def load_findings(self, call_id: str) -> list[Finding]:
        with self._tx(f"loading the findings of {call_id!r}") as conn:
            self._require_call(conn, call_id)
            rows = conn.execute(sa.select(findings_table).where(findings_table.c.call_id == call_id)
                                .order_by(findings_table.c.idx)).mappings().all()
        return [Finding(id=r["course_id"], kind=r["kind"], value=r["value"], role=r["role"], start=r["start"],
                        end=r["end"], text=r["text"], tagger=r["tagger"], detail=r["detail"]) for r in rows]

    def load_scorecard(self, call_id: str, version: str | None = None) -> Scorecard:
        """The current scorecard, or the one of rubric ``version``; disputes are in ``dispute_overlay``."""
        query = sa.select(scores).where(scores.c.call_id == call_id)
        query = query.where(scores.c.is_current == sa.true()) if version is None \
            else query.where(scores.c.rubric_version == version)
        with self._tx(f"loading the scorecard of {call_id!r}") as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                versions = list(conn.scalars(sa.select(scores.c.rubric_version).where(scores.c.call_id == call_id)))
                hint = (f"stored rubric versions: {', '.join(versions)}" if versions
                        else "the call has not been reviewed (save_review)")
                raise NotFound(f"no scorecard for call {call_id!r}"
                               f"{'' if version is None else f' at rubric version {version!r}'}; {hint}")
            items = conn.execute(sa.select(item_scores).where(item_scores.c.score_id == row["score_id"])
                                 .order_by(item_scores.c.idx)).mappings().all()
        return Scorecard(
            call_id=row["call_id"], language=row["language"], score=row["score"],
            items=[ItemScore(id=i["item_id"], status=i["status"], points=i["points"], max_points=i["max_points"],
                             evidence=[Evidence(**e) for e in i["evidence"]], tip=i["tip"], tip_en=i["tip_en"],
                             reason=i["reason"], auto_fail=bool(i["auto_fail"])) for i in items],
            rubric_version=row["rubric_version"], peak_stage=row["peak_stage"], final_stage=row["final_stage"],
            complaint_class=row["complaint_class"], warnings=list(row["warnings"]), summary=row["summary"],
            meta=_meta_from_dict(row["meta"]), versions=row["versions"] or {},
        )

    def score_versions(self, call_id: str) -> list[tuple[str, bool]]:
        """(rubric_version, is_current) for every stored score of the call, oldest first."""
        with self._tx(f"listing the scores of {call_id!r}") as conn:
            return [(v, bool(c)) for v, c in conn.execute(
                sa.select(scores.c.rubric_version, scores.c.is_current)
                .where(scores.c.call_id == call_id).order_by(scores.c.score_id))]

    # ------------------------------------------------------------ disputes
    def add_dispute(self, call_id: str, item_id: str, status: str, note: str = "", reviewer: str = "") -> Dispute:
        """Record a reviewer's dispute of one item; the item must be in one of the call's scorecards."""
        if not status:
            raise StoreError("a dispute needs a status (e.g. the item status the reviewer asserts: pass, partial, "
                             "fail, n/a)")
        with self._tx(f"adding a dispute to {call_id!r}", write=True) as conn:
            self._require_call(conn, call_id)
            scored = conn.scalar(sa.select(item_scores.c.item_id)
                                 .select_from(item_scores.join(scores, scores.c.score_id == item_scores.c.score_id))
                                 .where(scores.c.call_id == call_id, item_scores.c.item_id == item_id).limit(1))
            if scored is None:
                raise StoreError(f"call {call_id!r} has no rubric item {item_id!r}; dispute an item its scorecard "
                                 f"shows (Store.load_scorecard)")
            row = {"call_id": call_id, "item_id": item_id, "status": status, "note": note,
                   "reviewer": reviewer, "created_at": _now()}
            dispute_id = conn.execute(disputes_table.insert().values(**row)
                                      .returning(disputes_table.c.dispute_id)).scalar_one()
        return Dispute(dispute_id=dispute_id, **row)

    def disputes(self, call_id: str | None = None) -> list[Dispute]:
        query = sa.select(disputes_table).order_by(disputes_table.c.dispute_id)
        if call_id is not None:
            query = query.where(disputes_table.c.call_id == call_id)
        with self._tx("listing disputes") as conn:
            return [Dispute(**r) for r in conn.execute(query).mappings()]

    def dispute_overlay(self, call_id: str) -> dict[str, Dispute]:
        """The latest dispute per item of a call: what a reviewer says overrides the machine's verdict."""
        return {d.item_id: d for d in self.disputes(call_id)}

    # ------------------------------------------------------------ quarantine
    def quarantine(self, path: str, sha256: str | None, reason: str, error_class: str,
                   run_id: int | None = None) -> QuarantineEntry:
        """Record (or count again) a file that failed. Keyed by hash, or by path if it could not be hashed."""
        if sha256 is not None:
            _check_sha(sha256)
        key = sha256 if sha256 is not None else f"path:{path}"
        now = _now()
        row = {"qkey": key, "sha256": sha256, "path": str(path), "reason": reason, "error_class": error_class,
               "first_seen": now, "last_seen": now, "attempts": 1, "run_id": run_id}
        stmt = self._insert(quarantine_table)
        stmt = stmt.on_conflict_do_update(index_elements=[quarantine_table.c.qkey], set_={
            **{c: stmt.excluded[c] for c in ("path", "reason", "error_class", "last_seen", "run_id")},
            "attempts": quarantine_table.c.attempts + 1,
        })
        with self._tx(f"quarantining {path}", write=True) as conn:
            conn.execute(stmt, row)
            stored = conn.execute(sa.select(quarantine_table).where(quarantine_table.c.qkey == key)).mappings().one()
        return _quarantine_entry(stored)

    def quarantined(self) -> list[QuarantineEntry]:
        with self._tx("listing the quarantine") as conn:
            rows = conn.execute(sa.select(quarantine_table).order_by(quarantine_table.c.first_seen,
                                                                     quarantine_table.c.qkey)).mappings().all()
        return [_quarantine_entry(r) for r in rows]

    def release_quarantine(self, sha256: str | None = None, path: str | None = None) -> int:
        """Let a quarantined file be tried again; returns how many entries were removed."""
        if sha256 is None and path is None:
            raise StoreError("release_quarantine needs sha256= or path= (Store.quarantined lists them)")
        conditions = []
        if sha256 is not None:
            conditions.append(quarantine_table.c.sha256 == sha256)
        if path is not None:
            conditions.append(quarantine_table.c.path == str(path))
        with self._tx("releasing from quarantine", write=True) as conn:
            return conn.execute(sa.delete(quarantine_table).where(sa.or_(*conditions))).rowcount

    # ------------------------------------------------------------ runs
    def start_run(self, archive: str | Path) -> int:
        with self._tx("starting a run", write=True) as conn:
            return conn.execute(runs.insert().values(started_at=_now(), archive=str(archive), counts={}, summary={})
                                .returning(runs.c.run_id)).scalar_one()

    def finish_run(self, run_id: int, counts: dict[str, Any], summary: dict[str, Any]) -> None:
        with self._tx(f"finishing run {run_id}", write=True) as conn:
            done = conn.execute(sa.update(runs).where(runs.c.run_id == run_id)
                                .values(finished_at=_now(), counts=counts, summary=summary)).rowcount
            if not done:
                raise NotFound(f"run {run_id} was never started; use the id Store.start_run returned")

    def get_run(self, run_id: int) -> RunRecord:
        with self._tx(f"reading run {run_id}") as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"run {run_id} is not in the store; use the id Store.start_run returned")
        return RunRecord(**row)

    # ------------------------------------------------------------ reports
    def scores_frame(self, start: str | datetime | date | None = None, end: str | datetime | date | None = None,
                     team: str | None = None, agent: str | None = None) -> list[dict[str, Any]]:
        """One row per (call, rubric item) of each call's current score, for coaching reports.

        ``start`` is inclusive, ``end`` exclusive, both compared with the call's
        normalised ``started_at``. Keys: call_id, agent_id, team, started_at, language,
        score, rubric_version, peak_stage, final_stage, complaint_class, item_id, status,
        points, max_points, auto_fail (item keys are None for a scorecard without items). A reviewer's
        latest verdict replaces the machine's item status, and the score is then the reviewed score.
        """
        query = (
            sa.select(calls.c.call_id, calls.c.agent_id, calls.c.team, calls.c.started_at, calls.c.language,
                      scores.c.score, scores.c.rubric_version, scores.c.peak_stage, scores.c.final_stage,
                      scores.c.complaint_class, item_scores.c.item_id, item_scores.c.status, item_scores.c.points,
                      item_scores.c.max_points, item_scores.c.auto_fail)
            .select_from(calls.join(scores, sa.and_(scores.c.call_id == calls.c.call_id,
                                                    scores.c.is_current == sa.true()))
                         .outerjoin(item_scores, item_scores.c.score_id == scores.c.score_id))
            .order_by(calls.c.started_utc, calls.c.call_id, item_scores.c.idx)
        )
        for bound, compare in ((start, calls.c.started_utc.__ge__), (end, calls.c.started_utc.__lt__)):
            if bound is not None:
                key = _time_key(bound)
                if key is None:
                    raise StoreError(f"{bound!r} is not an ISO 8601 date or time (e.g. 2024-05-01 or "
                                     f"2024-05-01T09:00:00+08:00)")
                query = query.where(compare(key))
        if team is not None:
            query = query.where(calls.c.team == team)
        if agent is not None:
            query = query.where(calls.c.agent_id == agent)
        with self._tx("reading scores for a report") as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            latest = self._latest_dispute_statuses(conn, sorted({r["call_id"] for r in rows}))
        for r in rows:
            if r["auto_fail"] is not None:
                r["auto_fail"] = bool(r["auto_fail"])
        return _with_reviewer_verdicts(rows, latest)

    @staticmethod
    def _latest_dispute_statuses(conn: Any, call_ids: list[str]) -> dict[str, dict[str, str]]:
        """call ID -> item ID -> the latest reviewer verdict (disputes and workspace verdicts share the table)."""
        latest: dict[str, dict[str, str]] = {}
        for i in range(0, len(call_ids), 500):  # bounded IN lists (SQLite's variable limit)
            query = (sa.select(disputes_table.c.call_id, disputes_table.c.item_id, disputes_table.c.status)
                     .where(disputes_table.c.call_id.in_(call_ids[i:i + 500])).order_by(disputes_table.c.dispute_id))
            for r in conn.execute(query):
                latest.setdefault(r.call_id, {})[r.item_id] = r.status
        return latest


def _with_reviewer_verdicts(rows: list[dict[str, Any]], latest: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Report rows with each reviewer verdict in place of the machine's, and the reviewed score as the call's
    score: the issue's rule that reports use the reviewed score (see qa.scoring.reviewed)."""
    from qa.scoring.reviewed import ItemPoints, partial_credit, reviewed_score

    by_call: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_call.setdefault(r["call_id"], []).append(r)
    for call_id, verdicts in latest.items():
        call_rows = [r for r in by_call.get(call_id, []) if r["item_id"] is not None]
        if not call_rows:
            continue
        version = call_rows[0]["rubric_version"]
        items = [ItemPoints(r["item_id"], r["status"], r["points"], r["max_points"], bool(r["auto_fail"]))
                 for r in call_rows]
        score = reviewed_score(version, items, verdicts)
        if score is None:
            continue
        credit = partial_credit(version, items)
        for r in by_call[call_id]:
            r["score"] = score
            status = verdicts.get(r["item_id"]) if r["item_id"] is not None else None
            if status is not None and status != r["status"]:
                r["status"] = status
                r["points"] = {"pass": r["max_points"], "partial": r["max_points"] * credit}.get(status, 0.0)
                r["auto_fail"] = bool(r["auto_fail"]) and status == "fail"  # a lifted auto-fail is gone
    return rows


def _quarantine_entry(row: Any) -> QuarantineEntry:
    return QuarantineEntry(key=row["qkey"], sha256=row["sha256"], path=row["path"], reason=row["reason"],
                           error_class=row["error_class"], first_seen=row["first_seen"], last_seen=row["last_seen"],
                           attempts=row["attempts"], run_id=row["run_id"])
