"""callqa: quality assurance for contact-center calls.

The records passed between stages and the error base class are re-exported
here; the stages themselves (``qa.transcribe``, ``qa.tagging``, ``qa.scoring``,
``qa.review``) are imported where used, so ``import qa`` stays cheap.
"""

from .errors import CallqaError
from .types import (
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
