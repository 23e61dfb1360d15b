"""A per-process cache for things that are expensive to build and safe to share (models, matchers).

``functools.lru_cache`` computes a missing value in every thread that asks for
it at the same moment. At night two calls are reviewed in parallel threads, so
both would load the speech model (twice the memory, four decoders on two
cores) or build the lexicon matcher. Here a miss is computed under a lock, so
threads that ask together wait for one result.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def shared(maxsize: int | None = 16) -> Callable[[F], F]:
    """Like ``functools.lru_cache(maxsize)``, but one thread builds each value while the others wait."""

    def wrap(fn: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        lock = threading.RLock()  # re-entrant: a builder may ask for another key of the same cache

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return cached(*args, **kwargs)

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return wrap
