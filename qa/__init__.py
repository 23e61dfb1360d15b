"""callqa: quality assurance for contact-center calls.

The records passed between stages and the error base class are re-exported
here; the stages themselves (``qa.speech.transcribe``, ``qa.tagging.runner``, ``qa.scoring.score``,
``qa.pipeline.review``) are imported where used, so ``import qa`` stays cheap.
"""

from qa.errors import CallqaError
from qa.types import (
    COURSE_IDS,
    CallMeta,
    Evidence,
    Finding,
    Gap,
    ItemScore,
    Recording,
    RoleAssignment,
    Scorecard,
    Transcript,
    Utterance,
    Word,
)

__all__ = [
    "COURSE_IDS", "CallMeta", "CallqaError", "Evidence", "Finding", "Gap", "ItemScore", "Recording",
    "RoleAssignment", "Scorecard", "Transcript", "Utterance", "Word",
]
__version__ = "0.1.0"
