"""The lexicons load, cover the course, and reject malformed files by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.text.lexicon import (
    DEFAULT_ROOT,
    LexiconEntry,
    LexiconError,
    available_languages,
    check,
    load_kinds,
    load_lexicon,
)
from qa.types import COURSE_IDS

BAD = Path(__file__).parent / "data" / "lexicon_bad"
LANGUAGES = ("zh", "es", "en")
#: Every course ID that a lexicon cue can show, per COURSE.md.
LEXICAL_IDS = (
    "T-TONE",
    "T-ADDRESS",
    "P1",
    "P2",
    "P3",
    "P5",
    "P6",
    "K1",
    "K2",
    "K3",
    "K4",
    "R2",
    "R3",
    "R4",
    "R6",
    "S1",
    "S2",
    "S3",
    "S4",
    "S5",
    "S6",
    "IDL+PPC",
)


def test_shipped_languages_are_available():
    assert set(LANGUAGES) <= set(available_languages())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_loads_with_valid_entries(language):
    lexicon = load_lexicon(language)
    kinds = load_kinds()
    assert len(lexicon.entries) > 300
    for entry in lexicon.entries:
        assert isinstance(entry, LexiconEntry)
        assert entry.id in COURSE_IDS and entry.kind in kinds
        assert (entry.phrase is None) != (entry.pattern is None)
        assert entry.language == language and entry.line > 0 and entry.source.endswith(".yaml")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("course_id", LEXICAL_IDS)
def test_every_lexical_course_id_has_entries(language, course_id):
    assert load_lexicon(language).by_id(course_id), f"{language} has no entries for {course_id}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_address_negation_and_stage_kinds_present_in_every_language(language):
    lexicon = load_lexicon(language)
    for kind in (
        "negation",
        "address_2p_blunt",
        "address_2p_formal",
        "address_1p_plural",
        "address_inclusive",
        "address_3p",
        "accusing_2p",
        "hold",
        "hold_estimate",
        "thanks_for_waiting",
        "satisfaction_check",
        "opinion_request",
        "phase_I",
        "phase_D",
        "phase_L",
        "phase_P1",
        "phase_P2",
        "phase_C",
    ):
        assert lexicon.by_kind(kind), f"{language} has no {kind} entries"


def test_chinese_lexicon_is_substantial():
    assert len(load_lexicon("zh").entries) >= 800


def test_load_is_cached_per_language_and_root():
    assert load_lexicon("zh") is load_lexicon("zh", DEFAULT_ROOT)


def test_env_var_overrides_default_root(monkeypatch):
    monkeypatch.setenv("CALLQA_LEXICONS", str(BAD / "unknown_kind"))
    with pytest.raises(LexiconError, match="furious"):
        load_lexicon("zh")


@pytest.mark.parametrize(
    ("root", "line", "needle"),
    [
        ("unknown_id", 6, "T-ANGER"),
        ("unknown_kind", 6, "furious"),
        ("phrase_and_pattern", 5, "exactly one of 'phrase' or 'pattern'"),
        ("bad_yaml", 5, "not valid YAML"),
        ("wrong_language", 2, "lies in the 'zh' folder"),
        ("duplicate", 5, "duplicate phrase"),
        ("unquoted_yes", 5, "quotes"),
    ],
)
def test_malformed_lexicon_rejected_with_file_and_line(root, line, needle):
    with pytest.raises(LexiconError) as err:
        load_lexicon("zh", BAD / root)
    message = str(err.value)
    assert f"{BAD / root / 'zh' / 'tone.yaml'}:{line}:" in message
    assert needle in message


def test_unknown_language_rejected_with_available_list():
    with pytest.raises(LexiconError, match=r"no lexicon for language 'fr'.*available: .*zh"):
        load_lexicon("fr")


def test_check_command_prints_counts_and_fails_on_bad_root(capsys):
    assert check(DEFAULT_ROOT) == 0
    out = capsys.readouterr().out
    assert "zh:" in out and "by id:" in out and "T-TONE" in out
    assert check(BAD / "bad_yaml") == 1
    assert "ERROR" in capsys.readouterr().out
