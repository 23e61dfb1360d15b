"""Which of two separated voices is the agent, from what each one says.

Agents greet, give a work number, apologise, put people on hold and ask
"anything else?"; customers complain and threaten. Each speaker's words are
matched against the lexicons (every entry names the role that says it) and the
speaker with more agent evidence becomes the agent. The margin gives the
confidence, which the transcript carries so a reviewer knows when to check.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from dataclasses import dataclass

import yaml

from qa.common.paths import DATA_FILES
from qa.types import Utterance


@dataclass(frozen=True)
class RoleSettings:
    first_speaker_prior: float
    agent_kinds: frozenset[str]
    customer_kinds: frozenset[str]
    confidence_scale: float
    min_confidence: float


@functools.lru_cache(maxsize=1)
def role_settings() -> RoleSettings:
    raw = yaml.safe_load((DATA_FILES / "roles.yaml").read_text(encoding="utf-8"))
    return RoleSettings(
        first_speaker_prior=float(raw["first_speaker_prior"]),
        agent_kinds=frozenset(raw["agent_kinds"]),
        customer_kinds=frozenset(raw["customer_kinds"]),
        confidence_scale=float(raw["confidence_scale"]),
        min_confidence=float(raw["min_confidence"]),
    )


@dataclass(frozen=True)
class RoleGuess:
    speaker_roles: dict[str, str]
    confidence: float
    evidence: dict[str, float]  # agent-ness per speaker


def agentness(utterances: list[Utterance], language: str, settings: RoleSettings) -> float:
    """Lexicon evidence that these utterances are the agent's (positive) or the customer's."""
    from qa.text.nlp import match_lexicon

    score = 0.0
    for u in utterances:
        for m in match_lexicon(u.text, language):
            if m.negated:
                continue
            if m.entry.role == "agent" and m.entry.kind in settings.agent_kinds:
                score += m.entry.weight
            elif m.entry.role == "customer" and m.entry.kind in settings.customer_kinds:
                score -= m.entry.weight
    return score


def guess_roles(utterances: list[Utterance], language: str) -> RoleGuess:
    """Assign agent/customer to the two speakers found in ``utterances`` (by ``speaker``)."""
    settings = role_settings()
    by_speaker: dict[str, list[Utterance]] = defaultdict(list)
    for u in sorted(utterances, key=lambda u: u.start):
        by_speaker[u.speaker].append(u)
    speakers = list(by_speaker)
    if len(speakers) != 2:
        return RoleGuess({s: "unknown" for s in speakers}, 0.0, {})
    evidence = {s: agentness(by_speaker[s], language, settings) for s in speakers}
    evidence[speakers[0]] += settings.first_speaker_prior  # first to speak
    agent, customer = sorted(speakers, key=lambda s: evidence[s], reverse=True)
    margin = evidence[agent] - evidence[customer]
    confidence = 1.0 / (1.0 + math.exp(-settings.confidence_scale * margin))
    return RoleGuess({agent: "agent", customer: "customer"}, round(confidence, 3), evidence)
