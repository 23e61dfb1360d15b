"""bench/validity.py: the README section and the scorecards' per-item figures come from one run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.validity import (
    README_BEGIN,
    README_END,
    Section,
    item_figures,
    render_markdown,
    replace_readme,
    spearman_section,
)

SCORING = {
    "rubric": "v3-abc", "course_rubric": "v1-def", "n": 1200,
    "cv": {"after": {"S": 0.41, "E": 0.4, "A": 0.3}},
    "validity_rows": [{"figure": "Spearman(score, E)", "before": 0.2, "after": 0.4, "data": "STC-3 zh dev",
                       "n": 1200, "how": "5-fold CV"},
                      {"figure": "Spearman(score, E)", "before": None, "after": 0.1, "data": "STC-3 en",
                       "n": 60, "how": "never seen"}],
    "items": {"P4": {"spearman_E": 0.35, "n": 900}, "K3": {"spearman_E": 0.01, "n": 1200}},
    "reference": {"customer final stage (S0-S6)": {"S": -0.5, "E": -0.45, "A": -0.4}},
}


def _verdicts() -> Section:
    return Section("Item verdicts against the labeller (pass / fail / n/a)", "datasets/real/dialogues.tsv, test split",
                   ["item", "n", "agreement", "Cohen's kappa", "mix"],
                   [["P4", 55, 0.8, 0.6, "29/8/18"], ["R6", 55, 0.96, float("nan"), "53/2/0"]])


def test_item_figures_join_the_labelled_agreement_and_the_rating_spearman():
    data = item_figures([_verdicts()], SCORING)
    assert data["items"]["P4"] == {"agreement": 0.8, "kappa": 0.6, "n_labelled": 55, "spearman_E": 0.35,
                                   "n_rated": 900}
    assert data["items"]["R6"]["kappa"] is None and "spearman_E" not in data["items"]["R6"]
    assert data["items"]["K3"] == {"spearman_E": 0.01, "n_rated": 1200}
    assert data["overall"] == {"S": 0.41, "E": 0.4, "A": 0.3} and "test split" in data["source"]
    assert yaml.safe_load(yaml.safe_dump(data)) == data


def test_the_readme_section_is_replaced_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# callqa\n\nintro\n{README_BEGIN}\nold figures\n{README_END}\n\n### Calibrate\nkept\n",
                      encoding="utf-8")
    markdown = render_markdown([spearman_section(SCORING), _verdicts()])
    replace_readme(readme, markdown)
    text = readme.read_text(encoding="utf-8")
    assert "old figures" not in text and text.startswith("# callqa\n\nintro\n")
    assert text.endswith("### Calibrate\nkept\n") and "| Spearman(score, E) | 0.200 | 0.400 |" in text
    assert "| Spearman(score, E) |  | 0.100 | STC-3 en | 60 | never seen |" in text
    assert "customer final stage (S0-S6) Spearman with E -0.450" in text
    replace_readme(readme, markdown)  # idempotent: the markers stay, once each
    assert readme.read_text(encoding="utf-8") == text


def test_a_readme_without_markers_is_refused(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# callqa\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="validity:begin"):
        replace_readme(readme, "## How far to trust the score\n")
    assert readme.read_text(encoding="utf-8") == "# callqa\n"
