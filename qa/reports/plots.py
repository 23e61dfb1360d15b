"""The call's timeline as one PNG: who speaks when, speech rate, loudness and complaint stage.

Holds and dead air (K1) are shaded across every panel so a reviewer sees at a
glance where the customer waited and what their voice did around it. Uses
matplotlib's Agg canvas directly (no pyplot state, safe in threads and flows).
Labels are English and course IDs only, so the figure needs no CJK font.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from qa.reports.text import clock
from qa.types import Finding, Transcript, UtteranceAcoustics

ROLE_ORDER = ("agent", "customer", "unknown")
STAGE_LEVELS = {f"S{k}": k for k in range(0, 7)}  # S0: the customer shows no complaint signal
SHADED_KINDS = ("hold", "dead_air")
#: Time axis steps a reviewer reads easily (seconds): the smallest giving at most 12 ticks is used.
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
#: Beyond this many points a panel draws lines only (markers would merge into a smear).
MAX_MARKERS = 150


def _tick_step(duration: float) -> float:
    return next((step for step in TICK_STEPS if duration / step <= 12), TICK_STEPS[-1])


def _marker(n: int, size: float) -> float:
    return size if n <= MAX_MARKERS else 0.0


def _silence_span(f: Finding) -> tuple[float, float]:
    """Where the silence itself is: the tagger keeps it in detail (the finding starts at the announcement)."""
    start = f.detail.get("silence_start", f.start) if isinstance(f.detail, dict) else f.start
    end = f.detail.get("silence_end", f.end) if isinstance(f.detail, dict) else f.end
    try:
        return float(start), float(end)
    except (TypeError, ValueError):
        return f.start, f.end


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _label(ax: Any, text: str, x: float, y: float, duration: float, colour: str) -> None:
    """A point's label, to the left of it near the right edge so it is not cut off."""
    right = x > 0.85 * duration
    ax.annotate(text, (x, y), xytext=(-4 if right else 4, 5), textcoords="offset points", fontsize=8,
                color=colour, ha="right" if right else "left")


def timeline_png(
    transcript: Transcript,
    findings: list[Finding],
    acoustics: list[UtteranceAcoustics] | None,
    settings: dict[str, Any],
) -> str | None:
    """A data URI of the timeline figure, or None for a call without utterances."""
    utterances = transcript.utterances
    if not utterances:
        return None
    colours = settings["colours"]
    duration = max(transcript.duration, max(u.end for u in utterances), 1.0)
    roles = [r for r in ROLE_ORDER if any(u.role == r for u in utterances)]

    rates = [f for f in findings if f.id == "T-RATE" and f.kind == "rate" and _number(f.value) is not None]
    unit = next((f.detail.get("unit") for f in rates if isinstance(f.detail, dict) and f.detail.get("unit")), "")
    loud = []
    if acoustics and len(acoustics) == len(utterances):
        loud = [(u, a.loudness_db) for u, a in zip(utterances, acoustics) if a is not None and a.loudness_db is not None]
    stages = sorted((f for f in findings if f.kind == "stage" and str(f.value) in STAGE_LEVELS), key=lambda f: f.start)
    final = next((f for f in findings if f.kind == "final_stage" and str(f.value) in STAGE_LEVELS), None)
    shaded = [(f.kind, *_silence_span(f)) for f in findings if f.id == "K1" and f.kind in SHADED_KINDS]

    panels = ["speech"] + (["rate"] if rates else []) + (["loudness"] if loud else []) + (["stage"] if stages else [])
    heights = [0.55 + 0.3 * len(roles)] + [settings["panel_height_in"]] * (len(panels) - 1)
    fig = Figure(figsize=(settings["width_in"], sum(heights) + 0.75), dpi=settings["dpi"], layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]

    for ax, panel in zip(axes, panels):
        for kind, start, end in shaded:
            ax.axvspan(start, end, color=colours[kind], alpha=0.35 if kind == "hold" else 0.3, linewidth=0, zorder=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8.5)
        ax.grid(axis="y", color="#e5e8ec", linewidth=0.7)
        ax.set_axisbelow(True)

        if panel == "speech":
            for row, role in enumerate(roles):
                spans = [(u.start, u.duration) for u in utterances if u.role == role]
                ax.broken_barh(spans, (row - 0.32, 0.64), facecolors=colours[role], linewidth=0)
            ax.set_yticks(range(len(roles)), [r.capitalize() for r in roles])
            ax.set_ylim(len(roles) - 0.4, -0.6)
            ax.grid(False)
            ax.set_title("Who speaks when", loc="left", fontsize=10, color="#1d2733")
        elif panel == "rate":
            for role in roles:
                pts = [f for f in rates if f.role == role]
                if not pts:
                    continue
                ax.hlines([f.value for f in pts], [f.start for f in pts], [f.end for f in pts],
                          colors=colours[role], linewidth=3)
                ax.plot([(f.start + f.end) / 2 for f in pts], [f.value for f in pts], color=colours[role],
                        linewidth=0.8, alpha=0.6, marker="o", markersize=_marker(len(pts), 3), label=role.capitalize())
            ax.set_ylabel(unit or "rate", fontsize=8.5)
            ax.set_title("Speech rate per utterance (T-RATE)", loc="left", fontsize=10, color="#1d2733")
            ax.yaxis.set_major_locator(MaxNLocator(4))
        elif panel == "loudness":
            for role in roles:
                pts = [(u, db) for u, db in loud if u.role == role]
                if not pts:
                    continue
                ax.plot([(u.start + u.end) / 2 for u, _ in pts], [db for _, db in pts], color=colours[role],
                        linewidth=1.2, marker="o", markersize=_marker(len(pts), 3.5), label=role.capitalize())
            ax.set_ylabel("dB", fontsize=8.5)
            ax.set_title("Loudness per utterance (T-TONE)", loc="left", fontsize=10, color="#1d2733")
            ax.yaxis.set_major_locator(MaxNLocator(4))
        else:
            xs = [f.start for f in stages]
            ys = [STAGE_LEVELS[str(f.value)] for f in stages]
            if final is not None and final.start > xs[-1]:  # where the call ends up (S0: calm again)
                xs.append(final.start)
                ys.append(STAGE_LEVELS[str(final.value)])
                _label(ax, f"final S{ys[-1]}", xs[-1], ys[-1], duration, colours["stage"])
            ax.step(xs + [duration], ys + ys[-1:], where="post", color=colours["stage"], linewidth=1.8)
            ax.plot(xs, ys, "o", color=colours["stage"], markersize=_marker(len(xs), 4.5))
            peak = max(range(len(ys)), key=lambda k: (ys[k], -k))
            _label(ax, f"peak S{ys[peak]}", xs[peak], ys[peak], duration, colours["stage"])
            low = 0 if min(ys) == 0 else 1
            ax.set_ylim(low - 0.5, 6.7)
            ax.set_yticks(range(low, 7), ["none" if k == 0 else f"S{k}" for k in range(low, 7)])
            ax.set_title("Customer complaint stage (S1 latent \u2192 S6 escalation)", loc="left", fontsize=10,
                         color="#1d2733")

    axes[-1].set_xlim(0, duration)
    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: clock(x)))
    axes[-1].xaxis.set_major_locator(MultipleLocator(_tick_step(duration)))
    axes[-1].set_xlabel("time in the recording", fontsize=8.5)

    handles = [Patch(color=colours[r], label=r.capitalize()) for r in roles]
    for kind, label in (("hold", "hold"), ("dead_air", "dead air")):
        if any(k == kind for k, _, _ in shaded):
            handles.append(Patch(color=colours[kind], alpha=0.4, label=label))
    fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), frameon=False, fontsize=8.5)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
