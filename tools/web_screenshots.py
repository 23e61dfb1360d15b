"""Screenshots of every workspace page at 1400 and 400 px, to look at them (phones included).

Starts the app on a temporary SQLite store holding the sample call (plus a
second team's copy and a call with hostile text: the browser tests' calls),
signs in as each role, and saves full-page PNGs named ``<page>-<width>.png``
into OUT (outside the repository: the pictures are for looking, not for git).
Each page is also checked not to scroll sideways at either width; overflowing
pages are listed at the end and the exit status is 1.

    .venv/bin/python tools/web_screenshots.py /tmp/shots

Needs Debian's chromium (/usr/bin/chromium) and Playwright (PyPI).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from qa.store.calibration_sessions import CalibrationStore  # noqa: E402
from qa.store.database import Store  # noqa: E402
from qa.store.workspace import WorkspaceStore  # noqa: E402
from qa.web.app import create_app  # noqa: E402
from tests.web_support import HOSTILE_ID, PASSWORD, SAMPLE_ID, ServerThread, seeded_sqlite  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WIDTHS = (1400, 400)

#: (user, page name, path) in the order a day's work visits them
PAGES = [
    ("ana", "login", None),
    ("rita", "calls", "/calls"),
    ("rita", "calls-filtered", "/calls?team=demo&min_score=0&max_score=100&sort=score&order=asc"),
    ("rita", "calls-search", "/calls?q=%E8%AE%A2%E5%8D%95"),
    ("rita", "calls-empty", "/calls?q=nothing-matches-this"),
    ("rita", "call", f"/calls/{SAMPLE_ID}"),
    ("rita", "call-hostile", f"/calls/{HOSTILE_ID}"),
    ("rita", "disputes-reviewer", "/disputes?state=all"),
    ("alice", "calls-agent", "/calls"),
    ("alice", "call-agent", f"/calls/{SAMPLE_ID}"),
    ("alice", "disputes-agent", "/disputes?state=all"),
    ("alice", "not-found-agent", "/calls/north-0001"),
    ("leo", "calls-lead", "/calls"),
    ("leo", "coaching", "/coaching?start=2026-11-01&end=2026-11-30"),
    ("leo", "calibration-session", "/calibration/{session}"),
    ("sam", "calibration-blind", f"/calibration/{{session}}/calls/{SAMPLE_ID}"),
    ("leo", "calibration-list", "/calibration"),
    ("ana", "audit", "/audit"),
    ("ana", "docs", "/docs"),
]


def seed(folder: Path) -> Store:
    """The sample calls and users; a reviewer's verdict, an agent's open appeal and an accepted one."""
    store = Store.open(seeded_sqlite(folder))
    ws = WorkspaceStore(store)
    ws.set_verdict(SAMPLE_ID, "R6", "pass", "misheard: the agent did offer the plan", "rita")
    ws.add_appeal(SAMPLE_ID, "P3", "I apologised at 01:32, please listen again", "alice")
    done = ws.add_appeal(HOSTILE_ID, "R6", "<script>alert(1)</script> I did close the call", "alice")
    ws.resolve_appeal(done.appeal_id, True, "agreed after listening", "rita", status="pass")
    return store


def open_session(store: Store) -> int:
    """A lead's blind session; opened late because its reviewers are sent to the blind page while it is open."""
    ws = WorkspaceStore(store)
    lead = ws.find_user("leo")[0]
    return CalibrationStore(ws).create(lead, "Weekly blind check", [SAMPLE_ID, HOSTILE_ID], ["sam", "rita"]).session_id


def sign_in(browser, url: str, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=url)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/calls")
    return context, page


def shoot(page, out: Path, name: str) -> list[str]:
    """Both widths, full page; returns the widths at which the page scrolls sideways."""
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
        if page.evaluate("document.documentElement.scrollWidth - window.innerWidth") > 1:
            wide.append(f"{name} at {width} px")
    return wide


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs (created; outside the repository)")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.is_relative_to(REPO):
        parser.error(f"{out} is inside the repository: pick a folder outside it, e.g. /tmp/shots")
    out.mkdir(parents=True, exist_ok=True)
    overflow: list[str] = []
    with tempfile.TemporaryDirectory(prefix="callqa-shots-") as tmp:
        store, session_id = seed(Path(tmp)), None
        with ServerThread(create_app(store)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            contexts: dict[str, tuple] = {}
            for user, name, path in PAGES:
                if path is None:  # the login page, before anyone signs in
                    context = browser.new_context(base_url=server.url)
                    page = context.new_page()
                    page.goto("/login")
                    overflow += shoot(page, out, name)
                    context.close()
                    continue
                if user not in contexts:
                    contexts[user] = sign_in(browser, server.url, user)
                page = contexts[user][1]
                if "{session}" in path and session_id is None:
                    session_id = open_session(store)
                page.goto(path.replace("{session}", str(session_id)))
                overflow += shoot(page, out, name)
                print(f"{name:24} {page.url}")
            browser.close()
        store.close()
    print(f"{len(PAGES) * len(WIDTHS)} screenshots in {out}")
    for item in overflow:
        print(f"scrolls sideways: {item}")
    return 1 if overflow else 0


if __name__ == "__main__":
    sys.exit(main())
