"""What a score was made with: each tagger's version, and fingerprints of the lexicon, thresholds and question model.

Stored with every score (``scores.versions``) and in the scorecard JSON, so a
score from last month can be told apart from today's when a tagger, a lexicon
phrase or a threshold changed in between. Fingerprints are the first 16 hex
digits of a SHA-256 over the content itself: no version field to forget to bump.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from qa.tagging.thresholds import Thresholds, load_thresholds
from qa.types import Finding


def _digest(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "big"))  # lengths keep ("ab", "c") apart from ("a", "bc")
        h.update(chunk)
    return h.hexdigest()[:16]


def lexicon_files(language: str) -> list[Path]:
    """The files a language's lexicon is made of: its folder, the kinds and the matching rules."""
    from qa.text.lexicon import config_file, lexicon_root

    return sorted((lexicon_root() / language).glob("*.yaml")) + [config_file("kinds.yaml"), config_file("matching.yaml")]


def lexicon_version(language: str) -> str | None:
    """Fingerprint of ``language``'s lexicon files (None when the language has no lexicon)."""
    from qa.text.lexicon import available_languages

    if language not in available_languages():
        return None
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in lexicon_files(language))
    return _lexicon_digest(stamp)


@functools.lru_cache(maxsize=16)
def _lexicon_digest(stamp: tuple[tuple[str, int, int], ...]) -> str:
    """Read the files once per (paths, mtimes, sizes): a nightly run scores thousands of calls."""
    return _digest(Path(path).name.encode() + b"\0" + Path(path).read_bytes() for path, _, _ in stamp)


def thresholds_version(thresholds: Thresholds) -> str:
    """Fingerprint of the thresholds in effect (the shipped file with any per-run override applied)."""
    return _digest([json.dumps(thresholds.model_dump(mode="json"), sort_keys=True).encode()])


@functools.lru_cache(maxsize=1)
def _shipped_thresholds_version() -> str:
    return thresholds_version(load_thresholds())


def question_model_version() -> int:
    """``version`` of ``qa/data/questions.yaml`` (the question detector and classifier settings)."""
    from qa.tagging.questions import load_settings

    return int(load_settings()["version"])


def tagger_versions(findings: Iterable[Finding] | None = None) -> dict[str, int]:
    """Tagger name -> version: of every registered tagger, or of those named on ``findings`` when they carry names."""
    from qa.tagging.taggers import versions

    named = {f.tagger for f in findings or () if f.tagger and "@" in f.tagger}
    if not named:
        return versions()
    out = {}
    for tagger in sorted(named):
        name, _, version = tagger.partition("@")
        out[name] = int(version) if version.isdigit() else version
    return out


def tagging_versions(language: str, thresholds: Path | Mapping[str, Any] | Thresholds | None = None,
                     findings: Iterable[Finding] | None = None) -> dict[str, Any]:
    """Everything a call's findings depend on besides the call: taggers, lexicon, thresholds, question model."""
    return {
        "taggers": tagger_versions(findings),
        "lexicon": {"language": language, "sha256": lexicon_version(language)},
        "thresholds": {"sha256": _shipped_thresholds_version() if thresholds is None
                       else thresholds_version(load_thresholds(thresholds))},
        "questions": question_model_version(),
    }
