"""Slope fits and bootstrap CIs on synthetic data with known answers."""

import numpy as np
import pytest

from analyses.stats import bootstrap_ratio, bootstrap_slope, loglog_slope


def test_loglog_slope_exact_power_law():
    x = np.array([16, 32, 64, 128])
    assert loglog_slope(x, 3 * x ** -0.5) == pytest.approx((-0.5, np.log(3)))


@pytest.mark.parametrize("true_slope", [-0.5, -1.0])
def test_bootstrap_ci_covers_true_slope(true_slope):
    rng = np.random.default_rng(11)
    T = np.geomspace(16, 1024, 7)
    noise = rng.lognormal(0, 0.3, (len(T), 6, 40))
    errors = 0.5 * T[:, None, None] ** true_slope * noise / np.exp(0.3 ** 2 / 2)
    fit = bootstrap_slope(T, errors, seed=1)
    assert fit["ci95"][0] < true_slope < fit["ci95"][1]
    assert fit["ci95"][1] - fit["ci95"][0] < 0.1


def test_bootstrap_ratio_of_identical_samples_is_one():
    values = np.random.default_rng(2).exponential(size=(5, 30))
    fit = bootstrap_ratio(values, values)
    assert fit["ratio"] == pytest.approx(1) and fit["ci95"] == pytest.approx([1, 1])

