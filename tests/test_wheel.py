"""A wheel works without the checkout: built, installed into a fresh virtual environment, it scores a call.

The repository's data folders (``lexicons/``, ``rubrics/``, ``datasets/``) reach
the package through symlinks in ``qa/data``; this test proves setuptools copies
them into the wheel as files and that ``importlib.resources`` finds them (and
the thresholds, limits and rubric) in a non-editable install run from a
directory outside the repository.

Fast trick: the new environment gets callqa from the wheel (``--no-deps``) and
its dependencies through a ``.pth`` line naming this interpreter's
site-packages, so nothing is downloaded and the test takes seconds, not the
minutes a full install would.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "complaint_zh" / "reference.txt"
#: Files the wheel must hold as regular files (they are reached through symlinks in the checkout).
PACKAGE_DATA = ("qa/data/lexicons/kinds.yaml", "qa/data/lexicons/zh/tone.yaml", "qa/data/rubrics/default.yaml",
                "qa/data/datasets/questions/questions.tsv", "qa/data/thresholds.yaml", "qa/data/limits.yaml",
                "qa/reports/templates/scorecard_page.yaml", "qa/web/workspace.yaml")
#: Run inside the installed environment: where qa comes from, and that each kind of data file loads.
PROBE = """
import json, qa
from qa.common.limits import limits
from qa.common.settings import shipped
from qa.scoring.rubric import DEFAULT_RUBRIC, load_rubric
from qa.tagging.questions.model import dataset_path
from qa.tagging.thresholds import load_thresholds
from qa.text.lexicon import load_lexicon
print(json.dumps({
    "qa": qa.__file__,
    "rubric": str(DEFAULT_RUBRIC), "rubric_items": len(load_rubric().items),
    "lexicon_zh": len(load_lexicon("zh").entries), "lexicon_dir": str(shipped("lexicons")),
    "thresholds": load_thresholds().repetition.max_earlier, "max_duration": limits().calls.max_duration,
    "dataset": str(dataset_path()), "dataset_rows": dataset_path().read_text(encoding="utf-8").count("\\n"),
}))
"""


def _run(args: list, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args[:4]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the checkout (building in place would leave build/ and *.egg-info in it)."""
    source = tmp / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "out", "callqa-out",
        "tests", "bench", "samples"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", tmp / "dist",
          source], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("callqa-*.whl")
    return wheel


def _fresh_environment(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed and this interpreter's site-packages for the dependencies."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "callqa-test-deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)), encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
         cwd=tmp)
    return python


@pytest.mark.slow
def test_the_wheel_installs_and_scores_a_transcript_with_the_default_rubric(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        infos = {info.filename: info for info in zf.infolist()}
    for name in PACKAGE_DATA:
        assert name in infos, f"{name} is not in the wheel"
        assert not stat.S_ISLNK(infos[name].external_attr >> 16), f"{name} is a symlink in the wheel"
    assert sum(name.startswith("qa/data/lexicons/") and name.endswith(".yaml") for name in infos) >= 10

    python = _fresh_environment(tmp_path, wheel)
    outside = tmp_path / "elsewhere"  # not the checkout: nothing can be found relative to it
    outside.mkdir()
    call = shutil.copy(SAMPLE, outside / "call.txt")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["CALLQA_DATA_DIR"] = str(tmp_path / "data")

    probe = json.loads(_run([python, "-c", PROBE], cwd=outside, env=env).stdout)
    installed = Path(probe["qa"]).resolve()
    assert installed.is_relative_to((tmp_path / "venv").resolve()), probe["qa"]
    for key in ("rubric", "lexicon_dir", "dataset"):
        path = Path(probe[key])
        assert path.is_relative_to(installed.parent) and not path.is_symlink(), (key, probe[key])
    assert probe["rubric_items"] >= 20 and probe["lexicon_zh"] > 100 and probe["dataset_rows"] > 100
    assert probe["thresholds"] >= 1000 and probe["max_duration"] >= 6 * 3600

    scored = _run([python, "-m", "flows.cli", "score", call, "--json", "--no-store"], cwd=outside, env=env)
    card = json.loads(scored.stdout)
    # the same scorecard as the checkout gives for the same call: same rubric version, items and score
    here = CliRunner().invoke(app, ["score", str(call), "--json", "--no-store"])
    assert here.exit_code == 0, here.output
    expected = json.loads(here.stdout)
    assert card["call_id"] == "sample-complaint-zh" and card["rubric_version"] == expected["rubric_version"]
    assert card["rubric_version"].startswith("v") and len(card["items"]) >= 20
    assert [(i["id"], i["status"], i["points"]) for i in card["items"]] == \
        [(i["id"], i["status"], i["points"]) for i in expected["items"]]
    assert card["score"] == expected["score"] and card["summary"] == expected["summary"]
