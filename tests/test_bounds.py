"""Rate-distortion calculators, bits-to-spikes maps, the minimal-T search, bounds cells."""

import numpy as np
import pytest

from analyses import bounds
from analyses.claims.bounds import (bounds_cell, fit_exponents, minimal_spikes,
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


def test_minimal_T_indices_searches_each_curve_as_minimal_T_does():
    """The vectorised search lands where the one-curve search does, on curves that are not
    monotone (so the doubling and bisection path matters), with NaN errors and one eps per
    curve; crossing_T_many interpolates log-log from where it lands."""
    rng = np.random.default_rng(4)
    candidates = bounds.candidate_steps(1 << 10, per_octave=4)
    errors = np.exp(rng.normal(0, 1.5, (len(candidates), 300))) / np.sqrt(candidates)[:, None]
    errors[rng.random(errors.shape) < 0.02] = np.nan
    eps = rng.choice([0.01, 0.05, 0.2, 1.0], errors.shape[1])
    found = bounds.minimal_T_indices(errors, candidates, eps)
    T_many, censored_many = bounds.crossing_T_many(errors, candidates, eps)
    lookup = {int(t): k for k, t in enumerate(candidates)}
    for j in range(errors.shape[1]):
        expected = bounds.minimal_T(lambda t: errors[lookup[t], j], eps[j], candidates)
        assert found[j] == (-1 if expected is None else lookup[expected])
        k = lookup.get(expected, -1)
        assert censored_many[j] == (k == 0)
        if k > 0:  # log-log interpolation between the checkpoint before and the one found
            above, below = np.log(errors[k - 1, j]), np.log(max(errors[k, j], 1e-12))
            share = (above - np.log(eps[j])) / (above - below)
            expected_T = candidates[k - 1] * (candidates[k] / candidates[k - 1]) ** share
            assert T_many[j] == pytest.approx(expected_T, rel=1e-12, nan_ok=True)
        else:
            assert T_many[j] == (candidates[0] if k == 0 else pytest.approx(np.nan, nan_ok=True))
    assert (found == -1).any() and (found == 0).any() and (found > 0).any()


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
        assert np.abs(target_values(X, L, "range")).max() <= L
        assert np.abs(target_values(X, L, "frequency")).max() <= 1.0


def test_bounds_cell_gives_the_codes_scaling(seed):
    """A small cell with spike-coded inputs: the fitted exponents over eps match the codes'
    analytic maps within 0.3 (stochastic 2, deterministic 1), the stochastic L exponent is 2,
    and every spike is counted (inputs and layer emit about equally many)."""
    import pandas as pd

    cell = bounds_cell(2, 2, "quick", seed, "numpy")
    assert len(cell["T"]) == len(bounds.candidate_steps(16384))
    total = np.array(cell["spikes_stochastic"])[-1]
    inputs = np.array(cell["input_spikes_stochastic"])[-1]
    assert np.all(total / inputs == pytest.approx(2.0, rel=0.02))
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
    worst = minimal_spikes(cells, (0.2, 0.1, 0.05), criterion="worst")
    # the worst case over coordinates and seeds is never reached sooner than the RMS
    assert (worst.T_star.fillna(np.inf).values >= table.T_star.values).all()
    with pytest.raises(ValueError, match="'criterion' must be one of"):
        minimal_spikes(cells, (0.2,), criterion="max")


def _run_layer(code, X, steps, seed):
    from circuits.arithmetic import STEP
    from circuits.deep_sets import decode_layer, deep_sets_layer, layer_inputs
    from evsim import simulate

    trials, n, d = X.shape
    values, initial = layer_inputs(code, X, STEP, np.random.default_rng(seed))
    record = simulate(deep_sets_layer(code, n, d), {"input/values": values}, steps * STEP,
                      trials=trials, seed=seed, dt=STEP, initial=initial)
    return decode_layer(record.counts["mix"][-1], steps).reshape(trials, n, d), \
        ((X + 1) / 2).reshape(trials, n * d)


def test_deterministic_deep_sets_layer_is_exact_to_a_few_spikes(seed):
    """Sigma-delta inputs are within 1 spike of p T; the weights into each counter sum to 1, the
    counter lags by at most one step and one unit, so |count - (h + 1) T / 2| <= 3 and
    |h_hat - h| <= 6 / T."""
    X = np.random.default_rng(seed).uniform(-1, 1, (20, 3, 4))
    h = (X + X.mean(axis=1, keepdims=True)) / 2
    decoded, _ = _run_layer("deterministic", X, 300, seed)
    assert np.abs(decoded - h).max() <= 6 / 300


def test_stochastic_deep_sets_layer_has_the_propagated_variance(seed):
    """Bernoulli inputs: the counter's count is sum_j w_j count_j up to the +-3 of the
    deterministic test, so Var(h_hat) = 4 sum_j w_j^2 p_j (1 - p_j) / T. The pooled mean of
    the squared error over 400 coordinates is within 15 % of that (its relative SE is about
    7 %: chi-square-like with ~400 terms)."""
    n, d, steps = 4, 1, 400
    X = np.random.default_rng(seed).uniform(-1, 1, (100, n, d))
    h = (X + X.mean(axis=1, keepdims=True)) / 2
    decoded, p = _run_layer("stochastic", X, steps, seed)
    p = p.reshape(X.shape)
    w_other, w_self = 0.5 / n, 0.5 + 0.5 / n
    var_p = p * (1 - p)
    predicted = 4 * ((w_self ** 2 - w_other ** 2) * var_p
                     + w_other ** 2 * var_p.sum(axis=1, keepdims=True)) / steps
    assert np.mean((decoded - h) ** 2) == pytest.approx(predicted.mean(), rel=0.15)


def test_deep_sets_layer_rejects_bad_input():
    from circuits.deep_sets import deep_sets_layer, layer_inputs

    with pytest.raises(ValueError, match="'code' must be one of"):
        deep_sets_layer("timing", 2, 2)
    with pytest.raises(ValueError, match="'code' must be one of"):
        layer_inputs("timing", np.zeros((1, 2, 2)), 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'n'"):
        deep_sets_layer("stochastic", 0, 2)


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
