"""qa.common.memory: glibc hands freed heap pages back, and the arena cap takes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from qa.common.memory import _libc, cap_arenas

pytestmark = pytest.mark.skipif(_libc() is None, reason="the C library is not glibc")


def test_freed_small_objects_go_back_to_the_system_after_give_back():
    script = textwrap.dedent("""
        import gc
        from qa.common.memory import give_back

        def rss():
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) // 1024

        base = rss()
        keep, junk = [], []
        for k in range(300_000):
            (keep if k % 1000 == 0 else junk).append(bytearray(600))  # a few survivors pin the heap's top
        grown = rss()
        del junk
        gc.collect()
        freed = rss()
        assert give_back() is True
        print(base, grown, freed, rss())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    base, grown, freed, trimmed = map(int, out.split())
    assert grown - base > 150  # MB the objects took
    assert freed - base > 100  # free() alone keeps most of it
    assert trimmed - base < (freed - base) / 3


def test_the_arena_cap_is_set_once_per_process():
    assert cap_arenas() is True
    assert cap_arenas() is True  # cached: mallopt is not called again
