"""Plot helpers: return Axes, survive float round-off, write PDF and PNG at column width."""

import matplotlib.pyplot as plt
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
