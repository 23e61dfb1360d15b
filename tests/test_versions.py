"""Each score records what its findings were made with: tagger versions, lexicon and thresholds fingerprints.

Also pins the tagger layout: one module per course ID or tight group, named for it,
each with a version and a docstring of what fires and what does not, and findings
only under its own course IDs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from qa.intake.transcript_io import parse_timed_text
from qa.pipeline.review import ReviewOptions, review_transcript
from qa.reports.export import scorecard_to_dict
from qa.store.database import MIGRATIONS, Store
from qa.tagging.runner import tag
from qa.tagging.taggers import CODES, MODULES, TAGGERS
from qa.tagging.versions import tagging_versions
from tests.test_store import db_url, make_review  # noqa: F401 (db_url is a fixture)

CASES = Path(__file__).parent / "data" / "tagger_cases"
CALL = """# language: zh
# call_id: v-1
00:00.0 00:03.0 agent 您好，请问有什么可以帮您？
00:03.5 00:08.0 customer 我的快递三天了还没到，你们怎么回事！
00:08.5 00:12.0 agent 非常抱歉，请您稍等，我帮您查一下。
00:30.0 00:34.0 agent 感谢您的耐心等待，今天下午三点前给您送到。
00:34.5 00:36.0 customer 好的，谢谢。
"""


def test_every_tagger_module_is_named_for_its_course_ids_and_says_what_fires():
    assert len(MODULES) == len(TAGGERS) == len({m.NAME for m in MODULES})
    for m in MODULES:
        assert m.__name__.rsplit(".", 1)[1] == m.NAME
        assert isinstance(m.VERSION, int) and m.VERSION >= 1
        stem_ids = m.NAME.split("_")[0].upper()
        assert any(c.replace("-", "").upper().startswith(stem_ids) for c in m.CODES) or m.NAME.startswith("t_"), m.NAME
        doc = m.__doc__ or ""
        assert "Fires" in doc or "fires" in doc, f"{m.NAME}: say what fires"
        assert "Does not" in doc or "does not" in doc, f"{m.NAME}: say what does not fire"
        assert "Versions:" in doc, f"{m.NAME}: say what changed between versions"


def test_findings_carry_only_their_taggers_course_ids_on_every_tagger_case():
    seen: set[str] = set()
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            header = f"# language: {case['language']}\n# call_id: {case['name']}\n"
            for f in tag(parse_timed_text(header + case["transcript"]), thresholds=case.get("thresholds")):
                name = f.tagger.split("@")[0]
                assert f.id in CODES[name], f"{case['name']}: {f.tagger} made a {f.id} finding"
                seen.add(name)
    assert seen == set(CODES), f"taggers no case exercises: {sorted(set(CODES) - seen)}"


def test_x1_and_x3_cues_are_findings_now():
    t = parse_timed_text("# language: zh\n0 3 customer 我不要这个方案\n3.5 9 agent 规定是这样但是我理解您，或者我们也可以换一个方式\n")
    kinds = {(f.id, f.kind) for f in tag(t, only=["x1_x3_x4_x6_cues"])}
    assert {("X1", "reason_with_feeling"), ("X3", "alternative_offer")} <= kinds


def test_a_review_records_tagger_lexicon_and_threshold_versions():
    _, findings, card = review_transcript(parse_timed_text(CALL), ReviewOptions())
    v = card.versions
    assert v["taggers"] == {name.split("@")[0]: int(name.split("@")[1]) for name in TAGGERS}
    assert {f.tagger for f in findings} <= set(TAGGERS)
    assert v["lexicon"]["language"] == "zh" and len(v["lexicon"]["sha256"]) == 16
    assert len(v["thresholds"]["sha256"]) == 16 and v["questions"] >= 1
    assert scorecard_to_dict(card)["versions"] == v
    _, _, changed = review_transcript(parse_timed_text(CALL), ReviewOptions(thresholds={"silence": {"hold_min": 9.0}}))
    assert changed.versions["thresholds"] != v["thresholds"]
    assert changed.versions["lexicon"] == v["lexicon"] and changed.versions["taggers"] == v["taggers"]


def test_the_lexicon_fingerprint_follows_its_files(tmp_path, monkeypatch):
    import shutil

    from qa.text.lexicon import DEFAULT_ROOT

    before = tagging_versions("es")["lexicon"]["sha256"]
    root = tmp_path / "lexicons"
    shutil.copytree(DEFAULT_ROOT, root)
    monkeypatch.setenv("CALLQA_LEXICONS", str(root))
    assert tagging_versions("es")["lexicon"]["sha256"] == before  # same content, other folder
    with (root / "es" / "tone.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  - {phrase: qué vergüenza de servicio, id: T-TONE, kind: anger, role: customer}\n")
    assert tagging_versions("es")["lexicon"]["sha256"] != before
    assert tagging_versions("de")["lexicon"]["sha256"] is None  # no lexicon for German


def test_versions_are_stored_with_the_score_and_read_back(db_url):  # noqa: F811
    transcript, findings, card, sha, path = make_review(7)
    card.versions = tagging_versions("zh")
    with Store.open(db_url) as store:
        store.save_review(transcript, findings, card, sha, path)
        assert store.load_scorecard(card.call_id).versions == card.versions
        card.versions = {}
        card.rubric_version = "rubric-2"
        store.save_scorecard(card)
        assert store.load_scorecard(card.call_id).versions == {}


def test_migration_0004_adds_versions_to_a_store_made_before_it(tmp_path):
    db = tmp_path / "old.db"
    transcript, findings, card, sha, path = make_review(3)
    with Store.open(f"sqlite:///{db}") as store:
        store.save_review(transcript, findings, card, sha, path)
    with sqlite3.connect(db) as conn:  # back to the schema before 0004
        conn.execute("ALTER TABLE scores DROP COLUMN versions")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0004_score_versions'")
    with Store.open(f"sqlite:///{db}") as store:
        assert "0004_score_versions" in store.applied_migrations()
        assert store.load_scorecard(card.call_id).versions == {}  # scored before versions were kept
    names = [name for name, _ in MIGRATIONS]
    assert names.index("0003_call_acoustics") < names.index("0004_score_versions") < names.index("0010_workspace")


def test_rescoring_keeps_the_versions_the_findings_were_made_with(tmp_path):
    from qa.pipeline.nightly import rescore_all

    transcript, findings, card, sha, path = make_review(4)
    card.versions = {"taggers": {"t_rate": 1}, "lexicon": {"language": "zh", "sha256": "0" * 16},
                     "thresholds": {"sha256": "1" * 16}, "questions": 1}
    with Store.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        store.save_review(transcript, findings, card, sha, path)
        assert rescore_all(store) == 1
        again = store.load_scorecard(card.call_id)
        assert again.rubric_version != card.rubric_version and again.versions == card.versions


@pytest.mark.parametrize("name", ["stagess", "cues", "stages"])
def test_old_and_misspelt_tagger_names_are_refused(name):
    from qa.errors import UnknownTaggerError

    with pytest.raises(UnknownTaggerError, match=name):
        tag(parse_timed_text(CALL), only=[name])


@pytest.mark.parametrize("weight", [".inf", "1e308", ".nan"])
def test_rescore_with_a_non_finite_weight_is_one_coded_line_and_changes_no_score(tmp_path, weight):
    # issue 12: a rubric weight of .inf or 1e308 gave NaN/Infinity scores that `rescore` stored
    from typer.testing import CliRunner

    from qa.cli import app

    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Store.open(url) as store:
        store.save_review(*make_review(6))
        before = store.scores_frame()
    rubric = (Path(__file__).resolve().parents[1] / "rubrics" / "default.yaml").read_text(encoding="utf-8")
    assert "  weight: 2.5\n" in rubric
    bad = tmp_path / "bad.yaml"
    bad.write_text(rubric.replace("  weight: 2.5\n", f"  weight: {weight}\n", 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["rescore", "--rubric", str(bad), "--store", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: [E" in result.output and "weight" in result.output
    with Store.open(url) as store:
        assert store.scores_frame() == before and {r["call_id"] for r in before} == {"call-00006"}
        assert store.score_versions("call-00006") == [(before[0]["rubric_version"], True)]
