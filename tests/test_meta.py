"""Call metadata comes from a sidecar JSON, a manifest CSV, or the file name."""

from __future__ import annotations

import json

import pytest

from qa.errors import MetadataError
from qa.intake.meta import meta_for


def test_defaults_come_from_the_file_name(tmp_path):
    meta = meta_for(tmp_path / "call-0042.wav")
    assert meta.call_id == "call-0042" and meta.language is None
    assert meta.channel_map == {0: "agent", 1: "customer"}


def test_sidecar_json_gives_agent_team_and_channel_map(tmp_path):
    audio = tmp_path / "x.wav"
    (tmp_path / "x.wav.json").write_text(json.dumps(
        {"call_id": "C1", "agent_id": "A7", "team": "north", "started_at": "2026-11-20T09:30:00",
         "language": "zh", "channel_map": "customer,agent", "queue": "billing"}))
    meta = meta_for(audio)
    assert (meta.call_id, meta.agent_id, meta.team, meta.language) == ("C1", "A7", "north", "zh")
    assert meta.channel_map == {0: "customer", 1: "agent"}
    assert meta.extra == {"queue": "billing"}


def test_manifest_row_is_used_for_its_file(tmp_path):
    (tmp_path / "manifest.csv").write_text(
        "file,call_id,agent_id,team,language\nb.flac,B-1,A2,south,es\n", encoding="utf-8")
    assert meta_for(tmp_path / "b.flac").agent_id == "A2"
    assert meta_for(tmp_path / "other.flac").call_id == "other"


def test_bad_language_in_sidecar_is_reported_with_the_file(tmp_path):
    (tmp_path / "y.json").write_text(json.dumps({"language": "fr"}))
    with pytest.raises(MetadataError, match=r"y\.json.*language"):
        meta_for(tmp_path / "y.wav")


def test_bad_channel_map_is_rejected(tmp_path):
    (tmp_path / "z.wav.json").write_text(json.dumps({"channel_map": "agent,robot"}))
    with pytest.raises(MetadataError, match="channel"):
        meta_for(tmp_path / "z.wav")


def test_sidecar_that_is_not_json_is_reported(tmp_path):
    (tmp_path / "w.wav.json").write_text("{not json")
    with pytest.raises(MetadataError, match="not valid JSON"):
        meta_for(tmp_path / "w.wav")
