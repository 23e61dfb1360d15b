"""glibc's allocator, told to keep less: fewer arenas, and freed memory handed back.

A call's transcription runs the model in two threads; glibc gives each
thread that meets a busy heap an arena of its own (up to 8 per core), and
memory freed in an arena stays in the process. Measured on the sample call
(`callqa review`): peak RSS 1.13 GB with glibc's defaults. Both calls are
no-ops where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

#: mallopt's parameter number for the arena limit (glibc's malloc.h).
_M_ARENA_MAX = -8
#: Arenas allowed: the main heap and one for the model's second worker.
ARENAS = 2
#: Compiled oneDNN kernels kept (oneDNN's default is 1,024, one set per input shape).
KERNELS = 8


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@functools.cache
def cap_arenas() -> bool:
    """Limit glibc to ``ARENAS`` arenas from now on (once per process); False where that is not possible."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, ARENAS))


def cap_kernel_cache() -> None:
    """Keep few of oneDNN's compiled kernels (before the model's first pass; the operator's setting wins).

    CTranslate2's encoder runs on oneDNN, which compiles and keeps kernels
    for every input shape it meets; with windows fitted to their audio
    (qa/speech/encoder.py) every window has its own length. 150 encodes of
    random lengths: RSS 256 -> 662 MB with the default cache, 392 MB with 8
    kernels kept, in the same time (56-60 s; 30 s windows: 173 s, 306 MB).
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNELS))


def give_back() -> bool:
    """Return the heap's free pages to the system (after a transcription's big transients)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
