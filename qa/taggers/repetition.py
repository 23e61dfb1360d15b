"""K4 不要让我重复讲: the customer restating the same problem, the agent asking them to repeat.

Fires:
- ``customer_restates`` when two customer utterances at least
  ``repetition.min_distance`` s apart say the same thing (cosine similarity of
  TF-IDF character 2–4-grams at least ``repetition.similarity``): e.g. 我的快递三天了还没到
  … later … 我都说了快递三天没到; value: the similarity; evidence: the later one,
  detail: the earlier one;
- ``repeat_request`` when the agent asks the customer to say it again
  (您再说一遍, ¿me lo repite?, "could you repeat that").
Does not fire on short fillers (嗯, 对) or on the same words said back to back.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from ..tagging import TagContext, from_utterance
from ..types import Finding

COURSE_ID = "K4"


def tag_repetition(ctx: TagContext) -> list[Finding]:
    th = ctx.thresholds["repetition"]
    findings: list[Finding] = []
    customer = [u for u in ctx.utterances
                if u.role == "customer" and len(u.text.replace(" ", "")) >= th["min_chars"]]
    if len(customer) >= 2:
        analyzer = "char" if ctx.language == "zh" else "char_wb"
        vectors = TfidfVectorizer(analyzer=analyzer, ngram_range=(2, 4), lowercase=True).fit_transform(
            [u.text for u in customer])
        sims = cosine_similarity(vectors)
        reported: set[int] = set()
        for j in range(len(customer)):
            for i in range(j):
                if j in reported:
                    break
                if sims[i, j] >= th["similarity"] and customer[j].start - customer[i].end >= th["min_distance"]:
                    earlier, later = customer[i], customer[j]
                    findings.append(from_utterance(
                        COURSE_ID, "customer_restates", round(float(sims[i, j]), 3), later,
                        {"earlier_start": earlier.start, "earlier_end": earlier.end, "earlier_text": earlier.text},
                    ))
                    reported.add(j)
    for i, u in enumerate(ctx.utterances):
        if u.role == "agent":
            for m in ctx.kinds(i, "repeat_request"):
                findings.append(from_utterance(COURSE_ID, "repeat_request", m.text, u, {"cue": m.entry.label}))
    return findings
