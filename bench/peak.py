"""The peak resident memory of this process alone, in MB.

``getrusage(...).ru_maxrss`` is not that on Linux: the kernel carries the
high-water mark across ``exec``, and Python starts children with ``vfork``, so
a case spawned from a 1.6 GB pytest process reported 1.6 GB (CI, December
2026). ``VmHWM`` in ``/proc/self/status`` belongs to the address space made by
``exec`` and starts from zero.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """``VmHWM`` of this process in MB; ``ru_maxrss`` where ``/proc`` is missing (not Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
