"""Findings -> Scorecard: every rubric item's status, points and the evidence that decided it.

Scoring only reads findings (and the transcript's own quality signals for the
warnings); it never re-reads text. The rubric's version tag goes on every
scorecard so a later rubric change never rewrites what an old score meant.
"""

from __future__ import annotations

import statistics
from typing import Any

from qa.scoring.rubric import AllOf, Item, Matcher, Rubric, Rule, load_rubric
from qa.scoring.timing import judged_findings, real_timing, untimed_items
from qa.tagging.versions import tagging_versions
from qa.types import Evidence, Finding, ItemScore, Scorecard, Transcript

MAX_EVIDENCE = 6
#: Thresholds for the reviewer warnings (what to check by ear).
LOW_ASR_CONFIDENCE = 0.60
LOW_ROLE_CONFIDENCE = 0.65
LOW_LANGUAGE_PROBABILITY = 0.70
SHORT_CALL_SECONDS = 30.0


def _value_ok(m: Matcher, value: Any) -> bool:
    if m.value_in is not None and value not in m.value_in:
        return False
    if m.value_min is not None or m.value_max is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if m.value_min is not None and value < m.value_min:
            return False
        if m.value_max is not None and value > m.value_max:
            return False
    return True


def select(m: Matcher, item_id: str, findings: list[Finding]) -> list[Finding]:
    """The findings ``m`` picks (its course ID defaults to the item's)."""
    course_id = m.id or item_id
    return [
        f for f in findings
        if f.id == course_id and f.kind in m.kinds
        and (m.role is None or f.role == m.role)
        and _value_ok(m, f.value)
        and all(f.detail.get(k) == v for k, v in (m.detail or {}).items())
    ]


def _rule_hits(rule: Rule, item_id: str, findings: list[Finding]) -> list[Finding] | None:
    """The findings that make ``rule`` true, or None when it is false."""
    matchers = rule.all if isinstance(rule, AllOf) else (rule,)
    hits: list[Finding] = []
    for m in matchers:
        picked = select(m, item_id, findings)
        if len(picked) < m.count_min or (m.count_max is not None and len(picked) > m.count_max):
            return None
        hits += picked
    return hits


def _first_true(rules: tuple[Rule, ...], item_id: str, findings: list[Finding]) -> list[Finding] | None:
    for rule in rules:
        hits = _rule_hits(rule, item_id, findings)
        if hits is not None:
            return hits
    return None


def _evidence(findings: list[Finding]) -> list[Evidence]:
    seen, out = set(), []
    for f in sorted(findings, key=lambda f: f.start):
        key = (f.role, f.start, f.end, f.text)
        if f.text and key not in seen:
            seen.add(key)
            out.append(f.evidence)
    return out[:MAX_EVIDENCE]


def _describe(status: str, hits: list[Finding]) -> str:
    kinds = sorted({f.kind for f in hits})
    return f"{status}: {', '.join(kinds)}" if kinds else status


def score_item(item: Item, findings: list[Finding], rubric: Rubric, language: str, na_ids: set[str]) -> ItemScore:
    tip, tip_en = item.tip.get(language), item.tip.en

    def result(status: str, hits: list[Finding], reason: str, auto_fail: bool = False) -> ItemScore:
        points = {"pass": item.weight, "partial": item.weight * rubric.partial_credit}.get(status, 0.0)
        return ItemScore(
            id=item.id, status=status, points=round(points, 2),
            max_points=0.0 if status == "n/a" else item.weight,
            evidence=_evidence(hits), tip=tip, tip_en=tip_en, reason=reason, auto_fail=auto_fail,
        )

    if item.id in na_ids:
        reasons = [f.detail.get("reason", "") for f in findings if f.id == item.id and f.kind == "not_applicable"]
        return result("n/a", [], f"n/a: {'; '.join(r for r in reasons if r) or 'the taggers could not judge it'}")
    if item.applies_if is not None and _first_true(item.applies_if, item.id, findings) is None:
        if item.na_status is not None:  # the rubric counts "does not apply" as a status (calibrated)
            return result(item.na_status, [], f"{item.na_status}: {item.na_reason} (counted as "
                                              f"{item.na_status} by the rubric's na_status)")
        return result("n/a", [], f"n/a: {item.na_reason}")
    hits = _first_true(item.auto_fail_if, item.id, findings)
    if hits is not None:
        return result("fail", hits, _describe("auto-fail", hits), auto_fail=True)
    for status, rules in (("fail", item.fail_if), ("partial", item.partial_if), ("pass", item.pass_if)):
        hits = _first_true(rules, item.id, findings)
        if hits is not None:
            return result(status, hits, _describe(status, hits))
    return result(item.otherwise, [], f"{item.otherwise}: no finding decided it (the rubric's default)")


def _first_value(findings: list[Finding], kind: str) -> Any:
    return next((f.value for f in findings if f.kind == kind), None)


def summarise(transcript: Transcript, findings: list[Finding]) -> dict[str, Any]:
    """The numbers a reviewer reads beside the items: talk, silence, rate, questions."""
    summary: dict[str, Any] = {"duration": transcript.duration, "utterances": len(transcript.utterances)}
    ratio = next((f for f in findings if f.kind == "talk_ratio"), None)
    if ratio is not None:
        summary["talk_ratio_agent"] = ratio.value
    silence = next((f for f in findings if f.kind == "non_talk"), None)
    if silence is not None:
        summary["non_talk_seconds"] = silence.value
        summary["non_talk_share"] = silence.detail.get("share")
    for f in findings:
        if f.kind == "speaker_rate":
            summary[f"rate_{f.role}"] = f.value
            summary["rate_unit"] = f.detail.get("unit")
        elif f.kind == "question_mix":
            summary[f"questions_{f.role}"] = f.value
    summary["holds"] = sum(1 for f in findings if f.kind == "hold")
    summary["findings"] = len(findings)
    return summary


def warnings_for(transcript: Transcript) -> list[str]:
    """What the reviewer should check by ear before trusting the scorecard."""
    out: list[str] = []
    if not real_timing(transcript):
        out.append("the transcript's times are not real (timing: text): holds, dead air, speech rate, "
                   "talking over and loudness were not judged")
    roles = transcript.roles
    if not roles.separated:
        out.append("agent and customer could not be told apart: items about either side are unreliable")
    elif roles.confidence < LOW_ROLE_CONFIDENCE:
        out.append(f"agent/customer assignment is uncertain (confidence {roles.confidence:.2f})")
    words = [w.probability for u in transcript.utterances for w in u.words]
    if words and statistics.fmean(words) < LOW_ASR_CONFIDENCE:
        out.append(f"low speech-recognition confidence (mean word probability {statistics.fmean(words):.2f})")
    if transcript.duration < SHORT_CALL_SECONDS:
        out.append(f"very short call ({transcript.duration:.0f} s): little evidence either way")
    labelled = transcript.meta.language if transcript.meta is not None else None
    if labelled and labelled != transcript.language:
        out.append(f"the call's metadata says its language is {labelled}, but it was transcribed and scored as "
                   f"{transcript.language} (the language heard, p={transcript.language_probability:.2f}): "
                   f"check how the call was filed")
    if transcript.language_probability < LOW_LANGUAGE_PROBABILITY:
        out.append(f"language detection was unsure ({transcript.language}, p={transcript.language_probability:.2f})")
    for role in ("agent", "customer"):
        if not transcript.by_role(role) and roles.separated:
            out.append(f"no {role} speech was found")
    return out


def score_call(transcript: Transcript, findings: list[Finding], rubric: Rubric | None = None,
               versions: dict[str, Any] | None = None) -> Scorecard:
    """Score one call's findings; ``versions`` says what they were made with (``qa.tagging.versions``).

    Without ``versions`` they are read from the findings' tagger names, with today's
    lexicon and the shipped thresholds: pass them when the findings were made otherwise.
    """
    rubric = rubric or load_rubric()
    if versions is None:
        versions = tagging_versions(transcript.language, findings=findings)
    findings = judged_findings(transcript, findings)  # no holds, rate or overlap on invented times
    if not real_timing(transcript):
        findings = findings + [Finding(id=i, kind="not_applicable", value=None, role="unknown", start=0.0, end=0.0,
                                       text="", detail={"reason": f"timing: {transcript.timing}: {why}"})
                               for i, why in untimed_items().items()]
    na_ids = {f.id for f in findings if f.kind == "not_applicable"}
    items = [score_item(item, findings, rubric, transcript.language, na_ids) for item in rubric.items]
    applicable = [i for i in items if i.status != "n/a"]
    total = sum(i.max_points for i in applicable)
    score = 100.0 * sum(i.points for i in applicable) / total if total else 0.0
    summary = summarise(transcript, findings)
    if any(i.auto_fail for i in items):
        summary["score_before_auto_fail"] = round(score, 1)  # what the rest of the call earned
        score = 0.0
    return Scorecard(
        call_id=transcript.call_id,
        language=transcript.language,
        score=round(score, 1),
        items=items,
        rubric_version=rubric.version_tag,
        peak_stage=_first_value(findings, "peak_stage"),
        final_stage=_first_value(findings, "final_stage"),
        complaint_class=_first_value(findings, "complaint_class"),
        warnings=warnings_for(transcript),
        summary=summary,
        meta=transcript.meta,
        versions=versions,
    )
