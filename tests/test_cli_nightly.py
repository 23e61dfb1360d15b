"""The command line over a night: `callqa nightly`, then `callqa coaching` and `callqa rescore` on its store."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from qa.store.database import Store
from tests.prefect_harness import prefect_api  # noqa: F401  - fixture
from tests.test_nightly import add_corrupt, backdate

RUBRIC = Path(__file__).resolve().parents[1] / "rubrics" / "default.yaml"
CALL = """# language: zh
# call_id: {call_id}
# agent_id: {agent}
# team: north
# started_at: 2026-11-{day:02d}T09:30:00+08:00
00:00.0 00:04.0 agent 您好，工号1024，请问有什么可以帮您？
00:04.5 00:10.0 customer 我的快递八天了还没到，我要投诉！
00:10.5 00:15.0 agent {reply}
00:15.5 00:18.0 agent 请问您还有其他问题吗？
00:18.5 00:19.5 customer 没有了。
"""


def test_nightly_then_coaching_then_rescore_from_the_command_line(prefect_api, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    replies = ["非常抱歉给您带来不便，我现在就为您催促，24小时内给您回复。", "这是规定，我不知道。"]
    for n in range(6):
        path = archive / f"c{n}.txt"
        path.write_text(CALL.format(call_id=f"c{n}", agent=f"a{n % 2}", day=16 + n, reply=replies[n % 2]),
                        encoding="utf-8")
        backdate(path)
    add_corrupt(archive)
    store = f"sqlite:///{tmp_path / 'callqa.db'}"
    runner = CliRunner()

    night = runner.invoke(app, ["nightly", str(archive), "--store", store, "--reports", str(tmp_path / "nightly")])
    assert night.exit_code == 3, night.output  # 3: some files were quarantined tonight (README, exit codes)
    assert "6 reviewed" in night.output and "3 quarantined" in night.output

    report = runner.invoke(app, ["coaching", "--start", "2026-11-16", "--end", "2026-11-22", "--team", "north",
                                 "--store", store, "--out", str(tmp_path / "coaching")])
    assert report.exit_code == 0, report.output
    with (tmp_path / "coaching" / "items.csv").open(encoding="utf-8-sig") as fh:
        rows = {r["item_id"]: r for r in csv.DictReader(fh)}
    # three of the six calls said 这是规定 (R6 fail), three apologised and committed (R6 pass)
    assert (rows["R6"]["applicable"], rows["R6"]["pass"], rows["R6"]["fail"]) == ("6", "3", "3")
    assert (tmp_path / "coaching" / "coaching.html").is_file()

    edited = tmp_path / "lenient.yaml"
    edited.write_text(re.sub(r"(?m)^version: (\d+)$", lambda m: f"version: {int(m.group(1)) + 1}",
                             RUBRIC.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    rescored = runner.invoke(app, ["rescore", "--rubric", str(edited), "--store", store])
    assert rescored.exit_code == 0 and "re-scored 6 call(s)" in rescored.output
    versions = Store.open(store).score_versions("c0")
    assert len(versions) == 2 and sum(current for _, current in versions) == 1
