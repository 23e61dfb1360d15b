"""Find the calls in an archive folder and know, cheaply, which content each file holds.

A contact centre's archive grows every day and is never cleaned up, so the
nightly scan must be fast when nothing is new: files are listed with one
``scandir`` walk, and a file is hashed again only when its size or mtime
differ from the store's file index (``Store.known_files``, one batched
lookup). Content hashes then decide what is new: a renamed or moved file has
a known hash, a changed file a new one.

Which names count as calls (audio and transcript extensions, sidecars,
partial copies) is in ``qa/data/archive.yaml``. The scan never leaves the
archive: a symlink is followed only to a file inside it; links out of it,
links to folders, dangling links and link loops are skipped with a note.
Every later read of a listed file goes through ``pinned``, which opens it
without following links and checks the opened file, so a file swapped for a
link between the scan and the read is still never read outside the archive.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from qa.common.settings import Settings, shipped
from qa.common.settings import load_settings as load_yaml_settings
from qa.errors import ArchiveError, ConfigError, OutsideArchiveError
from qa.speech.audio import file_sha256

Kind = Literal["audio", "transcript"]
SETTINGS_FILE = shipped("archive.yaml")
#: Rows handed to the store per batch when remembering hashes.
_REMEMBER_BATCH = 500


@dataclass(frozen=True)
class ArchiveSettings:
    audio_extensions: frozenset[str]
    transcript_extensions: frozenset[str]
    ignore_names: frozenset[str]
    partial_suffixes: tuple[str, ...]
    settle_seconds: float

    def kind_of(self, name: str) -> Kind | None:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext in self.audio_extensions:
            return "audio"
        if ext in self.transcript_extensions:
            return "transcript"
        return None


class _ArchiveFile(Settings):
    """``qa/data/archive.yaml``: extensions and names are words (YAML numbers such as 3gp read as text)."""

    audio_extensions: list[str | int] = Field(min_length=1)
    transcript_extensions: list[str | int] = Field(min_length=1)
    ignore_names: list[str | int] = []
    partial_suffixes: list[str | int] = []
    settle_seconds: float = Field(default=0, ge=0, le=86_400)


def load_settings(path: Path | None = None, settle_seconds: float | None = None) -> ArchiveSettings:
    """Read ``qa/data/archive.yaml`` (or ``path``); ``settle_seconds`` overrides the file's value."""
    raw = load_yaml_settings(Path(path) if path is not None else SETTINGS_FILE, _ArchiveFile)
    settings = ArchiveSettings(
        audio_extensions=frozenset(str(e).lower().lstrip(".") for e in raw.audio_extensions),
        transcript_extensions=frozenset(str(e).lower().lstrip(".") for e in raw.transcript_extensions),
        ignore_names=frozenset(str(n).lower() for n in raw.ignore_names),
        partial_suffixes=tuple(str(s).lower() for s in raw.partial_suffixes),
        settle_seconds=raw.settle_seconds,
    )
    if settle_seconds is not None:
        settings = ArchiveSettings(settings.audio_extensions, settings.transcript_extensions,
                                   settings.ignore_names, settings.partial_suffixes, float(settle_seconds))
    return settings


@dataclass(frozen=True)
class ArchiveFile:
    """One call file as found on disk (not yet hashed)."""

    path: str  # absolute
    rel: str  # relative to the archive root, "/"-separated
    kind: Kind
    size: int
    mtime_ns: int


@dataclass
class Scan:
    """What a walk over the archive found."""

    root: str
    files: list[ArchiveFile] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # partial or just-modified: left for a later night
    sidecars: int = 0
    ignored: int = 0
    links_skipped: int = 0
    notes: list[str] = field(default_factory=list)  # why a link or folder was not followed (relative paths)
    seconds: float = 0.0


def _is_sidecar(name: str, call_names: set[str], call_stems: set[str]) -> bool:
    """``0042.wav.json`` or ``0042.json`` next to ``0042.wav`` (or ``0042.txt``) describes that call."""
    lower = name.lower()
    if not lower.endswith(".json"):
        return False
    base = lower[: -len(".json")]
    return base in call_names or base in call_stems


def _link_target(entry: os.DirEntry, root: str) -> str | None:
    """Why a symlinked entry is not followed, or None when it is a file inside the archive."""
    try:
        target = os.path.realpath(entry.path, strict=True)
    except (OSError, RuntimeError) as exc:  # dangling, or a loop (ELOOP)
        return f"a broken link or a link loop ({getattr(exc, 'strerror', None) or exc})"
    if os.path.commonpath([root, target]) != root:
        return "a link to a file outside the archive"
    if not os.path.isfile(target):
        return "a link to a folder (folders are not followed through links)"
    return None


def _walk(directory: str, notes: list[str], prefix: int) -> Iterator[tuple[str, list[os.DirEntry]]]:
    """Folders under ``directory`` with their files; links are followed only to files inside the archive."""
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = [e for e in it if not e.name.startswith(".")]
        except OSError as exc:
            notes.append(f"{current[prefix:] or '.'}/: folder not read ({exc.strerror or exc})")
            continue  # a folder that vanished or cannot be read is skipped, not fatal
        files = []
        for e in entries:
            try:
                if e.is_symlink():
                    why = _link_target(e, directory)
                    if why is not None:
                        notes.append(f"{e.path[prefix:]}: skipped, {why}")
                        continue
                    files.append(e)
                elif e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    files.append(e)
            except OSError as exc:
                notes.append(f"{e.path[prefix:]}: skipped ({exc.strerror or exc})")
        yield current, files


def scan(root: Path | str, settings: ArchiveSettings | None = None, now: float | None = None) -> Scan:
    """List the call files under ``root``, recursively, in a stable order.

    Hidden files and folders, sidecar JSON of recordings, manifests and files
    still being written (partial names, or modified within ``settle_seconds``)
    are left out.
    """
    started = time.perf_counter()
    settings = settings or load_settings()
    root_path = Path(root).expanduser().resolve()
    if not root_path.is_dir():
        raise ArchiveError(f"{root_path}: not a folder; pass the archive directory that holds the recordings")
    now = time.time() if now is None else now
    settle_ns = int((now - settings.settle_seconds) * 1e9)
    result = Scan(root=str(root_path))
    prefix = len(str(root_path)) + 1
    for _folder, entries in _walk(str(root_path), result.notes, prefix):
        call_names = {e.name.lower() for e in entries if settings.kind_of(e.name) is not None}
        call_stems = {n.rsplit(".", 1)[0] for n in call_names if not n.endswith(".json")}
        for entry in entries:
            name = entry.name
            lower = name.lower()
            if lower in settings.ignore_names:
                result.ignored += 1
                continue
            if lower.endswith(settings.partial_suffixes):
                result.settling.append(entry.path)
                continue
            kind = settings.kind_of(name)
            if kind is None:
                result.ignored += 1
                continue
            if kind == "transcript" and _is_sidecar(name, call_names, call_stems):
                result.sidecars += 1
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # removed while we looked
            if st.st_mtime_ns > settle_ns:
                result.settling.append(entry.path)
                continue
            result.files.append(ArchiveFile(entry.path, entry.path[prefix:].replace(os.sep, "/"), kind,
                                            st.st_size, st.st_mtime_ns))
    result.links_skipped = sum(1 for n in result.notes if ": skipped, " in n)
    result.files.sort(key=lambda f: f.rel)
    result.seconds = time.perf_counter() - started
    return result


_PROC_FD = Path("/proc/self/fd")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_no_link(path: str) -> int:
    try:
        return os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    # The name is a link (the scan only lists links to files inside the archive): open its target
    # the same way; the check on the opened file below decides whether it may be read.
    try:
        return os.open(os.path.realpath(path, strict=True), _OPEN_FLAGS)
    except (OSError, RuntimeError) as exc:
        raise OutsideArchiveError(f"{path}: a broken link or a link loop since the scan; not read") from exc


def _opened_path(fd: int, path: str) -> str:
    """Where the opened file really is: /proc/self/fd names it; elsewhere the resolved name, checked by inode."""
    if _PROC_FD.is_dir():
        return os.readlink(_PROC_FD / str(fd))
    real = os.path.realpath(path)
    opened, named = os.fstat(fd), os.stat(real)
    if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
        raise OutsideArchiveError(f"{path}: changed while it was opened; not read")
    return real


@contextmanager
def pinned(path: str | Path, root: str | Path) -> Iterator[Path]:
    """Open an archive file once, safely, and yield a path that names exactly that open file.

    The scan checks links when it lists a file, but the file (or a folder on
    its way) can be swapped for a link to ``/etc/passwd`` before the readers
    open it. So the file is opened here without following a link
    (``O_NOFOLLOW``; a link the scan accepted is resolved and its target
    opened the same way), must be a regular file (``O_NONBLOCK``: a FIFO
    cannot hang the night), and the opened file's real path must lie inside
    ``root``. Readers then open ``/proc/self/fd/N``: the very file checked,
    whatever happens to its name meanwhile. Raises ``OutsideArchiveError``
    (quarantined) or ``OSError``.
    """
    path, base = str(path), os.path.realpath(root)
    fd = _open_no_link(path)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OutsideArchiveError(f"{path}: not a regular file any more (a folder, FIFO or device); not read")
        real = _opened_path(fd, path)
        if os.path.commonpath([base, real]) != base:
            raise OutsideArchiveError(f"{path}: now leads outside the archive (swapped for a link since the scan); "
                                      f"not read")
        yield (_PROC_FD / str(fd)) if _PROC_FD.is_dir() else Path(real)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class HashedFile:
    file: ArchiveFile
    sha256: str
    rehashed: bool  # False when the file index already knew this size+mtime


@dataclass
class Indexed:
    files: list[HashedFile] = field(default_factory=list)
    unreadable: list[tuple[ArchiveFile, str]] = field(default_factory=list)  # (file, why)
    hashed: int = 0
    seconds: float = 0.0


class FileIndex(Protocol):
    """What the file index needs from the store (``qa.store.Store`` provides it)."""

    def known_files(self, stats: Iterable[tuple[str, int, int]]) -> dict[str, str]: ...

    def remember_files(self, entries: Iterable[tuple[str, int, int, str]]) -> None: ...


def index(store: FileIndex, files: list[ArchiveFile], root: str | Path | None = None) -> Indexed:
    """Content hashes for ``files``: reused from the store when size and mtime match, else computed and remembered.

    With ``root`` (the nightly run) each file is read through ``pinned``: never outside the archive.
    """
    started = time.perf_counter()
    known = store.known_files((f.path, f.size, f.mtime_ns) for f in files)
    result = Indexed()
    fresh: list[tuple[str, int, int, str]] = []
    for f in files:
        sha = known.get(f.path)
        if sha is not None:
            result.files.append(HashedFile(f, sha, rehashed=False))
            continue
        try:
            if root is None:
                sha = file_sha256(Path(f.path))
            else:
                with pinned(f.path, root) as opened:
                    sha = file_sha256(opened)
        except OutsideArchiveError as exc:
            result.unreadable.append((f, str(exc)))
            continue
        except OSError as exc:
            result.unreadable.append((f, f"cannot read the file ({exc.strerror or exc}); check its permissions"))
            continue
        result.hashed += 1
        result.files.append(HashedFile(f, sha, rehashed=True))
        fresh.append((f.path, f.size, f.mtime_ns, sha))
        if len(fresh) >= _REMEMBER_BATCH:
            store.remember_files(fresh)
            fresh = []
    if fresh:
        store.remember_files(fresh)
    result.seconds = time.perf_counter() - started
    return result


def expand_inputs(paths: Iterable[Path | str], settings: ArchiveSettings | None = None) -> tuple[list[Path], list[str]]:
    """Files named on a command line, with each folder replaced by the calls the nightly scan finds in it.

    Folders are searched recursively the same way (sidecars, manifests, hidden
    files and links out of the folder are left out) but without waiting for
    files to settle. Returns the files and the notes about what was skipped.
    """
    settings = settings or load_settings(settle_seconds=0)
    files: list[Path] = []
    notes: list[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = scan(p, settings, now=time.time() + 1)
            files.extend(Path(f.path) for f in found.files)
            notes.extend(f"{p}/{n}" for n in found.notes)
            if not found.files:
                notes.append(f"{p}: no recordings or transcripts in this folder")
        else:
            files.append(p)
    return files, notes
