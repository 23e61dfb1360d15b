"""Transcript -> findings: run every registered tagger once over a call (``qa.tagging.taggers.TAGGERS``).

A tagger's versioned name (``t_rate@1``) is stored with each finding it makes.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from qa.errors import UnknownTaggerError
from qa.tagging.context import make_context
from qa.types import Finding, Transcript, UtteranceAcoustics

_LOADED: set[str] = set()


def loaded(language: str) -> None:
    """Load what tagging ``language`` needs, once per process, then take it out of the collector's way.

    The lexicon matcher, jieba's dictionary and the question model are ~240,000
    objects that live as long as the process, and every full garbage collection
    scanned them all (170 ms each, about one per 3 s of tagging: 6 % of the
    time). ``gc.freeze()`` leaves what is loaded by then out of later scans.
    A lexicon that fails to load is not remembered: the taggers report it.
    """
    if language in _LOADED:  # every call comes here: nothing before this check
        return
    from qa.errors import CallqaError
    from qa.text.lexicon import available_languages

    if language in available_languages():
        from qa.tagging.questions import cue_bank, get_question_classifier
        from qa.text.nlp import match_lexicon

        try:
            match_lexicon("", language)
            cue_bank(language)
            get_question_classifier()
        except CallqaError:
            return
    _LOADED.add(language)
    gc.freeze()


def tag(
    transcript: Transcript,
    acoustics: list[UtteranceAcoustics] | None = None,
    thresholds: Path | dict[str, Any] | None = None,
    only: list[str] | None = None,
) -> list[Finding]:
    """All findings for one call, in time order; ``only`` names the taggers to run (``t_rate``, ``s1_s6_stages``...).

    The call is held to ``qa/data/limits.yaml`` (utterances, times, text) whoever built it, and
    tagging stops with E331 past ``calls.max_findings``.
    """
    from qa.common.limits import check_findings, check_transcript
    from qa.tagging.taggers import TAGGERS

    if only:
        known = {name.split("@")[0] for name in TAGGERS}
        unknown = sorted(set(only) - known)
        if unknown:
            raise UnknownTaggerError(f"no tagger named {', '.join(unknown)} (have: {', '.join(sorted(known))})")
    check_transcript(transcript, f"call {transcript.call_id}")  # any reader, or none: the same limits
    loaded(transcript.language)
    ctx = make_context(transcript, acoustics, thresholds)
    findings: list[Finding] = []
    for name, tagger in TAGGERS.items():
        if only and name.split("@")[0] not in only:
            continue
        for finding in tagger(ctx):
            finding.tagger = name
            findings.append(finding)
        check_findings(len(findings), transcript.call_id)
    findings.sort(key=lambda f: (f.start, f.end, f.id, f.kind))
    return findings


