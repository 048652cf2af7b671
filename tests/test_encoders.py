"""Rate and sigma-delta encoders against their analytic error bounds."""

import numpy as np
import pytest
from brian2 import ms
from scipy import stats

from circuits.encoders import bernoulli_encoder, decode, encoder_inputs, sigma_delta_encoder
from evsim import simulate

STEPS, DT = 400, 0.1 * ms


def encode(kind, values, seed):
    factory = bernoulli_encoder if kind == "bernoulli" else sigma_delta_encoder
    value, initial = encoder_inputs(kind, values, DT, rng=np.random.default_rng(seed))
    record = simulate(factory(values.shape[1]), {"values": value}, STEPS * DT,
                      trials=values.shape[0], seed=seed, dt=DT, initial=initial)
    return record.counts["enc"][-1]


def test_sigma_delta_count_within_one_spike(seed):
    values = np.random.default_rng(seed).uniform(0, 1, (20, 8))
    counts = encode("sigma_delta", values, seed)
    assert np.all(np.abs(counts - values * STEPS) <= 1 + 1e-9)


def test_bernoulli_decoded_values_are_unbiased(seed):
    values = np.random.default_rng(seed).uniform(0.05, 0.95, (1, 6)).repeat(200, axis=0)
    decoded = decode(encode("bernoulli", values, seed), STEPS)
    # per value: mean of 200 trials within 4 standard errors of the binomial mean
    se = np.sqrt(values[0] * (1 - values[0]) / STEPS / 200)
    assert np.all(np.abs(decoded.mean(0) - values[0]) < 4 * se)
    z = (decoded.mean(0) - values[0]) / se
    assert stats.chi2.sf((z ** 2).sum(), 6) > 1e-3


@pytest.mark.parametrize("call, message", [
    (lambda: encoder_inputs("bernoulli", [[1.5]], DT), "parameter 'values' must be finite"),
    (lambda: encoder_inputs("phase", [[0.5]], DT), "parameter 'kind' must be"),
    (lambda: bernoulli_encoder(0), "parameter 'n' must be an integer >= 1"),
    (lambda: decode([1, 2], 0), "parameter 'steps' must be an integer >= 1"),
])
def test_bad_encoder_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_signed_range_codec_round_trips():
    from circuits.encoders import range_to_rate, rate_to_range

    y = np.array([-2.0, 0.0, 1.0, 2.0])
    p = range_to_rate(y, 2.0)
    np.testing.assert_allclose(p, [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(rate_to_range(p * 40, 40, 2.0), y)
    with pytest.raises(ValueError, match="'values' must lie in"):
        range_to_rate([3.0], 2.0)
