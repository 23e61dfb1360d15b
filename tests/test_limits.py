"""Limits as data (qa/data/limits.yaml): every exceeded limit is one coded line, in bounded time and memory.

The worst cases run in their own process (bench/worst_case.py) so the peak RSS
measured is theirs; the bounds are generous (a shared 2-core machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.common.limits import json_depth, limits
from qa.errors import CallqaError, FindingsLimitError, InputLimitError, MetadataError, MetadataLimitError, TranscriptFormatError
from qa.intake.meta import meta_for, read_sidecar
from qa.intake.transcript_io import dumps, loads, parse_timed_text, read_transcript
from qa.reports.plots import MAX_TICKS, _tick_step

REPO = Path(__file__).resolve().parents[1]
WORST = REPO / "bench" / "worst_case.py"


def _worst(case: str) -> dict:
    done = subprocess.run([sys.executable, str(WORST), case], capture_output=True, text=True, timeout=600,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case,code", [
    ("huge_timestamp", "E330"), ("many_utterances", "E330"), ("megabyte_line", "E330"),
    ("deep_json", "E330"), ("wide_json", "E330"), ("deep_yaml", "E400"),
])
def test_worst_inputs_end_in_one_coded_line_within_bounds(case, code):
    result = _worst(case)
    assert result["outcome"] == code, result
    assert result["peak_rss_mb"] < 1536 and result["seconds"] < 60, result
    assert "\n" not in result["detail"]


def test_a_six_hour_call_is_reviewed_whole_in_bounded_time_and_memory():
    # read, redact, tag, score and render the page of 10,243 utterances in a fresh process
    result = _worst("six_hour_call")
    assert result["outcome"] == "ok" and result["detail"].startswith("10243 utterances"), result
    assert result["peak_rss_mb"] < 1536 and result["seconds"] < 240, result


def test_the_peak_measured_is_the_case_s_own_not_its_parent_s():
    # ru_maxrss kept the parent's high-water mark across vfork+exec: every case "peaked" at pytest's 1.6 GB
    ballast = bytearray(b"x" * (512 * 1024 * 1024))
    result = _worst("deep_yaml")
    assert len(ballast) and result["outcome"] == "E400" and result["peak_rss_mb"] < 256, result


def test_a_six_hour_call_is_within_every_limit():
    calls = limits().calls
    assert calls.max_duration >= 6 * 3600
    lines = ["# language: zh"] + [f"{t:.1f} {t + 1.5:.1f} {'agent' if k % 2 else 'customer'} 您好，请问还有什么问题"
                                  for k, t in enumerate(range(0, 6 * 3600, 2))]
    t = parse_timed_text("\n".join(lines))
    assert len(t.utterances) == 10_800 and t.duration == pytest.approx(6 * 3600 - 0.5)


def test_timestamps_beyond_the_call_limit_are_refused():
    for line in ("99999999999 99999999999.5 customer hi", "0 43201 agent hi", "0 1e400 agent hi"):
        with pytest.raises(TranscriptFormatError) as err:
            parse_timed_text(f"# language: en\n0 1 agent hello\n{line}\n")
        assert str(err.value).startswith(("[E330]", "[E300]")) and "\n" not in str(err.value)


def test_the_timeline_asks_for_a_bounded_number_of_ticks():
    for duration in (1.0, 59.0, 3600.0, 6 * 3600.0, 43_200.0, 99_999_999_999.0):
        assert duration / _tick_step(duration) <= MAX_TICKS


def test_the_timeline_of_a_huge_transcript_renders_small(tmp_path):
    from qa.reports.plots import timeline_png
    from qa.types import RoleAssignment, Transcript, Utterance

    t = Transcript("x", "en", 99_999_999_999.5, [Utterance("agent", 0, 1, "hi"),
                                                 Utterance("customer", 99_999_999_999, 99_999_999_999.5, "ho")],
                   roles=RoleAssignment("import", 1.0))
    png = timeline_png(t, [], None, {"colours": {"agent": "#1f77b4", "customer": "#ff7f0e", "unknown": "#999999",
                                                 "hold": "#cccccc", "dead_air": "#eeeeee", "stage": "#d62728"},
                                     "width_in": 8, "panel_height_in": 1.2, "dpi": 60})
    assert png is not None and png.startswith("data:image/png;base64,")


# ---------------------------------------------------------------- wrong types in the JSON form
def _json(mutate) -> str:
    data = json.loads(dumps(parse_timed_text("# language: zh\n0 2 agent 您好\n2.5 4 customer 我要退款\n")))
    data["meta"]["channel_map"] = {"0": "agent", "1": "customer"}
    mutate(data)
    return json.dumps(data)


@pytest.mark.parametrize("mutate,where", [
    (lambda d: d["utterances"][0].update(text=None), "$.utterances[0].text"),
    (lambda d: d["utterances"][0].update(start={}), "$.utterances[0].start"),
    (lambda d: d["utterances"][1].update(role=[]), "$.utterances[1].role"),
    (lambda d: d.update(language={}), "$.language"),
    (lambda d: d["roles"].update(notes=None), "$.roles.notes"),
    (lambda d: d["meta"].update(channel_map=["agent"]), "$.meta.channel_map"),
    (lambda d: d["meta"].update(channel_map={"7": "agent"}), "$.meta.channel_map.7"),
    (lambda d: d.update(duration="4"), "$.duration"),
    (lambda d: d["utterances"][0].update(confidence=7), "$.utterances[0].confidence"),
    (lambda d: d["utterances"].__setitem__(0, "x"), "$.utterances[0]"),
])
def test_wrong_types_in_a_json_transcript_are_coded_with_their_json_path(mutate, where):
    with pytest.raises(TranscriptFormatError) as err:
        loads(_json(mutate), "t.json")
    assert str(err.value).startswith("[E300] t.json: ") and where in str(err.value)


def test_nan_and_infinity_in_json_are_refused():
    text = _json(lambda d: None).replace('"duration": 4.0', '"duration": NaN')
    with pytest.raises(TranscriptFormatError, match=r"not valid JSON \(NaN is not a number JSON allows"):
        loads(text, "t.json")


def test_json_nesting_is_bounded_without_recursion():
    assert json_depth([[[[]]]]) == 4 and json_depth({"a": 1}) == 1 and json_depth(3) == 0
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputLimitError, match=r"JSON nested deeper than 32 levels"):
        loads('{"format": "callqa.transcript", "version": 1, "x": ' + deep + "}", "t.json")


def test_non_utf8_transcripts_say_the_line(tmp_path):
    path = tmp_path / "call.txt"
    path.write_bytes(b"# language: zh\n0 1 agent ok\n1 2 customer \xff\xfe\n")
    with pytest.raises(TranscriptFormatError, match=r"call\.txt:3: not UTF-8 text \(byte 0xff"):
        read_transcript(path)


def test_findings_beyond_the_limit_stop_tagging(monkeypatch):
    from qa.common import limits as limits_module
    from qa.tagging.runner import tag

    bounds = limits_module.limits()
    small = bounds.model_copy(update={"calls": bounds.calls.model_copy(update={"max_findings": 3})})
    monkeypatch.setattr(limits_module, "limits", lambda: small)
    t = parse_timed_text("# language: zh\n0 2 agent 您好，请问有什么可以帮您？\n2.5 4 customer 我要投诉，太过分了\n"
                         "5 8 agent 非常抱歉给您带来不便\n")
    with pytest.raises(FindingsLimitError, match=r"\[E331\] call call: \d+ findings, more than the 3 allowed"):
        tag(t)


# ---------------------------------------------------------------- chat logs
CHAT = """# language: zh
00:01 00:03 customer 我的订单还没到
00:04 00:05 customer
00:06 00:08 customer 😀😀
00:09 00:12 agent 非常抱歉，我马上帮您查
00:13 00:14 agent 请稍等
客户：好的
"""


def test_chat_logs_keep_or_skip_odd_turns_with_a_note():
    t = parse_timed_text(CHAT)
    assert [u.text for u in t.utterances] == ["我的订单还没到", "😀😀", "非常抱歉，我马上帮您查", "请稍等", "好的"]
    assert [u.role for u in t.utterances] == ["customer", "customer", "agent", "agent", "customer"]
    assert t.utterances[-1].start == pytest.approx(15.0)  # estimated after the last timed turn
    notes = " | ".join(t.roles.notes)
    assert "1 empty turn(s) skipped (lines 3)" in notes and "1 turn(s) without times" in notes


def test_a_chat_of_untimed_turns_only_gets_times_in_order():
    t = parse_timed_text("# language: en\ncustomer: my parcel is late\nagent: sorry, let me check\ncustomer: thanks\n")
    starts = [u.start for u in t.utterances]
    assert starts == sorted(starts) and starts[0] == 0.0 and len(set(starts)) == 3
    assert all(u.end > u.start for u in t.utterances)


def test_a_chat_of_empty_turns_only_is_still_a_coded_error():
    with pytest.raises(TranscriptFormatError, match=r"no utterances.*2 empty turn\(s\) skipped"):
        parse_timed_text("# language: zh\n0 1 agent\n1 2 customer   \n")


def test_empty_turns_in_a_json_transcript_are_skipped_with_a_note():
    t = loads(_json(lambda d: d["utterances"][0].update(text="  ")), "t.json")
    assert [u.text for u in t.utterances] == ["我要退款"]
    assert any("empty turn skipped" in n for n in t.roles.notes)


# ---------------------------------------------------------------- sidecars and manifests
@pytest.mark.parametrize("content,error,needle", [
    (b'{"agent_id": {}}', MetadataError, "agent_id: must be text or a whole number"),
    (b'{"language": {}}', MetadataError, "language: must be text"),
    (b'{"channel_map": [1, 2]}', MetadataError, "channel map must be"),
    (b'{"channel_map": {"0": "agent", "1": "agent"}}', MetadataError, "each once"),
    (b'{"channel_map": {"x": "agent"}}', MetadataError, "channel map must be"),
    (b'{"team": "\xff"}', MetadataError, "call.wav.json:1: the sidecar is not UTF-8"),
    (b'{"team": NaN}', MetadataError, "not valid JSON"),
    (b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", MetadataLimitError, "nested deeper than 16 levels"),
    (b'{"team": "' + b"t" * 5000 + b'"}', MetadataLimitError, "5000 characters"),
])
def test_bad_sidecars_are_coded(tmp_path, content, error, needle):
    (tmp_path / "call.wav").write_bytes(b"")
    sidecar = tmp_path / "call.wav.json"
    sidecar.write_bytes(content)
    with pytest.raises(error) as err:
        read_sidecar(sidecar, "call")
    assert needle in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(error):
        meta_for(tmp_path / "call.wav")


@pytest.mark.parametrize("content,error,needle", [
    (b"file,team\ncall.wav,\xff\n", MetadataError, "manifest.csv:2: the manifest is not UTF-8"),
    (b'file,team\ncall.wav,"' + b"x" * (128 * 1024 + 10) + b'"\n', MetadataLimitError, "manifest.csv:2"),
    (b"file,team\ncall.wav," + b"x" * 5000 + b"\n", MetadataLimitError, "5000 characters"),
    (b"file,language\ncall.wav,fr\n", MetadataError, "language 'fr' is not supported"),
])
def test_bad_manifests_are_coded(tmp_path, content, error, needle):
    (tmp_path / "call.wav").write_bytes(b"")
    (tmp_path / "manifest.csv").write_bytes(content)
    with pytest.raises(error) as err:
        meta_for(tmp_path / "call.wav")
    assert needle in str(err.value)


def test_a_good_sidecar_still_reads(tmp_path):
    sidecar = tmp_path / "call.wav.json"
    sidecar.write_text(json.dumps({"agent_id": 1024, "team": "A", "channel_map": {"0": "customer", "1": "agent"},
                                   "queue": {"name": "billing"}}))
    meta = read_sidecar(sidecar, "call")
    assert meta.agent_id == "1024" and meta.channel_map == {0: "customer", 1: "agent"}
    assert meta.extra == {"queue": {"name": "billing"}}


def test_every_limit_error_is_a_callqa_error_the_night_quarantines():
    from qa.pipeline.nightly import QUARANTINE_ERRORS

    for cls in (InputLimitError, FindingsLimitError, MetadataLimitError):
        assert issubclass(cls, CallqaError) and issubclass(cls, QUARANTINE_ERRORS)


def test_a_recording_longer_than_the_call_limit_is_refused(tmp_path, monkeypatch):
    import numpy as np

    from qa.errors import AudioTooLongError
    from qa.speech import audio
    from tests.wavs import write_wav

    path = tmp_path / "call.wav"
    write_wav(path, (np.sin(np.arange(32000) / 10) * 8000).astype(np.int16))  # 2 s
    assert audio.probe(path).duration == pytest.approx(2.0, abs=0.05)
    bounds = limits()
    short = bounds.model_copy(update={"calls": bounds.calls.model_copy(update={"max_duration": 1.5})})
    monkeypatch.setattr(audio, "limits", lambda: short)
    with pytest.raises(AudioTooLongError, match=r"\[E107\] .*call\.wav: 2\.0 s long, more than the 1\.5 s allowed"):
        audio.probe(path)


@pytest.mark.parametrize("name,limit,read,error", [
    ("call.txt", lambda: limits().transcripts.max_bytes, lambda p: read_transcript(p), InputLimitError),
    ("call.json", lambda: limits().transcripts.max_bytes, lambda p: read_transcript(p), InputLimitError),
    ("call.wav.json", lambda: limits().metadata.max_sidecar_bytes, lambda p: read_sidecar(p, "call"),
     MetadataLimitError),
    ("manifest.csv", lambda: limits().metadata.max_manifest_bytes, lambda p: meta_for(p.parent / "call.wav"),
     MetadataLimitError),
])
def test_files_one_byte_over_their_size_limit_are_refused_with_the_limit(tmp_path, name, limit, read, error):
    # sparse files: the reader must stop at limit + 1 bytes, whatever the file's size
    (tmp_path / "call.wav").write_bytes(b"")
    path = tmp_path / name
    with path.open("wb") as fh:
        fh.truncate(limit() + 1)
    with pytest.raises(error) as err:
        read(path)
    message = str(err.value)
    assert f"{limit() + 1} bytes, more than the {limit()} allowed" in message and "\n" not in message
    with path.open("wb") as fh:  # at the limit it is not refused for its size
        fh.truncate(limit())
    with pytest.raises(CallqaError) as err:
        read(path)
    assert "bytes, more than" not in str(err.value)  # refused for what is in it (NUL bytes), not its size
