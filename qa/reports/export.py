"""Findings and scorecards as plain JSON-ready dicts (the `--json` outputs and the web page's data)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from qa.reports.validity import item_figure, trust
from qa.types import Finding, Scorecard


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "value": f.value, "role": f.role, "start": f.start, "end": f.end,
            "text": f.text, "tagger": f.tagger, "detail": f.detail}


def scorecard_to_dict(s: Scorecard, disputes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scorecard JSON: call_id, language, score, stages, class, items with evidence and tips."""
    meta = asdict(s.meta) if s.meta else {}
    if meta:
        meta["channel_map"] = {str(k): v for k, v in meta["channel_map"].items()}
    out = {
        "call_id": s.call_id,
        "language": s.language,
        "score": s.score,
        "peak_stage": s.peak_stage,
        "final_stage": s.final_stage,
        "complaint_class": s.complaint_class,
        "rubric_version": s.rubric_version,
        "versions": s.versions,  # taggers, lexicon, thresholds: what the findings were made with
        "trust": trust(),  # README "How far to trust the score": how well the score agrees with people
        "warnings": s.warnings,
        "summary": s.summary,
        "meta": meta,
        "items": [
            {
                "id": i.id, "status": i.status, "points": i.points, "max_points": i.max_points,
                "auto_fail": i.auto_fail, "reason": i.reason,
                "evidence": [{"role": e.role, "start": e.start, "end": e.end, "text": e.text} for e in i.evidence],
                "tip": i.tip, "tip_en": i.tip_en, "agreement": item_figure(i.id),
            }
            for i in s.items
        ],
    }
    if disputes:
        for item in out["items"]:
            d = disputes.get(item["id"])
            if d is not None:
                item["human"] = {"status": d.status, "note": d.note, "reviewer": d.reviewer,
                                 "created_at": d.created_at}
    return out
