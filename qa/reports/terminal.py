"""One call's scorecard as a rich terminal summary (what ``callqa score`` and ``review`` print).

Every piece of text from the transcript or scorecard is printed as a rich
``Text`` (never parsed as markup), so a quote like ``[bold]`` or a control
character cannot restyle or corrupt the terminal.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from qa.reports.scorecard_html import _Linker, _order, _when, load_page_settings
from qa.reports.text import clean_text, clock, role_label, shorten
from qa.types import Scorecard, Transcript

STATUS_STYLES = {"pass": "bold green", "partial": "bold yellow", "fail": "bold red", "n/a": "dim"}
ROLE_STYLES = {"agent": "blue", "customer": "dark_orange", "unknown": "grey50"}


def _stage(code: str | None, table: dict) -> Text:
    if not code:
        return Text("—", style="dim")
    names = table.get(code) or {}
    zh, en = clean_text(names.get("zh", "")), clean_text(names.get("en", ""))
    if zh and code in zh:  # a class given in Chinese (普通): show its full name once
        code, zh = zh, ""
    label = " ".join(x for x in (zh, en) if x)
    return Text.assemble((clean_text(code), "bold"), (f" {label}" if label else "", ""))


def print_scorecard(scorecard: Scorecard, transcript: Transcript, console: Console) -> None:
    """Header line, item table (status, points, first evidence quote with role and mm:ss), warnings, stages."""
    settings = load_page_settings()
    meta = scorecard.meta or transcript.meta
    bands = settings["score_bands"]
    score_style = ("bold green" if scorecard.score >= bands["good"]
                   else "bold yellow" if scorecard.score >= bands["fair"] else "bold red")
    header = Text.assemble(
        ("Call ", "dim"), (clean_text(scorecard.call_id), "bold"),
        *([("  agent ", "dim"), (clean_text(meta.agent_id), "")] if meta and meta.agent_id else []),
        *([("  team ", "dim"), (clean_text(meta.team), "")] if meta and meta.team else []),
        *([("  ", ""), (_when(meta.started_at), "")] if meta and meta.started_at else []),
        ("  ", ""), (clean_text(scorecard.language), ""),
        ("  ", ""), (clock(transcript.duration), ""),
        ("  score ", "dim"), (f"{scorecard.score:g}/100", score_style),
        ("  rubric ", "dim"), (clean_text(scorecard.rubric_version), "dim"),
    )
    console.print(header)

    table = Table(show_header=True, header_style="bold", expand=True, pad_edge=False)
    table.add_column("Item", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("First evidence", ratio=1, no_wrap=True, overflow="ellipsis")  # one line per item
    links = _Linker(transcript)
    for item in sorted(scorecard.items, key=lambda i: _order(i.id, settings)):
        status = Text(item.status.upper(), style=STATUS_STYLES.get(item.status, ""))
        if item.auto_fail:
            status.append(" auto-fail", style="red")
        points = "—" if item.status == "n/a" else f"{item.points:g}/{item.max_points:g}"
        if item.evidence:
            ev = item.evidence[0]
            quote = Text.assemble(
                (links.at(ev.start, ev.end, ev.text).clock, "cyan"), (" ", ""),
                (role_label(ev.role), ROLE_STYLES.get(ev.role, "")), (" “", ""),
                (shorten(clean_text(ev.text), settings["quote_chars"]), ""), ("”", ""),
            )
            if len(item.evidence) > 1:
                quote.append(f"  (+{len(item.evidence) - 1} more)", style="dim")
        else:
            quote = Text(clean_text(item.reason), style="dim")
        table.add_row(Text(clean_text(item.id), style="bold"), status, points, quote)
    console.print(table)

    console.print(Text.assemble(
        ("Peak stage ", "dim"), _stage(scorecard.peak_stage, settings["stages"]),
        ("   final stage ", "dim"), _stage(scorecard.final_stage, settings["stages"]),
        ("   class ", "dim"), _stage(scorecard.complaint_class, settings["classes"]),
    ))
    if scorecard.warnings:
        body = Text("\n").join(Text("• " + clean_text(w)) for w in scorecard.warnings)
        console.print(Panel(body, title="check by ear", title_align="left", border_style="yellow", expand=True))
