"""attention.universal: targets, equivariant floor, first-order floor, ridge read-out, the
spiking set network's exact equivariance and SDSA layer (against a NumPy replay). The rule on
synthetic tables: tests/test_universal_rules.py."""

import itertools

import numpy as np
import pytest

from analyses.claims.universal import (FAMILIES, draw_target, equivariant_projection,
                                       first_order_projection, others_given_sum, residual_fits,
                                       ridge_fit, target_values, universal_rule)
from circuits.arithmetic import STEP
from circuits.set_network import (equivariance_mismatches, network_inputs, readout_features,
                                  set_network)
from evsim import ValidationError, simulate


# -- targets and the equivariant floor ----------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_targets_are_equivariant_except_the_control(family):
    rng = np.random.default_rng(0)
    target = draw_target(family, 2, rng)
    X = rng.uniform(-1, 1, (20, 4, 2))
    perm = rng.permutation(4)
    while (perm == np.arange(4)).all():
        perm = rng.permutation(4)
    equal = np.allclose(target_values(target, X[:, perm]), target_values(target, X)[:, perm])
    assert equal == (family != "control")


def test_projection_keeps_equivariant_maps_and_makes_the_control_equivariant():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (30, 4, 2))
    plain = draw_target("attention", 2, rng)
    assert np.allclose(equivariant_projection(lambda x: target_values(plain, x), X),
                       target_values(plain, X))
    control = draw_target("control", 2, rng)
    projected = equivariant_projection(lambda x: target_values(control, x), X)
    for perm in itertools.permutations(range(4)):
        perm = list(perm)
        again = equivariant_projection(lambda x: target_values(control, x), X[:, perm])
        assert np.allclose(again, projected[:, perm])
    # a real floor: the control is far from its best equivariant approximation
    y = target_values(control, X)
    assert np.sqrt(((projected - y) ** 2).sum() / ((y - y.mean((0, 1))) ** 2).sum()) > 0.3


def test_projection_of_the_neighbour_map_is_the_mean_over_other_tokens():
    X = np.random.default_rng(2).uniform(-1, 1, (5, 4, 1))
    projected = equivariant_projection(lambda x: np.roll(x, -1, axis=-2), X)
    expected = (X.sum(1, keepdims=True) - X) / 3
    assert np.allclose(projected, expected)


def test_ridge_recovers_a_linear_map():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(400, 5))
    W = rng.normal(size=(5, 2))
    predicted, penalty = ridge_fit(F[:300], F[:300] @ W + 0.5, F[300:])
    assert np.allclose(predicted, F[300:] @ W + 0.5, atol=1e-2)
    assert penalty <= 1e-2


# -- the spiking set network --------------------------------------------------------------------

def _small_network(source="bernoulli"):
    return set_network(3, 2, (2, 5), rng=np.random.default_rng(4), source=source)


@pytest.mark.slow  # test_sdsa_layer_matches_a_numpy_replay_spike_for_spike runs by default
def test_set_network_is_exactly_equivariant_in_spike_counts():
    network = _small_network("replay")
    rng = np.random.default_rng(5)
    steps, sets = 24, 2
    spikes = (rng.random((steps, sets, 3, 2)) < 0.5).astype(float)
    perms = np.array([[2, 0, 1], [1, 2, 0]])
    permuted = np.stack([spikes[:, s][:, perms[s]] for s in range(sets)], axis=1)
    record = simulate(network.circuit, network_inputs(network, spikes=np.concatenate(
        [spikes, permuted], axis=1)), steps * STEP, trials=2 * sets, seed=1, dt=STEP,
        target="numpy")
    mismatches, compared = equivariance_mismatches(network, record.counts, perms)
    assert mismatches == 0 and compared > 0
    for name in ("hidden2_w5", "attn_w5", "mask_w5"):  # the comparison is not vacuous
        assert record.counts[name][-1].sum() > 0, name
    # the check can fail: the same counts against the wrong permutations
    assert equivariance_mismatches(network, record.counts, perms[::-1])[0] > 0


def test_sdsa_layer_matches_a_numpy_replay_spike_for_spike():
    """kv[t] = K AND V of hidden1 at t-1; mask = SpikingJelly LIF (tau 2, V_th 0.5, hard reset)
    of sum_j kv[t-1]; attn[t] = hidden1[t-3] (Q, delayed 2 steps) AND mask[t-1]."""
    network = _small_network()
    n, width, steps = 3, 5, 60
    X = np.random.default_rng(8).uniform(-1, 1, (2, n, 2))
    record = simulate(network.circuit, network_inputs(network, X), steps * STEP, trials=2,
                      seed=3, dt=STEP, target="numpy", record_spikes=True)
    h1 = record.raster("hidden1_w5").reshape(2, steps, n, width)
    w = network.weights[width]
    kv = np.zeros_like(h1)
    kv[:, 1:] = h1[:, :-1][..., w["key"]] & h1[:, :-1][..., w["value"]]
    mask = np.zeros((2, steps, width), bool)
    v = np.zeros((2, width))
    for t in range(1, steps):
        h = v / 2 + kv[:, t - 1].sum(1) / 2
        mask[:, t] = h >= 0.5
        v = np.where(mask[:, t], 0.0, h)
    attn = np.zeros_like(h1)
    attn[:, 3:] = h1[:, :-3] & mask[:, 2:-1, None, :]
    assert np.array_equal(record.raster("kv_w5").reshape(kv.shape), kv)
    assert np.array_equal(record.raster("mask_w5"), mask)
    assert np.array_equal(record.raster("attn_w5").reshape(attn.shape), attn)
    assert 0 < attn.sum() < h1.sum()  # gated: neither silent nor a copy of Q


@pytest.mark.slow
def test_set_network_mixing_layer_computes_the_token_mean_and_features_line_up():
    network = _small_network()
    X = np.random.default_rng(6).uniform(-1, 1, (2, 3, 2))
    steps = 200
    record = simulate(network.circuit, network_inputs(network, X), steps * STEP, trials=2,
                      seed=2, dt=STEP, target="numpy")
    inputs = record.counts["input"][-1].reshape(2, 3, 2)
    mix = record.counts["mix0"][-1].reshape(2, 3, 2)
    # counters lag the mean by the last step in flight and the unfired remainder (< 2)
    assert np.all(np.abs(mix - inputs.mean(1, keepdims=True)) < 2)
    features = readout_features(network, record.counts, 5, [steps])
    assert features.shape == (1, 2, 3, 2 + 2 + 4 * 5)
    assert network.first_layer_columns(5) == 2 + 2 + 5
    assert np.allclose(features[0, ..., :2], inputs / steps)
    # the same weights serve every token (and each width has its own distinct units)
    assert set(network.weights) == {2, 5}
    assert network.weights[5]["A"].shape == (5, 2)


def test_set_network_rejects_bad_input():
    with pytest.raises(ValidationError, match="widths"):
        set_network(3, 2, (4, 4), rng=np.random.default_rng(0))
    with pytest.raises(ValidationError, match="source"):
        set_network(3, 2, (4,), rng=np.random.default_rng(0), source="poisson")
    network = _small_network()
    with pytest.raises(ValidationError, match="X"):
        network_inputs(network, np.full((1, 3, 2), 2.0))


# -- the first-order projection and the higher-order residual -----------------------------------

def test_others_given_sum_is_the_uniform_law_on_the_slice(seed):
    rng = np.random.default_rng(seed)
    total = np.array([[2.8, -0.3], [0.0, 0.0]])
    draws = others_given_sum(total, 3, 4000, rng)
    assert draws.shape == (2, 4000, 3, 2)
    assert np.allclose(draws.sum(2), total[:, None]) and np.abs(draws).max() <= 1
    # two others summing to 0: x_1 ~ U[-1, 1] (Kolmogorov-Smirnov against the uniform law)
    from scipy.stats import kstest
    pair = others_given_sum(np.zeros((1, 1)), 2, 4000, rng)[0, :, 0, 0]
    assert kstest(pair, "uniform", args=(-1, 2)).pvalue > 0.001
    # three others summing to 0: on the slice x_1 has density (2 - |x|) / 3 on [-1, 1], so
    # P(|x_1| < 1/2) = 7/12; a 99.9 % binomial interval
    first = others_given_sum(np.zeros((1, 1)), 3, 4000, rng)[0, :, 0, 0]
    inside = (np.abs(first) < 0.5).mean()
    assert abs(inside - 7 / 12) < 3.3 * np.sqrt(7 / 12 * 5 / 12 / 4000)


def test_first_order_projection_is_exact_for_deep_sets_and_leaves_a_residual_otherwise(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (30, 4, 2))
    targets = {f: draw_target(f, 2, rng) for f in ("deep_sets", "moments", "attention")}
    projection, error = first_order_projection(targets, X, rng=rng, samples=400)
    y = {k: target_values(t, X) for k, t in targets.items()}
    assert np.allclose(projection["deep_sets"], y["deep_sets"])  # a function of (x_i, mean x)
    assert np.allclose(error["deep_sets"], 0, atol=1e-12)
    for name in ("moments", "attention"):
        residual = y[name] - projection[name]
        assert residual.std() > 10 * np.sqrt((error[name] ** 2).mean())


def test_residual_is_predicted_by_the_moment_and_not_by_first_order_features(seed):
    """Features of (x_i, mean_j x_j) alone predict none of the residual (its NRMSE does not
    fall as such features are added: the rule says refuted); adding more and more of the
    target's own nonlinear moment units predicts more and more of it (not refuted)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (400, 4, 2))
    t = draw_target("moments", 2, rng)
    projection, _ = first_order_projection({"moments_1": t}, X, rng=rng, samples=300)
    residual = {"moments_1": target_values(t, X) - projection["moments_1"]}
    pooled = np.broadcast_to(X.mean(1, keepdims=True), X.shape)
    first = np.concatenate([X, pooled, X ** 2, pooled ** 2, X * pooled], -1)
    moment = np.broadcast_to(np.tanh(X @ t["G"].T + t["g"]).mean(1, keepdims=True),
                             X.shape[:2] + (len(t["g"]),))
    noise = rng.normal(0, 0.01, first.shape[:2] + (12,))
    shallow = {w: np.concatenate([first, noise[..., :w]], -1) for w in (2, 6, 12)}
    deep = {w: np.concatenate([first, moment[..., :w]], -1) for w in (2, 4, 8)}
    results = [residual_fits(features, residual, 300, first.shape[-1], seed=seed,
                             resamples=200)["moments_1"] for features in (shallow, deep)]
    assert results[0]["width_slope"][1][1] >= 0 and results[1]["width_slope"][1][1] < 0
    assert results[1]["network"][8][1][1] < 1.0
    assert results[0]["first_layer"][1][1] >= 1.0
    falls = [[-0.3, -0.1]] * 2
    verdicts = [universal_rule(falls, (r["width_slope"][1], 0.0), True, False)
                for r in results]
    assert verdicts == ["refuted", "partial"]
