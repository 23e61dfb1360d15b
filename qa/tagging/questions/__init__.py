"""T-QUESTION (多变提问法): find the questions in an utterance and say which kind.

The course asks agents to vary their questions between closed (yes/no or
confirm), open (what/how/why) and controlling (a choice, or a next step put
forward for agreement). This module does the two steps a reviewer does:

* ``find_questions`` cuts an utterance into clauses and keeps those that are
  questions, from punctuation when the ASR wrote it, otherwise from word order
  and particles (吗, A不A, "do you…", tags), because phone ASR often drops
  the question mark. A rising pitch at the end, when the audio layer knows it,
  counts as evidence too.
* ``QuestionClassifier`` labels a question closed / open / controlling with a
  small scikit-learn model trained on the project's own labelled set
  (datasets/questions/questions.tsv) at first use — no pickles, so the model
  is always reproducible from the text in the repository.

``cues`` compiles the vocabulary (lexicons/<lang>/questions.yaml) and the
word-order rules and thresholds (qa/data/questions.yaml); ``detect`` finds
the questions; ``model`` holds the labelled set and the classifier; this
module joins them for the taggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.errors import QuestionDataError
from qa.tagging.questions.cues import KINDS, cue_bank, load_settings
from qa.tagging.questions.detect import QuestionSpan, cue_counts, find_questions
from qa.tagging.questions.model import (
    LABELS,
    QuestionClassifier,
    QuestionRow,
    dataset_path,
    get_question_classifier,
    load_question_set,
)
from qa.types import Utterance

__all__ = [
    "KINDS", "LABELS", "ClassifiedQuestion", "QuestionClassifier", "QuestionDataError", "QuestionRow", "QuestionSpan",
    "classify_questions", "classify_utterances", "cue_bank", "cue_counts", "dataset_path", "find_questions",
    "get_question_classifier", "load_question_set", "load_settings",
]


@dataclass(frozen=True)
class ClassifiedQuestion:
    """A question with its kind; ``confident`` is False below classifier.min_probability."""

    span: QuestionSpan
    label: str
    probability: float
    confident: bool
    role: str = "unknown"

    @property
    def text(self) -> str:
        return self.span.text


def classify_utterances(utterances: Sequence[Utterance], language: str,
                        rising_pitch: Sequence[bool | None] | None = None,
                        ) -> list[tuple[int, ClassifiedQuestion]]:
    """Every question in a transcript's utterances, as (utterance index, question), in one batch.

    ``rising_pitch`` gives, per utterance, whether its end rises (None = unknown).
    """
    found = []
    for i, utterance in enumerate(utterances):
        pitch = rising_pitch[i] if rising_pitch is not None else None
        found += [(i, span, utterance.role) for span in find_questions(utterance.text, language, pitch)]
    if not found:
        return []
    classifier = get_question_classifier()
    threshold = float(classifier.settings["min_probability"])
    predictions = classifier.predict_many([(span.text, language) for _, span, _ in found])
    return [(i, ClassifiedQuestion(span, label, p, p >= threshold, role))
            for (i, span, role), (label, p) in zip(found, predictions)]


def classify_questions(text: str, language: str, role: str = "unknown",
                       rising_pitch: bool | None = None) -> list[ClassifiedQuestion]:
    """Every question in an utterance with its kind and the model's probability."""
    spans = find_questions(text, language, rising_pitch)
    if not spans:
        return []
    classifier = get_question_classifier()
    threshold = float(classifier.settings["min_probability"])
    predictions = classifier.predict_many([(s.text, language) for s in spans])
    return [ClassifiedQuestion(s, label, p, p >= threshold, role) for s, (label, p) in zip(spans, predictions)]
