"""The tree shows the pipeline: imports point only downstream (pyproject's import-linter contracts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--config", str(config), "--no-cache"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_every_import_contract_is_kept():
    result = _lint(REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """The contract is live: a speech module importing the tagging stage is reported."""
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(REPO / "qa", tree / "qa", ignore=shutil.ignore_patterns("__pycache__", "data", "templates"))
    shutil.copytree(REPO / "flows", tree / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    bad = tree / "qa" / "speech" / "acoustics.py"
    bad.write_text(bad.read_text(encoding="utf-8") + "\nfrom qa.tagging.runner import tag  # noqa\n", encoding="utf-8")
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe), "--config", "pyproject.toml", "--no-cache"], cwd=tree, capture_output=True,
                            text=True, timeout=300, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "Stages import only downstream BROKEN" in result.stdout
    assert "qa.speech.acoustics -> qa.tagging.runner" in result.stdout
