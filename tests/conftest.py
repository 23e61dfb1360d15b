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


#: Fixtures that run the speech model: a test using one is slow whatever else it does.
MODEL_FIXTURES = {"transcribe_file"}


def pytest_collection_modifyitems(config, items):
    """``slow`` on every test that asks for a model fixture, so ``-m "not slow"`` never loads the model."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


#: The test being set up, run or torn down (module fixtures are set up inside their first test's setup).
_RUNNING: list = [None]
#: Tests not marked slow that reached the model loader.
_REACHED: set[str] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _RUNNING[0] = item
    yield
    _RUNNING[0] = None


@pytest.fixture(scope="session", autouse=True)
def _model_only_in_slow_tests():
    """A test not marked ``slow`` that reaches the speech model fails, saying so.

    The model is loaded (and so run) only through ``qa.speech.model.load_model``
    (``qa.speech.asr`` holds the name too). For the session both names are
    wrapped: in a slow test the real loader runs; in any other test, or in a
    fixture it sets up, the call fails with ``pytest.fail`` (a BaseException,
    so no ``except Exception`` in the pipeline can swallow it), and the test's
    teardown fails too in case something caught it anyway. This keeps
    ``pytest -m "not slow"`` a fast loop as tests are added.
    """
    import qa.speech.asr as asr
    import qa.speech.model as model

    real = model.load_model

    def guarded(*args, **kwargs):
        item = _RUNNING[0]
        if item is None or item.get_closest_marker("slow"):
            return real(*args, **kwargs)
        _REACHED.add(item.nodeid)
        pytest.fail(f"{item.nodeid} runs the speech model: mark it @pytest.mark.slow", pytrace=False)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model, "load_model", guarded)
        patch.setattr(asr, "load_model", guarded)
        yield


@pytest.fixture(autouse=True)
def _no_swallowed_model_call(request):
    yield
    if request.node.nodeid in _REACHED:
        pytest.fail(f"{request.node.nodeid} reached the speech model: mark it @pytest.mark.slow", pytrace=False)
