"""Starting threads together: each call of ``fn`` waits at one barrier, so they really race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(fn: Callable[[], Any], count: int) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn`` in ``count`` threads released at once; (results, exceptions), in no particular order."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def one() -> None:
        barrier.wait()
        try:
            results.append(fn())
        except BaseException as exc:  # collected for the test to assert on
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
