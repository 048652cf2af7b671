"""Plot helpers: return Axes, survive float round-off, write PDF and PNG at column width."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from analyses.plots import figure, plot_fi_curve, save_figure


def test_fi_plot_tolerates_mean_rounded_below_min(tmp_path):
    table = pd.DataFrame({"drive_nA": [10.0, 20.0], "analytic_hz": [0.0, 19.5],
                          "rate_hz_mean": [0.0, 19.5 - 1e-13], "rate_hz_min": [0.0, 19.5],
                          "rate_hz_max": [0.0, 19.5]})
    fig, ax = figure("single")
    assert plot_fi_curve(table, ax=ax) is ax
    names = save_figure(fig, tmp_path, "fi")
    assert names == ["fi.pdf", "fi.png"]
    assert b"/FontFile2" in (tmp_path / "fi.pdf").read_bytes()  # TrueType fonts embedded


def test_figure_widths():
    fig, _ = figure("double", 2.0)
    assert fig.get_size_inches()[0] == pytest.approx(6.9)
    plt.close(fig)
    with pytest.raises(ValueError, match="parameter 'width' must be one of"):
        figure("triple")


def _record():
    import numpy as np
    from brian2 import Hz, ms, nA

    from evsim import Circuit, models, simulate

    c = Circuit("plots")
    c.add_population("src", models.poisson_source(), 5)
    c.add_population("cell", models.lif(synapse="current"), 2)
    c.connect("src", "cell", 2 * nA)
    c.add_input("rate", "src")
    c.add_input("drive", "cell")
    return simulate(c, {"rate": 300 * Hz, "drive": 15 * nA}, 200 * ms, trials=3, seed=5,
                    target="numpy", record_spikes=True,
                    record_states={"cell": ("v", "I_syn")}), np, ms


def test_raster_psth_isi_and_traces_draw_the_records_data():
    from analyses.plots import plot_isi, plot_psth, plot_raster, plot_states

    record, np, ms = _record()
    fig, axes = figure("double", 2.0, ncols=4)
    table = record.spike_table(trials=[0])
    assert plot_raster(table, axes[0], sizes={"src": 5, "cell": 2}) is axes[0]
    drawn = sum(len(line.get_xdata()) for line in axes[0].lines if line.get_marker() == "|")
    assert drawn == len(table) == record.counts["src"][-1, 0].sum() + record.counts["cell"][-1, 0].sum()
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["src", "cell"]
    assert plot_psth(record, "src", 20 * ms, axes[1]) is axes[1]
    heights = axes[1].patches[0].get_data()[0]  # the mean stairs
    assert np.allclose(heights, np.asarray(record.population_rate("src", bin=20 * ms)).mean(0))
    assert plot_isi(record, "cell", ax=axes[2]) is axes[2]
    intervals = sum(int(n) - 1 for n in record.counts["cell"][-1].ravel() if n > 0)
    assert sum(p.get_height() for p in axes[2].patches) == intervals > 0
    assert plot_states(record, "cell", "v", neurons=(0, 1), trial=2, ax=axes[3]) is axes[3]
    assert np.allclose(axes[3].lines[1].get_ydata() * 1e-3,
                       np.asarray(record.states["cell"]["v"][:, 2, 1]))
    assert axes[3].get_ylabel() == "cell.v (mV)"
    plt.close(fig)


def test_text_faults_finds_overlapping_and_clipped_text_and_passes_a_clean_figure(tmp_path,
                                                                                   monkeypatch):
    from analyses import plots

    fig, ax = figure("single", 2.0)
    ax.set(xlabel="x", ylabel="y", title="clean")
    assert plots.text_faults(fig) == []
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    ax.text(0.9, 0.5, "runs past the axes", transform=ax.transAxes, clip_on=True)
    faults = plots.text_faults(fig)
    assert "'first label' overlaps 'second label'" in faults
    assert "'runs past the axes' is clipped" in faults
    monkeypatch.setattr(plots, "CHECK_TEXT", True)
    with pytest.raises(plots.TextFault, match="figure 'faulty'"):
        save_figure(fig, tmp_path, "faulty")
    assert not (tmp_path / "faulty.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [c.id for c in __import__(
    "analyses.claims", fromlist=["all_claims"]).all_claims()])
def test_every_claim_figure_draws_no_overlapping_or_clipped_text(claim_id, tmp_path,
                                                                monkeypatch):
    from analyses import plots
    from analyses.claims import ClaimContext, get_claim

    claim = get_claim(claim_id)
    context = ClaimContext(scale="toy", seed=3, target="numpy",
                           cache_dir=str(tmp_path / "cache")).for_claim(claim.id)
    result = claim.run(context)
    monkeypatch.setattr(plots, "CHECK_TEXT", True)
    assert claim.plot(result.tables, tmp_path / "figures")  # raises TextFault on a fault


def test_series_clashes_finds_two_series_a_reader_cannot_tell_apart():
    from analyses import plots

    fig, ax = figure("single", 2.0)
    ax.plot([0, 1], [0, 1], "o-", color="C0", label="first")
    ax.plot([0, 1], [1, 0], "s-", color="C0", label="second")  # same colour, other marker
    assert plots.series_clashes(fig) == []
    ax.plot([0, 1], [0.5, 0.5], "o-", color="C0", label="third")
    assert plots.series_clashes(fig) == ["'third' looks like 'first'"]
    plt.close(fig)


def test_legend_faults_finds_a_legend_over_bars_or_a_line_and_passes_one_beside_them():
    from analyses import plots

    fig, ax = figure("single", 2.0)
    x = np.arange(8)
    ax.bar(x, [1, 2, 3, 2, 4, 3, 9, 9], label="bars")
    ax.axvspan(0, 3, color="0.9", label="band")  # a background band under a legend is allowed
    ax.legend(loc="upper left")
    assert plots.legend_faults(fig) == []
    ax.legend(loc="upper right")  # over the two tall bars
    assert plots.legend_faults(fig) == ["legend of '' covers data"]
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the axes
    assert plots.legend_faults(fig) == []
    plt.close(fig)
    fig, ax = figure("single", 2.0)
    ax.set_title("a line")
    ax.plot([0, 10], [0, 10], label="diagonal")  # two vertices: the segment itself is checked
    ax.legend(loc="upper left")
    assert plots.legend_faults(fig) == []
    ax.axhline(9.5, color="k")
    assert plots.legend_faults(fig) == ["legend of 'a line' covers data"]
    plt.close(fig)


def test_rule_marks_draw_the_rule_behind_the_data_and_ring_the_decisive_point():
    from analyses import plots

    fig, (ax, other) = figure("double", 2.0, ncols=2)
    ax.plot([1, 2, 4], [0.9, 1.0, 1.02], "o", label="ratio")
    band = plots.rule_band(ax, 0.95, 1.05, "rule: within 5%")
    line = plots.rule_line(ax, 0.9, "rule: above 0.9")
    ring = plots.mark_decisive(ax, 4, 1.02, "decides: largest T")
    assert band.get_zorder() < ax.lines[0].get_zorder() < ring.get_zorder()
    assert line.get_ydata()[0] == 0.9 and line.get_label() == "rule: above 0.9"
    assert ring.get_marker() == "o" and ring.get_markerfacecolor() == "none"
    assert list(ring.get_xydata()[0]) == [4, 1.02]
    wedge = plots.slope_band(other, [1, 10, 100], 10, 1.0, (-0.55, -0.45), "rule: slope")
    low, high = (wedge.get_paths()[0].vertices[:, 1].min(),
                 wedge.get_paths()[0].vertices[:, 1].max())
    assert np.isclose(low, 10 ** -0.55) and np.isclose(high, 0.1 ** -0.55)  # x / x0 = 10, 0.1
    other.plot([1, 100], [1, 0.1], label="ratio")  # a label both panels hold: listed once
    legend = plots.figure_legend(fig, [ax, other])
    assert [t.get_text() for t in legend.get_texts()] == [
        "ratio", "rule: within 5%", "rule: above 0.9", "decides: largest T", "rule: slope"]
    assert plots.series_clashes(fig) == [] and plots.text_faults(fig) == []
    plt.close(fig)
