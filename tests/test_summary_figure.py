"""The summary figure: one row per claim, robust to missing and non-finite numbers, colours and
markers that match the report's verdicts and decided_by values."""

from __future__ import annotations

import math

import pytest
from matplotlib.image import imread

from analyses.report import DECIDED_BY, VERDICTS
from analyses.report_pages import VERDICT_COLOURS
from analyses.summary_figure import BASIS_MARKERS, VERDICT_INK, draw_summary, plot_summary

def _entries(n: int) -> list[dict]:
    """``n`` claims cycling through verdicts and bases, with every kind of missing number."""
    numbers = [(1.0, 1.1, [0.9, 1.3]), (None, 40.0, [38.0, 45.0]), (2.3, None, None),
               (0.0, math.nan, [math.nan, 1.0]), (None, None, None), (-0.5, -0.52, None),
               (1e4, 1.2e4, [1.3e4, 1.1e4]), (math.inf, 3.0, "not an interval")]
    return [dict(id=f"family.claim_{i}", statement=f"claim {i}: H(X|Y) " + "long " * 30,
                 expected=expected, estimate=estimate, ci95=ci95, verdict=VERDICTS[i % 4],
                 decided_by=(*DECIDED_BY, None)[i % 4],
                 rule_registration={"status": {2: "changed", 5: "unregistered"}.get(i, "registered")})
            for i, (expected, estimate, ci95) in
            enumerate(numbers[i % len(numbers)] for i in range(n))]


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_one_row_per_claim_in_entry_order_with_its_verdict():
    entries = _entries(21)
    fig = draw_summary(entries)
    assert len(fig.axes) == len(entries)
    for ax, entry in zip(fig.axes, entries):
        assert entry["id"] in _texts(ax)
        assert any(t.startswith(entry["verdict"]) for t in _texts(ax))
    # rules not registered are marked, with a footnote
    assert "partial\u2020" in _texts(fig.axes[2]) and "refuted\u2021" in _texts(fig.axes[5])
    assert [t.get_text() for t in fig.texts] == [
        "\u2020 rule changed since registration: not yet registered    \u2021 rule not registered"]


def test_missing_or_non_finite_numbers_are_skipped_not_drawn():
    fig = draw_summary(_entries(8))
    no_estimate = [i for i, ax in enumerate(fig.axes) if "no estimate" in _texts(ax)]
    assert no_estimate == [2, 3, 4]
    for ax in fig.axes:
        for line in ax.lines:
            assert all(math.isfinite(v) for v in line.get_xdata())
        assert all(math.isfinite(v) for v in ax.get_xlim())


@pytest.mark.slow  # renders the 22-row summary figure
def test_plot_summary_writes_a_non_blank_png_and_a_pdf(tmp_path):
    assert plot_summary(_entries(21), tmp_path) == ["summary.pdf", "summary.png"]
    image = imread(tmp_path / "summary.png")
    assert image.std() > 0.05
    assert image.shape[0] > image.shape[1]  # 21 rows: taller than the 6.9 in width
    assert (tmp_path / "summary.pdf").stat().st_size > 1000


def test_no_claims_is_a_figure_not_an_error(tmp_path):
    assert plot_summary([], tmp_path) == ["summary.pdf", "summary.png"]


def test_colours_and_markers_cover_every_verdict_and_basis():
    from analyses.claims import base  # the claims' own lists

    assert set(VERDICT_INK) == set(VERDICT_COLOURS) == set(VERDICTS) == set(base.VERDICTS)
    assert set(BASIS_MARKERS) == set(DECIDED_BY) == set(base.DECIDED_BY)
