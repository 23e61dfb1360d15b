"""Operating callqa: metadata for every input, a night people can open, outputs as one set, faults, the CLI.

Issue 12 items 3, 5, 6, 8 and 9, and issue 11 item 4 (one review-and-store
path). Transcripts only, except the one acoustics test marked slow.
"""

from __future__ import annotations

import csv
import errno
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from qa.common import outputs
from qa.errors import OutputError, StoreUrlError
from qa.pipeline import nightly
from qa.scoring.rubric import DEFAULT_RUBRIC
from qa.store.database import Store
from qa.types import UtteranceAcoustics
from tests.test_nightly import add_corrupt, backdate, make_calls, run_night, timed_text
from tests.test_store import make_review
from tests.threads import run_together

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
runner = CliRunner()


def _no_meta_call(call_id: str, n: int, language: str = "en") -> str:
    """A timed-text call with only language and call id in its header (metadata must come from elsewhere)."""
    return "\n".join(line for line in timed_text(call_id, language, n).splitlines()
                     if not line.startswith(("# agent_id", "# team"))) + "\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return backdate(path)


def _json_transcript(call_id: str, n: int) -> str:
    lines = [line.split(None, 3) for line in _no_meta_call(call_id, n).splitlines()[2:]]
    return json.dumps({
        "format": "callqa.transcript", "version": 1, "call_id": call_id, "language": "en", "duration": 24.0,
        "utterances": [{"role": r, "start": float(a), "end": float(b), "text": t, "speaker": r}
                       for a, b, r, t in lines],
        "gaps": [], "roles": {"method": "import", "confidence": 1.0, "separated": True, "notes": []},
        "meta": None, "language_probability": 1.0, "source": {}, "asr": {},
    }, ensure_ascii=False)


# ---------------------------------------------------------------- metadata for every input
def test_sidecars_and_manifests_give_text_and_json_transcripts_their_metadata(tmp_path) -> None:
    archive = tmp_path / "archive"
    _write(archive / "a" / "t1.txt", _no_meta_call("t1", 1))
    _write(archive / "a" / "t1.json", json.dumps({"agent_id": "ag-1", "team": "north",
                                                  "started_at": "2026-11-16T09:00:00+08:00"}))
    _write(archive / "a" / "t2.txt", _no_meta_call("t2", 2))
    _write(archive / "a" / "t2.txt.json", json.dumps({"agent_id": "ag-2", "team": "south",
                                                      "started_at": "2026-11-17T09:00:00"}))
    _write(archive / "b" / "j3.json", _json_transcript("j3", 3))
    _write(archive / "b" / "j3.json.json", json.dumps({"agent_id": "ag-3", "team": "east",
                                                       "started_at": "2026-11-18"}))
    _write(archive / "c" / "t4.txt", _no_meta_call("t4", 4))
    _write(archive / "c" / "j5.json", _json_transcript("j5", 5))
    with (archive / "c" / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "agent_id", "team", "started_at"],
                                  ["t4.txt", "ag-4", "west", "2026-11-19T10:00:00"],
                                  ["j5.json", "ag-5", "west", "2026-11-20T10:00:00"]])
    backdate(archive / "c" / "manifest.csv")
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        summary = run_night(store, archive)
        c = summary["counts"]
        # 3 sidecars counted as sidecars, the manifest ignored: none reviewed or quarantined as a call
        assert (c["found"], c["sidecars"], c["reviewed"], c["quarantined"]) == (5, 3, 5, 0)
        assert summary["metadata_warnings"] == [] and c["metadata_warnings"] == 0
        rows = {r["call_id"]: r for r in store.scores_frame()}
    assert {k: (rows[k]["agent_id"], rows[k]["team"]) for k in sorted(rows)} == {
        "j3": ("ag-3", "east"), "j5": ("ag-5", "west"), "t1": ("ag-1", "north"), "t2": ("ag-2", "south"),
        "t4": ("ag-4", "west")}
    assert all(r["started_at"] for r in rows.values())


def test_header_lines_win_over_a_sidecar_which_fills_the_rest(tmp_path) -> None:
    call = _write(tmp_path / "h.txt", _no_meta_call("h", 1).replace("# call_id: h\n",
                                                                    "# call_id: h\n# agent_id: from-header\n"))
    _write(tmp_path / "h.json", json.dumps({"agent_id": "from-sidecar", "team": "t-sidecar"}))
    result = runner.invoke(app, ["score", str(call), "--json", "--no-store"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)["meta"]
    assert (meta["agent_id"], meta["team"]) == ("from-header", "t-sidecar")


def test_a_call_missing_from_its_folders_manifest_is_reported_not_silently_stored(tmp_path) -> None:
    archive = tmp_path / "archive"
    _write(archive / "listed.txt", _no_meta_call("listed", 1))
    _write(archive / "forgotten.txt", _no_meta_call("forgotten", 2))
    _write(archive / "blank.txt", _no_meta_call("blank", 3))
    with (archive / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "agent_id", "team", "started_at"],
                                  ["listed.txt", "a1", "north", "2026-11-16T09:00:00"],
                                  ["blank.txt", "a2", "", "2026-11-16T10:00:00"]])
    backdate(archive / "manifest.csv")
    reports = tmp_path / "reports"
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id, reports) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0, reports)
        forgotten = store.load_scorecard("forgotten").warnings
        blank = store.load_scorecard("blank").warnings
        listed = store.load_scorecard("listed").warnings
    assert any("manifest.csv in this folder has no row for forgotten.txt" in w for w in forgotten)
    assert any("leaves team empty" in w for w in blank)
    assert not any(w.startswith("metadata missing") for w in listed)
    assert summary["counts"]["metadata_warnings"] == 2
    assert {m["call_id"] for m in summary["metadata_warnings"]} == {"forgotten", "blank"}
    assert "## Metadata missing" in nightly.summary_markdown(summary)
    assert "no row for forgotten.txt" in (reports / "forgotten.html").read_text(encoding="utf-8")
    assert "no row for forgotten.txt" in (reports / "index.html").read_text(encoding="utf-8")


def test_coaching_over_zero_calls_exits_non_zero_with_a_clear_message(tmp_path) -> None:
    call = _write(tmp_path / "undated.txt", _no_meta_call("undated", 1))
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    assert runner.invoke(app, ["score", str(call), "--store", store]).exit_code == 0
    result = runner.invoke(app, ["coaching", "--start", "2026-11-16", "--end", "2026-11-22", "--store", store,
                                 "--out", str(tmp_path / "coaching")])
    assert result.exit_code == 1
    assert "E640" in result.output and "no reviewed calls from 2026-11-16 to 2026-11-22" in result.output
    assert not (tmp_path / "coaching").exists()


# ---------------------------------------------------------------- a night people can open
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.hrefs


def test_a_night_leaves_pages_whose_links_all_open(tmp_path) -> None:
    archive = tmp_path / "archive"
    calls = make_calls(archive, count=6)
    for n, path in enumerate(calls.values()):  # dated, so the coaching report finds them
        text = path.read_text(encoding="utf-8").replace("# team: north", f"# team: north\n# started_at: 2026-11-{16 + n}T09:00:00")
        _write(path, text)
    add_corrupt(archive)
    reports = tmp_path / "reports"
    db = f"sqlite:///{tmp_path / 'callqa.db'}"
    with Store.open(db) as store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id, reports) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0, reports)
    for call_id in calls:
        assert (reports / f"{call_id}.html").is_file() and (reports / f"{call_id}.scorecard.json").is_file()
    index = reports / "index.html"
    assert index.read_text(encoding="utf-8") == (reports / f"nightly-{plan.run_id}.html").read_text(encoding="utf-8")
    hrefs = _links(index)
    assert sorted(hrefs) == sorted(f"{c}.html" for c in calls)
    assert all((reports / h).is_file() for h in hrefs)
    page = index.read_text(encoding="utf-8")
    for name, error in {"bad/noise.wav": "NotAudioError", "bad/empty.mp3": "EmptyAudioError"}.items():
        assert name in page and error in page
    assert summary["counts"]["quarantined"] == 3 and nightly.exit_code(summary) == nightly.EXIT_QUARANTINED
    # the coaching report links into the night's pages, at a second of the call
    coaching = tmp_path / "coaching"
    result = runner.invoke(app, ["coaching", "--start", "2026-11-16", "--end", "2026-11-22", "--store", db,
                                 "--out", str(coaching), "--link-base", "../reports/"])
    assert result.exit_code == 0, result.output
    with (coaching / "examples.csv").open(encoding="utf-8-sig") as fh:
        example_links = [row["link"] for row in csv.DictReader(fh)]
    scorecard_links = [h for h in _links(coaching / "coaching.html") if ".html" in h]
    assert set(example_links) <= set(scorecard_links)
    assert all(re.search(r"\.html(#t=\d+(\.\d+)?)?$", h) for h in scorecard_links)
    assert any("#t=" in h for h in scorecard_links), scorecard_links
    assert all((coaching / h.split("#")[0]).resolve().is_file() for h in scorecard_links)


def test_quarantined_files_are_counted_as_quarantined_on_later_nights(tmp_path) -> None:
    archive = tmp_path / "archive"
    make_calls(archive, count=2)
    add_corrupt(archive)
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        first = run_night(store, archive)
        second = run_night(store, archive)
    assert nightly.exit_code(first) == nightly.EXIT_QUARANTINED
    assert (second["counts"]["skipped"], second["counts"]["still_quarantined"]) == (2, 3)
    assert nightly.exit_code(second) == nightly.EXIT_OK
    assert "3 still quarantined" in second["final_line"]


def test_exit_codes_rank_failed_calls_above_quarantined_files() -> None:
    assert nightly.exit_code({"counts": {"errors": 1, "quarantined": 2}}) == nightly.EXIT_CALLS_FAILED == 4
    assert nightly.exit_code({"counts": {"errors": 0, "quarantined": 2}}) == nightly.EXIT_QUARANTINED == 3
    assert nightly.exit_code({"counts": {"errors": 0, "quarantined": 0}}) == nightly.EXIT_OK == 0
    assert len({nightly.EXIT_OK, nightly.EXIT_RUN_FAILED, nightly.EXIT_QUARANTINED, nightly.EXIT_CALLS_FAILED}) == 4


def test_text_only_nights_do_not_claim_audio_hours(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        make_calls(tmp_path / "archive", count=2)
        summary = run_night(store, tmp_path / "archive")
    text = nightly.summary_markdown(summary)
    assert "audio hours per wall hour" not in text and "transcripts only" in text


# ---------------------------------------------------------------- one review-and-store path
def test_a_second_file_with_a_stored_call_id_is_refused_and_the_first_keeps_its_files_and_disputes(tmp_path) -> None:
    first = _write(tmp_path / "a" / "0042.txt", _no_meta_call("0042", 1))
    second = _write(tmp_path / "b" / "0042.txt", _no_meta_call("0042", 2))
    out = tmp_path / "out"
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    assert runner.invoke(app, ["review", str(first), "--out", str(out), "--store", store]).exit_code == 0
    assert runner.invoke(app, ["dispute", "0042", "P1", "--status", "pass", "--store", store]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = runner.invoke(app, ["review", str(second), "--out", str(out), "--store", store])
    assert result.exit_code == 1
    assert "E504" in result.output and "a/0042.txt" in result.output and "b/0042.txt" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # rolled back: the first call's files
    with Store.open(store) as s:
        assert s.call_path("0042") == str(first)
        assert [d.item_id for d in s.disputes("0042")] == ["P1"]
        assert "agent 1" in json.dumps(s.load_transcript("0042").utterances, default=str)
    # the same file again is an update, not a clash
    assert runner.invoke(app, ["review", str(first), "--out", str(out), "--store", store]).exit_code == 0


def test_a_custom_rubric_shows_its_own_titles_on_the_page(tmp_path) -> None:
    rubric = tmp_path / "custom.yaml"
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    assert "en: Feelings first, then the matter\n" in text  # else the edit below would change nothing
    rubric.write_text(text.replace("en: Feelings first, then the matter\n", "en: Custom title for the feelings item\n"),
                      encoding="utf-8")
    call = _write(tmp_path / "c.txt", timed_text("c", "en", 1))
    out = tmp_path / "out"
    result = runner.invoke(app, ["review", str(call), "--out", str(out), "--no-store", "--rubric", str(rubric)])
    assert result.exit_code == 0, result.output
    page = (out / "c.html").read_text(encoding="utf-8")
    assert "Custom title for the feelings item" in page and "Feelings first, then the matter" not in page


def test_acoustics_are_stored_with_the_call(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        assert "0003_call_acoustics" in store.applied_migrations()
        t, f, card, sha, path = make_review(1)
        values = [UtteranceAcoustics(60.5, 180.0, -2.5), UtteranceAcoustics(None, None)]
        store.save_review(t, f, card, sha256=sha, path=path, acoustics=values)
        assert store.load_acoustics(t.call_id) == [
            {"loudness_db": 60.5, "pitch_hz": 180.0, "final_pitch_slope": -2.5},
            {"loudness_db": None, "pitch_hz": None, "final_pitch_slope": None}]
        store.save_review(t, f, card, sha256=sha, path=path)  # a transcript review keeps none
        assert store.load_acoustics(t.call_id) is None


@pytest.mark.slow
def test_a_reviewed_recording_keeps_its_acoustics(tmp_path) -> None:
    call = tmp_path / "jfk.flac"
    shutil.copy(DATA / "en" / "jfk.flac", call)
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    result = runner.invoke(app, ["review", str(call), "--out", str(tmp_path / "out"), "--store", store])
    assert result.exit_code == 0, result.output
    with Store.open(store) as s:
        stored = s.load_acoustics("jfk")
        assert stored and len(stored) == len(s.load_transcript("jfk").utterances)
        assert any(a["loudness_db"] is not None for a in stored)


@pytest.mark.slow
def test_two_recordings_with_one_call_id_in_one_review_keep_the_first(tmp_path) -> None:
    """The bug as filed: `callqa review a/0042.wav b/0042.wav` replaced the first call with the second."""
    first, second = tmp_path / "a" / "0042.wav", tmp_path / "b" / "0042.wav"
    for source, target in ((DATA / "en" / "leopard_test_en.wav", first), (DATA / "es" / "test_es_norm.wav", second)):
        target.parent.mkdir()
        shutil.copy(source, target)
    store, out = f"sqlite:///{tmp_path / 'callqa.db'}", tmp_path / "out"
    result = runner.invoke(app, ["review", str(first), str(second), "--out", str(out), "--store", store])
    assert result.exit_code == 1
    assert "E504" in result.output and "a/0042.wav" in result.output and "b/0042.wav" in result.output
    with Store.open(store) as s:
        assert s.call_path("0042") == str(first) and s.row_counts()["calls"] == 1
        assert s.load_transcript("0042").language == "en"  # the first call's words, not the Spanish second
    assert json.loads((out / "0042.scorecard.json").read_text(encoding="utf-8"))["language"] == "en"


# ---------------------------------------------------------------- outputs as one set; disk full
def test_a_full_disk_mid_set_leaves_no_file_and_stores_nothing(tmp_path, monkeypatch) -> None:
    call = _write(tmp_path / "full.txt", timed_text("full", "en", 1))
    out = tmp_path / "out"
    out.mkdir()
    real = outputs._write_temp
    written: list[Path] = []

    def fill_up(path: Path, data: bytes) -> Path:
        if path.suffix == ".html":  # the scorecard JSON and transcript made it; the page does not
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        return real(path, data)

    monkeypatch.setattr(outputs, "_write_temp", fill_up)
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    result = runner.invoke(app, ["review", str(call), "--out", str(out), "--store", store])
    assert result.exit_code == 1
    assert "E620" in result.output and "disk is full" in result.output
    assert len(written) == 2 and list(out.iterdir()) == []  # no partial file, no temporary left
    with Store.open(store) as s:
        assert s.row_counts()["calls"] == 0


def test_a_full_tmpfs_leaves_no_partial_file(tmp_path) -> None:
    """The same on a real 64 KB tmpfs: the page (~80 KB) does not fit, the two JSON files would."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        call = _write(tmp_path / "t.txt", timed_text("t", "en", 1))
        store = f"sqlite:///{tmp_path / 'callqa.db'}"
        result = runner.invoke(app, ["review", str(call), "--out", str(mnt / "out"), "--store", store])
        assert result.exit_code == 1 and "E620" in result.output, result.output
        assert list((mnt / "out").iterdir()) == []
        with Store.open(store) as s:
            assert s.row_counts()["calls"] == 0
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_output_set_rollback_restores_the_files_it_replaced(tmp_path) -> None:
    (tmp_path / "a.json").write_text("old a")
    files = outputs.OutputSet()
    files.add(tmp_path / "a.json", "new a")
    files.add(tmp_path / "b.html", "new b")
    files.commit()
    assert (tmp_path / "a.json").read_text() == "new a" and (tmp_path / "b.html").is_file()
    files.rollback()
    assert (tmp_path / "a.json").read_text() == "old a" and not (tmp_path / "b.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_write_atomic_says_why_it_failed(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(outputs.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OutputError, match="disk is full"):
        outputs.write_atomic(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- concurrency
def _two_nights_at_once(url: str, archive: Path) -> None:
    def night():
        with Store.open(url) as store:
            return run_night(store, archive)

    results, errors = run_together(night, 2)
    assert errors == []
    with Store.open(url) as store:
        counts = store.row_counts()
        assert (counts["calls"], counts["scores"], counts["utterances"]) == (6, 6, 30)
        assert store.quarantined() == []
    reviewed = sum(r["counts"]["reviewed"] for r in results)
    assert 6 <= reviewed <= 12 and all(r["counts"]["errors"] == 0 for r in results)


def test_two_nights_at_once_on_one_sqlite_store_store_every_call_once(tmp_path) -> None:
    archive = tmp_path / "archive"
    make_calls(archive)
    _two_nights_at_once(f"sqlite:///{tmp_path / 'callqa.db'}", archive)


@pytest.mark.postgres
def test_two_nights_at_once_on_one_postgresql_store_store_every_call_once(tmp_path, fresh_pg_url) -> None:
    archive = tmp_path / "archive"
    make_calls(archive)
    _two_nights_at_once(fresh_pg_url, archive)


# ---------------------------------------------------------------- store URLs and one-line errors
@pytest.mark.parametrize("url, code", [("sqlite:///", "E505"), ("sqlite://", "E505"),
                                       ("mysql://x@y/z", "E505")])
def test_store_urls_that_keep_nothing_are_errors(url, code) -> None:
    with pytest.raises(StoreUrlError, match=code):
        Store.open(url)


def test_a_store_url_in_a_missing_folder_is_an_error_not_a_new_folder(tmp_path) -> None:
    missing = tmp_path / "typo" / "deeper"
    with pytest.raises(StoreUrlError, match="does not exist"):
        Store.open(f"sqlite:///{missing / 'callqa.db'}")
    assert not (tmp_path / "typo").exists()
    result = runner.invoke(app, ["agreement", "--store", f"sqlite:///{missing / 'callqa.db'}"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1 and "E505" in result.output


def test_bad_and_unreachable_store_urls_are_one_line(tmp_path) -> None:
    for url in ("postgresql://u@127.0.0.1:notaport/db", "postgresql://nobody@127.0.0.1:1/none"):
        result = runner.invoke(app, ["agreement", "--store", url])
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1 and "E50" in result.output, result.output


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})


def test_missing_archive_and_unreachable_store_are_one_line_for_cron(tmp_path) -> None:
    missing = _cli("nightly", str(tmp_path / "no-such-archive"), "--store", f"sqlite:///{tmp_path / 'c.db'}")
    assert missing.returncode == nightly.EXIT_RUN_FAILED
    assert missing.stderr.strip().count("\n") == 0 and "E630" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "archive").mkdir()
    unreachable = _cli("nightly", str(tmp_path / "archive"), "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert unreachable.returncode == nightly.EXIT_RUN_FAILED
    assert unreachable.stderr.strip().count("\n") == 0 and "E506" in unreachable.stderr


# ---------------------------------------------------------------- CLI polish
def test_version_and_defaults_in_help() -> None:
    from qa import __version__

    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"callqa {__version__}"
    for command, default in (("review", "rubrics/default.yaml"), ("score", "$CALLQA_DB_URL"),
                             ("nightly", "qa/data/nightly.yaml"), ("transcribe", "embedded Whisper base"),
                             ("coaching", "callqa-coaching")):
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "240"}).output
        text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown).split())
        assert "[default:" in text and default in text, (command, text)


def _leaf_commands(group, prefix=()):
    for name, sub in sorted(group.commands.items()):
        if hasattr(sub, "commands"):  # a group (Typer's own click types are not click's classes)
            yield from _leaf_commands(sub, (*prefix, name))
        else:
            yield (*prefix, name), sub


def test_every_option_of_every_command_shows_its_default_or_that_it_is_required() -> None:
    """A flag says it is off, an unset option says what happens without it: nothing is hidden."""
    import typer

    commands = list(_leaf_commands(typer.main.get_command(app)))
    assert len(commands) >= 15 and ("nightly",) in [c for c, _ in commands]
    checked = 0
    for path, command in commands:
        rows = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output.splitlines()
        for param in command.params:
            if not hasattr(param, "is_flag") or param.name == "help":  # arguments are listed as [required]
                continue
            row = next((r for r in rows if re.search(rf"(?<![\w-]){re.escape(param.opts[0])}(?![\w-])", r)), "")
            assert "[default:" in row or "[required]" in row, (path, param.opts, row)
            checked += 1
    assert checked >= 60


def test_folders_are_accepted_where_files_are(tmp_path) -> None:
    folder = tmp_path / "calls"
    make_calls(folder, count=3)
    _write(folder / "day0" / "call-0000.txt.json", json.dumps({"team": "x"}))  # a sidecar, not a call
    (folder / "day0" / "manifest.csv").write_text("file,team\n", encoding="utf-8")
    scored = runner.invoke(app, ["score", str(folder), "--json", "--no-store"])
    assert scored.exit_code == 0, scored.output
    assert sorted(c["call_id"] for c in json.loads(scored.stdout)) == ["call-0000", "call-0001", "call-0002"]
    tagged = runner.invoke(app, ["tag", str(folder), "--json"])
    assert tagged.exit_code == 0 and len(json.loads(tagged.stdout)) == 3
    out = tmp_path / "out"
    assert runner.invoke(app, ["transcribe", str(folder), "--out", str(out), "--format", "txt"]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["call-0000.txt", "call-0001.txt", "call-0002.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = runner.invoke(app, ["score", str(empty), "--no-store"])
    assert "no recordings or transcripts in this folder" in nothing.output


# ---------------------------------------------------------------- #t= in a real browser
def test_scorecard_page_opens_at_the_second_in_its_link(tmp_path) -> None:
    from tests.test_render import _chromium

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    call = _write(tmp_path / "seek.txt", timed_text("seek", "en", 1))
    out = tmp_path / "out"
    assert runner.invoke(app, ["review", str(call), "--out", str(out), "--no-store"]).exit_code == 0
    page = (out / "seek.html").as_uri()
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", page + "#t=15").stdout
    assert re.search(r'<body[^>]*data-opened-at="15"', dom), dom[-2000:]
    now = re.findall(r'<div class="utt [a-z]+ now" id="u-(\d+)" data-t="([\d.]+)"', dom)
    assert now == [("3", "15.0")]  # the utterance said at 0:15 is the one highlighted
    plain = _chromium(browser, tmp_path / "profile2", "--dump-dom", page).stdout
    assert 'data-ready="1"' in plain and "data-opened-at" not in plain and " now\"" not in plain
