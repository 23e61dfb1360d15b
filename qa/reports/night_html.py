"""The index page of one nightly run: every call reviewed (linked to its page), every failure and why.

Pure rendering from the night's summary and outcomes, which are masked
already (``qa.pipeline.nightly``); autoescaping keeps file names and reasons as text.
"""

from __future__ import annotations

from typing import Any

from qa.reports.scorecard_html import _environment, load_page_settings
from qa.reports.text import clean_text

TEMPLATE = "night.html.j2"


def render_night_html(summary: dict[str, Any], outcomes: list[Any]) -> str:
    bands = load_page_settings()["score_bands"]

    def band(score: float | None) -> str:
        if score is None:
            return ""
        return "good" if score >= bands["good"] else "fair" if score >= bands["fair"] else "poor"

    calls = [{"call_id": clean_text(o.call_id or ""), "score": "" if o.score is None else f"{o.score:.0f}",
              "band": band(o.score), "file": clean_text(o.rel), "page": o.pages[0] if o.pages else "",
              "warnings": clean_text("; ".join(o.warnings))}
             for o in sorted((o for o in outcomes if o.status == "reviewed"), key=lambda o: o.call_id or "")]
    failures = [{k: clean_text(str(v or "")) for k, v in f.items()} for f in summary["failures"]]
    night = {"run_id": summary["run_id"], "final_line": summary["final_line"], "counts": summary["counts"],
             "calls": calls, "failures": failures, "notes": [clean_text(n) for n in summary.get("scan_notes", ())]}
    return _environment().get_template(TEMPLATE).render(n=night)
