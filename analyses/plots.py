"""Plot helpers in one paper style. Each takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from evsim.errors import ValidationError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["STYLE", "SINGLE_COLUMN", "DOUBLE_COLUMN", "paper_style", "figure", "save_figure",
           "log_log", "panel_grid", "category_ticks",
           "legend_beside", "legend_above", "figure_legend", "text_faults", "series_clashes", "legend_faults",
           "RULE_GREY", "rule_band", "rule_line", "slope_band", "mark_decisive",
           "TextFault", "plot_fi_curve",
           "plot_raster", "plot_psth", "plot_isi", "plot_states"]

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


def series_clashes(fig) -> list[str]:
    """Pairs of labelled series in one Axes (lines, error bars, scatters) drawn with the same
    colour, marker and line style, which a reader cannot tell apart, as "'a' looks like 'b'"."""
    from matplotlib.colors import to_hex

    clashes = []
    for ax in fig.axes:
        seen = {}
        for handle, label in zip(*ax.get_legend_handles_labels()):
            line = handle[0] if isinstance(handle, tuple) else handle
            line = getattr(line, "lines", [line])[0] if hasattr(line, "lines") else line
            if not hasattr(line, "get_marker"):
                continue  # patches (bars, bands) differ by colour alone, as drawn
            look = (to_hex(line.get_color()), str(line.get_marker()), str(line.get_linestyle()))
            if look in seen and seen[look] != label:
                clashes.append(f"'{label}' looks like '{seen[look]}'")
            seen.setdefault(look, label)
    return clashes


#: points sampled along each segment of a line when looking for data under a legend
SEGMENT_SAMPLES = 16


def _data_points(ax) -> np.ndarray:
    """Display coordinates (k, 2) of the points ``ax`` draws as data: its lines (vertices and
    points along each segment), scatters and error bars."""
    from matplotlib.collections import LineCollection, PathCollection

    points = []
    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy) > 1:
            fraction = np.linspace(0, 1, SEGMENT_SAMPLES)[:, None, None]
            xy = (xy[:-1] + fraction * (xy[1:] - xy[:-1])).reshape(-1, 2)
        points.append(xy)
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and collection.get_visible():
            points.append(collection.get_offset_transform().transform(collection.get_offsets()))
        elif isinstance(collection, LineCollection) and collection.get_visible():
            transform = collection.get_transform()
            points += [transform.transform(np.asarray(seg, float))
                       for seg in collection.get_segments() if len(seg)]
    points = [p for p in points if len(p)]
    return np.concatenate(points) if points else np.empty((0, 2))


def _bars(ax) -> list:
    """Display boxes of the bars of ``ax`` (rectangles in data coordinates); bands (axvspan,
    whose rectangles span the axes) are backgrounds and are left out."""
    from matplotlib.patches import Rectangle

    return [patch.get_window_extent() for patch in ax.patches
            if isinstance(patch, Rectangle) and patch.get_visible()
            and all(patch.get_transform().contains_branch_seperately(ax.transData))]


def legend_faults(fig) -> list[str]:
    """Legends drawn over data: "legend of 'title' covers data" for each Axes whose legend box
    (shrunk by 2 pixels) holds a point of a line, scatter or error bar of the same Axes, or
    overlaps one of its bars. Legends outside the axes (bbox_to_anchor past the edge,
    fig.legend) pass."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    faults = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer).padded(-2)
        xy = _data_points(ax)
        covered = ((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0)
                   & (xy[:, 1] < box.y1)).any()
        if covered or any(box.overlaps(bar) for bar in _bars(ax)):
            faults.append(f"legend of '{ax.get_title() or ax.get_ylabel()}' covers data")
    return faults


def save_figure(fig, directory, stem: str) -> list[str]:
    """Save ``fig`` as vector PDF (TrueType fonts) and PNG; returns the two file names.
    With :data:`CHECK_TEXT` set, a figure with :func:`text_faults`, :func:`series_clashes`
    or :func:`legend_faults` raises TextFault."""
    if CHECK_TEXT:
        faults = text_faults(fig) + series_clashes(fig) + legend_faults(fig)
        if faults:
            plt.close(fig)
            raise TextFault(f"figure '{stem}': " + "; ".join(faults[:10]))
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
                       gridspec_kw=dict(hspace=0.9, wspace=0.35), squeeze=False, **subplots)
    panels = []
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            axes[i][j].set_title(f"{column} ({row})", fontsize=6)
            panels.append((axes[i][j], row, column))
    return fig, axes, panels


def category_ticks(ax, labels, fontsize: float = 5):
    """One vertical x tick label per category (layer, model): rotated labels never overlap
    their neighbours."""
    ax.set_xticks(np.arange(len(labels)), [str(label) for label in labels], rotation=90,
                  fontsize=fontsize)
    return ax


def legend_beside(ax, **legend):
    """The legend of ``ax`` to the right of its axes, top-aligned: never over its data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), **legend)


def legend_above(ax, ncols: int = 2, **legend):
    """The legend of ``ax`` just above its axes in ``ncols`` columns (for an untitled Axes:
    a title would collide, which :func:`text_faults` reports)."""
    return ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), ncols=ncols,
                     borderaxespad=0, **legend)


def figure_legend(fig, ax, ncols: int = 2, **legend):
    """One legend for a grid of panels, with the entries of ``ax`` (or of several Axes, the
    first entry of each label), centred above the top row (the figure is saved with a tight
    bounding box, which takes it in)."""
    entries = {}
    for one in np.ravel(ax if isinstance(ax, (list, tuple, np.ndarray)) else [ax]):
        for handle, label in zip(*one.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    return fig.legend(list(entries.values()), list(entries), loc="lower center",
                      bbox_to_anchor=(0.5, 1.0), ncols=ncols, **legend)


#: the grey of a rule's band (light, behind the data) on every claim figure
RULE_GREY = "0.85"


def rule_band(ax, low: float, high: float, label: str, **style):
    """The band [low, high] a claim's rule holds the plotted quantity to, shaded behind the
    data across the axes; ``label`` says what the rule asks ("rule: within 5%")."""
    return ax.axhspan(low, high, **{"color": RULE_GREY, "zorder": 0, "lw": 0, "label": label,
                                    **style})


def rule_line(ax, value: float, label: str, **style):
    """A rule's one-sided threshold on the plotted quantity, a dashed grey line across the
    axes; ``label`` says which side passes ("rule: d >= -0.02")."""
    return ax.axhline(value, **{"color": "0.45", "ls": "--", "lw": 0.8, "label": label,
                                **style})


def slope_band(ax, x, x0: float, y0: float, slopes, label: str, **style):
    """On log-log axes, the wedge of power laws y0 (x / x0)^s for s between the two
    ``slopes`` (a rule's band on a fitted slope): shaded, edged in grey, above other shaded
    areas (confidence bands) and below the data's lines."""
    x = np.asarray(x, float)
    low, high = (y0 * (x / x0) ** s for s in slopes)
    return ax.fill_between(x, np.minimum(low, high), np.maximum(low, high),
                           **{"facecolor": RULE_GREY, "edgecolor": "0.45", "lw": 0.6,
                              "zorder": 1.5, "label": label, **style})


def mark_decisive(ax, x, y, label: str = "decides the verdict", **style):
    """A black ring around the measured point(s) that decided a claim's verdict (the largest
    T, the worst unit, ...); one legend entry."""
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    return ax.plot(x, y, **{"marker": "o", "ls": "none", "mfc": "none", "ms": 8, "mew": 1.0,
                            "color": "k", "zorder": 5, "label": label, **style})[0]


class TextFault(AssertionError):
    """A figure draws text over other text, text its clip box cuts off, or two series a reader
    cannot tell apart."""


#: when True, :func:`save_figure` refuses a figure with :func:`text_faults` (tests set it)
CHECK_TEXT = False


def text_faults(fig) -> list[str]:
    """What is wrong with the texts drawn on ``fig`` (titles, labels, tick labels, legends,
    annotations): pairs whose boxes overlap by more than a pixel each way ("'a' overlaps
    'b'") and texts cut off by their clip box ("'a' is clipped"). Empty: nothing. Text past
    the canvas is no fault: figures are saved with a tight bounding box."""
    from matplotlib.text import Text

    drawn, original = [], Text.draw

    def record(text, renderer):
        original(text, renderer)
        if text.get_visible() and text.get_text().strip():
            clip = text.get_clip_box() if text.get_clip_on() else None
            drawn.append((text.get_text().replace("\n", " ")[:40],
                          text.get_window_extent(renderer), clip))

    Text.draw = record
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    faults = [f"'{name}' is clipped" for name, box, clip in drawn
              if clip is not None and (box.x0 < clip.x0 - 1 or box.x1 > clip.x1 + 1
                                       or box.y0 < clip.y0 - 1 or box.y1 > clip.y1 + 1)]
    return faults + [f"'{a}' overlaps '{b}'" for i, (a, box_a, _) in enumerate(drawn)
                     for b, box_b, _ in drawn[i + 1:]
                     if min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 1
                     and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 1]


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
                label="analytic rate")
        spread = [mean - table["rate_hz_min"].to_numpy()[order],
                  table["rate_hz_max"].to_numpy()[order] - mean]
        ax.errorbar(drive, mean, yerr=np.clip(spread, 0, None),  # clip float round-off
                    fmt="o", mfc="none", label="simulated (mean, trial range)")
        ax.set_xlabel("drive current I (nA)")
        ax.set_ylabel("firing rate (Hz)")
        if dt_ms is not None:
            ax.set_title(f"exact LIF, dt = {dt_ms:g} ms")
        ax.legend(loc="lower right")  # an f-I curve is concave and rising: its lower right is free
    return ax


def plot_raster(table, ax=None, sizes: dict | None = None, time: str = "time_ms",
                xlabel: str = "time (ms)"):
    """Spike raster of populations stacked bottom to top, one colour each, labelled on the y
    axis. ``table``: one row per spike with columns population, neuron and ``time`` (e.g.
    :meth:`evsim.record.SpikeRecord.spike_table` of one trial). ``sizes``: population ->
    neurons (the order and height of the blocks; default: the table's order, up to its
    largest neuron)."""
    with paper_style():
        ax = ax or plt.gca()
        if sizes is None:
            sizes = {p: int(rows["neuron"].max()) + 1
                     for p, rows in table.groupby("population", sort=False)}
        offset, ticks = 0, []
        for index, (population, size) in enumerate(sizes.items()):
            rows = table[table["population"] == population]
            ax.plot(rows[time], rows["neuron"] + offset, "|", ms=2, color=f"C{index % 10}")
            ticks.append(offset + (size - 1) / 2)
            offset += size
            ax.axhline(offset - 0.5, color="0.85", lw=0.5)
        ax.set_yticks(ticks, list(sizes))
        ax.set(xlabel=xlabel, ylabel="population (neurons stacked)", ylim=(-0.5, offset - 0.5))
    return ax


def plot_psth(record, population: str, bin, ax=None):
    """Peri-stimulus time histogram: the population rate (spikes per neuron per second) in
    bins of ``bin`` (a Brian2 time), mean over trials with its standard error shaded."""
    from brian2 import Hz, second

    rates = np.asarray(record.population_rate(population, bin=bin) / Hz)  # (trials, bins)
    width_ms = float(bin / second) * 1e3
    edges = np.arange(rates.shape[1] + 1) * width_ms
    mean = rates.mean(axis=0)
    sem = rates.std(axis=0, ddof=1) / np.sqrt(len(rates)) if len(rates) > 1 else 0 * mean
    with paper_style():
        ax = ax or plt.gca()
        ax.stairs(mean, edges, baseline=None, color="C0", label=f"mean of {len(rates)} trial(s)")
        ax.stairs(mean + sem, edges, baseline=mean - sem, fill=True, color="C0", alpha=0.25,
                  label="standard error")
        ax.set(xlabel="time (ms)", ylabel=f"{population} rate (Hz)")
    return ax


def plot_isi(record, population: str, bins: int = 30, ax=None):
    """Histogram of the inter-spike intervals (ms) of every neuron and trial of
    ``population``, with their coefficient of variation in the title."""
    table = record.spike_table([population]).sort_values(["trial", "neuron", "time_ms"])
    same = (np.diff(table["trial"]) == 0) & (np.diff(table["neuron"]) == 0)
    intervals = np.diff(table["time_ms"].to_numpy())[same]
    with paper_style():
        ax = ax or plt.gca()
        ax.hist(intervals, bins=bins, color="C0")
        cv = intervals.std() / intervals.mean() if len(intervals) > 1 else float("nan")
        ax.set(xlabel="inter-spike interval (ms)", ylabel="intervals",
               title=f"{population}: {len(intervals)} intervals, CV {cv:.2f}")
    return ax


def plot_states(record, population: str, variable: str, neurons=(0,), trial: int = 0, ax=None):
    """Traces of a recorded state ``variable`` (``simulate(..., record_states=...)``) of some
    recorded ``neurons`` (positions in the recording) of one ``trial``, in its unit."""
    values = record.states[population][variable]
    unit = values.get_best_unit() if hasattr(values, "get_best_unit") else None
    times = np.asarray(record.state_times) * 1e3
    with paper_style():
        ax = ax or plt.gca()
        for neuron in neurons:
            ax.plot(times, np.asarray(values[:, trial, neuron] / (unit or 1)), lw=0.8,
                    label=f"neuron {neuron}")
        ax.set(xlabel="time (ms)",
               ylabel=f"{population}.{variable}" + ("" if unit is None else f" ({unit})"))
    return ax
