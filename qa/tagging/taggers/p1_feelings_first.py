"""Course principles heard in the words: P1 P2 P5 P6 R2 R3 R4 R6 K2 K3 X4 X6, from lexicon cues and their order.

P1 先处理情感，后处理事件 — after the customer's first negative turn (stage S2 or
above: anger or sensitive words, stage cues, a raised voice), did the agent
acknowledge or apologise before rules, procedures or solutions?
- ``acknowledged_first`` (value: seconds after the negative turn): 客户: 太过分了！
  坐席: 非常抱歉给您带来不便，我马上为您处理。
- ``solution_before_feelings``: 坐席: 按照规定需要您提供订单号。 (before any apology);
- ``no_acknowledgement``: no apology or empathy at all after it;
- ``apology`` for each apology (对不起, "I'm sorry", "disculpe las molestias").
P2 如同首次接触 — ``greeting`` / ``no_greeting`` (the agent's first
``cues.opening_utterances`` utterances), ``closing`` / ``no_closing`` (the last
``cues.closing_utterances``), ``impatience`` (我刚才说过了, "as I said"), and
``courtesy_drop`` when the agent's polite cues per minute of speech in the last
third fall below ``cues.courtesy_drop_ratio`` of the first two thirds.
P5 将心比心 — ``empathy`` (理解您的心情, "I understand how frustrating"), ``blame``.
P6 迅速补救 — ``concrete_action`` when a commitment (我现在就为您…, "I'll process")
and a time (24小时内, "by tomorrow") come in the same or adjacent agent utterances
within ``cues.action_window`` s (value: seconds after the complaint); else
``no_concrete_action`` (and ``commitment_without_time`` for each commitment that has no time:
half a remedy). 我会尽快处理 is not concrete: a time needs a lexicon weight of at
least ``cues.min_time_weight`` (尽快, 稍后 are weak).
R2 — ``restatement`` (您的意思是…, 我确认一下…) and ``open_question_then_restatement``
when an agent open question precedes it within ``cues.restatement_window`` s.
R3 — ``explicit_steps``: at least ``cues.min_step_markers`` different step markers
(首先…然后…最后, "first… then…") within ``cues.step_window`` s, one of them strong.
R4 — ``anything_else`` (您还有其他问题吗) in the last part of the call, or ``no_anything_else``.
R6 不躺枪 — ``forbidden``, ``blame`` and ``arguing``: the agent tells the customer they
are wrong (lexicon kind ``contradiction``: 您说的不对, "that's not true", usted se equivoca;
not 您说得对 nor 我不是说您说的不对), or the reply right after a negative customer turn
opens with a bare negation (不是的…, "No, that's…") with no apology, empathy or
commitment in it.
K2 — ``transfer`` (您打另一个电话, "I'll transfer you"; not 我为您联系快递, where the agent
acts), ``repeated_procedure``, ``repeated_identity_check``.
K3 — ``vague``, ``jargon``, and ``next_step`` / ``no_next_step`` (a commitment, step,
proposal, promise or confirmation in the agent's last part of the call).
X4 ``opinion_request`` (您看呢), X6 ``satisfaction_check`` (您对这个处理结果满意吗).
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance, not_applicable
from qa.tagging.taggers.t_question import call_questions
from qa.tagging.taggers.s1_s6_stages import CustomerStage, customer_stages, transfers
from qa.types import Finding, Utterance

COURSE_IDS = ("P1", "P2", "P5", "P6", "R2", "R3", "R4", "R6", "K2", "K3", "X4", "X6")
NEEDS_CUSTOMER = ("P1", "P6")
#: (course ID, finding kind, lexicon kind) reported once per agent cue.
PER_CUE = (
    ("P1", "apology", "apology"),
    ("P2", "impatience", "impatience"),
    ("P5", "empathy", "empathy"),
    ("P5", "blame", "blame"),
    ("R2", "restatement", "restatement"),
    ("R6", "forbidden", "forbidden"),
    ("R6", "blame", "blame"),
    ("K3", "vague", "vague"),
    ("K3", "jargon", "jargon"),
    ("X4", "opinion_request", "opinion_request"),
    ("X6", "satisfaction_check", "satisfaction_check"),
)
FEELINGS = ("apology", "empathy")
SOLUTIONS = ("procedure", "commitment", "step_marker")
NEXT_STEP = ("commitment", "step_marker", "phase_P1", "phase_P2", "phase_C")
#: a negation inside one of these is courtesy, not contradiction: 没关系, 不客气, "no problem"
COURTESY = ("polite", "apology", "empathy", "greeting", "closing")
NEGATIVE_LEVEL = 2  # S2 and above: the customer shows negative emotion


def _cue_detail(m) -> dict:
    return {"cue": m.entry.label, "cue_kind": m.kind, "char_start": m.start_char, "char_end": m.end_char}


def _closing_part(ctx: TagContext, agent: list[int]) -> list[int]:
    """Agent utterances in the last ``cues.closing_share`` of the call, and at least the last ``cues.closing_utterances``."""
    us = ctx.utterances
    th = ctx.thresholds["cues"]
    first, last = min(u.start for u in us), max(u.end for u in us)
    cut = last - (last - first) * float(th["closing_share"])
    tail = set(agent[-int(th["closing_utterances"]):])
    return [i for i in agent if us[i].start >= cut or i in tail]


def _per_cue(ctx: TagContext, agent: list[int]) -> list[Finding]:
    findings = []
    for i in agent:
        for course_id, kind, lex_kind in PER_CUE:
            for m in ctx.kinds(i, lex_kind):
                if ctx.inside_longer(i, m):
                    continue
                findings.append(from_utterance(course_id, kind, m.text, ctx.utterances[i], _cue_detail(m)))
    return findings


def _p1(ctx: TagContext, agent: list[int], negative: CustomerStage | None) -> list[Finding]:
    if negative is None:
        return []
    us = ctx.utterances
    turn = us[negative.index]
    ack = solution = None
    for i in agent:
        if i <= negative.index:
            continue
        feel = ctx.kinds(i, *FEELINGS)
        act = ctx.kinds(i, *SOLUTIONS)
        if ack is None and feel:
            ack = (i, feel[0])
        if solution is None and act:
            solution = (i, act[0])
        if ack and solution:
            break
    detail = {"negative_start": turn.start, "negative_end": turn.end, "negative_text": turn.text,
              "negative_stage": f"S{negative.level}", "negative_cues": list(negative.cues)}

    def after(i: int) -> float:
        return round(max(0.0, us[i].start - turn.end), 2)

    if ack and (solution is None or (ack[0], ack[1].start_char) <= (solution[0], solution[1].start_char)):
        return [from_utterance("P1", "acknowledged_first", after(ack[0]), us[ack[0]], {**detail, **_cue_detail(ack[1])})]
    findings = []
    if solution:
        findings.append(from_utterance("P1", "solution_before_feelings", after(solution[0]), us[solution[0]],
                                       {**detail, **_cue_detail(solution[1]),
                                        "acknowledged_at": us[ack[0]].start if ack else None}))
    if ack is None:
        findings.append(from_utterance("P1", "no_acknowledgement", None, turn, detail))
    return findings


def _p2(ctx: TagContext, agent: list[int]) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us = ctx.utterances
    findings = []
    opening = agent[: int(th["opening_utterances"])]
    hello = next(((i, m) for i in opening for m in ctx.kinds(i, "greeting", "agent_self_id")), None)
    if hello:
        findings.append(from_utterance("P2", "greeting", hello[1].text, us[hello[0]], _cue_detail(hello[1])))
    else:
        findings.append(from_utterance("P2", "no_greeting", None, us[agent[0]], {"looked_at": len(opening)}))
    closing = agent[-int(th["closing_utterances"]):]
    bye = next(((i, m) for i in reversed(closing) for m in ctx.kinds(i, "closing")), None)
    if bye:
        findings.append(from_utterance("P2", "closing", bye[1].text, us[bye[0]], _cue_detail(bye[1])))
    else:
        findings.append(from_utterance("P2", "no_closing", None, us[agent[-1]], {"looked_at": len(closing)}))
    findings.extend(_courtesy_drop(ctx, agent))
    return findings


def _courtesy_drop(ctx: TagContext, agent: list[int]) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us = ctx.utterances
    first, last = min(u.start for u in us), max(u.end for u in us)
    cut = first + (last - first) * 2 / 3
    early = [i for i in agent if us[i].start < cut]
    late = [i for i in agent if us[i].start >= cut]
    early_cues = sum(len(ctx.kinds(i, "polite")) for i in early)
    late_cues = sum(len(ctx.kinds(i, "polite")) for i in late)
    early_min = sum(us[i].duration for i in early) / 60
    late_min = sum(us[i].duration for i in late) / 60
    if early_cues < th["courtesy_min_cues"] or late_min * 60 < th["courtesy_min_speech"] or early_min <= 0:
        return []
    early_rate, late_rate = early_cues / early_min, late_cues / late_min
    if late_rate >= early_rate * th["courtesy_drop_ratio"]:
        return []
    return [from_utterance("P2", "courtesy_drop", round(late_rate / early_rate, 3), us[late[0]],
                           {"early_per_minute": round(early_rate, 2), "late_per_minute": round(late_rate, 2),
                            "late_utterances": len(late)}, end=us[late[-1]].end)]


def _p6(ctx: TagContext, agent: list[int], complaint: Utterance) -> list[Finding]:
    window = float(ctx.thresholds["cues"]["action_window"])
    min_weight = float(ctx.thresholds["cues"]["min_time_weight"])
    us = ctx.utterances
    findings = []
    without_time = 0
    for k, i in enumerate(agent):
        commitments = ctx.kinds(i, "commitment")
        if not commitments:
            continue
        nearby = [j for j in agent[max(0, k - 1): k + 2]
                  if j == i or abs(us[j].start - us[i].start) <= window]
        times = [(j, m) for j in nearby for m in ctx.kinds(j, "time_expression") if m.entry.weight >= min_weight]
        if not times:
            without_time += 1
            findings.append(from_utterance("P6", "commitment_without_time", commitments[0].text, us[i],
                                           {"commitment": commitments[0].text}))
            continue
        j, when = min(times, key=lambda t: abs(t[0] - i))
        findings.append(from_utterance(
            "P6", "concrete_action", round(max(0.0, us[i].start - complaint.end), 2), us[i],
            {"owner": "agent", "commitment": commitments[0].text, "time": when.text,
             "time_in": "same utterance" if j == i else "adjacent utterance",
             "complaint_start": complaint.start, "complaint_text": complaint.text},
        ))
    if not any(f.kind == "concrete_action" for f in findings):
        findings.append(from_utterance("P6", "no_concrete_action", None, us[agent[-1]],
                                       {"commitments_without_time": without_time,
                                        "complaint_start": complaint.start}))
    return findings


def _r2(ctx: TagContext, agent: list[int]) -> list[Finding]:
    restating = [i for i in agent if ctx.kinds(i, "restatement")]
    if not restating:
        return []
    window = float(ctx.thresholds["cues"]["restatement_window"])
    us = ctx.utterances
    opens = [q for q in call_questions(ctx) if q.label == "open" and us[q.index].role == "agent"]
    findings = []
    for i in restating:
        before = [q for q in opens if q.index <= i and us[i].start - us[q.index].start <= window
                  and (q.index < i or q.end_char <= ctx.kinds(i, "restatement")[0].start_char)]
        if before:
            q = before[-1]
            findings.append(from_utterance(
                "R2", "open_question_then_restatement", round(us[i].start - us[q.index].start, 2), us[i],
                {"question": q.text, "question_start": us[q.index].start,
                 "restatement": ctx.kinds(i, "restatement")[0].text},
                start=us[q.index].start,
            ))
    return findings


def _r3(ctx: TagContext, agent: list[int]) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us = ctx.utterances
    markers = [(i, m) for i in agent for m in ctx.kinds(i, "step_marker")]
    findings = []
    group: list = []
    for item in markers + [None]:
        if item is not None and group and us[item[0]].start - us[group[0][0]].start <= th["step_window"]:
            group.append(item)
            continue
        labels = {m.entry.label for _, m in group}
        strong = any(m.entry.weight >= th["strong_step_weight"] for _, m in group)
        if len(labels) >= th["min_step_markers"] and strong:
            first, last = group[0][0], group[-1][0]
            indices = sorted({i for i, _ in group})
            findings.append(from_utterance(
                "R3", "explicit_steps", len(labels), us[first],
                {"markers": [m.text for _, m in group], "utterances": len(indices)},
                end=us[last].end, text=" ".join(us[i].text for i in indices),
            ))
        group = [item] if item is not None else []
    return findings


def _r4(ctx: TagContext, agent: list[int]) -> list[Finding]:
    us = ctx.utterances
    late = _closing_part(ctx, agent)
    hit = next(((i, m) for i in late for m in ctx.kinds(i, "anything_else")), None)
    if hit:
        return [from_utterance("R4", "anything_else", hit[1].text, us[hit[0]], _cue_detail(hit[1]))]
    earlier = [us[i].start for i in agent if i not in late and ctx.kinds(i, "anything_else")]
    return [from_utterance("R4", "no_anything_else", None, us[agent[-1]], {"asked_earlier_at": earlier})]


def _arguing(ctx: TagContext, agent: list[int], stages: dict[int, CustomerStage]) -> list[Finding]:
    onset = int(ctx.thresholds["cues"]["arguing_onset_chars"])
    us = ctx.utterances
    findings = []
    for i in agent:
        contradictions = ctx.kinds(i, "contradiction")  # telling the customer they are wrong is arguing anywhere
        for m in contradictions:
            findings.append(from_utterance("R6", "arguing", m.text, us[i], _cue_detail(m)))
        prev = stages.get(i - 1)
        if prev is None or prev.level < NEGATIVE_LEVEL or contradictions:
            continue
        found = ctx.matches(i)
        if any(m.kind in (*FEELINGS, "commitment") and not m.negated for m in found):
            continue
        bare = [m for m in found if m.kind == "negation" and m.start_char <= onset
                and not any(o.kind in COURTESY and o.start_char <= m.start_char and m.end_char <= o.end_char
                            and (o.end_char - o.start_char) > (m.end_char - m.start_char) for o in found)]
        if bare:
            findings.append(from_utterance("R6", "arguing", us[i].text[:40], us[i],
                                           {**_cue_detail(bare[0]), "after_customer": us[i - 1].text,
                                            "customer_stage": f"S{prev.level}"}))
    return findings


def _k2(ctx: TagContext, agent: list[int]) -> list[Finding]:
    th = ctx.thresholds["cues"]
    us = ctx.utterances
    findings = [from_utterance("K2", "transfer", m.text, us[i], _cue_detail(m)) for i in agent for m in transfers(ctx, i)]
    procedure = [i for i in agent if ctx.kinds(i, "procedure")]
    if len(procedure) >= th["procedure_repeats"]:
        findings.append(from_utterance("K2", "repeated_procedure", len(procedure), us[procedure[-1]],
                                       {"times": [us[i].start for i in procedure]}))
    checks = [i for i in agent if ctx.kinds(i, "identity_check")]
    episodes = []
    for i in checks:
        if not episodes or us[i].start - us[episodes[-1]].start >= th["identity_repeat_gap"]:
            episodes.append(i)
    if len(episodes) >= 2:
        findings.append(from_utterance("K2", "repeated_identity_check", len(episodes), us[episodes[-1]],
                                       {"times": [us[i].start for i in episodes]}))
    return findings


def _k3_next_step(ctx: TagContext, agent: list[int]) -> list[Finding]:
    us = ctx.utterances
    late = _closing_part(ctx, agent)
    hit = next(((i, m) for i in late for m in ctx.kinds(i, *NEXT_STEP)), None)
    if hit:
        return [from_utterance("K3", "next_step", hit[1].text, us[hit[0]], _cue_detail(hit[1]))]
    return [from_utterance("K3", "no_next_step", None, us[agent[-1]], {"looked_at": len(late)})]


def tag_cues(ctx: TagContext) -> list[Finding]:
    if not ctx.has_lexicon():
        return [not_applicable(c, f"no lexicon for language {ctx.language!r} ({ctx.lexicon_error})")
                for c in COURSE_IDS]
    us = ctx.utterances
    agent = [i for i, u in enumerate(us) if u.role == "agent"]
    if not agent:
        return [not_applicable(c, "no agent speech in this call") for c in COURSE_IDS]
    stages = {s.index: s for s in customer_stages(ctx)}
    findings = _per_cue(ctx, agent)
    findings += _p2(ctx, agent)
    findings += _r2(ctx, agent) + _r3(ctx, agent) + _r4(ctx, agent)
    findings += _arguing(ctx, agent, stages) + _k2(ctx, agent) + _k3_next_step(ctx, agent)
    if not stages:
        return findings + [not_applicable(c, "no customer speech in this call") for c in NEEDS_CUSTOMER]
    negative = next((s for s in stages.values() if s.level >= NEGATIVE_LEVEL), None)
    complaint = us[negative.index] if negative else us[min(stages)]
    findings += _p1(ctx, agent, negative) + _p6(ctx, agent, complaint)
    return findings
