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


class TransientFailure(CallqaError):
    """A failure that may pass if the same call is tried again in a moment."""

    code = "E610"


class OutputError(CallqaError):
    """A call's output files could not be written (disk full, no permission); none of them was left behind."""

    code = "E620"


class NoCallsError(CallqaError):
    """A report was asked for over a period or team with no reviewed calls."""

    code = "E640"
