"""attention.universal: targets, equivariant floor, ridge read-out, the spiking set network's
exact equivariance, and the rule on synthetic tables (each verdict it can reach)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from analyses.claims import get_claim
from analyses.claims.universal import (FAMILIES, draw_target, equivariant_projection,
                                       ridge_fit, target_values, universal_fits, universal_rule,
                                       universal_sensitivity, universal_verdict)
from circuits.arithmetic import STEP
from circuits.set_network import network_inputs, readout_features, set_network
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


def test_set_network_is_exactly_equivariant_in_spike_counts():
    network = _small_network("replay")
    rng = np.random.default_rng(5)
    steps, sets = 24, 2
    spikes = (rng.random((steps, sets, 3, 2)) < 0.5).astype(float)
    perm = np.array([2, 0, 1])
    permuted = spikes[:, :, perm]
    record = simulate(network.circuit, network_inputs(network, spikes=np.concatenate(
        [spikes, permuted], axis=1)), steps * STEP, trials=2 * sets, seed=1, dt=STEP,
        target="numpy")
    hidden = 0
    for name, counts in record.counts.items():
        c = counts[-1].reshape(2 * sets, 3, -1)
        assert np.array_equal(c[sets:], c[:sets][:, perm]), name
        if name.startswith("hidden"):
            hidden += c.sum()
    assert hidden > 0  # the hidden layers fire: the comparison is not vacuous


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
    assert features.shape == (1, 2, 3, 2 + 2 + 3 * 5)
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


# -- the rule on synthetic tables ---------------------------------------------------------------

def test_rule_reaches_partial_refuted_and_not_testable_only():
    falls = [[-0.3, -0.1]]
    assert universal_rule(falls, falls, [True], [True]) == "partial"
    assert universal_rule([[-0.3, 0.05]], falls, [True], [True]) == "refuted"
    assert universal_rule(falls, [[0.0, 0.2]], [True], [True]) == "refuted"
    assert universal_rule(falls, falls, [False], [True]) == "not-testable"
    assert universal_rule(falls, falls, [True], [False]) == "not-testable"
    assert universal_rule(falls, falls, [True], [True], equivariant=False) == "not-testable"
    assert universal_rule(falls, falls, [True], [True], slope_below=-0.2) == "refuted"
    assert "cannot reach supported" in get_claim("attention.universal").protocol


WIDTHS, TIMES, SETS = (4, 16, 64), (16, 32, 64, 128, 256), 40


def _tables(width_slope=-0.3, T_slope=-0.3, control_ratio=1.02, position_ratio=0.3,
            plateau_at=None, fixed_width_slope=None):
    """Synthetic errors: an equivariant target with NRMSE 0.2 (W/64)^width_slope
    (T/256)^T_slope (constant beyond ``plateau_at`` in T), a control at control_ratio x its
    floor 0.8, and a position-aware read-out at position_ratio x the floor."""
    rng = np.random.default_rng(7)
    sst = 1 + 0.2 * rng.random(SETS)
    noise = np.exp(rng.normal(0, 0.05, (len(WIDTHS) + 1, len(TIMES), SETS)))
    rows = []
    for penalty in ("gcv", "fixed"):
        slope = width_slope if penalty == "gcv" or fixed_width_slope is None \
            else fixed_width_slope
        for w_index, width in enumerate((0,) + WIDTHS):
            for t_index, T in enumerate(TIMES):
                t_eff = T if plateau_at is None else min(T, plateau_at)
                equivariant = 0.2 * (max(width, 2) / 64) ** slope * (t_eff / 256) ** T_slope
                for name, family, nrmse in (("deep_sets_1", "deep_sets", equivariant),
                                            ("control_1", "control", 0.8 * control_ratio)):
                    sse = nrmse ** 2 * sst * noise[w_index, t_index]
                    rows += [dict(target=name, family=family, penalty=penalty, width=width,
                                  T=T, set=s, sse=sse[s], sst=sst[s]) for s in range(SETS)]
    floor = pd.DataFrame(dict(target="control_1", set=np.arange(SETS), sse=0.64 * sst,
                              sst=sst))
    position = pd.DataFrame(dict(target="control_1", set=np.arange(SETS),
                                 sse=(0.8 * position_ratio) ** 2 * sst))
    return pd.DataFrame(rows), floor, position


def _verdict(tables, **options):
    return universal_verdict(universal_fits(*tables, seed=0, resamples=200, **options))


def _sensitivity(tables) -> dict:
    return {entry["choice"].split(" (")[0]: entry["verdict"]
            for entry in universal_sensitivity(*tables, seed=0, resamples=200)}


def test_synthetic_tables_give_each_verdict():
    assert _verdict(_tables()) == "partial"
    assert _verdict(_tables(width_slope=0.0)) == "refuted"  # no gain from width
    assert _verdict(_tables(T_slope=0.02)) == "refuted"  # no gain from T
    assert _verdict(_tables(control_ratio=0.8)) == "not-testable"  # beats its floor: a leak
    assert _verdict(_tables(position_ratio=1.0)) == "not-testable"  # control cannot tell


def test_fits_report_the_numbers():
    fits = universal_fits(*_tables(), seed=0, resamples=200)
    target = fits["targets"]["deep_sets_1"]
    assert target["width_slope"] == pytest.approx(-0.3, abs=0.05)
    assert target["T_slope"] == pytest.approx(-0.3, abs=0.05)
    control = fits["targets"]["control_1"]
    assert control["floor"] == pytest.approx(0.8, abs=1e-9)
    assert control["ratio_to_floor"][-1][-1] == pytest.approx(1.02, abs=0.02)
    assert control["position_ratio_to_floor_ci"][1] < 1


def test_sensitivity_alternatives_can_flip_the_verdict():
    slow = _tables(width_slope=-0.05)  # falls, but slower than the rate threshold
    assert _verdict(slow) == "partial"
    assert _sensitivity(slow)["every slope CI below -0.1"] == "refuted"

    plateau = _tables(plateau_at=64)  # T stops helping at 64 steps
    assert _verdict(plateau) == "partial"
    assert _sensitivity(plateau)["T slope over the three largest T only"] == "refuted"

    fixed = _tables(fixed_width_slope=0.0)
    assert _sensitivity(fixed)["fixed ridge penalty 1 instead of generalised "
                               "cross-validation"] == "refuted"
    assert set(_sensitivity(_tables()).values()) == {"partial"}


def test_depth_ablation_tells_whether_the_deeper_layers_help(seed):
    """Fake counts: a target linear in the second LIF layer's rates needs depth (ratio CI
    below 1); one linear in the inputs does not (ratio CI contains 1 or lies above)."""
    from analyses.claims.universal import depth_ablation
    from circuits.set_network import readout_features, set_network

    rng = np.random.default_rng(seed)
    network = set_network(3, 2, (4,), rng=rng)
    sets, T = 240, np.array([64])
    counts = {p.name: rng.integers(0, 64, (1, sets, p.size)).astype(float)
              for p in network.circuit.populations}
    features = readout_features(network, counts, 4, T)[-1]  # (sets, n, features)
    deep = features[..., -4:] @ rng.normal(size=(4, 2))  # hidden2 only
    shallow = features[..., :2] @ rng.normal(size=(2, 2))  # inputs only
    result = depth_ablation(features, 2 * 2 + 4, {"deep": deep, "shallow": shallow}, 160,
                            seed=seed, resamples=200)
    assert result["deep"][1][1] < 1
    assert result["shallow"][1][1] >= 0.99
