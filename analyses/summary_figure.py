"""The one-page summary figure of a run: one row per claim with the paper's value, the estimate
and its 95% CI on the row's own scale, coloured by verdict, shaped by what decided it."""

from __future__ import annotations

import math

from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from .plots import figure, paper_style, save_figure
from .report import registration_flag

__all__ = ["VERDICT_INK", "BASIS_MARKERS", "draw_summary", "plot_summary"]

#: marker and text colour of each verdict: the saturated Okabe-Ito colours whose tints are
#: report_pages.VERDICT_COLOURS
VERDICT_INK = {"supported": "#009E73", "refuted": "#D55E00", "partial": "#E69F00",
               "not-testable": "#666666"}
#: marker of each decided_by value: (shape, filled)
BASIS_MARKERS = {"measured": ("o", True), "derived": ("s", False), "fixed": ("x", True)}
UNKNOWN_MARKER = ("D", False)

ROW_HEIGHT = 0.32  # inches per claim
TOP = 0.55  # inches above the rows, for the legend
BOTTOM = 0.25  # inches below the rows, for the last row's tick labels and the footnote
LABEL_WIDTH = 0.40  # fraction of the width left of the rows: claim id and statement
STATEMENT_CHARS = 64
PAPER_LINE = dict(color="0.15", linewidth=1.2)
#: the mark after the verdict of a claim whose rule is not the registered one, by status
REGISTRATION_MARKS = {"changed": "\u2020", "unregistered": "\u2021"}


def _finite(value) -> float | None:
    """``value`` as a float if it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _interval(ci95) -> tuple[float, float] | None:
    """The CI as (lo, hi) if both bounds are finite numbers, else None."""
    if not isinstance(ci95, (list, tuple)) or len(ci95) != 2:
        return None
    lo, hi = (_finite(v) for v in ci95)
    return None if lo is None or hi is None else (min(lo, hi), max(lo, hi))


def _x_range(values: list[float]) -> tuple[float, float]:
    """A padded x-range around ``values`` (one value or equal values get a range around them)."""
    lo, hi = min(values), max(values)
    pad = 0.12 * (hi - lo) if hi > lo else 0.1 * abs(lo) or 1.0
    return lo - pad, hi + pad


def _short(text: str, chars: int = STATEMENT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= chars else text[:chars - 1].rstrip() + "\u2026"


def _marker(decided_by, colour: str) -> dict:
    shape, filled = BASIS_MARKERS.get(decided_by, UNKNOWN_MARKER)
    return dict(marker=shape, markersize=5, markeredgewidth=1.1, color=colour,
                markerfacecolor=colour if filled else "white", linestyle="none")


def _registration_mark(entry: dict) -> str:
    return REGISTRATION_MARKS.get((entry.get("rule_registration") or {}).get("status"), "")


def _draw_row(ax, entry: dict) -> None:
    """One claim's row: the paper's value, the estimate with its CI, the verdict at the right."""
    colour = VERDICT_INK.get(entry.get("verdict"), "black")
    expected, estimate = _finite(entry.get("expected")), _finite(entry.get("estimate"))
    interval = _interval(entry.get("ci95")) if estimate is not None else None
    values = [v for v in (expected, estimate, *(interval or ())) if v is not None]
    if values:
        ax.set_xlim(*_x_range(values))
    if expected is not None:
        ax.axvline(expected, ymin=0.1, ymax=0.9, **PAPER_LINE)
    if interval is not None:
        ax.plot(interval, [0, 0], color=colour, linewidth=1.2, marker="|", markersize=6)
    if estimate is not None:
        ax.plot([estimate], [0], **_marker(entry.get("decided_by"), colour))
    else:
        ax.text(0.02, 0.5, "no estimate", transform=ax.transAxes, ha="left", va="center",
                fontsize=6, style="italic", color="0.35")
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="x", labelsize=5, length=2, pad=1)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    if not values:
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
    ax.text(1.03, 0.5, str(entry.get("verdict", "-")) + _registration_mark(entry),
            transform=ax.transAxes, ha="left", va="center", fontsize=7, fontweight="bold",
            color=colour)
    left = blended_transform_factory(ax.figure.transFigure, ax.transAxes)
    ax.text(0.0, 0.55, str(entry.get("id", "-")), transform=left, ha="left", va="bottom",
            fontsize=7, family="monospace")
    ax.text(0.0, 0.45, _short(entry.get("statement", "")), transform=left, ha="left",
            va="top", fontsize=5.5, color="0.3")


def _legend(fig, entries: list[dict]) -> None:
    """Two legends above the rows: verdict colours, and decided_by shapes with the paper's
    value."""
    verdicts = [Line2D([], [], **_marker("measured", ink), label=name)
                for name, ink in VERDICT_INK.items()]
    bases = list(BASIS_MARKERS) + \
        (["unknown"] if any(e.get("decided_by") not in BASIS_MARKERS for e in entries) else [])
    shapes = [Line2D([], [], **_marker(name, "0.2"), label=name) for name in bases]
    shapes.append(Line2D([], [], marker="|", markersize=8, linestyle="none",
                         markeredgewidth=PAPER_LINE["linewidth"], color=PAPER_LINE["color"],
                         label="paper's value"))
    anchor_y = 1 - 0.08 / fig.get_figheight()
    for handles, title, x, loc in ((verdicts, "colour: verdict", LABEL_WIDTH - 0.02,
                                    "upper right"),
                                   (shapes, "marker: decided by", LABEL_WIDTH + 0.02,
                                    "upper left")):
        fig.legend(handles=handles, title=title, loc=loc, bbox_to_anchor=(x, anchor_y),
                   ncol=len(handles), fontsize=6, title_fontsize=6.5, handletextpad=0.2,
                   columnspacing=0.9, borderaxespad=0)


def draw_summary(entries: list[dict]):
    """The summary figure of claims.json ``entries`` (one axes per claim, in entry order)."""
    rows = max(len(entries), 1)
    height = TOP + rows * ROW_HEIGHT + BOTTOM
    with paper_style():
        fig, axes = figure("double", height, nrows=rows, squeeze=False)
        fig.subplots_adjust(left=LABEL_WIDTH, right=0.86, top=1 - TOP / height,
                            bottom=BOTTOM / height, hspace=1.1)
        if not entries:
            axes[0][0].set_axis_off()
            axes[0][0].text(0.5, 0.5, "no claims in this run", ha="center", va="center",
                            transform=axes[0][0].transAxes)
            return fig
        for ax, entry in zip(axes[:, 0], entries):
            _draw_row(ax, entry)
        _legend(fig, entries)
        notes = sorted({f"{_registration_mark(e)} {registration_flag(e)}" for e in entries
                        if _registration_mark(e)})
        fig.text(0.0, 0.02 / height, "    ".join(notes), ha="left", va="bottom", fontsize=6)
    return fig


def plot_summary(entries: list[dict], directory) -> list[str]:
    """Write summary.pdf and summary.png of ``entries`` into ``directory``; returns the names."""
    return save_figure(draw_summary(entries), directory, "summary")
