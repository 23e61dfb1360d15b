"""Call metadata: a sidecar JSON next to the file, a manifest CSV for a folder, or the file name.

Lookup order for ``calls/0042.wav`` (or ``0042.txt``, ``0042.json``):
``calls/0042.wav.json`` or ``calls/0042.json`` (sidecar), then a row for
``0042.wav`` in ``calls/manifest.csv``, then defaults (call id = file stem).
The same holds for recordings and transcripts. Channel maps are written
``agent,customer`` (left, right) or as a JSON object ``{"0": "agent"}``.
Values are returned as found; ``qa.pipeline.ingest`` applies the call-id rule
(``qa.privacy.callid``) and masks agent and team like ids.
A folder with a manifest that lacks a file's row (or leaves its agent, team
or start time empty) gets a warning on that call, not a silent default.
"""

from __future__ import annotations

import csv
import errno
import functools
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from qa.common.limits import check_bytes, check_field, limits, load_json
from qa.errors import MetadataError, MetadataLimitError
from qa.types import LANGUAGES, CallMeta

MANIFEST = "manifest.csv"
#: Fields a manifest row is expected to fill; an empty one is reported on the call.
EXPECTED = ("agent_id", "team", "started_at")
_ROLE_WORDS = {"agent": "agent", "customer": "customer", "left": None, "right": None}


class _MetaModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    call_id: str | None = None
    agent_id: str | None = None
    team: str | None = None
    started_at: str | None = None
    language: str | None = None
    channel_map: dict[int, str] | None = None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value in (None, "", "auto"):
            return None
        value = value.lower()
        if value not in LANGUAGES:
            raise ValueError(f"language {value!r} is not supported (use one of {', '.join(LANGUAGES)} or auto)")
        return value

    @field_validator("channel_map", mode="before")
    @classmethod
    def _channel_map(cls, value: Any) -> dict[int, str] | None:
        return parse_channel_map(value)

    @field_validator("agent_id", "team", "call_id", "started_at", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"must be text or a whole number, not {type(value).__name__}")  # noqa: TRY004
        return str(value).strip()

    @field_validator("language", mode="before")
    @classmethod
    def _language_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"must be text (zh, es, en or auto), not {type(value).__name__}")  # noqa: TRY004
        return value


def parse_channel_map(value: Any) -> dict[int, str] | None:
    """``"agent,customer"`` / ``{"0": "agent", "1": "customer"}`` -> ``{0: "agent", 1: "customer"}``."""
    if value in (None, ""):
        return None
    shape = "channel map must be 'agent,customer' or an object {\"0\": \"agent\", \"1\": \"customer\"}"
    if isinstance(value, str):
        roles = [part.strip().lower() for part in value.split(",")]
        mapping: dict[Any, Any] = dict(enumerate(roles))
    elif isinstance(value, dict):
        mapping = {}
        for key, role in value.items():
            key = str(key).strip()
            if key not in ("0", "1") or not isinstance(role, str):
                raise ValueError(shape)
            mapping[int(key)] = role.strip().lower()
    else:
        raise ValueError(shape)
    bad = [r for r in mapping.values() if r not in ("agent", "customer")]
    if bad or set(mapping) - {0, 1} or len(set(mapping.values())) != len(mapping):
        raise ValueError("channel map: channels are 0 and 1, roles 'agent' or 'customer', each once")
    return mapping


def _to_meta(raw: dict[str, Any], path: Path, where: str) -> tuple[CallMeta, bool]:
    """The metadata in ``raw`` (a sidecar object or manifest row) and whether it named the call id."""
    for key, value in raw.items():
        if isinstance(key, str):
            check_field(key, f"{where}: a key")
        if isinstance(value, str):
            check_field(value, f"{where}: {str(key)[:40]}")
    try:
        model = _MetaModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors(include_url=False)[:5])
        raise MetadataError(f"{where}: {problems}") from exc
    extra = {k: v for k, v in (model.model_extra or {}).items() if k != "file"}
    return CallMeta(
        call_id=model.call_id or path.stem,
        agent_id=model.agent_id,
        team=model.team,
        started_at=model.started_at,
        language=model.language,
        channel_map=model.channel_map or {0: "agent", 1: "customer"},
        extra=extra,
    ), bool(model.call_id)


_NO_LINK = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_bounded(path: Path, limit: int, what: str) -> str:
    """A metadata file's text: at most ``limit`` bytes, UTF-8 (a bad byte is reported with its line).

    Opened without following a link and only if it is a regular file: a
    sidecar or manifest swapped for a link to ``/etc/passwd`` (or a FIFO) is
    refused, never read.
    """
    try:
        fd = os.open(path, _NO_LINK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MetadataError(f"{path}: the {what} is a link; metadata is read only from plain files") from exc
        raise MetadataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise MetadataError(f"{path}: the {what} is not a regular file")
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    check_bytes(len(raw), limit, str(path), f"the {what}", MetadataLimitError)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MetadataError(f"{path}:{line}: the {what} is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                            f"{exc.start}); save it as UTF-8") from exc


# A few parsed manifests only: each may be up to metadata.max_manifest_bytes, and the nightly scan goes
# folder by folder, so one or two are in use at a time; 64 could hold gigabytes.
@functools.lru_cache(maxsize=4)
def _manifest(path: Path, mtime_ns: int) -> dict[str, dict[str, str]]:
    bounds = limits().metadata
    text = _read_bounded(path, bounds.max_manifest_bytes, "manifest")
    rows: dict[str, dict[str, str]] = {}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise MetadataError(f"{path}: a manifest needs a 'file' column (and any of call_id, agent_id, team, started_at, language, channel_map)")
        for row in reader:
            line = reader.line_num
            for value in row.values():
                for cell in (value if isinstance(value, list) else [value]):
                    if isinstance(cell, str):
                        check_field(cell, f"{path}:{line}")
            name = (row.get("file") or "").strip()
            if not name:
                raise MetadataError(f"{path}:{line}: empty 'file' value")
            rows[name] = {k: v for k, v in row.items() if k}
    except csv.Error as exc:
        raise MetadataLimitError(f"{path}:{reader.line_num + 1}: cannot read the manifest row ({exc}); a cell may be "
                                 f"over {bounds.max_field_chars} characters or a quote left open") from exc
    return rows


def read_sidecar_object(sidecar: Path) -> dict[str, Any]:
    """One sidecar JSON's object: bounded size and depth, UTF-8, NaN refused; every failure coded."""
    bounds = limits().metadata
    text = _read_bounded(sidecar, bounds.max_sidecar_bytes, "sidecar")
    raw = load_json(text, str(sidecar), bounds.max_json_depth, MetadataError, MetadataLimitError)
    if not isinstance(raw, dict):
        raise MetadataError(f"{sidecar}: must hold a JSON object")
    return raw


def read_sidecar(sidecar: Path, path: Path) -> CallMeta:
    """The metadata a sidecar gives the call file ``path``."""
    return _to_meta(read_sidecar_object(sidecar), Path(path), str(sidecar))[0]


@dataclass(frozen=True)
class MetaLookup:
    """A file's metadata as found, where it came from, and what was expected but missing (warnings).

    Values are raw: ``qa.pipeline.ingest`` applies the call-id rule and masks
    them (the privacy stage sits above this one).
    """

    meta: CallMeta
    origin: str  # sidecar | manifest | name
    explicit_id: bool  # the sidecar or manifest named the call id
    warnings: tuple[str, ...] = ()


def sidecars_of(path: Path) -> tuple[Path, ...]:
    """``call.txt`` -> ``call.txt.json``, ``call.json``; a JSON file is never its own sidecar."""
    path = Path(path)
    return tuple(p for p in (path.with_name(path.name + ".json"), path.with_suffix(".json")) if p != path)


def lookup_meta(path: Path) -> MetaLookup:
    """Metadata for one recording or transcript file (lookup order in the module docstring)."""
    path = Path(path)
    for sidecar in sidecars_of(path):
        if sidecar.is_file():
            meta, explicit = _to_meta(read_sidecar_object(sidecar), path, str(sidecar))
            return MetaLookup(meta, "sidecar", explicit)
    manifest = path.parent / MANIFEST
    if manifest.is_file():
        rows = _manifest(manifest, manifest.stat().st_mtime_ns)
        row = rows.get(path.name)
        shown = path.name
        if row is None:
            return MetaLookup(CallMeta(call_id=path.stem), "name", False, (
                f"metadata missing: {MANIFEST} in this folder has no row for {shown}; the call is stored "
                f"without agent, team and start time (add a row, or a sidecar {shown}.json)",))
        meta, explicit = _to_meta(row, path, f"{manifest} ({shown})")
        empty = [k for k in EXPECTED if k in row and not (row.get(k) or "").strip()]
        warnings = (f"metadata missing: the {MANIFEST} row for {shown} leaves {', '.join(empty)} empty",) if empty else ()
        return MetaLookup(meta, "manifest", explicit, warnings)
    return MetaLookup(CallMeta(call_id=path.stem), "name", False)


def meta_for(path: Path) -> CallMeta:
    """Metadata for one recording or transcript file."""
    return lookup_meta(path).meta
