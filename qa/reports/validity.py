"""How far to trust the score: the measured agreement figures each scorecard carries.

``qa/data/item_validity.yaml`` is written by ``bench/validity.py --figures`` in the
same run that writes the README's "How far to trust the score" section (per item:
its verdict agreement and Cohen's kappa with a labeller on the real labelled test
split, and the Spearman of its points with people's ratings on real dialogues, with
each figure's n).
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from qa.common.paths import DATA_FILES

README_SECTION = "README.md#how-far-to-trust-the-score"


@functools.lru_cache(maxsize=1)
def figures() -> dict[str, Any]:
    path = DATA_FILES / "item_validity.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def trust() -> dict[str, Any]:
    """The scorecard-wide part: where the figures are explained, their source, the overall agreement."""
    data = figures()
    return {"url": README_SECTION, "source": data.get("source"), "overall": data.get("overall")}


def item_figure(item_id: str) -> dict[str, Any] | None:
    """The item's measured agreement with people, or None where none was measured."""
    return (figures().get("items") or {}).get(item_id)
