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

from qa.common.settings import Count, Number, Settings, Text, load_settings, shipped

README_SECTION = "README.md#how-far-to-trust-the-score"


class ValidityFile(Settings):
    """``qa/data/item_validity.yaml``: per item, agreement figures (Spearman ..., n); overall figures."""

    source: Text | None = None
    readme_anchor: Text | None = None
    overall: dict[Text, Number | None] = {}
    items: dict[Text, dict[Text, Number | Count | None]] = {}


def load_validity(path=None) -> ValidityFile:
    """Read an item_validity.yaml (the shipped one by default); errors name the file and line."""
    return load_settings(path if path is not None else shipped("item_validity.yaml"), ValidityFile)


@functools.lru_cache(maxsize=1)
def figures() -> dict[str, Any]:
    """The shipped figures as plain data; empty until ``bench/scoring.py --figures`` has written the file."""
    if not shipped("item_validity.yaml").is_file():
        return {}
    return load_validity().model_dump()


def trust() -> dict[str, Any]:
    """The scorecard-wide part: where the figures are explained, their source, the overall agreement."""
    data = figures()
    return {"url": README_SECTION, "source": data.get("source"), "overall": data.get("overall")}


def item_figure(item_id: str) -> dict[str, Any] | None:
    """The item's measured agreement with people, or None where none was measured."""
    return (figures().get("items") or {}).get(item_id)
