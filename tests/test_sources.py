"""Bernoulli and Poisson sources against binomial statistics at a fixed seed."""

import numpy as np
import pytest
from brian2 import Hz, ms
from scipy import stats

from evsim import Circuit, models, simulate


def source_circuit(model):
    circuit = Circuit("source")
    circuit.add_population("src", model, 4)
    circuit.add_input("in", "src")
    return circuit


@pytest.mark.parametrize("model, value, p", [
    (models.bernoulli_source(), 0.05, 0.05),
    (models.poisson_source(), 200 * Hz, 200 * 0.1e-3),
])
def test_counts_follow_binomial(model, value, p, seed):
    trials, steps = 500, 2000
    record = simulate(source_circuit(model), {"in": value}, steps * 0.1 * ms, trials=trials,
                      seed=seed)
    counts = record.counts["src"][-1].ravel()  # 2000 independent Binomial(steps, p) draws
    # mean: 99.9% two-sided interval of the mean of n binomial counts
    sd_mean = np.sqrt(steps * p * (1 - p) / counts.size)
    assert abs(counts.mean() - steps * p) < 3.3 * sd_mean
    # variance: chi-square interval for the sample variance (normal approximation is fine here)
    ratio = counts.var(ddof=1) / (steps * p * (1 - p))
    low, high = stats.chi2.ppf([0.0005, 0.9995], counts.size - 1) / (counts.size - 1)
    assert low < ratio < high
    # whole distribution: chi-square goodness of fit to Binomial(steps, p), binned on quantiles
    edges = np.unique(stats.binom.ppf(np.linspace(0, 1, 11)[1:-1], steps, p))
    observed = np.bincount(np.searchsorted(edges, counts, side="right"), minlength=len(edges) + 1)
    cdf = stats.binom.cdf(edges - 1, steps, p)
    expected = np.diff(np.concatenate([[0], cdf, [1]])) * counts.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_poisson_rate_above_one_per_step_is_rejected():
    with pytest.raises(ValueError, match=r"input 'rate' must lie in \[0, 1/dt\]"):
        simulate(source_circuit(models.poisson_source()), {"in": 20000 * Hz}, 10 * ms)


def test_bernoulli_probability_out_of_range_is_rejected():
    with pytest.raises(ValueError, match=r"input 'p' must lie in \[0, 1\]"):
        simulate(source_circuit(models.bernoulli_source()), {"in": 1.5}, 10 * ms)
