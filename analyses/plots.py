"""Plot helpers in one paper style. Each takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from evsim.errors import ValidationError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["STYLE", "SINGLE_COLUMN", "DOUBLE_COLUMN", "paper_style", "figure", "save_figure",
           "log_log", "panel_grid", "plot_fi_curve"]

STYLE = Path(__file__).with_name("evsim.mplstyle")
SINGLE_COLUMN = 3.3  # inches
DOUBLE_COLUMN = 6.9  # inches


def paper_style():
    """Context manager applying the evsim paper style (``with paper_style(): ...``)."""
    return plt.style.context(STYLE)


def figure(width: str = "single", height: float = 2.4, **subplots):
    """A new figure in the paper style at journal column width (``"single"`` or ``"double"``)."""
    widths = {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}
    if width not in widths:
        raise ValidationError("width", f"parameter 'width' must be one of {tuple(widths)}, got "
                                       f"{width!r}")
    with paper_style():
        return plt.subplots(figsize=(widths[width], height), **subplots)


def save_figure(fig, directory, stem: str) -> list[str]:
    """Save ``fig`` as vector PDF (TrueType fonts) and PNG; returns the two file names."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"{stem}.pdf", f"{stem}.png"]
    with paper_style():
        for name in names:
            fig.savefig(directory / name)
    plt.close(fig)
    return names


def log_log(ax, xlabel: str, ylabel: str):
    """Log-log axes with labels and without cluttered minor tick labels; returns the Axes."""
    from matplotlib.ticker import NullFormatter

    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    return ax


def panel_grid(rows, columns, height: float, **subplots):
    """A double-column figure with one titled panel per (row, column) label pair (e.g. task x
    architecture); returns (fig, axes, [(ax, row, column), ...])."""
    fig, axes = figure("double", height, nrows=len(rows), ncols=len(columns),
                       gridspec_kw=dict(hspace=0.7), squeeze=False, **subplots)
    panels = []
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            axes[i][j].set_title(f"{column} ({row})", fontsize=6)
            panels.append((axes[i][j], row, column))
    return fig, axes, panels


def plot_fi_curve(table, ax=None, dt_ms: float | None = None):
    """Simulated (markers, trial range as bars) vs analytic (line) LIF f-I curve.

    ``table`` columns: drive_nA, rate_hz_mean, rate_hz_min, rate_hz_max, analytic_hz.
    """
    with paper_style():
        ax = ax or plt.gca()
        order = np.argsort(table["drive_nA"].to_numpy())
        drive = table["drive_nA"].to_numpy()[order]
        mean = table["rate_hz_mean"].to_numpy()[order]
        ax.plot(drive, table["analytic_hz"].to_numpy()[order], "-", color="0.3",
                label="analytic  1/(t_ref + tau ln(RI/(RI - V_th)))")
        spread = [mean - table["rate_hz_min"].to_numpy()[order],
                  table["rate_hz_max"].to_numpy()[order] - mean]
        ax.errorbar(drive, mean, yerr=np.clip(spread, 0, None),  # clip float round-off
                    fmt="o", mfc="none", label="simulated (mean, trial range)")
        ax.set_xlabel("drive current I (nA)")
        ax.set_ylabel("firing rate (Hz)")
        if dt_ms is not None:
            ax.set_title(f"exact LIF, dt = {dt_ms:g} ms")
        ax.legend(loc="lower right")
    return ax
