"""The reviewer's scorecard page and the terminal summary, rendered from real records.

The call is parsed from tests/data/render_call_zh.txt with the real timed-text
reader; the scorecard, its items and the findings are built as data the way
the scorer and taggers produce them. One test opens the page in headless
Chromium (installed from Debian when missing and allowed) and looks at it.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat
from rich.console import Console

from qa.errors import ConfigError
from qa.intake.transcript_io import parse_timed_text
from qa.reports import print_scorecard, render_scorecard_html
from qa.reports.scorecard_html import dispute_command, load_page_settings
from qa.reports.text import clean_text, segments
from qa.types import Evidence, Finding, ItemScore, Scorecard, Transcript, Utterance, UtteranceAcoustics

DATA = Path(__file__).parent / "data"
CALL = DATA / "render_call_zh.txt"
STEREO = DATA / "en" / "stereo_diarization.wav"
HOSTILE = "<script>alert(1)</script>"
LONG = "长" * 4000 + "x" * 6000  # 10,000 characters without a space


# ---------------------------------------------------------------- records
@pytest.fixture(scope="module")
def transcript() -> Transcript:
    return parse_timed_text(CALL.read_text(encoding="utf-8"), source=str(CALL))


def _utt(t: Transcript, start: float) -> Utterance:
    return next(u for u in t.utterances if abs(u.start - start) < 1e-6)


@pytest.fixture(scope="module")
def findings(transcript: Transcript) -> list[Finding]:
    out = []
    for u in transcript.utterances:  # what the rate tagger gives: one rate per utterance
        out.append(Finding("T-RATE", "rate", round(len(u.text) / u.duration, 2), u.role, u.start, u.end, u.text,
                           "rate@1", {"unit": "chars/s"}))
    apology, hold_u, threat = _utt(transcript, 15.4), _utt(transcript, 26.9), _utt(transcript, 59.3)
    out += [
        Finding("P1", "acknowledged_first", True, "agent", apology.start, apology.end, apology.text, "cues@1"),
        Finding("K1", "hold", 18.4, "agent", hold_u.start, 50.2, hold_u.text, "silence@1",
                {"estimate": True, "thanked": True, "silence_start": 31.8, "silence_end": 50.2}),
        Finding("S2", "stage", "S2", "customer", 6.2, 14.9, _utt(transcript, 6.2).text, "stages@1"),
        Finding("S6", "stage", "S6", "customer", threat.start, threat.end, threat.text, "stages@1"),
        Finding("T-TONE", "sensitive_keyword", 1.0, "customer", 64.0, 65.0, "12315", "tone@1"),
        Finding("S1", "final_stage", "S0", "customer", 99.4, 101.0, _utt(transcript, 99.4).text, "stages@1"),
    ]
    return out


@pytest.fixture(scope="module")
def scorecard(transcript: Transcript) -> Scorecard:
    ev = lambda start: Evidence(_utt(transcript, start).role, start, _utt(transcript, start).end,  # noqa: E731
                                _utt(transcript, start).text)
    items = [
        ItemScore("P1", "fail", 0.0, 10.0, [ev(15.4)], tip="客户情绪激动时，先说\"非常理解您的心情\"。",
                  tip_en="Acknowledge the feeling first.", reason="fail: no_acknowledgement"),
        ItemScore("K1", "pass", 6.0, 6.0, [ev(26.9)], tip="等待前说明原因和大概时间。",
                  tip_en="Say why and for how long before a hold.", reason="pass: hold"),
        ItemScore("T-TONE", "partial", 3.0, 6.0, [Evidence("customer", 64.0, 65.0, "12315")],
                  tip="听到敏感词要立刻重视。", tip_en="Treat sensitive words as an alarm.",
                  reason="partial: sensitive_keyword"),
        # a finding about a stretch of the call whose quote was said at 94.6
        ItemScore("IDL+PPC", "pass", 5.0, 5.0, [Evidence("agent", 0.8, 98.9, "请问您还有其他问题吗？")],
                  tip="先收集信息，最后确认执行。", tip_en="Gather, propose, confirm.", reason="pass: phase_order"),
        ItemScore("R4", "n/a", 0.0, 0.0, [], reason="n/a: the call ended before closing"),
    ]
    return Scorecard(
        call_id=transcript.call_id, language="zh", score=61.5, items=items, rubric_version="v1-testrubric0",
        peak_stage="S6", final_stage="S0", complaint_class="升级",
        warnings=["very short call (107 s): little evidence either way",
                  "low speech-recognition confidence (mean word probability 0.52)"],
        summary={"duration": transcript.duration, "utterances": len(transcript.utterances),
                 "talk_ratio_agent": 0.61, "non_talk_seconds": 25.1, "non_talk_share": 0.24,
                 "rate_agent": 4.07, "rate_customer": 3.09, "rate_unit": "chars/s",
                 "questions_agent": {"closed": 1, "open": 2, "controlling": 1}, "holds": 1,
                 "overlap_seconds": 2.75},
        meta=transcript.meta,
    )


DISPUTES = {"P1": {"status": "pass", "note": "She did acknowledge at 00:15 <b>clearly</b>", "reviewer": "qa.lin"}}


def _hostile(t: Transcript) -> Transcript:
    """The same call with utterances no ASR should produce but an imported file might."""
    extra = [
        Utterance("customer", 102.0, 104.0, f"我说 {HOSTILE} 了"),
        Utterance("agent", 104.5, 106.0, "bell\x07 null\x00 esc\x1b[31m red \u202eevil\u202c ok"),
        Utterance("unknown", 106.5, 130.0, LONG),
    ]
    return dataclasses.replace(t, utterances=t.utterances + extra, duration=130.0)


@pytest.fixture(scope="module")
def page(scorecard: Scorecard, transcript: Transcript, findings: list[Finding]) -> str:
    return render_scorecard_html(scorecard, _hostile(transcript), findings, disputes=DISPUTES)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to look at the page as a browser parses it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def _item_row(html: str, item_id: str) -> str:
    m = re.search(rf'<tr class="item[^"]*" id="item-{re.escape(item_id)}">(.*?)</tr>', html, re.S)
    assert m, f"no row for {item_id}"
    return m.group(1)


# ---------------------------------------------------------------- the page
def test_page_is_one_file_without_external_references(page: str) -> None:
    assert not re.search(r"https?://", page)
    for tag, attrs in _tags(page):
        assert tag != "link", "no external stylesheets"
        for attr in ("src", "href"):
            value = attrs.get(attr)
            if value is not None and tag != "a":
                assert value.startswith("data:"), f"<{tag} {attr}={value[:40]!r}> is not inline"
        if tag == "a":
            assert attrs["href"].startswith("#"), attrs["href"]
        if tag == "script":
            assert "src" not in attrs


def test_hostile_utterance_is_escaped_not_run(page: str) -> None:
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert [t for t, _ in _tags(page)].count("script") == 1  # only the page's own script
    assert "&lt;b&gt;clearly&lt;/b&gt;" in page  # a reviewer's note is text too


def test_control_and_bidi_characters_are_removed(page: str) -> None:
    for bad in ("\x00", "\x07", "\x1b", "\u202e", "\u202c"):
        assert bad not in page
    assert "bell null esc[31m red evil ok" in page


def test_ten_thousand_character_line_renders_whole_in_its_row(page: str, transcript: Transcript) -> None:
    assert LONG in page
    rows = [a for t, a in _tags(page) if t == "div" and a.get("class", "").startswith("utt ")]
    assert len(rows) == len(transcript.utterances) + 3
    assert page.rstrip().endswith("</html>")


def test_evidence_links_carry_the_second_of_the_words(page: str) -> None:
    hold = _item_row(page, "K1")
    assert 'href="#u-4" data-t="26.9"' in hold and "00:26" in hold
    tone = _item_row(page, "T-TONE")
    assert 'data-t="64.0"' in tone and 'href="#u-6"' in tone  # 12315 inside the utterance from 00:59.3


def test_evidence_of_a_stretch_links_where_its_quote_is_said(page: str) -> None:
    assert 'href="#u-11" data-t="94.6"' in _item_row(page, "IDL+PPC")


def test_disputed_item_shows_automatic_and_reviewer_verdicts_side_by_side(page: str) -> None:
    row = _item_row(page, "P1")
    verdicts = row.split('<div class="verdicts">', 1)[1].split('<div class="points">', 1)[0]
    assert re.search(r'Automatic</div><span class="pill s-fail">fail</span>', verdicts)
    assert re.search(r'Reviewer</div><span class="pill s-pass">pass</span>', verdicts)
    assert "qa.lin" in row and "She did acknowledge at 00:15" in row
    assert '<div class="verdicts">' not in _item_row(page, "K1")


def test_every_item_offers_the_exact_dispute_command(page: str) -> None:
    row = unescape(_item_row(page, "P1"))
    assert '<code>callqa dispute render-zh-001 P1 --status pass --note "…"</code>' in row
    for status in ("pass", "partial", "fail", "n/a"):
        assert f'data-status="{status}"' in row
    assert dispute_command("call 7's", "IDL+PPC", "n/a") == \
        "callqa dispute 'call 7'\"'\"'s' IDL+PPC --status n/a --note \"…\""


def test_findings_are_marked_where_they_were_said(page: str) -> None:
    # the customer's threat is an S6 stage as a whole, and 12315 in it a sensitive keyword
    assert '<mark class="part" title="S6 stage; T-TONE sensitive_keyword">12315</mark>' in page
    assert '<mark class="whole" title="S6 stage">投诉你们！</mark>' in page
    assert re.search(r'<mark class="whole" title="P1 acknowledged_first">非常抱歉给您带来不便', page)
    assert "T-RATE rate" not in page  # per-utterance measurements are shown as numbers, not marks


def test_overlapping_findings_split_the_text_and_join_their_labels() -> None:
    text = "再不退我就去12315投诉你们！"
    whole = Finding("S6", "stage", "S6", "customer", 0, 1, text)
    part = Finding("T-TONE", "sensitive_keyword", 1, "customer", 0, 1, "12315")
    segs = segments(text, [whole, part])
    assert [s.text for s in segs] == ["再不退我就去", "12315", "投诉你们！"]
    assert segs[1].labels == (("S6", "stage"), ("T-TONE", "sensitive_keyword")) and segs[1].part
    assert segs[0].labels == (("S6", "stage"),) and not segs[0].part


def test_header_shows_call_score_stages_and_class(page: str) -> None:
    assert "render-zh-001" in page and "Agent A2048" in page and "宽带二组" in page
    assert "2024-05-14 09:32" in page and "Mandarin (zh)" in page
    assert '<div class="num">61.5</div>' in page
    assert "<b>S6</b> 投诉升级" in page and "<b>S0</b> 无投诉信号" in page and "<b>升级投诉</b>" in page
    assert "v1-testrubric0" in page


def test_warnings_tell_the_reviewer_what_to_check_by_ear(page: str) -> None:
    box = re.search(r'<section class="warnings".*?</section>', page, re.S).group(0)
    assert "very short call" in box and "Listen to the whole call" in box
    assert "Play the evidence of every failed item" in box


def test_summary_strip_shows_known_and_unknown_keys(page: str) -> None:
    assert "61% agent" in page and "39% customer" in page
    assert "25.1 s" in page and "24% of the call" in page
    assert re.search(r"Agent</span><b>4.07</b>.*Customer</span><b>3.09</b>", page, re.S)
    assert "Overlap seconds" in page and "2.75" in page


def test_timeline_plot_is_an_embedded_png(page: str) -> None:
    src = next(a["src"] for t, a in _tags(page) if t == "img")
    assert src.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert image.format == "PNG" and image.width >= 800
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 10


def test_timeline_draws_loudness_only_when_measured(page, scorecard, transcript, findings) -> None:
    acoustics = [UtteranceAcoustics(60.0 + i, 180.0) for i in range(len(transcript.utterances))]
    with_loud = render_scorecard_html(scorecard, transcript, findings, acoustics=acoustics)
    without = page
    height = lambda html: Image.open(io.BytesIO(base64.b64decode(  # noqa: E731
        next(a["src"] for t, a in _tags(html) if t == "img").split(",", 1)[1]))).height
    assert height(with_loud) > height(without)


def test_small_recording_is_embedded_as_a_data_uri(scorecard, transcript, findings) -> None:
    html = render_scorecard_html(scorecard, transcript, findings, audio_path=STEREO)
    src = next(a["src"] for t, a in _tags(html) if t == "audio")
    assert src.startswith("data:audio/wav;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == STEREO.read_bytes()
    assert not re.search(r"https?://", html)


def test_large_recording_is_reencoded_to_opus_keeping_its_channels(scorecard, transcript, findings) -> None:
    settings = load_page_settings()
    small = {**settings, "audio": {**settings["audio"], "embed_raw_max_bytes": 0}}
    html = render_scorecard_html(scorecard, transcript, findings, audio_path=STEREO, settings=small)
    src = next(a["src"] for t, a in _tags(html) if t == "audio")
    assert src.startswith("data:audio/ogg;base64,")
    data = base64.b64decode(src.split(",", 1)[1])
    assert len(data) < STEREO.stat().st_size / 5
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.channels == 2
        assert container.duration / 1e6 == pytest.approx(5.0, abs=0.2)


def test_recording_is_linked_when_not_embedded(scorecard, transcript, findings) -> None:
    html = render_scorecard_html(scorecard, transcript, findings, audio_path=STEREO, embed_audio=False)
    src = next(a["src"] for t, a in _tags(html) if t == "audio")
    assert src == STEREO.resolve().as_uri()


def test_empty_call_still_renders_a_page() -> None:
    empty = Transcript("empty-1", "es", 0.0, [])
    card = Scorecard("empty-1", "es", 0.0, [], "v1-x", warnings=["no agent speech was found"])
    html = render_scorecard_html(card, empty, [])
    assert "No utterances" in html and "<img" not in html
    assert "Check the recording has the agent" in html and "Spanish (es)" in html


def test_missing_settings_key_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "page.yaml"
    bad.write_text("groups: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"page\.yaml:1: stages: required key is missing"):
        load_page_settings(bad)


def test_clean_text_keeps_words_and_drops_controls() -> None:
    assert clean_text("a\tb\nc\x00d\x9be\u2066f\ud800") == "a b cdef\ufffd"


# ---------------------------------------------------------------- terminal
def test_terminal_summary_lists_items_with_first_evidence(scorecard, transcript) -> None:
    card = dataclasses.replace(scorecard, items=scorecard.items + [
        ItemScore("R6", "fail", 0.0, 10.0, [Evidence("agent", 26.9, 31.8, "[bold red]这是规定[/]")], auto_fail=True)])
    console = Console(record=True, width=160, file=io.StringIO(), color_system="truecolor")
    print_scorecard(card, transcript, console)
    text = console.export_text(clear=False)
    assert "render-zh-001" in text and "61.5/100" in text
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 4}
    assert "FAIL" in lines["P1"] and "0/10" in lines["P1"] and "00:15 Agent" in lines["P1"]
    assert "PARTIAL" in lines["T-TONE"] and "01:04 Customer “12315”" in lines["T-TONE"]
    assert "01:34 Agent" in lines["IDL+PPC"]
    assert "N/A" in lines["R4"] and "n/a: the call ended before closing" in lines["R4"]
    assert "[bold red]这是规定[/]" in lines["R6"] and "auto-fail" in lines["R6"]
    assert "S6 投诉升级" in text and "升级投诉 escalated" in text
    assert "very short call" in text and "check by ear" in text
    ansi = console.export_text(styles=True)
    assert "\x1b[1;31mFAIL" in ansi and "\x1b[1;32mPASS" in ansi and "\x1b[1;33mPARTIAL" in ansi


# ---------------------------------------------------------------- in a real browser
@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    allowed = os.environ.get("CI") == "true" or (hasattr(os, "geteuid") and os.geteuid() == 0)
    if not allowed or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium) and this run may not install it")
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=900)
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get install chromium did not provide a chromium binary")
    return found


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_page_renders_in_chromium_and_its_script_runs(chromium, tmp_path, scorecard, transcript, findings) -> None:
    html = render_scorecard_html(scorecard, _hostile(transcript), findings, audio_path=STEREO, disputes=DISPUTES)
    page = tmp_path / "render-zh-001.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "shot.png"
    shot = _chromium(chromium, tmp_path / "profile1", f"--screenshot={png}", "--window-size=1280,2000", page.as_uri())
    assert png.is_file(), shot.stderr[-2000:]
    image = Image.open(png).convert("L")
    assert image.size == (1280, 2000)
    assert ImageStat.Stat(image).stddev[0] > 20, "the screenshot is blank"
    dom = _chromium(chromium, tmp_path / "profile2", "--dump-dom", page.as_uri()).stdout
    assert re.search(r'<body[^>]*data-ready="1"', dom), "the inline script did not run (CSP hash or a JS error)"
    assert "<script>alert" not in dom
