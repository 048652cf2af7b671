"""Softmax circuits S and D: convergence to softmax, invariances, the D invariant, bad input."""

import numpy as np
import pandas as pd
import pytest
from brian2 import Hz, ms, second
from scipy import stats

from analyses.convergence import (READOUT_START, errors, predicted_tv, run_softmax,
                                  score_vectors, settle_times)
from circuits.softmax import deterministic_softmax, score_inputs, softmax, stochastic_softmax
from evsim import simulate


def pooled_counts(kind, scores, trials, window, seed, **circuit_options):
    """Counts (trials, n) over ``window`` after the cold start has settled (READOUT_START)."""
    z = np.repeat(np.atleast_2d(scores), trials, axis=0)
    drive, initial = score_inputs(kind, z, rng=np.random.default_rng(seed))
    circuit = (stochastic_softmax if kind == "S" else deterministic_softmax)(z.shape[1],
                                                                            **circuit_options)
    end = READOUT_START + window
    record = simulate(circuit, {"scores": drive}, end, trials=trials, seed=seed,
                      initial=initial, checkpoints=[READOUT_START, end])
    return record.counts["exc"][1] - record.counts["exc"][0]


@pytest.mark.parametrize("scores", [[1.5, 0.0, -1.0, 0.5],
                                    pytest.param([0.7] * 4, marks=pytest.mark.slow)],
                         ids=["random", "all-equal"])
def test_stochastic_histogram_is_multinomial_softmax(scores, seed):
    counts = pooled_counts("S", scores, 40, 2.5 * second, seed).sum(axis=0)
    p = softmax(scores)
    total = counts.sum()
    assert total > 5000
    # every coordinate within 4 multinomial standard deviations (Bonferroni over 4: p ~ 2.5e-4)
    assert np.all(np.abs(counts / total - p) < 4 * np.sqrt(p * (1 - p) / total))
    assert stats.chisquare(counts, total * p).pvalue > 1e-3


@pytest.mark.slow
def test_shifting_scores_changes_nothing_after_the_cold_start_settles(seed):
    """The slow trace absorbs a shift of every score: once it has (by READOUT_START), the
    shifted circuit's effective hazards equal the unshifted one's, so with the same random
    numbers the spikes are identical. D's input encoding removes the shift itself."""
    scores = np.array([1.0, -0.5, 0.3, 2.0])
    for kind in ("S", "D"):
        base = pooled_counts(kind, scores, 5, 500 * ms, seed)
        shifted = pooled_counts(kind, scores + 3.0, 5, 500 * ms, seed)
        assert base.sum() > 100
        np.testing.assert_array_equal(base, shifted)


@pytest.mark.slow
def test_a_shift_that_is_not_a_multiple_of_the_slow_step_changes_nothing_in_distribution(seed):
    """c = 1.23 cannot be absorbed exactly in steps of eta = 0.05: the counts then differ spike
    for spike but not in distribution (chi-square homogeneity of the pooled histograms, totals
    within 4 SE of the controller's count spread)."""
    scores = np.array([1.0, -0.5, 0.3, 2.0])
    base = pooled_counts("S", scores, 20, 2 * second, seed)
    shifted = pooled_counts("S", scores + 1.23, 20, 2 * second, seed + 1)
    assert stats.chi2_contingency(np.stack([base.sum(0), shifted.sum(0)]))[1] > 1e-3
    assert abs(base.sum(1).mean() - shifted.sum(1).mean()) < 4 * 4.5 * np.sqrt(2 / 20)


@pytest.mark.slow
def test_without_inhibition_a_shift_changes_the_normalised_rates(seed):
    """Control: without the interneuron nothing absorbs the shift (or normalises the total):
    n_j / (R t) estimates exp(s_j) Hz / R, which a shift by 1 multiplies by e."""
    scores = np.array([1.0, -0.5, 0.3, 2.0])
    window = 2 * second
    for shift in (0.0, 1.0):
        counts = pooled_counts("S", scores + shift, 20, window, seed, inhibition=None).sum(0)
        expected = 20 * np.exp(scores + shift) * float(window / second)  # Poisson means
        assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))
    assert abs(np.exp(scores).sum() / 80 - 1) > 0.5  # so n_j/(R t) is far from softmax


@pytest.mark.parametrize("kind", ["S", "D"])
def test_the_initial_state_does_not_depend_on_the_scores(kind):
    """Cold start: the circuit is not handed a normaliser (or any score-dependent state)."""
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 1.5, (2, 3, 5))
    starts = [score_inputs(kind, s, rng=np.random.default_rng(1))[1]["exc"] for s in scores]
    assert starts[0].keys() == starts[1].keys()
    for name in starts[0]:
        np.testing.assert_array_equal(np.asarray(starts[0][name]), np.asarray(starts[1][name]))


@pytest.mark.slow
def test_the_controller_holds_the_population_count_at_rate_times_window(seed):
    """The circuit's own normalisation: N - R t = (change of the slow trace) / eta, whose
    spread is about 1/sqrt(eta) ~ 4.5 spikes whatever the window (here R t = 200)."""
    scores = np.random.default_rng(seed).normal(0, 1.5, 8)
    total = pooled_counts("S", scores, 40, 2.5 * second, seed).sum(1)
    deviation = total - 200
    assert abs(deviation.mean()) < 4 * 4.5 / np.sqrt(40) and deviation.std() < 8


def test_deterministic_counts_track_softmax_within_the_invariant_bound(seed):
    """n_j - p_j N = e_j - p_j sum_k e_k with e_k in (-1, 1]: |.| < (1 - p_j) + p_j (n - 1)."""
    vectors = score_vectors((4, 16), (1.0,), 2, seed)
    run = run_softmax("D", vectors, 3, [16, 64, 256, 1024], seed=seed)
    spikes = run.counts.sum(-1, keepdims=True)
    n = run.trials["n"].to_numpy()[:, None]
    bound = (1 - run.p) + run.p * (n - 1)
    deviation = np.abs(run.counts - run.p * spikes)
    assert np.all(deviation[:, run.p > 0] < bound[run.p > 0] + 1e-9)
    assert np.all(run.counts[:, run.p == 0] == 0)  # padded neurons stay silent


def test_prediction_matches_an_independent_multinomial_sampler():
    rng = np.random.default_rng(3)
    p = softmax(rng.normal(0, 1.5, 8))
    for spikes in (50, 1000):
        samples = rng.multinomial(spikes, p, size=20000) / spikes
        mean_tv = 0.5 * np.abs(samples - p).sum(-1).mean()
        assert mean_tv == pytest.approx(predicted_tv(p, spikes), rel=0.06 if spikes == 50 else 0.02)


def test_errors_table_on_known_counts():
    from analyses.convergence import SoftmaxRun

    counts = np.array([[[5, 5, 0]]])
    run = SoftmaxRun("S", np.array([12]), counts, np.array([1.0]), counts,
                     np.array([[0.5, 0.25, 0.25]]), 12.0, 1.0,
                     pd.DataFrame({"vector": [0], "seed": [0], "n": [3], "temperature": [1.0]}),
                     None)
    row = errors(run).iloc[0]
    assert row.N == 10 and row.tv == pytest.approx(0.25) and row.max_abs == pytest.approx(0.25)
    # circuit-normalised: n_j / T with T = 12 (not the measured 10)
    assert row.tv_circuit == pytest.approx(0.5 * (abs(5 / 12 - 0.5) + abs(5 / 12 - 0.25) + 0.25))
    assert row.kl == pytest.approx(0.5 * np.log(1.0) + 0.5 * np.log(0.5 / 0.25))


@pytest.mark.parametrize("call, message", [
    (lambda: score_inputs("S", [[0.0, 1.0]], temperature=-1.0),
     "parameter 'temperature' must be a number > 0"),
    (lambda: deterministic_softmax(1), "parameter 'n' must be an integer >= 2"),
    (lambda: stochastic_softmax(4, rate=500 * Hz), r"parameter 'rate' x dt must be <= 0.01"),
    (lambda: stochastic_softmax(4, inhibition="divisive"), "parameter 'inhibition' must be"),
    (lambda: score_inputs("X", [[0.0, 1.0]]), "parameter 'kind' must be 'S' or 'D'"),
    (lambda: score_inputs("S", [[np.nan, 1.0]]), "parameter 'scores' must be finite"),
])
def test_bad_softmax_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.slow
def test_windowed_race_gives_about_one_softmax_sample_per_window(seed):
    vectors = score_vectors((6,), (1.0,), 1, seed)
    run = run_softmax("S'", vectors, 20, [396], seed=seed)  # 396 expected winners: 400 windows
    counts = run.counts[0].sum(axis=0)[:6]
    spikes_per_window = run.counts[0].sum(-1) / 400
    # the slow trace holds 99% of windows filled; ties (two spikes in one step) are rare
    assert 0.97 < spikes_per_window.mean() < 1.05
    p = run.p[0, :6]
    assert stats.chisquare(counts, counts.sum() * p).pvalue > 1e-3


def test_windowed_race_rejects_bad_fill_and_too_short_windows():
    from circuits.softmax import windowed_softmax

    with pytest.raises(ValueError, match=r"parameter 'fill' must lie in \[0.5, 1\)"):
        windowed_softmax(4, fill=1.0)
    with pytest.raises(ValueError, match=r"parameter 'rate' x dt must be <= 0.01"):
        windowed_softmax(4, window=5 * ms)


def test_settle_time_is_the_start_of_the_last_run_inside_the_band():
    rates = pd.DataFrame({"n": 4, "temperature": 1.0, "start_s": [0.0, 0.05, 0.1, 0.15, 0.2],
                          "relative_rate": [0.3, 0.9, 1.3, 0.95, 1.1]})
    assert settle_times(rates, tolerance=0.2)["settle_s"].iloc[0] == pytest.approx(0.15)
    rates.loc[4, "relative_rate"] = 0.5  # still outside at the end: never settled
    assert np.isnan(settle_times(rates, tolerance=0.2)["settle_s"].iloc[0])
