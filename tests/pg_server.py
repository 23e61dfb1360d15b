"""Pytest fixtures for a throwaway PostgreSQL server, so store tests run against the real thing.

``pg_server`` (session) installs PostgreSQL if needed (tools/ensure_postgres.sh),
runs ``initdb`` and ``pg_ctl`` in a temp dir as an unprivileged user (PostgreSQL
refuses to run as root; the tests may run as root), listens on a free port on
127.0.0.1 only with trust auth, and removes everything at the end.
``pg_url`` is the URL of a database created in it; ``fresh_pg_url`` gives each
test its own empty database.

When PostgreSQL cannot be installed the tests are skipped with the reason, or
fail when ``CI=true`` (a CI run must not pass by skipping them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
ENSURE_SCRIPT = REPO / "tools" / "ensure_postgres.sh"
SUPERUSER = "postgres"
#: Unprivileged system account that runs the server when the tests run as root.
SERVER_ACCOUNT = "postgres"
#: Durability is pointless for a throwaway server; these make it several times faster.
SERVER_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=60 -c shared_buffers=32MB")
START_ATTEMPTS = 3  # a free port can be taken between choosing and binding it


@dataclass(frozen=True)
class PgServer:
    bindir: Path
    datadir: Path
    port: int
    host: str = "127.0.0.1"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
        return psycopg.connect(host=self.host, port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            # FILE_COPY: 2-3x faster than the default WAL_LOG for a throwaway server with fsync off.
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: these tests must run in CI)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}",
                    pytrace=False)
    return proc


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        found = subprocess.run([str(ENSURE_SCRIPT)], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{ENSURE_SCRIPT} could not run: {exc}")
    if found.returncode != 0:
        _unavailable(found.stderr.strip() or f"{ENSURE_SCRIPT} exited {found.returncode}")
    bindir = Path(found.stdout.strip().splitlines()[-1])

    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            _unavailable(f"running as root and there is no {SERVER_ACCOUNT!r} user to run the server as "
                         f"(Debian's postgresql package creates it; or run the tests as a normal user)")
        as_user = ["runuser", "-u", SERVER_ACCOUNT, "--"]

    root = Path(tempfile.mkdtemp(prefix="callqa-pg-"))  # under /tmp: the server account can reach it
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    datadir, logfile = root / "data", root / "server.log"
    pg_ctl = str(bindir / "pg_ctl")
    started: PgServer | None = None
    try:
        _run(as_user + [str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", SUPERUSER,
                        "-E", "UTF8", "--locale=C", "--no-sync"], root, "initdb")
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {SERVER_SETTINGS}"
            proc = subprocess.run(as_user + [pg_ctl, "-D", str(datadir), "-l", str(logfile), "-w", "-t", "60",
                                             "-o", options, "start"],
                                  cwd=root, capture_output=True, text=True, timeout=120)
            if proc.returncode == 0:
                started = PgServer(bindir=bindir, datadir=datadir, port=port)
                break
            log = logfile.read_text(errors="replace") if logfile.exists() else ""
            if "could not bind" not in log and "already in use" not in log:
                pytest.fail(f"pg_ctl start failed: {proc.stdout}{proc.stderr}\n{log}", pytrace=False)
        if started is None:
            pytest.fail(f"PostgreSQL could not bind a free port in {START_ATTEMPTS} attempts", pytrace=False)
        yield started
    finally:
        if started is not None:
            subprocess.run(as_user + [pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"],
                           cwd=root, capture_output=True, text=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """URL of a database ``callqa_test`` in the session's server."""
    return pg_server.create_database("callqa_test")


@pytest.fixture
def fresh_pg_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a new, empty database for one test; dropped afterwards."""
    name = f"callqa_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)
