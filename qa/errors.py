"""One catalogue of callqa's errors. Each says what went wrong and how to fix it.

Library code raises these; callers (the command line, the flows) decide what a
failure means for one call: report it, quarantine the file, retry.
"""

from __future__ import annotations


class CallqaError(Exception):
    """Base class: ``code`` is stable, the message says what to do."""

    code = "E000"

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")


class AudioError(CallqaError):
    """The file cannot be used as a call recording."""

    code = "E100"


class EmptyAudioError(AudioError):
    code = "E101"


class NotAudioError(AudioError):
    code = "E102"


class TruncatedAudioError(AudioError):
    code = "E103"


class ChannelLayoutError(AudioError):
    code = "E104"


class SilentAudioError(AudioError):
    code = "E105"


class DiarizeInputError(AudioError):
    """The samples handed to the speaker split have the wrong shape or rate."""

    code = "E106"


class AudioTooLongError(AudioError):
    """The recording is longer than ``calls.max_duration`` in qa/data/limits.yaml."""

    code = "E107"


class UnsupportedLanguageError(CallqaError):
    code = "E110"


class ModelError(CallqaError):
    """The speech model is missing, corrupt or cannot be loaded."""

    code = "E200"


class TranscriptFormatError(CallqaError):
    """An imported transcript is malformed; the message lists each bad line."""

    code = "E300"


class MetadataError(CallqaError):
    """A sidecar JSON or manifest CSV is malformed."""

    code = "E310"


class ConfigError(CallqaError):
    """A settings file (thresholds, options) is malformed."""

    code = "E400"


class LexiconError(ConfigError):
    """A lexicon folder or file is missing or malformed; the message names file and line."""

    code = "E410"


class RedactConfigError(ConfigError):
    """``redact.yaml`` (or a file passed instead) is malformed."""

    code = "E411"


class QuestionDataError(ConfigError):
    """The question settings, cue lists or labelled set are malformed; the message says where."""

    code = "E412"


class AcousticsAlignmentError(CallqaError):
    """The acoustic measurements do not line up with the transcript's utterances."""

    code = "E430"


class CoachingConfigError(ConfigError):
    """``coaching.yaml`` (or an override of it) is malformed."""

    code = "E440"


class RealSetError(ConfigError):
    """A labelled real set (datasets/real/) is malformed, or points at text that is not there."""

    code = "E415"


class RubricError(ConfigError):
    """A rubric file is malformed; the message names the item and line."""

    code = "E420"


class UnknownTaggerError(ConfigError):
    """``tag(only=...)`` named a tagger that does not exist: a typo would otherwise test nothing."""

    code = "E450"


class StoreError(CallqaError):
    """The store cannot do what was asked; the message says how to fix it."""

    code = "E500"


class NotFound(StoreError, LookupError):
    """A call, score, run or dispute asked for is not in the store."""

    code = "E501"


class DuplicateContent(StoreError):
    """The same recording (SHA-256) is already stored under another call id."""

    code = "E502"


class SchemaTooNew(StoreError):
    """The database was migrated by a newer callqa than this one."""

    code = "E503"


class WorkspaceError(CallqaError):
    """The reviewer workspace (``callqa serve``, ``callqa users``) refused a request; the message says why."""

    code = "E800"


class AuthError(WorkspaceError):
    """Wrong user name or password, a disabled user, or no valid session."""

    code = "E801"


class AccessDenied(WorkspaceError):
    """The signed-in user's role may not do this (a call they may not see is reported as not found)."""

    code = "E802"


class CsrfError(WorkspaceError):
    """A state-changing request without the session's CSRF token."""

    code = "E803"


class LoginRateLimited(WorkspaceError):
    """Too many failed logins for one user from one address; wait and try again."""

    code = "E804"


class VerdictError(WorkspaceError):
    """A reviewer verdict, appeal or evaluation change that does not fit the call or its state."""

    code = "E805"


class UserError(WorkspaceError):
    """A user account cannot be added or changed as asked (duplicate name, unknown role, missing team)."""

    code = "E806"


class AudioAccessError(WorkspaceError):
    """The call's recording is missing, not audio, or outside the allowed archive folders."""

    code = "E807"


class CalibrationSessionError(WorkspaceError):
    """A calibration session cannot be created or changed as asked (calls, reviewers, state)."""

    code = "E808"


class BlindReview(AccessDenied):
    """The user is evaluating this call blind in an open calibration session: no machine or other verdicts."""

    code = "E809"


# operations/security
class CallIdError(MetadataError):
    """A call id breaks the rule (qa.callid): path separators, control characters, a leading dot, too long."""

    code = "E320"


class CallIdTaken(StoreError):
    """Another existing file is already stored under this call id; the message names both files."""

    code = "E504"


class StoreUrlError(StoreError):
    """The store URL is malformed or names a folder that does not exist."""

    code = "E505"


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy right now; trying again later may work."""

    code = "E506"


class ArchiveError(CallqaError):
    """The archive folder cannot be scanned."""

    code = "E630"


class OutsideArchiveError(ArchiveError):
    """A file the scan listed is, when opened, no plain file inside the archive (swapped for a link out, a FIFO).

    It is not read; the nightly run quarantines it like any bad file.
    """

    code = "E631"


class NightRunError(CallqaError):
    """The nightly run stopped part way for a reason that is not a file's (a bug); the message says where.

    Calls already stored stay stored; the next night carries on from them.
    """

    code = "E650"


class TransientFailure(CallqaError):
    """A failure that may pass if the same call is tried again in a moment."""

    code = "E610"


class OutputError(CallqaError):
    """A call's output files could not be written (disk full, no permission); none of them was left behind."""

    code = "E620"


class NoCallsError(CallqaError):
    """A report was asked for over a period or team with no reviewed calls."""

    code = "E640"


class CoachingError(CallqaError):
    """A coaching report cannot be built as asked; the message says what to change.

    E600 is its own since the archive's error moved to E630.
    """

    code = "E600"


# input limits and settings
class InputLimitError(TranscriptFormatError):
    """A transcript exceeds a limit of qa/data/limits.yaml (size, line, utterances, times, depth).

    A subclass of ``TranscriptFormatError`` so the nightly run quarantines the file.
    """

    code = "E330"


class FindingsLimitError(InputLimitError):
    """One call produced more findings than ``calls.max_findings``: the transcript is not a call."""

    code = "E331"


class MetadataLimitError(MetadataError):
    """A sidecar or manifest exceeds a limit of qa/data/limits.yaml (size, field length, depth)."""

    code = "E311"


class LoginRequired(AuthError):
    """No live session: pages redirect to /login, the API answers 401."""

    code = "E810"


class CalibrationError(CallqaError):
    """The labels cannot be read, or cannot support a calibration."""

    code = "E460"


class TooFewLabels(CalibrationError):
    """Fewer labels than a cross-validated calibration needs."""

    code = "E461"


def all_error_classes() -> list[type[CallqaError]]:
    """Every error class of callqa (for the test that codes are unique)."""
    seen: list[type[CallqaError]] = []
    todo = [CallqaError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen
