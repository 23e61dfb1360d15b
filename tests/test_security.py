"""Hostile call ids, links out of the archive and personal data around the masking (issue 12, item 1).

Every trick goes through every input path (timed-text header, JSON
transcript, sidecar, manifest row, file name) and every writing command
(review --out, transcribe --out, score --out, the nightly run's --reports).
Transcripts only: no speech model, so this file runs in seconds.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from qa.errors import CallIdError
from qa.pipeline import nightly
from qa.pipeline.archive import load_settings, scan
from qa.pipeline.ingest import load_call
from qa.privacy.callid import (
    MAX_ID_BYTES,
    check_call_id,
    is_safe,
    mask_text,
    output_path,
    settle_call_id,
)
from qa.store.database import Store
from tests.test_nightly import backdate, timed_text

PHONE = "13812345678"
CARD = "4111111111111111"
TRICKS = {
    "dotdot": "../../escaped",
    "absolute": "/tmp/callqa-escaped-abs",
    "slash": "a/b",
    "nul": "x\x00y",
    "long": "a" * 300,
    "dot": ".hidden",
}


def _body(language: str = "en") -> list[str]:
    return timed_text("unused", language, 7).splitlines()[4:]  # the utterance lines, no header


def _text_call(call_id: str | None = None, extra_header: str = "") -> str:
    header = ["# language: en"] + ([f"# call_id: {call_id}"] if call_id is not None else [])
    return "\n".join(header + ([extra_header] if extra_header else []) + _body()) + "\n"


def _json_call(call_id: str, **source) -> str:
    lines = [line.split(None, 3) for line in _body()]
    return json.dumps({
        "format": "callqa.transcript", "version": 1, "call_id": call_id, "language": "en", "duration": 24.0,
        "utterances": [{"role": r, "start": float(a), "end": float(b), "text": t, "speaker": r}
                       for a, b, r, t in lines],
        "gaps": [], "roles": {"method": "import", "confidence": 1.0, "separated": True, "notes": []},
        "meta": None, "language_probability": 1.0, "source": source, "asr": {},
    }, ensure_ascii=False)


def _plant(folder: Path, via: str, trick: str) -> Path:
    """One call file in ``folder`` that claims the id ``trick`` through input path ``via``; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    if via == "header":
        path = folder / "call.txt"
        path.write_text(_text_call(trick), encoding="utf-8")
    elif via == "json":
        path = folder / "call.json"
        path.write_text(_json_call(trick), encoding="utf-8")
    elif via == "sidecar":
        path = folder / "call.txt"
        path.write_text(_text_call(extra_header="# system: sidecar"), encoding="utf-8")
        (folder / "call.txt.json").write_text(json.dumps({"call_id": trick}), encoding="utf-8")
    elif via == "manifest":
        path = folder / "call.txt"
        path.write_text(_text_call(extra_header="# system: manifest"), encoding="utf-8")
        with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([["file", "call_id", "agent_id"], ["call.txt", trick, "a1"]])
    else:
        raise AssertionError(via)
    for p in folder.iterdir():
        backdate(p)
    return path


def _everything_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("trick", list(TRICKS.values()), ids=list(TRICKS))
def test_a_claimed_unsafe_id_is_refused_and_a_file_name_is_slugged(trick) -> None:
    with pytest.raises(CallIdError) as caught:
        settle_call_id(trick, "here", from_name=False)
    assert caught.value.code == "E320" and "\x00" not in str(caught.value)
    slug = settle_call_id(trick, "here", from_name=True)
    assert is_safe(slug) and "/" not in slug and len(slug.encode()) <= MAX_ID_BYTES
    assert settle_call_id(trick, "here", from_name=True) == slug  # stable
    with pytest.raises(CallIdError):
        output_path(Path("/tmp/out"), trick, ".html")


def test_safe_ids_pass_unchanged_and_slugs_of_different_names_differ() -> None:
    for good in ("0042", "call-20240501-000123", "客户-001", "a.b_c-d", "x" * MAX_ID_BYTES):
        assert settle_call_id(good, "here", from_name=False) == good
        assert check_call_id(good, "here") == good
    assert settle_call_id("call 1", "n", True) != settle_call_id("call_1 ", "n", True)
    with pytest.raises(CallIdError):
        check_call_id("x" * (MAX_ID_BYTES + 1), "here")
    with pytest.raises(CallIdError):
        check_call_id("界" * 43, "here")  # 129 bytes: the limit is in bytes, for file names


@pytest.mark.parametrize("via", ["header", "json", "sidecar", "manifest"])
@pytest.mark.parametrize("trick", ["dotdot", "absolute", "slash", "long", "dot"])
def test_every_input_path_refuses_an_unsafe_id_before_anything_is_written(tmp_path, via, trick) -> None:
    path = _plant(tmp_path / "in", via, TRICKS[trick])
    with pytest.raises(CallIdError):
        load_call(path)


@pytest.mark.parametrize("via", ["header", "json", "sidecar"])
def test_nul_in_an_id_is_refused(tmp_path, via) -> None:
    path = _plant(tmp_path / "in", via, "x\x00y") if via != "header" else None
    if via == "header":
        path = tmp_path / "in" / "call.txt"
        path.parent.mkdir(parents=True)
        path.write_text(_text_call("x\x00y"), encoding="utf-8")
    with pytest.raises(CallIdError):
        load_call(path)


@pytest.mark.parametrize("command", ["review", "transcribe", "score"])
@pytest.mark.parametrize("via", ["header", "json", "sidecar", "manifest"])
def test_writing_commands_write_nothing_outside_out_and_store_nothing(tmp_path, command, via) -> None:
    src = _plant(tmp_path / "in", via, TRICKS["dotdot"])
    out = tmp_path / "deep" / "er" / "out"
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    before = _everything_under(tmp_path)
    args = [command, str(src), "--out", str(out)] + (["--store", store] if command != "transcribe" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "E320" in result.output
    created = _everything_under(tmp_path) - before
    assert all(p == out or out in p.parents or p.name.startswith("callqa.db") for p in created), created
    assert not (tmp_path / "deep" / "escaped.html").exists()
    assert not out.exists() or not list(out.iterdir())
    if command != "transcribe":
        with Store.open(store) as s:
            assert s.row_counts()["calls"] == 0


def test_absolute_id_does_not_escape_out(tmp_path) -> None:
    src = _plant(tmp_path / "in", "header", TRICKS["absolute"])
    result = CliRunner().invoke(app, ["review", str(src), "--out", str(tmp_path / "out"), "--no-store"])
    assert result.exit_code == 1 and "E320" in result.output
    assert not Path(TRICKS["absolute"] + ".html").exists()


def test_unsafe_file_names_become_slugs_and_the_files_stay_in_out(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["call 0042.txt", "-dash.txt", "tab\tname.txt", "new\nline.txt"]
    for name in names:
        (folder / name).write_text(_text_call(), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["review", str(folder), "--out", str(out), "--no-store"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 * len(names)
    assert all(is_safe(n.split(".")[0]) for n in written)
    assert {p.parent for p in out.rglob("*")} == {out}


# ---------------------------------------------------------------- the nightly run
def test_nightly_quarantines_unsafe_ids_and_writes_only_inside_reports(tmp_path) -> None:
    archive = tmp_path / "archive"
    for via in ("header", "json", "sidecar", "manifest"):
        _plant(archive / via, via, TRICKS["dotdot"])
    good = archive / "good" / "g1.txt"
    good.parent.mkdir()
    good.write_text(_text_call("g1"), encoding="utf-8")
    backdate(good)
    reports = tmp_path / "r" / "reports"
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        plan = nightly.plan_night(store, archive)
        assert plan.counts["sidecars"] == 1  # call.txt.json is metadata, not a call
        outcomes = [nightly.review_job(store, job, None, plan.run_id, reports) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0, reports)
        assert summary["counts"]["reviewed"] == 1 and summary["counts"]["quarantined"] == 4
        assert {e.error_class for e in store.quarantined()} == {"CallIdError"}
        assert nightly.exit_code(summary) == nightly.EXIT_QUARANTINED
    assert not (tmp_path / "escaped.html").exists() and not (tmp_path / "r" / "escaped.html").exists()
    assert {p.parent for p in reports.rglob("*")} == {reports}
    assert (reports / "g1.html").is_file() and (reports / "g1.scorecard.json").is_file()


# ---------------------------------------------------------------- personal data
def test_phone_number_file_name_never_becomes_an_unmasked_call_id(tmp_path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    call = archive / f"{PHONE}.txt"
    call.write_text(_text_call(), encoding="utf-8")
    backdate(call)
    reports = tmp_path / "reports"
    out = tmp_path / "out"
    db = tmp_path / "callqa.db"
    result = CliRunner().invoke(app, ["review", str(call), "--out", str(out), "--store", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    with Store.open(f"sqlite:///{tmp_path / 'night.db'}") as store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id, reports) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0, reports)
        (call_id,) = {o.call_id for o in outcomes}
        assert call_id.startswith("PHONE_5678-") and is_safe(call_id)
        markdown = nightly.summary_markdown(summary)
        rows = json.dumps(nightly.outcome_rows(outcomes))
    assert PHONE not in result.output and PHONE not in markdown and PHONE not in rows
    for folder in (out, reports):
        for f in folder.iterdir():
            assert PHONE not in f.name and PHONE not in f.read_text(encoding="utf-8"), f


def test_a_transcripts_claim_to_be_redacted_is_not_trusted(tmp_path) -> None:
    path = tmp_path / "claims.json"
    text = _json_call("claims", redacted=True, redaction={"phone": 0})
    path.write_text(text.replace("my internet dropped 7 times today", f"call me on {PHONE}").replace(
        "My internet dropped 7 times today!", f"Call me on {PHONE}, card {CARD}."), encoding="utf-8")
    assert PHONE in path.read_text(encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'callqa.db'}"
    result = CliRunner().invoke(app, ["review", str(path), "--out", str(tmp_path / "out"), "--store", db])
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        stored = json.dumps(store.load_transcript("claims").utterances, default=str)
    assert PHONE not in stored and CARD not in stored and "5678" in stored
    for f in (tmp_path / "out").iterdir():
        assert PHONE not in f.read_text(encoding="utf-8") and CARD not in f.read_text(encoding="utf-8")


def test_quarantine_reasons_and_the_nights_pages_are_masked(tmp_path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    bad = archive / "bad.txt"
    bad.write_text(f"# language: en\n0 2 agent hello\n0 1 card:{CARD},tel:{PHONE}\n", encoding="utf-8")
    backdate(bad)
    reports = tmp_path / "reports"
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id, reports) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0, reports)
        (entry,) = store.quarantined()
        run = store.get_run(plan.run_id)
    assert entry.error_class == "TranscriptFormatError" and "line 3" in entry.reason
    for text in (entry.reason, json.dumps(run.summary), nightly.summary_markdown(summary),
                 *(f.read_text(encoding="utf-8") for f in reports.iterdir())):
        assert CARD not in text and PHONE not in text
    assert "[CARD" in entry.reason


def test_mask_text_keeps_order_numbers_when_asked() -> None:
    assert mask_text("call-20240501-000123", personal_only=True) == "call-20240501-000123"
    assert PHONE not in mask_text(f"{PHONE}.wav", personal_only=True)
    assert "1234567" not in mask_text("order 1234567 failed")


# ---------------------------------------------------------------- links out of the archive
def test_scan_never_leaves_the_archive(tmp_path) -> None:
    archive = tmp_path / "archive"
    (archive / "day").mkdir(parents=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("# language: en\n0 1 agent root:x:0:0\n", encoding="utf-8")
    inside = archive / "day" / "real.txt"
    inside.write_text(_text_call("real"), encoding="utf-8")
    (archive / "day" / "to-outside.txt").symlink_to(outside)
    (archive / "day" / "to-etc.txt").symlink_to("/etc/passwd")
    (archive / "day" / "loop1.txt").symlink_to(archive / "day" / "loop2.txt")
    (archive / "day" / "loop2.txt").symlink_to(archive / "day" / "loop1.txt")
    (archive / "day" / "dangling.txt").symlink_to(tmp_path / "nothing.txt")
    (archive / "day" / "inside-link.txt").symlink_to(inside)
    (archive / "up").symlink_to(tmp_path, target_is_directory=True)
    for p in [outside, inside]:
        backdate(p)
    found = scan(archive, load_settings(settle_seconds=0))
    assert sorted(f.rel for f in found.files) == ["day/inside-link.txt", "day/real.txt"]
    notes = "\n".join(found.notes)
    for name in ("to-outside.txt", "to-etc.txt", "loop1.txt", "loop2.txt", "dangling.txt"):
        assert f"day/{name}: skipped" in notes
    assert "outside the archive" in notes and "loop" in notes
    assert "up: skipped" in notes  # a folder link out of the archive
    assert found.links_skipped == 6
    with Store.open(f"sqlite:///{tmp_path / 'callqa.db'}") as store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0)
        assert summary["counts"]["reviewed"] == 1 and summary["counts"]["duplicates"] == 1
        assert store.quarantined() == []
        assert "root:x" not in json.dumps(summary) and "to-etc.txt: skipped" in json.dumps(summary)


SECRET = "root:x:0:0:SECRET-LINE"


def _swap_for_link(path: Path, target: Path) -> None:
    """What an attacker does between the scan and the read: the listed name now points elsewhere."""
    path.unlink()
    path.symlink_to(target)


def _planned(tmp_path: Path, names: tuple[str, ...] = ("day/a.txt", "day/b.txt")) -> tuple[Path, Path, Store]:
    archive = tmp_path / "archive"
    for name in names:
        (archive / name).parent.mkdir(parents=True, exist_ok=True)
        (archive / name).write_text(_text_call(Path(name).stem), encoding="utf-8")
        backdate(archive / name)
    secret = tmp_path / "outside" / "a.txt"
    secret.parent.mkdir()
    secret.write_text(f"# language: en\n0 1 agent {SECRET}\n0 1 {SECRET}\n", encoding="utf-8")
    return archive, secret, Store.open(f"sqlite:///{tmp_path / 'callqa.db'}")


def _leaks(store: Store, summary: dict, outcomes: list) -> str:
    return json.dumps([summary, [o.__dict__ for o in outcomes], [e.reason for e in store.quarantined()]],
                      default=str)


def test_a_file_swapped_for_a_link_after_the_scan_is_never_read(tmp_path) -> None:
    """The race between the scan's link check and the read: the read opens without following links."""
    archive, secret, store = _planned(tmp_path)
    with store:
        plan = nightly.plan_night(store, archive)
        assert [j.rel for j in plan.jobs] == ["day/a.txt", "day/b.txt"]
        _swap_for_link(archive / "day" / "a.txt", secret)
        outcomes = [nightly.review_job(store, job, None, plan.run_id) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0)
        assert [o.status for o in outcomes] == ["quarantined", "reviewed"]
        assert outcomes[0].error_class == "OutsideArchiveError" and "E631" in outcomes[0].reason
        assert "not read" in outcomes[0].reason
        assert store.load_transcript("b") is not None and SECRET not in _leaks(store, summary, outcomes)
        assert nightly.exit_code(summary) == nightly.EXIT_QUARANTINED


def test_a_folder_swapped_for_a_link_after_the_scan_is_never_read(tmp_path) -> None:
    """A link higher up the path: O_NOFOLLOW alone would follow it; the opened file's real path is checked."""
    archive, secret, store = _planned(tmp_path)
    with store:
        plan = nightly.plan_night(store, archive)
        (archive / "day").rename(archive / ".day-moved")
        (archive / "day").symlink_to(secret.parent, target_is_directory=True)
        (secret.parent / "b.txt").write_text(secret.read_text(encoding="utf-8"), encoding="utf-8")
        outcomes = [nightly.review_job(store, job, None, plan.run_id) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0)
        assert {o.status for o in outcomes} == {"quarantined"}
        assert {o.error_class for o in outcomes} == {"OutsideArchiveError"}
        assert "outside the archive" in outcomes[0].reason and SECRET not in _leaks(store, summary, outcomes)


def test_a_file_swapped_between_scan_and_hashing_is_not_hashed(tmp_path) -> None:
    archive, secret, store = _planned(tmp_path)
    found = scan(archive, load_settings(settle_seconds=0))
    _swap_for_link(archive / "day" / "a.txt", secret)
    with store:
        from qa.pipeline.archive import index

        indexed = index(store, found.files, found.root)
        assert [h.file.rel for h in indexed.files] == ["day/b.txt"]
        ((unread, why),) = indexed.unreadable
        assert unread.rel == "day/a.txt" and "not read" in why and SECRET not in why


def test_a_fifo_swapped_in_cannot_hang_the_night(tmp_path) -> None:
    archive, _secret, store = _planned(tmp_path)
    with store:
        plan = nightly.plan_night(store, archive)
        (archive / "day" / "a.txt").unlink()
        os.mkfifo(archive / "day" / "a.txt")
        outcome = nightly.review_job(store, plan.jobs[0], None, plan.run_id)
        assert (outcome.status, outcome.error_class) == ("quarantined", "OutsideArchiveError")
        assert "not a regular file" in outcome.reason


def test_readers_read_the_file_opened_once_not_its_name_again(tmp_path) -> None:
    """Once pinned, swapping the name changes nothing: every reader reads the opened file."""
    from qa.pipeline.archive import pinned
    from qa.pipeline.ingest import read_or_transcribe

    archive, secret, _store = _planned(tmp_path, ("a.txt",))
    _store.close()
    with pinned(archive / "a.txt", archive) as content:
        assert str(content).startswith("/proc/self/fd/")
        _swap_for_link(archive / "a.txt", secret)
        transcript, _ = read_or_transcribe(archive / "a.txt", content=content)
    assert transcript.call_id == "a" and SECRET not in json.dumps(transcript.utterances, default=str)
    assert "My internet dropped" in " ".join(u.text for u in transcript.utterances)


def test_a_sidecar_or_manifest_that_is_a_link_is_refused_not_read(tmp_path) -> None:
    archive, secret, store = _planned(tmp_path, ("s/a.txt", "m/b.txt"))
    (archive / "s" / "a.txt.json").symlink_to(secret)
    (archive / "m" / "manifest.csv").symlink_to(secret)
    with store:
        plan = nightly.plan_night(store, archive)
        outcomes = [nightly.review_job(store, job, None, plan.run_id) for job in plan.jobs]
        summary = nightly.finish_night(store, plan, outcomes, 1.0)
        assert [(o.rel, o.status, o.error_class) for o in outcomes] == [
            ("m/b.txt", "quarantined", "MetadataError"), ("s/a.txt", "quarantined", "MetadataError")]
        assert all("is a link" in o.reason for o in outcomes) and SECRET not in _leaks(store, summary, outcomes)


def test_output_path_refuses_every_trick(tmp_path) -> None:
    for trick in TRICKS.values():
        with pytest.raises(CallIdError):
            output_path(tmp_path, trick, ".scorecard.json")
    assert output_path(tmp_path, "ok-1", ".html") == tmp_path / "ok-1.html"


def test_no_world_or_group_loss_from_mkstemp(tmp_path) -> None:
    """Output files follow the umask: a web server in the group can read them (mkstemp alone gives 0600)."""
    src = _plant(tmp_path / "in", "header", "perm-1")
    old = os.umask(0o002)
    try:
        result = CliRunner().invoke(app, ["review", str(src), "--out", str(tmp_path / "out"), "--no-store"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert modes and set(modes.values()) == {0o664}, modes
    old = os.umask(0o027)
    try:
        CliRunner().invoke(app, ["score", str(src), "--out", str(tmp_path / "out2"), "--no-store"])
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "out2").iterdir()} == {0o640}
