"""The sample call from audio to scorecard through the command line; disputes survive a re-score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "complaint_zh" / "call.flac"
#: Every test here reads the review of the sample recording (the speech model, ~3 min of audio).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """`callqa review` on the bundled sample call, once, into a private store."""
    root = tmp_path_factory.mktemp("review")
    store = f"sqlite:///{root / 'callqa.db'}"
    result = CliRunner().invoke(app, ["review", str(SAMPLE), "--out", str(root / "out"), "--store", store])
    assert result.exit_code == 0, result.output
    return root, store, result.output


def _card(root: Path) -> dict:
    return json.loads((root / "out" / "sample-complaint-zh.scorecard.json").read_text(encoding="utf-8"))


def test_review_writes_html_json_and_transcript(reviewed):
    root, _, output = reviewed
    names = sorted(p.name for p in (root / "out").iterdir())
    assert names == ["sample-complaint-zh.html", "sample-complaint-zh.redacted.wav",  # the only audio served
                     "sample-complaint-zh.scorecard.json", "sample-complaint-zh.transcript.json"]
    assert "R6" in output and "auto-fail" in output  # the terminal summary


def test_scorecard_json_has_the_promised_shape(reviewed):
    card = _card(reviewed[0])
    for key in ("call_id", "language", "score", "peak_stage", "final_stage", "complaint_class", "items"):
        assert key in card
    assert card["call_id"] == "sample-complaint-zh" and card["language"] == "zh"
    assert card["items"] and any(item["evidence"] for item in card["items"])
    for item in card["items"]:
        assert {"id", "status", "points", "evidence", "tip"} <= set(item)
        for e in item["evidence"]:
            assert {"role", "start", "end", "text"} <= set(e)


def test_sample_call_verdicts_match_what_was_scripted(reviewed):
    items = {i["id"]: i for i in _card(reviewed[0])["items"]}
    # the agent says 这是规定 once: a forbidden phrase, auto-fail under R6
    assert items["R6"]["status"] == "fail" and any("这是规定" in e["text"] for e in items["R6"]["evidence"])
    # apology and empathy come before the solution, the hold has an estimate and a thank-you
    assert items["P1"]["status"] == "pass"
    assert items["K1"]["status"] == "pass" and any("稍等" in e["text"] for e in items["K1"]["evidence"])
    assert items["R4"]["status"] == "pass" and any("其他问题" in e["text"] for e in items["R4"]["evidence"])
    card = _card(reviewed[0])
    assert card["score"] == 0 and card["summary"]["score_before_auto_fail"] >= 70
    assert card["peak_stage"] == "S6"  # 12315 and 退款: a regulator threat


def test_phone_and_order_numbers_never_reach_the_outputs(reviewed):
    for path in (reviewed[0] / "out").iterdir():
        if path.suffix == ".wav":  # the redacted recording: tests/test_redact_audio.py listens to it
            continue
        text = path.read_text(encoding="utf-8")
        assert "13812345678" not in text and "8802315764" not in text, path.name
    transcript = (reviewed[0] / "out" / "sample-complaint-zh.transcript.json").read_text(encoding="utf-8")
    assert "[PHONE ••••5678]" in transcript


def test_dispute_is_kept_through_a_rescore_and_shown_beside_the_automatic_verdict(reviewed):
    root, store, _ = reviewed
    runner = CliRunner()
    result = runner.invoke(app, ["dispute", "sample-complaint-zh", "R6", "--status", "partial",
                                 "--note", "said once, then apologised", "--reviewer", "qa-lee", "--store", store])
    assert result.exit_code == 0, result.output
    assert "overrides automatic fail" in result.output
    # score the stored transcript again (no audio): the dispute stays and is reported beside the verdict
    transcript = root / "out" / "sample-complaint-zh.transcript.json"
    result = runner.invoke(app, ["score", str(transcript), "--json", "--store", store])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout[result.stdout.index("{"):])
    r6 = next(i for i in card["items"] if i["id"] == "R6")
    assert r6["status"] == "fail" and r6["human"]["status"] == "partial" and r6["human"]["reviewer"] == "qa-lee"
    result = runner.invoke(app, ["agreement", "--json", "--store", store])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == [{"item": "R6", "reviewed": 1, "agreed": 0, "rate": 0.0, "kappa": 0.0,
                       "overturned": {"fail->partial": 1}}]


def test_dispute_on_an_unknown_item_is_refused(reviewed):
    _, store, _ = reviewed
    result = CliRunner().invoke(app, ["dispute", "sample-complaint-zh", "P9", "--status", "pass", "--store", store])
    assert result.exit_code != 0 and "P9" in result.output
