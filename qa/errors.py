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
