"""Calibration sessions: a lead picks calls and reviewers; each reviewer evaluates every call blind.

Blind means: while the session is open, an assigned reviewer sees neither the
machine's verdicts nor the other reviewers' (``blind_calls`` is what the call
list, call page and API ask before showing a score). The machine's verdicts
are copied into the session when it starts, so a re-score later does not move
the comparison. A reviewer's verdicts count once they submit the call; the
lead closes the session, and its results (``qa.scoring.agreement``) become
visible to the reviewers too. Session verdicts are kept apart from the store's
reviewer verdicts (``disputes``): a calibration exercise does not change a
call's reviewed score. They feed ``callqa calibrate --session`` as majority
labels (``qa.scoring.agreement.consensus``).

Every change goes to the audit log in the same transaction (target
``calibration:<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from qa.errors import BlindReview, CalibrationSessionError, NotFound
from qa.scoring.reviewed import STATUSES
from qa.store.schema import calls, item_scores, scores
from qa.store.workspace import MAX_NOTE_CHARS, User, WorkspaceStore, _iso, _now
from qa.store.workspace_schema import (cal_calls, cal_reviewers, cal_sessions, cal_submissions, cal_verdicts, users)

MAX_CALLS = 200
MAX_REVIEWERS = 20
MAX_NAME_CHARS = 200
REVIEWER_ROLES = ("admin", "reviewer", "lead")


@dataclass(frozen=True)
class CalibrationSession:
    session_id: int
    name: str
    created_by: str
    created_at: str
    state: str
    closed_at: str | None
    call_ids: tuple[str, ...]
    reviewers: tuple[str, ...]
    #: (call_id, reviewer) pairs submitted
    submitted: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def progress(self, reviewer: str) -> int:
        return sum(1 for c in self.call_ids if (c, reviewer) in self.submitted)

    def may_manage(self, user: User) -> bool:
        """Close it and download its labels: an admin, or the lead who started it."""
        return user.role == "admin" or user.username == self.created_by

    def may_see_results(self, user: User) -> bool:
        """The agreement tables: its manager (unless also one of its reviewers while open); everyone in it
        once closed."""
        if not self.is_open:
            return self.may_manage(user) or user.username in self.reviewers
        return self.may_manage(user) and user.username not in self.reviewers


def _call_ids(raw: list[str]) -> list[str]:
    seen: list[str] = []
    for call_id in raw:
        call_id = call_id.strip()
        if call_id and call_id not in seen:
            seen.append(call_id)
    return seen


class CalibrationStore:
    """Calibration sessions over a ``WorkspaceStore`` (same engine, transactions and audit log)."""

    def __init__(self, ws: WorkspaceStore):
        self.ws = ws

    def _tx(self, what: str, write: bool = False):
        return self.ws._tx(what, write=write)

    # ------------------------------------------------------------ create and read
    def create(self, lead: User, name: str, call_ids: list[str], reviewers: list[str]) -> CalibrationSession:
        """A new open session. Every call must be within the lead's scope and every reviewer's."""
        if lead.role not in ("admin", "lead"):
            raise CalibrationSessionError(f"a {lead.role} may not start a calibration session (leads and admins do)")
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise CalibrationSessionError(f"give the session a name of 1-{MAX_NAME_CHARS} characters")
        wanted = _call_ids(call_ids)
        names = sorted({r.strip() for r in reviewers if r and r.strip()})
        if not wanted or len(wanted) > MAX_CALLS:
            raise CalibrationSessionError(f"pick 1-{MAX_CALLS} calls (got {len(wanted)})")
        if not 2 <= len(names) <= MAX_REVIEWERS:
            raise CalibrationSessionError(f"pick 2-{MAX_REVIEWERS} reviewers, so they can be compared "
                                          f"(got {len(names)})")
        people: list[User] = []
        for username in names:
            found = self.ws.find_user(username)
            if found is None or found[0].disabled:
                raise CalibrationSessionError(f"no active user {username!r}")
            if found[0].role not in REVIEWER_ROLES:
                raise CalibrationSessionError(f"{username} is an {found[0].role}: reviewers, leads and admins "
                                              f"evaluate in calibration sessions")
            people.append(found[0])
        for who in [lead, *people]:
            missing = [c for c in wanted if self.ws.call_header(who, c) is None]
            if missing:
                shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
                whose = "you" if who.username == lead.username else who.username
                raise CalibrationSessionError(f"{len(missing)} call(s) do not exist or are outside what {whose} "
                                              f"may see: {shown}")
        now = _iso(_now())
        with self._tx("starting a calibration session", write=True) as conn:
            machine = self._machine(conn, wanted)
            session_id = conn.execute(cal_sessions.insert().values(
                name=name, created_by=lead.username, created_at=now, state="open", closed_at=None)
                .returning(cal_sessions.c.session_id)).scalar_one()
            conn.execute(cal_calls.insert(), [{"session_id": session_id, "call_id": c, "idx": i, "machine": machine[c]}
                                              for i, c in enumerate(wanted)])
            conn.execute(cal_reviewers.insert(), [{"session_id": session_id, "username": r} for r in names])
            self.ws._audit(conn, lead.username, "calibration.create", f"calibration:{session_id}", None,
                           {"name": name, "calls": wanted, "reviewers": names})
        return CalibrationSession(session_id, name, lead.username, now, "open", None, tuple(wanted), tuple(names))

    @staticmethod
    def _machine(conn, call_ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = conn.execute(
            sa.select(scores.c.call_id, scores.c.rubric_version, item_scores.c.item_id, item_scores.c.status)
            .select_from(scores.join(item_scores, item_scores.c.score_id == scores.c.score_id))
            .where(scores.c.call_id.in_(call_ids), scores.c.is_current == sa.true())
            .order_by(scores.c.call_id, item_scores.c.idx)).all()
        out: dict[str, dict[str, Any]] = {}
        for call_id, version, item_id, status in rows:
            out.setdefault(call_id, {"rubric_version": version, "items": {}})["items"][item_id] = status
        missing = [c for c in call_ids if c not in out]
        if missing:
            raise CalibrationSessionError(f"call(s) without a current score: {', '.join(missing[:5])}")
        return out

    def get(self, session_id: int) -> CalibrationSession | None:
        with self._tx("reading a calibration session") as conn:
            row = conn.execute(sa.select(cal_sessions).where(cal_sessions.c.session_id == session_id)).mappings().first()
            if row is None:
                return None
            call_ids = tuple(conn.scalars(sa.select(cal_calls.c.call_id).where(cal_calls.c.session_id == session_id)
                                          .order_by(cal_calls.c.idx)))
            names = tuple(conn.scalars(sa.select(cal_reviewers.c.username)
                                       .where(cal_reviewers.c.session_id == session_id).order_by(cal_reviewers.c.username)))
            done = frozenset((c, r) for c, r in conn.execute(
                sa.select(cal_submissions.c.call_id, cal_submissions.c.reviewer)
                .where(cal_submissions.c.session_id == session_id)))
        return CalibrationSession(row["session_id"], row["name"], row["created_by"], row["created_at"], row["state"],
                                  row["closed_at"], call_ids, names, done)

    def visible(self, user: User, session_id: int) -> CalibrationSession:
        """The session if ``user`` is in it (reviewer), started it, or is an admin; else NotFound."""
        session = self.get(session_id)
        if session is None or not (user.role == "admin" or user.username == session.created_by
                                   or user.username in session.reviewers):
            raise NotFound(f"no calibration session {session_id}")
        return session

    def sessions_for(self, user: User, limit: int = 200) -> list[CalibrationSession]:
        """Newest first: all for an admin; the ones a user started or is assigned to otherwise."""
        query = sa.select(cal_sessions.c.session_id).order_by(cal_sessions.c.session_id.desc()).limit(limit)
        if user.role != "admin":
            mine = sa.select(cal_reviewers.c.session_id).where(cal_reviewers.c.username == user.username)
            query = query.where(sa.or_(cal_sessions.c.created_by == user.username, cal_sessions.c.session_id.in_(mine)))
        with self._tx("listing calibration sessions") as conn:
            ids = list(conn.scalars(query))
        return [s for s in (self.get(i) for i in ids) if s is not None]

    def eligible_reviewers(self) -> list[str]:
        with self._tx("listing reviewers") as conn:
            return list(conn.scalars(sa.select(users.c.username).where(users.c.role.in_(REVIEWER_ROLES),
                                                                         users.c.disabled == sa.false())
                                     .order_by(users.c.username)))

    # ------------------------------------------------------------ blindness
    def blind_calls(self, user: User, call_ids: list[str] | None = None) -> set[str]:
        """Calls ``user`` evaluates in an open session: no machine verdict, score or other verdict for them."""
        if user.role not in REVIEWER_ROLES:
            return set()
        query = (sa.select(cal_calls.c.call_id).select_from(
            cal_calls.join(cal_reviewers, cal_reviewers.c.session_id == cal_calls.c.session_id)
            .join(cal_sessions, cal_sessions.c.session_id == cal_calls.c.session_id))
            .where(cal_reviewers.c.username == user.username, cal_sessions.c.state == "open"))
        if call_ids is not None:
            if not call_ids:
                return set()
            query = query.where(cal_calls.c.call_id.in_(call_ids))
        with self._tx("checking blind calls") as conn:
            return set(conn.scalars(query))

    def check_not_blind(self, user: User, call_id: str) -> None:
        if call_id in self.blind_calls(user, [call_id]):
            raise BlindReview(f"you are evaluating {call_id} blind in an open calibration session: its scorecard "
                              f"stays hidden from you until the session is closed")

    def blind_session_of(self, user: User, call_id: str) -> int | None:
        """An open session in which ``user`` evaluates ``call_id`` blind (to send them there)."""
        with self._tx("finding a blind session") as conn:
            return conn.scalar(
                sa.select(cal_calls.c.session_id).select_from(
                    cal_calls.join(cal_reviewers, cal_reviewers.c.session_id == cal_calls.c.session_id)
                    .join(cal_sessions, cal_sessions.c.session_id == cal_calls.c.session_id))
                .where(cal_reviewers.c.username == user.username, cal_sessions.c.state == "open",
                       cal_calls.c.call_id == call_id).order_by(cal_calls.c.session_id).limit(1))

    # ------------------------------------------------------------ evaluate
    def machine_items(self, session_id: int, call_id: str) -> list[str]:
        """The rubric items of the call as the session saw it (not their statuses)."""
        with self._tx("reading a session call") as conn:
            machine = conn.scalar(sa.select(cal_calls.c.machine).where(cal_calls.c.session_id == session_id,
                                                                       cal_calls.c.call_id == call_id))
        if machine is None:
            raise NotFound(f"call {call_id!r} is not in calibration session {session_id}")
        return list(machine["items"])

    def my_verdicts(self, session_id: int, call_id: str, reviewer: str) -> dict[str, tuple[str, str]]:
        """item -> (status, note) of one reviewer on one call: only their own, never the others'."""
        with self._tx("reading session verdicts") as conn:
            return {i: (s, n) for i, s, n in conn.execute(
                sa.select(cal_verdicts.c.item_id, cal_verdicts.c.status, cal_verdicts.c.note)
                .where(cal_verdicts.c.session_id == session_id, cal_verdicts.c.call_id == call_id,
                       cal_verdicts.c.reviewer == reviewer))}

    def save(self, user: User, session_id: int, call_id: str, verdicts: dict[str, tuple[str, str]],
             submit: bool) -> CalibrationSession:
        """Record ``user``'s verdicts (item -> (status, note); status "" clears one) and optionally submit.

        Only an assigned reviewer, only while the session is open; submitting needs every item rated.
        """
        session = self.visible(user, session_id)
        if user.username not in session.reviewers:
            raise CalibrationSessionError(f"you are not a reviewer in calibration session {session_id}")
        if not session.is_open:
            raise CalibrationSessionError(f"calibration session {session_id} is closed; its verdicts are final")
        items = self.machine_items(session_id, call_id)
        unknown = sorted(set(verdicts) - set(items))
        if unknown:
            raise CalibrationSessionError(f"call {call_id} has no rubric item(s) {', '.join(unknown)}")
        for item_id, (status, note) in verdicts.items():
            if status and status not in STATUSES:
                raise CalibrationSessionError(f"{item_id}: status {status!r} is not one of {', '.join(STATUSES)}")
            if len(note or "") > MAX_NOTE_CHARS:
                raise CalibrationSessionError(f"{item_id}: keep the note under {MAX_NOTE_CHARS} characters")
        now = _iso(_now())
        key = (cal_verdicts.c.session_id == session_id, cal_verdicts.c.call_id == call_id,
               cal_verdicts.c.reviewer == user.username)
        with self._tx("recording session verdicts", write=True) as conn:
            before = {i: s for i, s in conn.execute(sa.select(cal_verdicts.c.item_id, cal_verdicts.c.status)
                                                    .where(*key))}
            if submit:  # checked before writing, so a refused submit loses nothing already saved
                planned = {**before, **{i: s for i, (s, _) in verdicts.items()}}
                unrated = [i for i in items if not planned.get(i)]
                if unrated:
                    raise CalibrationSessionError(f"rate every item before submitting; not yet: {', '.join(unrated)}")
            for item_id, (status, note) in verdicts.items():
                conn.execute(sa.delete(cal_verdicts).where(*key, cal_verdicts.c.item_id == item_id))
                if status:
                    conn.execute(cal_verdicts.insert().values(session_id=session_id, call_id=call_id,
                                                              reviewer=user.username, item_id=item_id, status=status,
                                                              note=(note or "").strip(), updated_at=now))
            after = {i: s for i, s in conn.execute(sa.select(cal_verdicts.c.item_id, cal_verdicts.c.status)
                                                   .where(*key))}
            if submit:
                stmt = self.ws.store._insert(cal_submissions).values(session_id=session_id, call_id=call_id,
                                                                     reviewer=user.username, submitted_at=now)
                conn.execute(stmt.on_conflict_do_nothing())
            if before != after or submit:
                self.ws._audit(conn, user.username, "calibration.submit" if submit else "calibration.verdicts",
                               f"calibration:{session_id}", {"call": call_id, "verdicts": before},
                               {"call": call_id, "verdicts": after})
        return self.visible(user, session_id)

    def close(self, user: User, session_id: int) -> CalibrationSession:
        session = self.visible(user, session_id)
        if not session.may_manage(user):
            raise CalibrationSessionError("only the lead who started the session, or an admin, closes it")
        if not session.is_open:
            raise CalibrationSessionError(f"calibration session {session_id} is already closed")
        now = _iso(_now())
        with self._tx("closing a calibration session", write=True) as conn:
            conn.execute(sa.update(cal_sessions).where(cal_sessions.c.session_id == session_id)
                         .values(state="closed", closed_at=now))
            self.ws._audit(conn, user.username, "calibration.close", f"calibration:{session_id}",
                           {"state": "open"}, {"state": "closed", "submitted": len(session.submitted)})
        return self.visible(user, session_id)

    # ------------------------------------------------------------ results
    def results(self, session_id: int) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, dict[str, str]]]]:
        """(machine: call -> item -> status, submitted verdicts: reviewer -> call -> item -> status)."""
        with self._tx("reading session results") as conn:
            machine = {c: m["items"] for c, m in conn.execute(
                sa.select(cal_calls.c.call_id, cal_calls.c.machine).where(cal_calls.c.session_id == session_id))}
            rows = conn.execute(
                sa.select(cal_verdicts.c.reviewer, cal_verdicts.c.call_id, cal_verdicts.c.item_id, cal_verdicts.c.status)
                .select_from(cal_verdicts.join(cal_submissions, sa.and_(
                    cal_submissions.c.session_id == cal_verdicts.c.session_id,
                    cal_submissions.c.call_id == cal_verdicts.c.call_id,
                    cal_submissions.c.reviewer == cal_verdicts.c.reviewer)))
                .where(cal_verdicts.c.session_id == session_id)).all()
        verdicts: dict[str, dict[str, dict[str, str]]] = {}
        for reviewer, call_id, item_id, status in rows:
            verdicts.setdefault(reviewer, {}).setdefault(call_id, {})[item_id] = status
        return machine, verdicts

    def notes(self, session_id: int) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
        """(call, item) -> [(reviewer, status, note)] of submitted verdicts, for the closed session's detail."""
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        with self._tx("reading session notes") as conn:
            for r in conn.execute(sa.select(cal_verdicts).where(cal_verdicts.c.session_id == session_id)
                                  .order_by(cal_verdicts.c.call_id, cal_verdicts.c.item_id, cal_verdicts.c.reviewer)
                                  ).mappings():
                out.setdefault((r["call_id"], r["item_id"]), []).append((r["reviewer"], r["status"], r["note"]))
        return out

    def call_headers(self, session: CalibrationSession) -> dict[str, dict[str, Any]]:
        with self._tx("reading session calls") as conn:
            return {r["call_id"]: dict(r) for r in conn.execute(
                sa.select(calls.c.call_id, calls.c.agent_id, calls.c.team, calls.c.started_at, calls.c.language,
                          calls.c.duration).where(calls.c.call_id.in_(list(session.call_ids)))).mappings()}
