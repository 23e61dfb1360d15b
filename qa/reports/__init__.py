"""Rendering of finished results: the one-call scorecard page and terminal summary, the coaching report.

Imports are lazy so ``callqa score`` (terminal only) does not load matplotlib
or Jinja2.
"""

from __future__ import annotations

from typing import Any

__all__ = ["print_scorecard", "render_scorecard_html"]


def __getattr__(name: str) -> Any:
    if name == "render_scorecard_html":
        from qa.reports.scorecard_html import render_scorecard_html

        return render_scorecard_html
    if name == "print_scorecard":
        from qa.reports.terminal import print_scorecard

        return print_scorecard
    raise AttributeError(f"module 'qa.reports' has no attribute {name!r}")
