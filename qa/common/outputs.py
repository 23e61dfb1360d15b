"""Writing a call's files: each atomically, a call's set all together or not at all, readable as the umask says.

A reviewed call leaves several files (scorecard JSON, transcript JSON, HTML
page). A crash, a full disk or a store that refuses the call must never leave
half a set: ``OutputSet`` writes every file to a temporary name first, then
moves them all into place, and ``rollback`` puts back what was there before.
Temporary files are created with the permissions the process umask allows
(``mkstemp`` alone would give 0600, which a web server running as another
user of the group cannot read).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from qa.errors import OutputError


def _umask() -> int:
    """The process umask, read without changing it (changing it would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _explain(exc: OSError, path: Path) -> OutputError:
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full; free space and run again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "no permission to write there; choose another folder"
    else:
        hint = "check the folder"
    return OutputError(f"cannot write {path}: {exc.strerror or exc} ({hint}); nothing of this call was left behind")


def _write_temp(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``path`` so that it is either the old file or the whole new one (OutputError if it cannot)."""
    out = OutputSet()
    out.add(Path(path), text)
    out.commit()
    out.finish()


class OutputSet:
    """Files that appear together: ``add`` them, ``commit`` moves them all in, ``rollback`` undoes that."""

    def __init__(self) -> None:
        self._files: list[tuple[Path, bytes]] = []
        self._placed: list[tuple[Path, Path | None]] = []  # (target, backup of the file it replaced)

    def add(self, path: Path, content: str | bytes) -> Path:
        self._files.append((Path(path), content.encode("utf-8") if isinstance(content, str) else content))
        return Path(path)

    @property
    def paths(self) -> list[Path]:
        return [p for p, _ in self._files]

    def commit(self) -> None:
        """All temporary files first (a full disk fails here, touching nothing), then the renames."""
        temps: list[Path] = []
        try:
            for path, data in self._files:
                try:
                    temps.append(_write_temp(path, data))
                except OSError as exc:
                    raise _explain(exc, path) from exc
            for (path, _), tmp in zip(self._files, temps):
                backup = None
                if path.exists() or path.is_symlink():
                    backup = path.with_name(f".{path.name[:100]}.{os.getpid()}.bak")
                    os.replace(path, backup)
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    if backup is not None:
                        os.replace(backup, path)
                    raise _explain(exc, path) from exc
                self._placed.append((path, backup))
        except BaseException:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
            self.rollback()
            raise

    def rollback(self) -> None:
        """Remove the files ``commit`` placed and put back the ones they replaced."""
        for path, backup in reversed(self._placed):
            path.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, path)
        self._placed = []

    def finish(self) -> None:
        """Keep the new set: drop the backups of the files it replaced."""
        for _path, backup in self._placed:
            if backup is not None:
                backup.unlink(missing_ok=True)
        self._placed = []
