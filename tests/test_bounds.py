"""Rate-distortion calculators, bits-to-spikes maps, the minimal-T search, bounds cells."""

import numpy as np
import pytest

from analyses import bounds
from analyses.claims.bounds import (bounds_cell, fit_exponents, half_range, minimal_spikes,
                                    target_values)


def test_gaussian_rate_closed_form():
    # 6.02 dB per bit: halving the distortion 4x costs exactly one bit
    assert bounds.gaussian_rate(1.0, 0.25) == pytest.approx(1.0)
    assert bounds.gaussian_rate(4.0, 1.0) == pytest.approx(1.0)
    assert bounds.gaussian_rate(1.0, 2.0) == 0.0  # D above the variance: no bits needed


def test_uniform_rate_bounds_bracket_and_gap():
    lower, upper = bounds.uniform_rate_bounds(1.0, 1e-4)
    assert lower <= upper
    # Shannon lower bound vs Gaussian upper bound differ by 1/2 log2(pi e / 6) = 0.2546 bits
    assert upper - lower == pytest.approx(0.5 * np.log2(np.pi * np.e / 6))


def test_lipschitz_bits_cover_the_output_range():
    # L r = 2, eps = 0.25: intervals of width 0.5 cover a range of 2 four times -> 2 bits
    assert bounds.lipschitz_bits(2.0, 1.0, 0.25) == pytest.approx(2.0)
    assert bounds.lipschitz_bits(0.0, 1.0, 0.25) == 0.0


def test_spike_maps_scale_as_stated():
    ratio = bounds.stochastic_count_spikes(2.0, 0.05) / bounds.stochastic_count_spikes(2.0, 0.1)
    assert ratio == pytest.approx(4.0)  # eps^-2
    ratio = bounds.deterministic_count_spikes(2.0, 0.05) / bounds.deterministic_count_spikes(2.0, 0.1)
    assert ratio == pytest.approx(2.0)  # eps^-1
    assert bounds.stochastic_count_spikes(4.0, 0.1) / bounds.stochastic_count_spikes(2.0, 0.1) \
        == pytest.approx(4.0)  # range^2
    assert bounds.timing_code_spikes(2.0, 0.01) == 1.0


def test_cramer_rao_matches_simulated_bernoulli_error(seed):
    """The stochastic map's T gives RMS error eps for p = 1/2 (within 3 % from 20,000 draws)."""
    w, eps, p = 2.0, 0.1, 0.5
    T = int(round(bounds.stochastic_count_spikes(w, eps, p) / p))
    counts = np.random.default_rng(seed).binomial(T, p, 20_000)
    rms = np.sqrt(np.mean(((counts / T - p) * w) ** 2))
    assert rms == pytest.approx(eps, rel=0.03)


def test_minimal_T_finds_known_threshold_on_monotone_curve():
    candidates = bounds.candidate_steps(1 << 14)
    visited = []

    def error(T):
        visited.append(T)
        return 3 / np.sqrt(T)

    found = bounds.minimal_T(error, 0.05, candidates)
    assert found == candidates[np.searchsorted(candidates, 3600)]  # first candidate >= 3600
    assert len(visited) < 25  # doubling + bisection, not a scan of 113 candidates
    assert bounds.minimal_T(error, 1e-4, candidates) is None  # never reached
    assert bounds.minimal_T(error, 10.0, candidates) == 1


@pytest.mark.parametrize("call, message", [
    (lambda: bounds.minimal_T(lambda T: 0.0, 0.0, [1, 2]), "'eps' must be finite and > 0"),
    (lambda: bounds.minimal_T(lambda T: 0.0, 0.1, [2, 1]), "'candidates' must be"),
    (lambda: bounds.stochastic_count_spikes(-1.0, 0.1), "'value_range' must be finite and >= 0"),
    (lambda: bounds.lipschitz_bits(-1.0, 1.0, 0.1), "'lipschitz' must be finite and >= 0"),
    (lambda: bounds.gaussian_rate(1.0, -0.1), "'distortion' must be finite and > 0"),
    (lambda: bounds.stochastic_count_spikes(1.0, 0.1, p=1.0), "'p' must lie in"),
    (lambda: target_values(np.zeros((2, 2)), 1.0, "nope"), "'family' must be one of"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_targets_have_the_stated_range_and_lipschitz_constant(seed):
    X = np.random.default_rng(seed).uniform(-1, 1, (500, 3, 4))
    for L in (0.5, 4.0):
        assert np.abs(target_values(X, L, "range")).max() <= half_range(L, "range")
        assert np.abs(target_values(X, L, "frequency")).max() <= half_range(L, "frequency")


def test_bounds_cell_gives_the_codes_scaling(seed):
    """A small cell: the deterministic code reaches eps = 0.05 with far fewer spikes, and
    the fitted exponents over L and eps match the codes' analytic maps within 0.3."""
    import pandas as pd

    cell = bounds_cell(2, 2, "quick", seed, "numpy")
    assert len(cell["T"]) == len(bounds.candidate_steps(8192))
    cells = pd.DataFrame([{"n": 2, "d": 2, **cell}])
    table = minimal_spikes(cells, (0.2, 0.1, 0.05))
    assert table.T_star.notna().all()
    range_scaled = table[table.family == "range"]
    for code, expected in (("stochastic", 2.0), ("deterministic", 1.0)):
        rows = range_scaled[range_scaled.code == code]
        slope = np.polyfit(np.log(1 / rows.eps), np.log(rows.spikes), 1)[0]
        assert abs(slope - expected) < 0.3, (code, slope)
    assert fit_exponents(range_scaled[range_scaled.code == "stochastic"])["L"] == \
        pytest.approx(2.0, abs=0.3)


def test_sigma_delta_rms_error_is_one_over_sqrt6_T(seed):
    """With a random initial phase, count - x T is -f or 1 - f (f = frac(x T)): variance
    f (1 - f), 1/6 on average over x, so RMS(count - x T) = 1/sqrt(6) = 0.408. From 2000
    values the RMS is within 5 % (its relative SE here is about 1.6 %)."""
    from circuits.encoders import encoder_inputs, sigma_delta_encoder
    from evsim import simulate
    from brian2 import ms

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (1, 2000))
    current, initial = encoder_inputs("sigma_delta", x, 1 * ms, rng=rng)
    record = simulate(sigma_delta_encoder(2000), {"values": current}, 37 * ms, dt=1 * ms,
                      initial=initial)
    error = record.counts["enc"][-1, 0] - x[0] * 37
    assert np.sqrt(np.mean(error ** 2)) == pytest.approx(1 / np.sqrt(6), rel=0.05)
    assert bounds.deterministic_count_spikes(2.0, 0.1, 0.5) == pytest.approx(
        0.5 * 2.0 / (np.sqrt(6) * 0.1))
