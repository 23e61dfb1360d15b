"""Copy the shippable dialogues (CrossWOZ Apache-2.0, ABCD MIT) into dialogues.jsonl, one dialogue a line.

Only the words and who said them are kept (CrossWOZ's dialogue acts and ABCD's actions are dropped); see
PROVENANCE.md for the exact origin. Re-run to rebuild:

    CALLQA_SHARED_DATA=/work/shared/data python datasets/real/licensed/build.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CALLQA_SHARED_DATA", HERE.parents[3] / "shared" / "data"))


def main() -> int:
    lines = []
    crosswoz = json.loads((SHARED / "dialogues/crosswoz_zh/crosswoz_200.json").read_text(encoding="utf-8"))
    for dialogue, item in crosswoz.items():
        turns = [{"role": "customer" if m["role"] == "usr" else "agent", "parts": [m["content"]]}
                 for m in item["messages"]]
        lines.append({"source": "crosswoz", "dialogue": dialogue, "turns": turns})
    abcd = json.loads((SHARED / "dialogues/abcd_en/abcd_sample.json").read_text(encoding="utf-8"))
    for item in abcd:
        turns = [{"role": role, "parts": [text]} for role, text in item["original"] if role in ("agent", "customer")]
        lines.append({"source": "abcd", "dialogue": str(item["convo_id"]), "turns": turns})
    out = HERE / "dialogues.jsonl"
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    print(f"{out}: {len(lines)} dialogues")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
