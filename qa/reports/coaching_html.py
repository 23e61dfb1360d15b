"""A coaching report as one self-contained HTML page plus CSV exports.

The page carries its plots as base64 PNGs (matplotlib's Agg renderer, no
pyplot state) and its CSS inline, so it can be mailed or opened from a share
without a network; a Content-Security-Policy forbids anything external. All
text goes through Jinja2 autoescaping: agent ids and quotes come from outside.
Plots are labelled with course IDs and English titles only, so they render
without CJK fonts; the Chinese course words are in the HTML text.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qa.intake.transcript_io import write_atomic
from qa.reports.coaching.records import CoachingReport
from qa.reports.coaching.tables import report_tables

__all__ = ["HTML_NAME", "TEMPLATE_DIR", "render_html", "render_plots", "write_report"]

HTML_NAME = "coaching.html"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "coaching.html.j2"

PASS, PARTIAL, FAIL = "#2e7d32", "#f2a900", "#c62828"
AGENT, TEAM, NEUTRAL = "#1f5fa8", "#9aa5b1", "#cfd6de"
LINE_COLOURS = ("#c62828", "#1f5fa8", "#6a3d9a", "#e07b00", "#00838f")
#: Characters that make a spreadsheet treat a CSV cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------- plots
def _figure(report: CoachingReport, height: float, half: bool = False) -> Figure:
    """A figure as wide as the page (or half of it, so half-width plots keep readable text)."""
    width = report.settings.plots.width * (0.5 if half else 1.0)
    fig = Figure(figsize=(width, height), dpi=report.settings.plots.dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def _pct_axis(ax: Any, axis: str = "y") -> None:
    ticks = [0, 0.25, 0.5, 0.75, 1.0]
    labels = [f"{int(t * 100)}%" for t in ticks]
    if axis == "y":
        ax.set_ylim(-0.02, 1.05)
        ax.set_yticks(ticks, labels)
        ax.grid(axis="y", color="#e5e8ec", linewidth=0.8)
    else:
        ax.set_xlim(0, 1.0)
        ax.set_xticks(ticks, labels)
        ax.grid(axis="x", color="#e5e8ec", linewidth=0.8)
    ax.set_axisbelow(True)


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def plot_items(report: CoachingReport) -> str | None:
    """Every item's verdicts as one bar of pass / partial / fail shares of its applicable calls."""
    items = [it for it in report.items if it.counts.applicable]
    if not items:
        return None
    fig = _figure(report, 0.27 * len(items) + 0.9)
    ax = fig.add_subplot()
    labels = [f"{it.item_id}  {_short(it.words.title_en)}" for it in items]
    y = list(range(len(items)))[::-1]
    left = [0.0] * len(items)
    for name, colour, part in (("pass", PASS, lambda c: c.passed), ("partial", PARTIAL, lambda c: c.partial),
                               ("fail", FAIL, lambda c: c.failed)):
        widths = [part(it.counts) / it.counts.applicable for it in items]
        ax.barh(y, widths, left=left, color=colour, label=name, height=0.7)
        left = [a + b for a, b in zip(left, widths)]
    for yy, it in zip(y, items):
        ax.text(1.01, yy, f"n={it.counts.applicable}", va="center", fontsize=8, color="#555")
    ax.set_yticks(y, labels)
    _pct_axis(ax, "x")
    _tidy(ax)
    ax.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return _png(fig)


def plot_weak_trend(report: CoachingReport) -> str | None:
    """Weekly pass rate of each weak item; a week without applicable calls is a gap."""
    if not report.weakest or not report.weeks:
        return None
    fig = _figure(report, 3.2)
    ax = fig.add_subplot()
    x = list(range(len(report.weeks)))
    for k, w in enumerate(report.weakest):
        rates = [c.pass_rate if c.pass_rate is not None else math.nan for _, c in w.item.weekly]
        ax.plot(x, rates, marker="o", linewidth=2, color=LINE_COLOURS[k % len(LINE_COLOURS)],
                label=f"{w.item.item_id}  {_short(w.item.words.title_en, 30)}")
    ax.set_xticks(x, [f"{wk.label}\n{wk.monday:%d %b}" for wk in report.weeks])
    ax.set_xlim(-0.3, len(x) - 0.7)
    _pct_axis(ax)
    ax.set_ylabel("pass rate", fontsize=9)
    _tidy(ax)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(3, len(report.weakest)), frameon=False,
              fontsize=9)
    return _png(fig)


def plot_score_trend(report: CoachingReport) -> str | None:
    """Mean call score per week (line) over the number of calls that week (bars)."""
    if not report.weeks or not report.calls:
        return None
    fig = _figure(report, 2.4)
    ax = fig.add_subplot()
    x = list(range(len(report.weeks)))
    bars = ax.twinx()
    bars.bar(x, [w.calls for w in report.weeks], color=NEUTRAL, width=0.55, label="calls")
    bars.set_ylabel("calls", fontsize=9, color="#666")
    bars.tick_params(labelsize=8, colors="#666")
    bars.set_ylim(0, max(w.calls for w in report.weeks) * 1.6 or 1)
    bars.yaxis.get_major_locator().set_params(integer=True)
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    means = [w.mean_score if w.mean_score is not None else math.nan for w in report.weeks]
    ax.plot(x, means, marker="o", linewidth=2.2, color=AGENT, label="mean score")
    for xx, m in zip(x, means):
        if not math.isnan(m):
            ax.annotate(f"{m:.1f}", (xx, m), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("mean score", fontsize=9)
    ax.set_xticks(x, [f"{wk.label}\n{wk.monday:%d %b}" for wk in report.weeks])
    ax.grid(axis="y", color="#e5e8ec", linewidth=0.8)
    _tidy(ax)
    bars.spines["top"].set_visible(False)
    return _png(fig)


def plot_stages(report: CoachingReport) -> str | None:
    """How many calls peaked at and ended in each complaint stage."""
    st = report.stages
    if not st.calls:
        return None
    labels = list(dict.fromkeys(list(st.peak) + list(st.final)))
    fig = _figure(report, 3.0, half=True)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    ax.bar([v - 0.2 for v in x], [st.peak.get(k, 0) for k in labels], width=0.4, color=FAIL, label="peak stage")
    ax.bar([v + 0.2 for v in x], [st.final.get(k, 0) for k in labels], width=0.4, color=AGENT,
           label="final stage")
    ax.set_xticks(x, labels)
    ax.set_ylabel("calls", fontsize=9)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", color="#e5e8ec", linewidth=0.8)
    ax.set_axisbelow(True)
    _tidy(ax)
    ax.legend(frameon=False, fontsize=9)
    return _png(fig)


def plot_agent_vs_team(report: CoachingReport) -> str | None:
    """The agent's pass rate (blue) beside the team's (grey), item by item; red joins where the agent is behind."""
    items = [it for it in report.items if it.comparison is not None
             and it.counts.applicable and it.comparison.applicable]
    if report.scope.kind != "agent" or not items:
        return None
    fig = _figure(report, 0.27 * len(items) + 0.9)
    ax = fig.add_subplot()
    y = list(range(len(items)))[::-1]
    for yy, it in zip(y, items):
        mine, team = it.counts.pass_rate, it.comparison.pass_rate
        ax.plot([mine, team], [yy, yy], color=FAIL if mine < team else "#b8c2cc", linewidth=2.5, zorder=1)
    ax.scatter([it.comparison.pass_rate for it in items], y, s=46, color=TEAM, zorder=2,
               label="all teams" if report.scope.compare_all else "team")
    ax.scatter([it.counts.pass_rate for it in items], y, s=46, color=AGENT, zorder=3, label="this agent")
    ax.set_yticks(y, [f"{it.item_id}  {_short(it.words.title_en, 34)}" for it in items])
    _pct_axis(ax, "x")
    ax.set_xlim(-0.03, 1.03)
    _tidy(ax)
    ax.legend(ncols=2, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return _png(fig)


def render_plots(report: CoachingReport) -> dict[str, str | None]:
    """Each plot as a ``data:`` URI, or None when there is nothing to draw."""
    return {
        "item_shares": plot_items(report),  # not "items": Jinja would find dict.items
        "weak_trend": plot_weak_trend(report),
        "score_trend": plot_score_trend(report),
        "stages": plot_stages(report),
        "agent_vs_team": plot_agent_vs_team(report),
    }


# ---------------------------------------------------------------- HTML
def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mmss(second: int | None) -> str:
    return "" if second is None else f"{second // 60:d}:{second % 60:02d}"


def _signed_points(value: float | None) -> str:
    if value is None:
        return ""
    return "no change" if round(value * 100) == 0 else f"{value * 100:+.0f} pts"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, num=_num, mmss=_mmss, signed=_signed_points)
    return env


def render_html(report: CoachingReport, plots: dict[str, str | None] | None = None) -> str:
    return _environment().get_template(TEMPLATE).render(**page_context(report, plots))


def page_context(report: CoachingReport, plots: dict[str, str | None] | None = None) -> dict[str, Any]:
    """What the coaching template reads (the web workspace renders it inside its own page too)."""
    bands = report.settings.bands

    def band(rate: float | None) -> str:
        if rate is None:
            return "none"
        return "good" if rate >= bands.good else "poor" if rate < bands.poor else "mid"

    return {"r": report, "s": report.scope, "plots": plots if plots is not None else render_plots(report),
            "band": band}


def template_filters() -> dict[str, Any]:
    return dict(_environment().filters)


# ---------------------------------------------------------------- files
def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas in text cells (an agent id "=HYPERLINK(...)" stays text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    # A byte-order mark, so spreadsheet programs read the Chinese titles as UTF-8.
    return "\ufeff" + buf.getvalue()


def write_report(report: CoachingReport, out_dir: Path) -> list[Path]:
    """Write ``coaching.html`` and the CSVs (items, weekly, agents, examples, stages) atomically.

    CSVs are UTF-8 with a byte-order mark; rates have 4 decimals, scores 2.
    Returns the paths written, the HTML first.
    """
    out_dir = Path(out_dir)
    written = []
    html_path = out_dir / HTML_NAME
    write_atomic(html_path, render_html(report))
    written.append(html_path)
    for name, (header, rows) in report_tables(report).items():
        path = out_dir / name
        write_atomic(path, _csv_text(header, rows))
        written.append(path)
    return written
