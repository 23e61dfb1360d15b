"""The transcript's JSON form round-trips exactly; the timed text form imports other vendors' transcripts."""

from __future__ import annotations

import pytest

from qa.errors import TranscriptFormatError
from qa.intake.transcript_io import (
    dumps,
    loads,
    parse_time,
    parse_timed_text,
    read_transcript,
    to_srt,
    to_timed_text,
    write_atomic,
)

SAMPLE = """# language: zh
# call_id: demo-001
# agent_id: A1024
00:00.0 00:04.2 agent 您好，工号1024为您服务，请问有什么可以帮您？
00:04.6 00:11.0 customer 我的快递三天了还没到，你们到底怎么回事！
11.5 15 坐席 非常抱歉给您带来不便。
0:00:15.5 0:00:18.25 客户 嗯。
"""


def test_timed_text_reads_times_roles_and_header():
    t = parse_timed_text(SAMPLE)
    assert t.call_id == "demo-001" and t.language == "zh"
    assert t.meta.agent_id == "A1024"
    assert [u.role for u in t.utterances] == ["agent", "customer", "agent", "customer"]
    assert [u.start for u in t.utterances] == [0.0, 4.6, 11.5, 15.5]
    assert t.utterances[-1].end == 18.25
    assert t.roles.method == "import" and t.roles.separated


def test_timed_text_accepts_spanish_role_names():
    t = parse_timed_text("# language: es\n0 2 agente Buenos días\n2.5 4 cliente Quiero poner una queja\n")
    assert [u.role for u in t.utterances] == ["agent", "customer"]


def test_malformed_lines_are_reported_with_their_numbers():
    bad = "# language: en\n00:00.0 00:01.0 agent Hello\nnonsense\n00:02 00:01 agent backwards\n1 2 robot hi\n"
    with pytest.raises(TranscriptFormatError) as info:
        parse_timed_text(bad)
    message = str(info.value)
    assert "line 3" in message and "line 4" in message and "line 5" in message
    assert "line 2" not in message


def test_missing_language_header_is_an_error():
    with pytest.raises(TranscriptFormatError, match="language"):
        parse_timed_text("0 1 agent hello\n")


def test_unsupported_language_header_is_an_error():
    with pytest.raises(TranscriptFormatError, match="language"):
        parse_timed_text("# language: fr\n0 1 agent bonjour\n")


@pytest.mark.parametrize("value,seconds", [("83.5", 83.5), ("01:23.5", 83.5), ("1:00:00", 3600.0), ("0", 0.0)])
def test_times_parse_in_all_three_forms(value, seconds):
    assert parse_time(value) == pytest.approx(seconds)


def test_json_round_trip_is_exact_for_imported_transcript():
    t = parse_timed_text(SAMPLE)
    assert loads(dumps(t)) == t


def test_json_refuses_other_versions():
    text = dumps(parse_timed_text(SAMPLE)).replace('"version": 1', '"version": 99')
    with pytest.raises(TranscriptFormatError, match="version"):
        loads(text)


def test_gaps_between_utterances_are_kept():
    t = parse_timed_text(SAMPLE)
    assert [(g.start, g.end) for g in t.gaps] == [(4.2, 4.6), (11.0, 11.5), (15.0, 15.5)]


def test_timed_text_and_srt_exports(tmp_path):
    t = parse_timed_text(SAMPLE)
    again = parse_timed_text(to_timed_text(t))
    assert [(u.role, u.start, u.text) for u in again.utterances] == [(u.role, u.start, u.text) for u in t.utterances]
    srt = to_srt(t)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:04,200\n[agent]")


def test_read_transcript_dispatches_on_content(tmp_path):
    t = parse_timed_text(SAMPLE)
    (tmp_path / "a.json").write_text(dumps(t), encoding="utf-8")
    (tmp_path / "b.txt").write_text(SAMPLE, encoding="utf-8")
    assert read_transcript(tmp_path / "a.json") == t
    assert read_transcript(tmp_path / "b.txt").call_id == "demo-001"


def test_write_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out" / "x.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.json"]
