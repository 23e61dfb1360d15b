"""Call metadata: a sidecar JSON next to the file, a manifest CSV for a folder, or the file name.

Lookup order for ``calls/0042.wav``: ``calls/0042.wav.json`` or
``calls/0042.json`` (sidecar), then a row for ``0042.wav`` in
``calls/manifest.csv``, then defaults (call id = file stem). Channel maps are
written ``agent,customer`` (left, right) or as a JSON object ``{"0": "agent"}``.
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from qa.errors import MetadataError
from qa.types import LANGUAGES, CallMeta

MANIFEST = "manifest.csv"
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
        return str(value).strip()


def parse_channel_map(value: Any) -> dict[int, str] | None:
    """``"agent,customer"`` / ``{"0": "agent", "1": "customer"}`` -> ``{0: "agent", 1: "customer"}``."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        roles = [part.strip().lower() for part in value.split(",")]
        mapping = dict(enumerate(roles))
    elif isinstance(value, dict):
        mapping = {int(k): str(v).strip().lower() for k, v in value.items()}
    else:
        raise ValueError(f"channel map {value!r} must be 'agent,customer' or an object")
    bad = [r for r in mapping.values() if r not in ("agent", "customer")]
    if bad or set(mapping) - {0, 1}:
        raise ValueError(f"channel map {value!r}: channels are 0 and 1, roles 'agent' or 'customer'")
    return mapping


def _to_meta(raw: dict[str, Any], default_id: str, where: str) -> CallMeta:
    try:
        model = _MetaModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MetadataError(f"{where}: {problems}") from exc
    extra = dict(model.model_extra or {})
    extra.pop("file", None)
    return CallMeta(
        call_id=model.call_id or default_id,
        agent_id=model.agent_id,
        team=model.team,
        started_at=model.started_at,
        language=model.language,
        channel_map=model.channel_map or {0: "agent", 1: "customer"},
        extra=extra,
    )


@functools.lru_cache(maxsize=64)
def _manifest(path: Path, mtime_ns: int) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise MetadataError(f"{path}: a manifest needs a 'file' column (and any of call_id, agent_id, team, started_at, language, channel_map)")
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            if not name:
                raise MetadataError(f"{path}:{line}: empty 'file' value")
            rows[name] = {k: v for k, v in row.items() if k}
    return rows


def meta_for(path: Path) -> CallMeta:
    """Metadata for one recording or transcript file."""
    path = Path(path)
    for sidecar in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if sidecar.is_file() and sidecar != path:
            try:
                raw = json.loads(sidecar.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise MetadataError(f"{sidecar}: not valid JSON ({exc})") from exc
            if not isinstance(raw, dict):
                raise MetadataError(f"{sidecar}: must hold a JSON object")
            return _to_meta(raw, path.stem, str(sidecar))
    manifest = path.parent / MANIFEST
    if manifest.is_file():
        rows = _manifest(manifest, manifest.stat().st_mtime_ns)
        row = rows.get(path.name)
        if row is not None:
            return _to_meta(row, path.stem, f"{manifest} ({path.name})")
    return CallMeta(call_id=path.stem)
