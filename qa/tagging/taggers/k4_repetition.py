"""K4 不要让我重复讲: the customer restating the same problem, the agent asking them to repeat.

Fires:
- ``customer_restates`` when two customer utterances at least
  ``repetition.min_distance`` s apart say the same thing (cosine similarity of
  TF-IDF character 2–4-grams at least ``repetition.similarity``; ``ctx.restatements``,
  computed once per call: the stages tagger counts them for the complaint class):
  e.g. 我的快递三天了还没到 … later … 我都说了快递三天没到; value: the similarity;
  evidence: the later one, detail: the earlier one;
- ``repeat_request`` when the agent asks the customer to say it again
  (您再说一遍, ¿me lo repite?, "could you repeat that").
Does not fire on short fillers (嗯, 对) or on the same words said back to back.

Versions: 1, as ``repetition@1`` (later changes made it faster with the same similarities).
"""

from __future__ import annotations

from qa.tagging.context import TagContext, from_utterance
from qa.types import Finding

NAME, VERSION = "k4_repetition", 1
COURSE_ID = "K4"
CODES = (COURSE_ID,)


def tag(ctx: TagContext) -> list[Finding]:
    findings: list[Finding] = []
    for r in ctx.restatements:
        findings.append(from_utterance(
            COURSE_ID, "customer_restates", round(r.similarity, 3), r.later,
            {"earlier_start": r.earlier.start, "earlier_end": r.earlier.end, "earlier_text": r.earlier.text},
        ))
    for i, u in enumerate(ctx.utterances):
        if u.role == "agent":
            for m in ctx.kinds(i, "repeat_request"):
                findings.append(from_utterance(COURSE_ID, "repeat_request", m.text, u, {"cue": m.entry.label}))
    return findings
