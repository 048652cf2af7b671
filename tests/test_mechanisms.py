"""The five mechanism circuits against their NumPy references; equivariance; bad input."""

import numpy as np
import pytest

from analyses.attention_runs import compare
from circuits import mechanisms
from circuits import reference
from circuits.mechanism_registry import MECHANISMS, dssa_weights

NAMES = tuple(MECHANISMS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(4, 4, 1), (8, 8, 2)])
def test_mechanism_matches_numpy_reference_spike_for_spike(name, size, seed):
    n, D, h = size
    row = compare(name, n, D, h, T=6, trials=2, rng=np.random.default_rng(seed),
                  patch=2 if name == "dssa" and n == 8 else 1)
    assert 0.01 < row["reference_spikes"] / row["outputs"] < 0.99  # not a vacuous comparison
    assert row["mismatches"] == 0
    assert row["mismatches_vs_pitfall"] > 0  # the comparison can fail


@pytest.mark.parametrize("name", NAMES)
def test_token_permutation_permutes_output_spikes(name, seed):
    rng = np.random.default_rng(seed)
    n, D, h, T = 6, 4, 2, 5
    spec = MECHANISMS[name]
    mechanism = spec.build(n, D, h, rng)
    operands = spec.sample_operands((1, T, n, D), h, rng)
    perm = rng.permutation(n)
    both = {k: np.concatenate([x, x[:, :, perm]]) for k, x in operands.items()}
    out, _ = mechanisms.run_mechanism(mechanism, both, seed=0)
    assert out[0].sum() > 0
    np.testing.assert_array_equal(out[1], out[0][:, perm])


def test_positional_bias_control_breaks_equivariance(seed):
    rng = np.random.default_rng(seed)
    n, D, h, T = 6, 4, 2, 5
    mechanism = mechanisms.ssa(n, D, h, positional_bias=0.8 * np.arange(n) / n)
    operands = MECHANISMS["ssa"].sample_operands((1, T, n, D), h, rng)
    perm = np.roll(np.arange(n), 1)
    both = {k: np.concatenate([x, x[:, :, perm]]) for k, x in operands.items()}
    out, _ = mechanisms.run_mechanism(mechanism, both, seed=0)
    assert (out[1] != out[0][:, perm]).sum() > 0


def test_sdsa_mask_is_an_or_of_key_value_coincidences(seed):
    """Section 1.5: with tau 2 and V_th 0.5 the SN of an integer count is a memoryless OR."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, (3, 50, 5)).astype(float)
    np.testing.assert_array_equal(reference.sj_lif(counts, 0.5), counts >= 1)


def test_ssa_reference_orders_agree(seed):
    """(Q K^T) V and Q (K^T V) give the same counts (ImageNet vs CIFAR code order)."""
    rng = np.random.default_rng(seed)
    Q, K, V = ((rng.random((2, 3, 5, 4)) < 0.5).astype(float) for _ in range(3))
    left = np.einsum("btie,btje,btjc->btic", Q, K, V)
    right = np.einsum("btie,btec->btic", Q, np.einsum("btje,btjc->btec", K, V))
    np.testing.assert_array_equal(left, right)
    assert reference.ssa(Q, K, V, heads=1).shape == Q.shape


@pytest.mark.parametrize("operands, message", [
    ({"Q": np.zeros((1, 2, 4, 4)), "K": np.zeros((1, 2, 4, 4))}, "exactly the keys"),
    ({k: np.zeros((1, 2, 4, 3)) for k in "QKV"}, "shape"),
    ({k: np.zeros((1, 0, 4, 4)) for k in "QKV"}, "T >= 1"),
    ({k: np.full((1, 2, 4, 4), 0.5) for k in "QKV"}, "must be spikes"),
    ({"Q": np.zeros((1, 2, 4, 4)), "K": np.zeros((1, 2, 4, 4)), "V": np.zeros((2, 2, 4, 4))},
     "same shape"),
])
def test_bad_operands_are_rejected(operands, message):
    with pytest.raises(ValueError, match=message):
        mechanisms.run_mechanism(mechanisms.ssa(4, 4, 1), operands)


def test_a2os2a_operand_kinds_are_checked():
    mechanism = mechanisms.a2os2a(4, 4, 1)
    good = {"Q": np.zeros((1, 2, 4, 4)), "K": np.ones((1, 2, 4, 4)), "V": np.zeros((1, 2, 4, 4))}
    with pytest.raises(ValueError, match="operand 'K' must be real, finite and >= 0"):
        mechanisms.run_mechanism(mechanism, {**good, "K": -good["K"]})
    with pytest.raises(ValueError, match="operand 'V' must be ternary"):
        mechanisms.run_mechanism(mechanism, {**good, "V": np.full((1, 2, 4, 4), 2.0)})


@pytest.mark.parametrize("call, message", [
    (lambda: mechanisms.ssa(4, 6, 4), "'heads' must divide channels"),
    (lambda: mechanisms.ssa(0, 4, 1), "'tokens' must be an integer >= 1"),
    (lambda: mechanisms.dssa({}, 4, 4, 1), "'weights' must be a dict"),
    (lambda: mechanisms.ssa(4, 4, 1, positional_bias=[1, 2]), "'positional_bias'"),
])
def test_bad_mechanism_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dssa_patch_must_divide_tokens(seed):
    weights = dssa_weights(6, 4, 1, 4, np.random.default_rng(seed))
    with pytest.raises(ValueError, match="'patch' must divide tokens"):
        mechanisms.dssa(weights, 6, 4, 1, patch=4)
