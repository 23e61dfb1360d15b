"""One decoded copy of a recording per review, so that the file is decoded once, not once per stage.

A review reads the audio three times: transcription, acoustics (loudness and
pitch) and the redacted copy. Each used to decode the file again through
FFmpeg, resampling to 16 kHz; for compressed calls that is 0.2-0.6 s a pass
(bench/nightly.py's archive: Opus, AAC, AMR, MP3). The first pass now writes
the samples it decodes to a raw float32 file, interleaved by channel, in a
folder the review owns; later passes read that file, which gives the very
same samples. The copy is written under a temporary name and renamed only
when the decode ran to its end, so a pass that stopped part way (an error, a
consumer that stopped reading) never leaves a copy that later passes trust.

The copy holds the call's audio, like the recording it came from: its folder
is private to the process (``tempfile.mkdtemp``, mode 0700) and removed when
the review ends, or by the next review if the process was killed. Recordings
longer than ``calls.max_decoded_copy_seconds`` (limits.yaml, counted per
channel) are not copied: every pass decodes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from qa.common.limits import limits
from qa.types import Recording

#: Sample frames read from the copy at a time (10 s at 16 kHz).
_BLOCK = 160_000
_NAME = "decoded.f32"
_PREFIX = "callqa-decoded-"


@contextmanager
def decoded_copies() -> Iterator[Path]:
    """A private folder for one review's decoded copy, removed (with the copy) when the review ends.

    A process killed during a review cannot remove its folder, and the copy is
    the call's audio unmasked: the folder's name carries the process id, and
    folders of processes that no longer run are removed here, before a new
    one is made (so at the latest by the next review after a crash).
    """
    _remove_orphans(Path(tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans(where: Path) -> None:
    """Remove the decoded-copy folders in ``where`` whose process has ended (ours only: never a link)."""
    try:
        found = [f for f in where.glob(f"{_PREFIX}*-*") if not f.is_symlink() and f.is_dir()
                 and f.lstat().st_uid == os.getuid()]
    except OSError:
        return
    for folder in found:
        pid = folder.name[len(_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid we can ask about: not ours to remove
    return True


def copy_path(folder: Path | None) -> Path | None:
    """Where a recording reviewed with ``folder`` keeps its decoded copy (None: no copy)."""
    return None if folder is None else Path(folder) / _NAME


def worth_keeping(recording: Recording) -> bool:
    """Whether this recording's decoded copy should be written (a folder to keep it in, and not too long)."""
    target = recording.decoded
    return (target is not None and target.parent.is_dir()
            and recording.duration * recording.channels <= limits().calls.max_decoded_copy_seconds)


def stored_blocks(target: Path, channels: int) -> Iterator[np.ndarray]:
    """The samples of a complete decoded copy, as (channels, k) float32 blocks."""
    with target.open("rb") as fh:
        while True:
            block = np.fromfile(fh, dtype="<f4", count=_BLOCK * channels)
            if block.size == 0:
                return
            yield block.reshape(-1, channels).T


def kept(blocks: Iterator[np.ndarray], target: Path) -> Iterator[np.ndarray]:
    """``blocks`` passed through, each also written to ``target``; the copy exists only if all were read.

    A copy that cannot be written (a full disk) is given up, never the pass:
    later passes then decode the file again. Each writer has its own partial
    file.
    """
    partial = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        fh = partial.open("wb")
    except OSError:
        fh = None
    written = 0
    try:
        for block in blocks:
            if fh is not None:
                try:
                    written += fh.write(np.ascontiguousarray(block.T, dtype="<f4").tobytes())
                except OSError:
                    fh = _given_up(fh)
            yield block
        if fh is not None:
            try:
                fh.close()  # a full disk may only show here, when the last buffer is written
                if partial.stat().st_size == written:
                    partial.replace(target)
            except OSError:
                pass
            fh = None
    finally:
        if fh is not None:
            _given_up(fh)
        partial.unlink(missing_ok=True)


def _given_up(fh) -> None:
    try:
        fh.close()
    except OSError:
        pass
