"""Calls and users for the workspace tests: stored through the real review path, from transcripts (fast).

The sample call (samples/complaint_zh: its reference transcript, reviewed by
``qa.review.review_transcript``) is stored with the sample recording as its
path, so the audio route streams real FLAC. A second call belongs to another
agent and team, a third carries hostile text in its transcript.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import threading
import time
from pathlib import Path

from qa.pipeline.review import review_transcript
from qa.store.database import Store
from qa.intake.transcript_io import parse_timed_text, read_transcript
import argon2
import pytest

from qa.store.workspace import WorkspaceStore
from qa.web.app import create_app

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "samples" / "complaint_zh"
SAMPLE_AUDIO = SAMPLE_DIR / "call.flac"
SAMPLE_ID = "sample-complaint-zh"
OTHER_ID = "north-0001"
HOSTILE_ID = "demo-hostile"
PASSWORD = "correct horse battery 7"
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'

#: user -> (role, teams, agent id)
USERS = {
    "ana": ("admin", [], None),
    "rita": ("reviewer", [], None),
    "sam": ("reviewer", [], None),
    "leo": ("lead", ["demo"], None),
    "nora": ("lead", ["north"], None),
    "alice": ("agent", [], "1024"),
    "bob": ("agent", [], "2048"),
}

_HOSTILE_TEXT = f"""# language: en
# call_id: {HOSTILE_ID}
0.0 3.0 agent Hello, thank you for calling, how can I help you today?
3.5 8.0 customer {HOSTILE} I want to complain about my order, it is late.
8.5 12.0 agent I understand, I am sorry about that. Let me check the order for you.
"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _save(store: Store, transcript, path: Path, meta_changes: dict, call_id: str | None = None) -> None:
    meta = dataclasses.replace(transcript.meta, call_id=call_id or transcript.call_id, **meta_changes)
    transcript = dataclasses.replace(transcript, call_id=meta.call_id, meta=meta)
    transcript, findings, card = review_transcript(transcript)
    store.save_review(transcript, findings, card, sha256=_sha(meta.call_id + str(path)), path=str(path))


def fill_store(store: Store) -> None:
    """The three calls (see the module docstring)."""
    sample = read_transcript(SAMPLE_DIR / "reference.txt")
    if sample.meta is None:
        from qa.types import CallMeta

        sample = dataclasses.replace(sample, meta=CallMeta(call_id=sample.call_id))
    _save(store, sample, SAMPLE_AUDIO, {"agent_id": "1024", "team": "demo", "started_at": "2026-11-20T10:15:00+08:00"})
    _save(store, sample, SAMPLE_AUDIO, {"agent_id": "2048", "team": "north", "started_at": "2026-11-21T09:00:00+08:00"},
          call_id=OTHER_ID)
    hostile = parse_timed_text(_HOSTILE_TEXT, source="hostile.txt")
    from qa.types import CallMeta

    hostile = dataclasses.replace(hostile, meta=CallMeta(call_id=HOSTILE_ID))
    _save(store, hostile, REPO / "samples" / "missing.wav",
          {"agent_id": "1024", "team": "demo", "started_at": "2026-11-22T11:00:00+08:00", "language": "en"})


def add_users(store: Store) -> WorkspaceStore:
    ws = WorkspaceStore(store)
    # The app verifies with the parameters stored in the hash: cheap ones keep each test login fast
    # (the default argon2id costs take 0.3-0.8 s per login on a busy 2-core machine).
    hashed = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    for name, (role, teams, agent_id) in USERS.items():
        ws.add_user(name, role, hashed, teams=teams, agent_id=agent_id, actor="test")
    return ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a thread, for the browser tests."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in 20 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


_template: dict[str, Path] = {}


def seeded_sqlite(directory: Path) -> str:
    """A SQLite store URL in ``directory`` holding the three calls and the six users.

    The review pipeline runs once per test session (it loads jieba, spaCy and
    the taggers: ~20 s); each caller gets a copy of that database.
    """
    import shutil
    import tempfile

    if "db" not in _template:
        folder = Path(tempfile.mkdtemp(prefix="callqa-web-"))
        store = Store.open(f"sqlite:///{folder / 'template.db'}")
        fill_store(store)
        add_users(store)
        store.close()  # the last connection checkpoints the WAL into the file
        _template["db"] = folder / "template.db"
    target = Path(directory) / "callqa.db"
    shutil.copyfile(_template["db"], target)
    return f"sqlite:///{target}"


# ---------------------------------------------------------------- fixtures (import them where used)
@pytest.fixture()
def store(tmp_path: Path):
    s = Store.open(seeded_sqlite(tmp_path))
    yield s
    s.close()


@pytest.fixture()
def app(store, tmp_path: Path):
    return create_app(store, audio_cache=tmp_path / "masked-audio")
