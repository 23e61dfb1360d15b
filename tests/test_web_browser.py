"""The workspace in a real browser: Playwright driving Debian's chromium against ``callqa serve``'s app.

A reviewer signs in, filters the list, opens the sample call, plays from a
finding, uses the keys and a ``#t=`` link, changes a verdict and sees the
reviewed score change; an agent appeals and a reviewer resolves. Each page is
photographed at 1400 and 400 px wide (into $CALLQA_SCREENSHOTS when set, to
look at them; otherwise a temp dir) and checked not to scroll sideways.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from qa.store.database import Store
from qa.web.app import create_app
from tests.web_support import HOSTILE_ID, OTHER_ID, PASSWORD, REPO, SAMPLE_ID, ServerThread, seeded_sqlite

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]
WIDTHS = (1400, 400)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        done = subprocess.run(["bash", str(REPO / "tools" / "ensure_browser.sh")], capture_output=True, text=True)
        if done.returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail(f"no browser for the workspace tests: {done.stderr.strip()}")
            pytest.skip(f"no browser for the workspace tests: {done.stderr.strip()}")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = Store.open(seeded_sqlite(tmp_path_factory.mktemp("browser")))
    with ServerThread(create_app(store)) as running:
        yield running
    store.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CALLQA_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(browser, server, user: str, width: int = 1400):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and
            not msg.text.startswith("Failed to load resource") else None)  # named by URL below
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and
            r.url not in page.expected_failures else None)
    page.expected_failures = set()
    page.goto("/calls")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/calls")
    page.errors = errors
    return context, page


def photograph(page, shots: Path, name: str) -> None:
    """Both widths; at each the page must not be wider than the window (no sideways scrolling)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the window"
    page.set_viewport_size({"width": 1400, "height": 900})


def test_reviewer_filters_listens_and_changes_a_verdict(browser, server, shots):
    context, page = sign_in(browser, server, "rita")
    rows = page.locator("table.ws-calls tbody tr")
    assert rows.count() == 3
    photograph(page, shots, "calls")
    page.select_option("select[name=team]", "north")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**team=north**")
    assert rows.count() == 1 and OTHER_ID in rows.first.inner_text()
    page.fill("input[name=q]", "洗衣机")
    page.select_option("select[name=team]", "")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**q=**")
    assert sorted(r.inner_text().split("\n")[0] for r in rows.all()) and rows.count() == 2
    page.click(f"a.ws-callid:text('{SAMPLE_ID}')")
    page.wait_for_url(f"**/calls/{SAMPLE_ID}")
    page.wait_for_function("document.documentElement.dataset.wsReady === '1'")
    photograph(page, shots, "call")

    # play from a finding: R6's evidence link
    link = page.locator("#item-R6 a.t").first
    second = float(link.get_attribute("data-t"))
    link.click()
    page.wait_for_function(f"(() => {{ const p = document.getElementById('player');"
                           f" return p.currentTime >= {second} - 0.2 && !p.paused; }})()", timeout=15000)
    now = page.evaluate("document.querySelector('.utt.now').dataset.t")
    assert float(now) <= second + 0.01
    # keys: k pauses, l is +5 s, j is -5 s, n jumps to the next utterance with a finding
    page.locator("h1").first.click()
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('player').paused")
    before = page.evaluate("document.getElementById('player').currentTime")
    page.keyboard.press("l")
    assert page.evaluate("document.getElementById('player').currentTime") == pytest.approx(before + 5, abs=0.3)
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate("document.getElementById('player').currentTime") == pytest.approx(before - 5, abs=0.3)
    page.keyboard.press("n")
    jumped = page.evaluate("document.getElementById('player').currentTime")
    assert jumped > before - 5 + 0.5
    assert page.evaluate(f"!!document.querySelector('.utt[data-t=\"{jumped:g}\"] mark')") or \
        page.evaluate("!!document.querySelector('.utt.now mark')")

    # change R6's verdict: the reviewed score appears beside the automatic 0
    assert page.inner_text("#reviewed-score") == "—" and page.inner_text("#auto-score") == "0"
    page.click("#item-R6 details.ws-verdict summary")
    page.select_option("#item-R6 select[name=status]", "pass")
    page.fill("#item-R6 input[name=note]", "misheard: 这是规划")
    page.click("#item-R6 .ws-verdict button[type=submit]")
    page.wait_for_url(f"**/calls/{SAMPLE_ID}#item-R6")
    reviewed = float(page.inner_text("#reviewed-score"))
    assert reviewed > 0 and page.inner_text("#auto-score") == "0"
    assert page.inner_text("#eval-state") == "in review"
    assert "misheard: 这是规划" in page.inner_text("#item-R6")
    assert page.locator("#evaluation li[data-action=\"verdict.set\"]").count() == 1
    page.click("#mark-reviewed")
    page.wait_for_url("**#evaluation")
    assert page.inner_text("#eval-state") == "reviewed"

    # a #t= link opens the call at that second
    page.goto(f"/calls/{SAMPLE_ID}#t=95")
    page.wait_for_function("Math.abs(document.getElementById('player').currentTime - 95) < 0.5", timeout=15000)
    assert float(page.evaluate("document.querySelector('.utt.now').dataset.t")) <= 95
    page.goto("/calls?review=reviewed")
    assert page.locator("table.ws-calls tbody tr").count() == 1
    assert f"{reviewed:g}" in page.locator("table.ws-calls tbody tr").first.inner_text()
    assert page.errors == []
    context.close()


def test_agent_appeals_and_reviewer_resolves(browser, server, shots):
    agent, page = sign_in(browser, server, "alice")
    assert page.locator("table.ws-calls tbody tr").count() == 2  # her two calls only
    page.goto(f"/calls/{SAMPLE_ID}")
    assert page.locator(".ws-verdict form[action$='/verdict']").count() == 0
    page.click("#item-P3 details.ws-verdict summary")
    page.fill("#item-P3 input[name=reason]", "I waited for the customer to finish")
    page.click("#item-P3 .ws-verdict button[type=submit]")
    page.wait_for_url("**#item-P3")
    assert "open" in page.inner_text("#item-P3 .ws-appeal-inline")
    photograph(page, shots, "call-agent")
    page.goto("/disputes?state=all")
    assert "I waited for the customer to finish" in page.inner_text("main")
    photograph(page, shots, "appeals-agent")
    page.expected_failures.add(f"{server.url}/calls/{OTHER_ID}")
    page.goto(f"/calls/{OTHER_ID}")
    assert page.locator("h1").first.inner_text() == "Not found"

    reviewer, rpage = sign_in(browser, server, "rita")
    rpage.goto("/disputes")
    photograph(rpage, shots, "disputes")
    rpage.fill(".ws-appeal input[name=note]", "agreed: the customer had finished")
    rpage.select_option(".ws-appeal select[name=status]", "pass")
    rpage.click(".ws-appeal button[value=accept]")
    rpage.wait_for_url("**/disputes")
    assert "Nothing here" in rpage.inner_text("main")

    page.goto(f"/calls/{SAMPLE_ID}#item-P3")
    box = page.inner_text("#item-P3")
    assert "accepted" in box and "agreed: the customer had finished" in box
    assert page.errors == [] and rpage.errors == []
    agent.close()
    reviewer.close()


def _evaluate_blind(page, fail_first: int) -> None:
    """Rate every item of the open blind call: the first ``fail_first`` items fail, the rest pass; submit."""
    assert page.locator(".pill, .autofail-tag, #auto-score").count() == 0  # nothing of the machine's verdicts
    fieldsets = page.locator("fieldset.ws-item")
    assert fieldsets.count() > 5
    for n in range(fieldsets.count()):
        fieldsets.nth(n).locator(f"input[value={'fail' if n < fail_first else 'pass'}]").check()
    page.click("#submit-call")


def test_calibration_session_lead_and_two_blind_reviewers(browser, server, shots):
    lead, page = sign_in(browser, server, "leo")
    page.click("nav.ws-nav a[href='/calibration']")
    page.fill("#new-session input[name=name]", "Blind check")
    page.fill("#new-session textarea[name=calls]", f"{SAMPLE_ID}\n{HOSTILE_ID}")
    page.check("#new-session input[value=rita]")
    page.check("#new-session input[value=sam]")
    photograph(page, shots, "calibration-new")
    page.click("#new-session button[type=submit]")
    page.wait_for_url("**/calibration/*")
    session_url = page.url
    assert page.locator("#agreement-items").count() == 0 or "Nothing submitted" in page.inner_text("main")

    for user, fails in (("rita", 2), ("sam", 3)):
        context, rpage = sign_in(browser, server, user)
        rpage.goto(f"/calls/{SAMPLE_ID}")  # the scorecard is out of reach: straight to the blind page
        rpage.wait_for_url(f"**/calibration/*/calls/{SAMPLE_ID}")
        if user == "rita":
            photograph(rpage, shots, "calibration-blind")
        _evaluate_blind(rpage, fails)
        rpage.wait_for_url(f"**/calls/{HOSTILE_ID}")
        _evaluate_blind(rpage, fails)
        rpage.wait_for_url(session_url)
        assert rpage.locator("#agreement-items").count() == 0  # blind to the results while open
        assert rpage.errors == []
        context.close()

    page.goto(session_url)
    overall = page.locator("#agreement-items tr.total")
    api = page.evaluate("fetch(location.pathname.replace('/calibration', '/api/calibration')).then(r => r.json())")
    expected = api["agreement"]["overall"]["reviewer_vs_reviewer"]
    assert expected["pairs"] > 10 and expected["kappa"] is not None and 0 < expected["kappa"] < 1
    assert f"{expected['kappa']:.2f}" in overall.locator("td.rr").inner_text()
    assert page.locator("#agreement-items tbody tr").count() > 5
    photograph(page, shots, "calibration-results")
    page.click("#close-session")
    page.wait_for_url(session_url)
    assert page.inner_text("#session-state") == "closed"
    assert page.errors == []
    lead.close()


def test_other_pages_at_both_widths(browser, server, shots):
    context, page = sign_in(browser, server, "ana")
    page.goto(f"/calls/{HOSTILE_ID}")
    assert page.title() != "pwned" and "<script>" in page.inner_text(".transcript")
    photograph(page, shots, "call-hostile")
    for path, name in (("/audit", "audit"), ("/docs", "docs"), ("/calls?q=nothing-matches-this", "calls-empty"),
                       ("/calibration", "calibration-list"), ("/coaching?start=2026-11-01&end=2026-11-30", "coaching")):
        page.goto(path)
        photograph(page, shots, name)
    page.click("form.ws-logout button")
    page.wait_for_url("**/login")
    photograph(page, shots, "login")
    assert page.errors == []
    context.close()


def test_the_static_scorecard_page_fits_a_phone(browser, server, shots, tmp_path):
    """The page ``callqa review`` writes (no server): photographed at both widths, no sideways scroll."""
    from qa.reports import render_scorecard_html
    from tests.web_support import SAMPLE_AUDIO

    store = Store.open(seeded_sqlite(tmp_path))
    try:
        html = render_scorecard_html(
            store.load_scorecard(SAMPLE_ID), store.load_transcript(SAMPLE_ID), store.load_findings(SAMPLE_ID),
            audio_path=SAMPLE_AUDIO, embed_audio=False,
            disputes={"R6": {"status": "pass", "note": "misheard: 这是规划", "reviewer": "rita"}})
    finally:
        store.close()
    path = tmp_path / f"{SAMPLE_ID}.html"
    path.write_text(html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    assert page.locator("table.items tr.item").count() > 5
    photograph(page, shots, "scorecard-static")
    page.set_viewport_size({"width": 400, "height": 900})
    # each item's verdict, evidence and tip stay readable: no column narrower than a few characters
    narrow = page.evaluate("""Array.from(document.querySelectorAll('table.items tr.item td'))
        .filter(td => td.offsetParent !== null && td.textContent.trim() && td.getBoundingClientRect().width < 120)
        .length""")
    assert narrow == 0
    assert errors == []
    context.close()

