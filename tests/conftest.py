"""Shared fixtures: real clips in tests/data, the real embedded model, transcripts made once."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins = ["tests.pg_server"]  # one throwaway PostgreSQL server per session

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def references() -> dict[str, tuple[str, str]]:
    """file -> (language, reference text) from tests/data/references.tsv."""
    with (DATA / "references.tsv").open(encoding="utf-8") as fh:
        return {row["file"]: (row["language"], row["reference"]) for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="session")
def transcribe_file():
    """Transcribe a file once per session with the real embedded model (memoised)."""
    from qa.speech.audio import probe
    from qa.speech.transcribe import TranscribeOptions, transcribe

    cache = {}

    def run(path: Path, language: str | None = None, beam_size: int | None = None):
        key = (str(path), language, beam_size)
        if key not in cache:
            cache[key] = transcribe(probe(Path(path)), TranscribeOptions(language=language, beam_size=beam_size))
        return cache[key]

    return run
