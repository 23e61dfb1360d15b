"""One temporary Prefect API for the whole test session (starting one costs seconds).

Import the fixture into a test module: ``from tests.prefect_harness import prefect_api``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import flows  # noqa: F401  - Prefect environment defaults before Prefect is imported


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The URL of a throwaway Prefect API with its own database; flows in the tests report to it."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()
