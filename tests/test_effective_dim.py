"""Effective-dimension estimators on synthetic data with known answers; datasets; C fit."""

import numpy as np
import pandas as pd
import pytest

from analyses import bounds
from analyses import effective_dim as ed
from analyses.datasets import DATASETS, load, power_law
from analyses.claims import design
from analyses.claims.design import FORMS, RULE, calibrate, rule_form


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


def _synthetic_grid(rng, exponents=FORMS[RULE], C=2.3, noise=0.1):
    grid = pd.DataFrame([dict(d=d, d_eff=e, L=L, eps=eps) for d in (16, 64) for e in (1, 4, 16)
                         for L in (0.5, 1, 2) for eps in (0.2, 0.1, 0.05)])
    grid["T_star"] = C * rule_form(grid.L, grid.d_eff, grid.d, grid.eps, exponents) * \
        np.exp(rng.normal(0, noise, len(grid)))
    grid["censored"] = False
    return grid


def test_calibration_recovers_a_known_constant(seed):
    """Synthetic minimal T = 2.3 x rule form x lognormal(0, 0.1) noise: the CI of C (whole
    configurations resampled) contains 2.3, the held-out R^2 is high, censored cells are left
    out, and the rule's verdict is supported (the wrong forms fit the left-out configurations
    far worse)."""
    grid = _synthetic_grid(np.random.default_rng(seed))
    result = calibrate(grid, seed=seed)
    assert result["ci95"][0] < 2.3 < result["ci95"][1]
    assert result["r2_held_out"] > 0.95
    assert result["configurations"] == 6 and result["cells"] == len(grid)
    censored = grid.assign(censored=grid.T_star < 3)
    assert calibrate(censored, seed=seed)["cells"] == len(grid) - int((grid.T_star < 3).sum())
    assert design.judge(grid, seed)[0] == "supported"


def test_held_out_validation_tells_a_wrong_form_from_the_rule(seed):
    """Data made by a wrong form (T ~ L d_eff / (d eps), i.e. a deterministic code): the rule
    misses the left-out configurations (R^2 < 0.9, refuted) while the true form fits them; and
    data made by the rule with C = 0.67 give partial (form right, constant off)."""
    rng = np.random.default_rng(seed)
    wrong = _synthetic_grid(rng, exponents=FORMS["wrong: L d_eff/(d eps)"], C=20.0)
    verdict, fit, r2 = design.judge(wrong, seed)
    assert verdict == "refuted" and fit["r2_held_out"] < 0.9
    assert r2["wrong: L d_eff/(d eps)"] > 0.95
    assert design.judge(_synthetic_grid(rng, C=0.67), seed)[0] == "partial"


def test_crossing_T_interpolates_between_checkpoints():
    """On an exact power law error = 2 / sqrt(T), the crossing of eps is (2 / eps)^2 whatever
    the grid; a curve already below eps at the first checkpoint is censored."""
    T = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    found, censored = bounds.crossing_T(2 / np.sqrt(T), T, 0.3)
    assert found == pytest.approx((2 / 0.3) ** 2) and not censored
    assert bounds.crossing_T(0.1 / np.sqrt(T), T, 0.3) == (1.0, True)
    assert bounds.crossing_T(2 / np.sqrt(T), T, 0.01) == (None, False)


def test_coverage_constant_matches_a_monte_carlo_of_the_pooled_code(seed):
    """q^2 from the Gaussian integral against simulated pooled Bernoulli errors at large T:
    the 95 % quantile of |2 (k/T - p)| / sqrt(1/T) over 200,000 draws (SE of the quantile
    about 0.5 %) squared is within 3 % of coverage_constant()."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, 200_000)
    T = 4000
    scaled = np.abs(2 * (rng.binomial(T, p) / T - p)) * np.sqrt(T)
    assert np.quantile(scaled, 0.95) ** 2 == pytest.approx(design.coverage_constant(), rel=0.03)


def test_free_exponents_recover_the_generating_form(seed):
    """Synthetic T from the sigma-delta-like form L (d_eff/d)^0.5 / eps with 10 % noise: the
    free fit finds (1, 0.5, 1) within its configuration-bootstrap CIs, not the rule's (2, 1, 2);
    and coverage_for_constant inverts coverage_constant."""
    grid = _synthetic_grid(np.random.default_rng(seed), exponents=(1, 0.5, 1), C=5.0)
    fit = design.free_exponents(grid, seed=seed)
    for name, expected in (("L", 1.0), ("d_eff/d", 0.5), ("1/eps", 1.0)):
        estimate, (low, high) = fit[name]
        assert low <= expected <= high and high < 2 * expected, (name, fit[name])
    assert design.coverage_constant(design.coverage_for_constant(2.3)) == pytest.approx(2.3)
