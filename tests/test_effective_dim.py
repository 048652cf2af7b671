"""Effective-dimension estimators on synthetic data with known answers; datasets; C fit."""

import numpy as np
import pandas as pd
import pytest

from analyses import effective_dim as ed
from analyses.datasets import DATASETS, load, power_law
from analyses.claims.design import calibrate, rule_form


def test_spectral_estimators_on_known_spectra():
    flat = np.ones(10)
    assert ed.participation_ratio(flat) == pytest.approx(10)
    assert ed.effective_rank(flat) == pytest.approx(10)
    assert ed.variance_count(flat, 0.9) == 9
    two = np.array([1.0, 1.0, 0.0, 0.0])
    assert ed.participation_ratio(two) == pytest.approx(2)
    assert ed.effective_rank(two) == pytest.approx(2)
    # water level 0.37 for budget 4 x 0.25 = 1: components 4 and 1 lie above it
    assert ed.waterfill_dimension(np.array([4, 1, 0.25, 0.01]), 0.5) == 2
    assert ed.waterfill_dimension(flat, 2.0) == 0  # budget above the total variance


def test_corrected_participation_ratio_removes_the_sample_bias(seed):
    """Isotropic Gaussian in Q = 200 dims, P = 100 samples: the plug-in PR is biased to
    ~1/(1/P + 1/Q) = 67 (Chun et al.); the U-statistic estimate's relative SD here is
    ~ sqrt(2/P) ~ 0.14 of the 1/PR term, so 10 % is a 1-sigma-safe bound at PR = 200."""
    X = np.random.default_rng(seed).normal(size=(100, 200))
    assert ed.participation_ratio(X=X) == pytest.approx(1 / (1 / 100 + 1 / 200), rel=0.1)
    assert ed.participation_ratio(X=X, corrected=True) == pytest.approx(200, rel=0.1)


def test_power_law_spectrum_is_recovered(seed):
    X = power_law(1.0, dim=64, samples=20000, seed=seed)
    lam = np.arange(1, 65) ** -1.0
    assert ed.participation_ratio(ed.spectrum(X)) == pytest.approx(
        ed.participation_ratio(lam), rel=0.05)


@pytest.mark.parametrize("dimension", [2, 5])
def test_intrinsic_dimension_of_a_linear_subspace(dimension, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, dimension)) @ rng.normal(size=(dimension, 40))
    assert ed.mle_dimension(X, 10) == pytest.approx(dimension, rel=0.15)
    assert ed.twonn_dimension(X) == pytest.approx(dimension, rel=0.15)


@pytest.mark.parametrize("call, message", [
    (lambda: ed.participation_ratio([]), "'eigenvalues' must be"),
    (lambda: ed.participation_ratio([-1.0, 2.0]), "'eigenvalues' must be"),
    (lambda: ed.variance_count([1.0], 1.5), "'q' must lie in"),
    (lambda: ed.waterfill_dimension([1.0], -1.0), "'eps' must be finite and > 0"),
    (lambda: ed.mle_dimension(np.zeros((10, 2)), 50), "'k' must be an integer"),
    (lambda: ed.spectrum(np.zeros((2, 3))), "'X' must be a finite"),
    (lambda: load("cifar10"), "unknown dataset 'cifar10'"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_offline_datasets_load_without_network():
    for name in ("digits", "wine", "image_patches"):
        X = load(name)
        assert X.ndim == 2 and np.all(np.isfinite(X))
    assert set(DATASETS) >= {"digits", "digit_rows", "image_patches"}


def test_calibration_recovers_a_known_constant(seed):
    """Synthetic minimal T = 2.3 x rule form x lognormal(0, 0.1) noise: the fitted C's CI must
    contain 2.3 and the held-out R^2 must be high (the form explains the spread)."""
    rng = np.random.default_rng(seed)
    grid = pd.DataFrame([dict(d=d, d_eff=e, L=L, eps=eps) for d in (16, 64) for e in (1, 4, 16)
                         for L in (0.5, 1, 2) for eps in (0.2, 0.1, 0.05)])
    grid["T_star"] = 2.3 * rule_form(grid.L, grid.d_eff, grid.d, grid.eps) * \
        np.exp(rng.normal(0, 0.1, len(grid)))
    result = calibrate(grid, seed=seed, floor=0)  # continuous synthetic T: nothing censored
    assert result["ci95"][0] < 2.3 < result["ci95"][1]
    assert result["r2_held_out"] > 0.95
    assert result["censored"] == 0
    assert result["cells_fit"] + result["cells_held_out"] == len(grid)
    floored = calibrate(grid.assign(T_star=np.maximum(grid.T_star, 1.0)), seed=seed)
    assert floored["censored"] == int((grid.T_star <= 1).sum())  # T at the floor is left out
