"""callqa calibrate: real labelled dialogues in, a new rubric out (or a coded refusal).

The labelled calls are real: NTCIR-14 STC-3 Chinese helpdesk dialogues with 19
annotators' effectiveness (E) and satisfaction (S) ratings, read from the shared
data folder at test time (research use: their text is never copied into the repo).
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qa.cli import app
from qa.intake.transcript_io import dumps, gaps_between
from qa.scoring.calibrate import (MIN_ITEM_VERDICTS, MIN_RATINGS, CalibrationError, Case, Label, TooFewLabels,
                                  check_enough, read_labels)
from qa.scoring.rubric import DEFAULT_RUBRIC, load_rubric
from qa.scoring.score import score_call
from qa.types import CallMeta, RoleAssignment, Transcript, Utterance

STC3 = Path(os.environ.get("CALLQA_SHARED_DATA", "/work/shared/data")) / "dialogues" / "stc3" / "stc3_zh_dev.json"
needs_stc3 = pytest.mark.skipif(not STC3.exists(), reason="the STC-3 dialogues are read from shared/data")


def stc3_transcript(dialogue: dict) -> Transcript:
    """A Weibo helpdesk dialogue as a text transcript: its times are made up, so timing is 'text'."""
    utterances, t = [], 0.0
    for turn in dialogue["turns"]:
        role = "customer" if turn["sender"] == "customer" else "agent"
        text = " ".join(turn["utterances"]).strip()
        utterances.append(Utterance(role=role, start=t, end=t + max(1.0, len(text) / 4), text=text, speaker=role))
        t = utterances[-1].end + 1.0
    return Transcript(call_id=dialogue["id"], language="zh", duration=t, utterances=utterances,
                      gaps=gaps_between(utterances, t), roles=RoleAssignment("import", 1.0),
                      meta=CallMeta(call_id=dialogue["id"], language="zh"), timing="text")


def mean(dialogue: dict, key: str) -> float:
    return statistics.fmean(a["quality"][key] for a in dialogue["annotations"])


@pytest.fixture(scope="module")
def dialogues() -> list[dict]:
    return json.loads(STC3.read_text(encoding="utf-8"))[:MIN_RATINGS + 20]


@needs_stc3
def test_a_labels_file_gives_a_new_rubric_that_loads_scores_and_says_where_it_came_from(dialogues, tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    lines = ["call_id,rating"]
    for d in dialogues:
        (folder / f"{d['id']}.json").write_text(dumps(stc3_transcript(d)), encoding="utf-8")
        lines.append(f"{d['id']},{mean(d, 'E'):.4f}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(app, ["calibrate", "--labels", str(labels), "--transcripts", str(folder),
                                      "--out", str(out), "--attribution", "NTCIR-14 STC-3 DCH, CC BY 4.0"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_rated"] == len(dialogues) and len(report["fold_spearman_after"]) == 5
    assert -1 <= report["spearman_before"] <= 1 and -1 <= report["spearman_after"] <= 1

    rubric = load_rubric(out)
    base = load_rubric(DEFAULT_RUBRIC)
    assert rubric.version == base.version + 1 and rubric.sha256 != base.sha256
    prov = rubric.calibration
    assert prov["n_rated"] == len(dialogues) and prov["callqa_version"] and prov["date"].startswith("20")
    assert prov["fold_spearman_after"] == report["fold_spearman_after"]
    assert "labels.csv" in prov["data"] and "CC BY 4.0" in prov["attribution"]
    # every course item keeps a say: bounded weights, no item dropped
    assert [i.id for i in rubric.items] == [i.id for i in base.items]
    for new, old in zip(rubric.items, base.items):
        assert 0.25 * old.weight - 0.01 <= new.weight <= 4 * old.weight + 0.01
    # the new rubric scores a call
    card = score_call(stc3_transcript(dialogues[0]), [], rubric)
    assert card.rubric_version == rubric.version_tag and 0 <= card.score <= 100
    # ...and the rubric in use was not touched; writing over it is refused with a code
    assert load_rubric(DEFAULT_RUBRIC).sha256 == base.sha256
    again = CliRunner().invoke(app, ["calibrate", "--labels", str(labels), "--transcripts", str(folder),
                                     "--out", str(DEFAULT_RUBRIC)])
    assert again.exit_code == 1 and "E460" in again.output and "in use" in again.output
    exists = CliRunner().invoke(app, ["calibrate", "--labels", str(labels), "--transcripts", str(folder),
                                      "--out", str(out)])
    assert exists.exit_code == 1 and "E460" in exists.output and "--force" in exists.output


@needs_stc3
def test_too_few_labels_are_refused_with_a_code_and_the_number_needed(dialogues):
    cases = [Case(stc3_transcript(d), [], Label(d["id"], mean(d, "E"))) for d in dialogues[:40]]
    with pytest.raises(TooFewLabels) as exc:
        check_enough(cases)
    assert exc.value.code == "E461" and str(MIN_RATINGS) in str(exc.value) and "40 rated" in str(exc.value)
    verdicts = [Case(stc3_transcript(d), [], Label(d["id"], None, {"P4": "pass"})) for d in dialogues[:40]]
    with pytest.raises(TooFewLabels, match=str(MIN_ITEM_VERDICTS)):
        check_enough(verdicts)  # 40 verdicts, but all the same: nothing to learn from


@needs_stc3
def test_store_verdicts_calibrate_through_a_real_sqlite_store(dialogues, tmp_path):
    from qa.pipeline.calibration import run_calibration
    from qa.pipeline.review import ReviewOptions, review_transcript
    from qa.store.database import Store

    store = Store.open(f"sqlite:///{tmp_path / 'callqa.db'}")
    calls = dialogues[:MIN_ITEM_VERDICTS + 10]
    for d in calls:
        transcript, findings, card = review_transcript(stc3_transcript(d), ReviewOptions())
        store.save_review(transcript, findings, card, sha256=f"{d['id']:0>64}"[-64:], path=f"stc3/{d['id']}")
        # the reviewer's P4 verdict: how satisfied the 19 annotators say the customer ended up
        s = mean(d, "S")
        store.add_dispute(d["id"], "P4", "pass" if s > 0.3 else "fail" if s < -0.3 else "partial", reviewer="stc3")
    out = tmp_path / "from-store.yaml"
    path, result = run_calibration(out, store=store)
    assert path == out and load_rubric(out).calibration["n_calls"] == len(calls)
    p4 = result.report.items["P4"]
    assert p4["n"] == len(calls)
    assert 0 <= p4["agreement_before"] <= 1 and 0 <= p4["agreement_after"] <= 1
    assert "reviewer verdicts in the store" in load_rubric(out).calibration["data"]
    assert store.load_transcript(calls[0]["id"]).timing == "text"  # the store keeps whether times are real


@pytest.mark.parametrize("text, suffix, message", [
    ("call_id,rating\na,1\na,2\n", ".csv", "labelled twice"),
    ("call_id,rating\na,high\n", ".csv", "not a number"),
    ("call_id,rating\na,nan\n", ".csv", "not a finite number"),
    ("call_id,P4\na,maybe\n", ".csv", "not one of"),
    ("rating\n1\n", ".csv", "needs a header with call_id"),
    ('[{"call_id": "a", "verdicts": ["pass"]}]', ".json", "verdicts must map"),
    ("{not json", ".json", "not valid JSON"),
])
def test_bad_labels_files_are_coded_errors(tmp_path, text, suffix, message):
    path = tmp_path / f"labels{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalibrationError, match=message) as exc:
        read_labels(path)
    assert exc.value.code == "E460"


def test_labels_json_and_csv_read_ratings_and_verdicts(tmp_path):
    (tmp_path / "l.json").write_text(json.dumps([{"call_id": "c1", "rating": 4, "verdicts": {"P4": "Pass"}},
                                                 {"call_id": "c2", "rating": None, "verdicts": {"R5": "n/a"}}]))
    assert read_labels(tmp_path / "l.json") == [Label("c1", 4.0, {"P4": "pass"}), Label("c2", None, {"R5": "n/a"})]
    (tmp_path / "l.csv").write_text("call_id,rating,P4,R5\nc1,3.5,fail,\nc2,,,partial\n")
    assert read_labels(tmp_path / "l.csv") == [Label("c1", 3.5, {"P4": "fail"}), Label("c2", None, {"R5": "partial"})]


def test_a_calibrated_rubric_counts_na_as_its_na_status(tmp_path):
    raw = yaml.safe_load(DEFAULT_RUBRIC.read_text(encoding="utf-8"))
    p4 = next(i for i in raw["items"] if i["id"] == "P4")
    p4["na_status"] = "pass"
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    t = Transcript("calm", "zh", 4.0, [Utterance("agent", 0, 2, "您好"), Utterance("customer", 2, 4, "我想查一下")])
    item = next(i for i in score_call(t, [], load_rubric(path)).items if i.id == "P4")
    assert item.status == "pass" and "na_status" in item.reason and item.max_points > 0
