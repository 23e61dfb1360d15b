"""Benchmark: the workspace's call list and search pages at 100,000 stored calls (target: < 300 ms a page).

Fills a store once with N synthetic calls made from one real review (the
sample call's reference transcript through ``review_transcript``): each copy
gets its own id, agent (of 400), team (of 20), start time (180 days), item
statuses and score, and 12 utterances drawn from a pool of sentences in
Mandarin, English and Spanish, so filters and searches have realistic
selectivity. Rows are bulk-inserted into the store's own tables (the review
path would take hours for 100k calls); the search index is then built by
``WorkspaceStore.sync_search`` as a server would.

Then it times whole HTTP requests through the app (FastAPI TestClient:
routing, session check, query, count, template): list pages, filters, sorts,
a deep page, and searches for a rare and a common phrase, as a reviewer (all
calls) and as a lead (one team). Each figure is the median of 5 runs after
one warm-up.

    python bench/web.py                      # SQLite in out/bench-web/, 100,000 calls
    python bench/web.py --calls 20000
    python bench/web.py --store postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import argon2  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from qa.intake.transcript_io import read_transcript, transcript_to_dict  # noqa: E402
from qa.pipeline.review import review_transcript  # noqa: E402
from qa.store.database import Store  # noqa: E402
from qa.store.schema import calls, item_scores, scores, utterances  # noqa: E402
from qa.store.workspace import WorkspaceStore, encode_cursor  # noqa: E402
from qa.types import CallMeta  # noqa: E402
from qa.web.app import create_app  # noqa: E402

PASSWORD = "bench password 1"
TARGET_MS = 300.0
EXTRA_SENTENCES = [
    "Hello, thank you for calling, how can I help you today?",
    "My parcel is late again and nobody answers my emails.",
    "I want to speak to a supervisor right now.",
    "I understand, I am sorry about that, let me check the order for you.",
    "Could you give me the order number please?",
    "Is there anything else I can help you with?",
    "Hola, gracias por llamar, ¿en qué puedo ayudarle?",
    "Mi pedido no ha llegado y quiero un reembolso.",
    "Entiendo su molestia, voy a revisar el pedido ahora mismo.",
    "The refrigerator arrived damaged and the door does not close.",  # the rare phrase below
]
RARE = "refrigerator arrived damaged"
COMMON = "洗衣机"


def _batches(rows: list[dict], size: int = 5000):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def fill(store: Store, n: int, seed: int = 7, verbose: bool = True) -> float:
    """Insert ``n`` synthetic calls unless the store already has them; returns the seconds taken."""
    engine = store._engine
    with engine.connect() as conn:
        have = conn.scalar(sa.select(sa.func.count()).select_from(calls))
    if have >= n:
        return 0.0
    started = time.perf_counter()
    base = read_transcript(REPO / "samples" / "complaint_zh" / "reference.txt")
    base = dataclasses.replace(base, meta=CallMeta(call_id=base.call_id))
    transcript, _findings, card = review_transcript(base)
    pool = [u.text for u in transcript.utterances] + EXTRA_SENTENCES
    weights = [1.0] * len(transcript.utterances) + [1.0] * (len(EXTRA_SENTENCES) - 1) + [0.02]
    small = transcript_to_dict(dataclasses.replace(transcript, utterances=transcript.utterances[:2]))
    rng = random.Random(seed)
    day0 = datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=8)))
    now = datetime.now(timezone.utc).isoformat()
    statuses = ("pass", "partial", "fail", "n/a")
    chunk = 10_000
    for first in range(have, n, chunk):
        call_rows, utt_rows, score_rows, item_rows = [], [], [], []
        for k in range(first, min(n, first + chunk)):
            call_id = f"bench-{k:06d}"
            start = day0 + timedelta(minutes=rng.randrange(180 * 24 * 60))
            utc = start.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
            call_rows.append({"call_id": call_id, "sha256": f"{k:064x}", "path": f"/archive/{call_id}.wav",
                              "agent_id": f"A{rng.randrange(400):03d}", "team": f"team-{rng.randrange(20):02d}",
                              "started_at": start.isoformat(), "started_utc": utc,
                              "language": rng.choice(("zh", "zh", "en", "es")), "duration": rng.uniform(60, 900),
                              "reviewed_at": now, "transcript": small, "status": "reviewed"})
            t = 0.0
            for idx, text in enumerate(rng.choices(pool, weights=weights, k=12)):
                utt_rows.append({"call_id": call_id, "idx": idx, "role": ("agent", "customer")[idx % 2],
                                 "start": t, "end": t + 4.0, "text": text, "confidence": 0.9})
                t += 5.0
            score_id = k + 1
            earned = total = 0.0
            for idx, item in enumerate(card.items):
                status = rng.choices(statuses, weights=(6, 2, 2, 1))[0]
                points = {"pass": item.max_points, "partial": item.max_points * 0.5}.get(status, 0.0)
                if status != "n/a":
                    earned, total = earned + points, total + item.max_points
                item_rows.append({"score_id": score_id, "idx": idx, "item_id": item.id, "status": status,
                                  "points": points, "max_points": item.max_points, "evidence": [], "tip": "",
                                  "tip_en": "", "reason": "", "auto_fail": False})
            score_rows.append({"score_id": score_id, "call_id": call_id, "rubric_version": card.rubric_version,
                               "scored_at": now, "language": "zh", "score": round(100 * earned / total, 1),
                               "peak_stage": rng.choice(("S1", "S2", "S3", "S4", "S5", "S6")),
                               "final_stage": "S0", "complaint_class": rng.choice(("普通", "重大", "升级", "疑难")),
                               "warnings": [], "summary": {}, "meta": None, "is_current": True})
        with engine.begin() as conn:
            for table, rows in ((calls, call_rows), (utterances, utt_rows), (scores, score_rows),
                                (item_scores, item_rows)):
                for part in _batches(rows):
                    conn.execute(table.insert(), part)
        if verbose:
            print(f"  stored {min(n, first + chunk):,} calls ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def deep_cursor(store: Store, team: str | None, offset: int) -> str:
    """The Next cursor a reviewer holds on reaching row ``offset`` (newest first): page 1000 = row 49,950.

    Found here with an untimed OFFSET query; the timed request is what the page's Next link sends.
    """
    query = sa.select(calls.c.started_utc, calls.c.call_id).order_by(calls.c.started_utc.desc(), calls.c.call_id.desc())
    if team:
        query = query.where(calls.c.team == team)
    with store._engine.connect() as conn:
        rows = conn.execute(query.limit(1).offset(offset - 1)).all() or conn.execute(
            query.order_by(None).order_by(calls.c.started_utc.asc(), calls.c.call_id.asc()).limit(1)).all()
    return encode_cursor(*rows[0])


def timed(client: TestClient, url: str, runs: int = 5) -> tuple[float, int]:
    client.get(url)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    total = answer.json()["total"] if url.startswith("/api/") else -1
    return statistics.median(times), total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--store", default=None, help="database URL [default: SQLite in out/bench-web/]")
    args = parser.parse_args()
    if args.store is None:  # the default SQLite file lives in a folder the bench owns: create it
        (REPO / "out" / "bench-web").mkdir(parents=True, exist_ok=True)
    url = args.store or f"sqlite:///{REPO / 'out' / 'bench-web' / f'callqa-{args.calls}.db'}"
    store = Store.open(url)
    ws = WorkspaceStore(store)
    print(f"store {store.url}")
    seconds = fill(store, args.calls)
    if seconds:
        print(f"filled {args.calls:,} calls in {seconds:.0f} s")
    t0 = time.perf_counter()
    indexed = ws.sync_search(batch=5000)
    print(f"search index: {indexed:,} calls indexed in {time.perf_counter() - t0:.0f} s")
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    for name, role, teams in (("bench-reviewer", "reviewer", []), ("bench-lead", "lead", ["team-03"])):
        if ws.find_user(name) is None:
            ws.add_user(name, role, cheap, teams=teams, actor="bench")
    app = create_app(store)
    cases = [
        ("list, newest first", "/calls"),
        ("list, page 2", "/calls?page=2"),
        ("list, page 20 (last numbered page)", "/calls?page=20"),
        ("list, page 1000 (Next from page 999)", "/calls?page=1000&after={deep}"),
        ("list, sorted by score", "/calls?sort=score&order=asc"),
        ("list, one team", "/calls?team=team-07"),
        ("list, one agent", "/calls?agent=A123"),
        ("list, a month", "/calls?from=2026-08-01&to=2026-08-31"),
        ("list, score 40-60", "/calls?min_score=40&max_score=60"),
        ("list, R6 fail", "/calls?item=R6&status=fail"),
        ("list, stage S6 + class 升级 + zh", "/calls?stage=S6&class=升级&language=zh"),
        (f"search, rare phrase ({RARE})", f"/calls?q={RARE}"),
        (f"search, common word ({COMMON})", f"/calls?q={COMMON}"),
        ("search + team + score", f"/calls?q=supervisor&team=team-02&max_score=70"),
        ("API list, 50 calls", "/api/calls"),
        ("API search, rare phrase", f"/api/calls?q={RARE}"),
    ]
    rows = []
    for user in ("bench-reviewer", "bench-lead"):
        client = TestClient(app)
        assert client.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
        deep = deep_cursor(store, "team-03" if user == "bench-lead" else None, 999 * 50)
        for label, path in cases:
            if user == "bench-lead" and "team=" in path:
                continue
            path = path.replace("{deep}", deep)
            ms, _ = timed(client, path)
            api = path if path.startswith("/api/") else "/api/calls" + (path[len("/calls"):] or "")
            total = timed(client, api, runs=1)[1]
            rows.append((user.split("-")[1], label, ms, total))
    print(f"\n{args.calls:,} stored calls, {store.url.split('://')[0]}; median of 5 whole requests, ms "
          f"(target < {TARGET_MS:.0f})")
    print(f"{'who':9} {'page':44} {'ms':>8} {'matches':>9}")
    worst = 0.0
    for who, label, ms, total in rows:
        worst = max(worst, ms)
        print(f"{who:9} {label:44} {ms:8.1f} {total:9,}")
    print(f"slowest page {worst:.1f} ms: {'within' if worst < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
    store.close()
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
