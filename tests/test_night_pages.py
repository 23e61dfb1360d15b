"""A night over a mixed archive leaves pages whose every local link opens (issue 12 item 5, "Done when").

``callqa nightly --reports DIR`` runs as cron runs it (a separate process
reporting to a throwaway Prefect API) over text transcripts with sidecars
and a manifest, JSON transcripts, hostile files and, in the slow variant, a
real recording. Then every page it wrote, and the coaching report linking
into them, is crawled: each ``href``/``src`` that is not a data URI must
name a file that exists inside the folders written, each ``#id`` an element
of its page, and each ``#t=SECONDS`` a second the page can open at (it has
the ``#t=`` handler and an utterance said by then).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.prefect_harness import prefect_api  # noqa: F401  - fixture
from tests.test_nightly import backdate
from tests.test_nightly_ops import _json_transcript, _no_meta_call, _write

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def _callqa(prefect_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": prefect_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "import sys; from flows.cli import app; sys.argv[0] = 'callqa'; app()",
                           *args], capture_output=True, text=True, timeout=1200, cwd=REPO, env=env, check=False)


def _mixed_archive(archive: Path, with_audio: bool) -> set[str]:
    """Calls of every input kind with their metadata beside them, and hostile files; returns the good call ids."""
    _write(archive / "a" / "t1.txt", _no_meta_call("t1", 1))
    _write(archive / "a" / "t1.json", json.dumps({"agent_id": "ag-1", "team": "north",
                                                  "started_at": "2026-11-16T09:00:00"}))
    _write(archive / "a" / "t2.txt", _no_meta_call("t2", 2))
    _write(archive / "a" / "t2.txt.json", json.dumps({"agent_id": "ag-2", "team": "north",
                                                      "started_at": "2026-11-17T09:00:00"}))
    _write(archive / "b" / "j3.json", _json_transcript("j3", 3))
    _write(archive / "b" / "j3.json.json", json.dumps({"agent_id": "ag-1", "team": "north",
                                                       "started_at": "2026-11-18T09:00:00"}))
    _write(archive / "c" / "t4.txt", _no_meta_call("t4", 4))
    _write(archive / "c" / "j5.json", _json_transcript("j5", 5))
    rows = [["file", "agent_id", "team", "started_at"], ["t4.txt", "ag-2", "north", "2026-11-19T10:00:00"],
            ["j5.json", "ag-1", "north", "2026-11-20T10:00:00"]]
    good = {"t1", "t2", "j3", "t4", "j5"}
    if with_audio:
        shutil.copyfile(DATA / "en" / "pyannote_two_party_call.wav", archive / "c" / "a6.wav")
        backdate(archive / "c" / "a6.wav")
        rows.append(["a6.wav", "ag-2", "north", "2026-11-21T10:00:00"])
        good.add("a6")
    with (archive / "c" / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    backdate(archive / "c" / "manifest.csv")
    # hostile: a call id that climbs out of --reports, a link out of the archive, noise named as audio
    _write(archive / "h" / "climb.txt", _no_meta_call("x", 1).replace("# call_id: x", "# call_id: ../../escaped"))
    (archive / "h" / "passwd.txt").symlink_to("/etc/passwd")
    (archive / "h" / "noise.wav").write_bytes(os.urandom(20_000))
    backdate(archive / "h" / "noise.wav")
    return good


class _Page(HTMLParser):
    """The links (``href``, ``src``) and element ids of one page, and its ``data-t`` seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.seconds: list[float] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("href", "src") if attrs.get(k)]
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("data-t"):
            self.seconds.append(float(attrs["data-t"]))


def _parse(page: Path) -> tuple[_Page, str]:
    text = page.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(text)
    return parsed, text


def _crawl(start: list[Path], inside: list[Path]) -> dict[Path, int]:
    """Follow every local link from ``start``; returns page -> links checked. Fails on the first dead link."""
    seen: dict[Path, int] = {}
    todo = [p.resolve() for p in start]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        parsed, text = _parse(page)
        seen[page] = 0
        for link in parsed.links:
            if re.match(r"^(data:|https?:|mailto:|javascript:)", link):
                continue
            path, _, fragment = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert any(target.is_relative_to(root.resolve()) for root in inside), f"{page.name}: {link} leaves"
            assert target.is_file(), f"{page.name}: {link} is dead"
            seen[page] += 1
            if target.suffix != ".html":
                continue
            if target != page:
                todo.append(target)
            if not fragment:
                continue
            aimed, aimed_text = _parse(target)
            if fragment.startswith("t="):
                second = float(fragment[2:])
                assert "function openAt()" in aimed_text and "#t=" in aimed_text, f"{target.name} ignores #t="
                assert aimed.seconds and min(aimed.seconds) <= second <= max(aimed.seconds) + 60, (link, aimed.seconds)
            else:
                assert fragment in aimed.ids, f"{page.name}: {link}: no element #{fragment} in {target.name}"
    return seen


def _night_and_crawl(prefect_api: str, tmp_path: Path, with_audio: bool) -> None:
    archive, reports, coaching = tmp_path / "archive", tmp_path / "reports", tmp_path / "coaching"
    good = _mixed_archive(archive, with_audio)
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    night = _callqa(prefect_api, "nightly", str(archive), "--store", store, "--reports", str(reports))
    assert night.returncode == 3, night.stderr[-3000:]  # 3: some files quarantined, the rest reviewed
    assert f"{len(good)} reviewed" in night.stderr, night.stderr[-3000:]
    assert "Traceback" not in night.stderr
    # nothing written outside --reports, nothing read through the link
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("callqa.db")) == ["archive", "reports"]
    assert not any("root:" in p.read_text(encoding="utf-8", errors="replace") for p in reports.rglob("*") if p.is_file())
    for call_id in good:
        assert (reports / f"{call_id}.html").is_file() and (reports / f"{call_id}.scorecard.json").is_file()
    index_text = (reports / "index.html").read_text(encoding="utf-8")
    assert all(name in index_text for name in ("climb.txt", "passwd.txt", "noise.wav")), index_text[-3000:]

    report = _callqa(prefect_api, "coaching", "--start", "2026-11-16", "--end", "2026-11-22", "--store", store,
                     "--out", str(coaching), "--link-base", "../reports/")
    assert report.returncode == 0, report.stderr[-3000:] + report.stdout[-3000:]
    index_links = _parse(reports / "index.html")[0].links
    assert {f"{c}.html" for c in good} <= set(index_links)
    coaching_links = [h for h in _parse(coaching / "coaching.html")[0].links if ".html" in h]
    assert any("#t=" in h for h in coaching_links), coaching_links

    nights = sorted(reports.glob("nightly-*.html"))  # the night's own page; index.html is its copy
    assert len(nights) == 1 and nights[0].read_bytes() == (reports / "index.html").read_bytes()
    pages = _crawl([reports / "index.html", coaching / "coaching.html", *nights], [reports, coaching])
    written = {p.resolve() for p in [*reports.glob("*.html"), *coaching.glob("*.html")]}
    assert written <= set(pages), sorted(p.name for p in written - set(pages))  # every page is crawled
    assert sum(pages.values()) >= 4 * len(good)


def test_a_night_of_text_and_json_calls_leaves_pages_whose_links_all_open(prefect_api, tmp_path) -> None:
    _night_and_crawl(prefect_api, tmp_path, with_audio=False)


@pytest.mark.slow
def test_a_night_with_a_recording_leaves_pages_whose_links_all_open(prefect_api, tmp_path) -> None:
    _night_and_crawl(prefect_api, tmp_path, with_audio=True)
