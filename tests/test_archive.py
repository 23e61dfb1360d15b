"""The archive scanner and file index: which files are calls, and hashing only what changed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from qa.pipeline.archive import ArchiveError, index, load_settings, scan
from qa.speech.audio import file_sha256
from qa.store.database import Store

DATA = Path(__file__).parent / "data"
CALL = "# language: en\n00:00.0 00:03.0 agent Hello, how can I help?\n00:03.5 00:06.0 customer My {} broke.\n"


def _old(path: Path, age: float = 3600) -> Path:
    """Backdate a file so the scanner does not take it for one still being copied in."""
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def _write(path: Path, text: str = "", data: bytes | None = None, age: float = 3600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        path.write_bytes(data)
    else:
        path.write_text(text, encoding="utf-8")
    return _old(path, age)


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    _write(root / "2024-05-01" / "0001.wav", data=(DATA / "zh" / "mid.wav").read_bytes())
    _write(root / "2024-05-01" / "0001.wav.json", '{"agent_id": "a1"}')  # sidecar
    _write(root / "2024-05-01" / "0002.FLAC", data=(DATA / "en" / "jfk.flac").read_bytes())
    _write(root / "2024-05-01" / "0002.json", '{"team": "t"}')  # sidecar by stem
    _write(root / "2024-05-01" / "manifest.csv", "file,agent_id\n0001.wav,a1\n")
    _write(root / "2024-05-02" / "chat-7.txt", CALL.format("phone"))
    _write(root / "2024-05-02" / "call-8.json", '{"format": "callqa.transcript"}')  # a transcript, no audio twin
    _write(root / "2024-05-02" / "0003.wav.part", data=b"RIFF")  # still being copied
    _write(root / "2024-05-02" / "notes.docx", data=b"x")
    _write(root / ".trash" / "old.wav", data=b"RIFF")  # hidden folder
    _write(root / "2024-05-02" / ".0004.wav", data=b"RIFF")  # hidden file
    return root


def test_scan_finds_recordings_and_transcripts_recursively(archive_dir: Path) -> None:
    found = scan(archive_dir)
    assert [(f.rel, f.kind) for f in found.files] == [
        ("2024-05-01/0001.wav", "audio"), ("2024-05-01/0002.FLAC", "audio"),
        ("2024-05-02/call-8.json", "transcript"), ("2024-05-02/chat-7.txt", "transcript"),
    ]
    assert found.sidecars == 2
    assert [Path(p).name for p in found.settling] == ["0003.wav.part"]
    assert all(Path(f.path).is_absolute() for f in found.files)


def test_file_still_being_copied_in_is_left_for_a_later_night(archive_dir: Path) -> None:
    fresh = _write(archive_dir / "2024-05-03" / "0005.mp3", data=b"ID3", age=5)
    names = [Path(f.path).name for f in scan(archive_dir, load_settings(settle_seconds=60)).files]
    assert "0005.mp3" not in names
    assert str(fresh) in scan(archive_dir, load_settings(settle_seconds=60)).settling
    assert "0005.mp3" in [Path(f.path).name for f in scan(archive_dir, load_settings(settle_seconds=0)).files]


def test_scan_of_missing_folder_says_which(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a folder"):
        scan(tmp_path / "nope")


def test_index_hashes_again_only_files_whose_size_or_mtime_changed(archive_dir: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'callqa.db'}")
    files = scan(archive_dir).files
    first = index(store, files)
    assert first.hashed == 4 and all(h.rehashed for h in first.files)
    assert {h.file.rel: h.sha256 for h in first.files}["2024-05-01/0001.wav"] == \
        file_sha256(archive_dir / "2024-05-01" / "0001.wav")

    second = index(store, scan(archive_dir).files)
    assert second.hashed == 0 and not any(h.rehashed for h in second.files)

    chat = archive_dir / "2024-05-02" / "chat-7.txt"
    _write(chat, CALL.format("router"), age=1800)
    third = index(store, scan(archive_dir).files)
    assert third.hashed == 1
    assert {h.file.rel: h.sha256 for h in third.files}["2024-05-02/chat-7.txt"] == file_sha256(chat)
