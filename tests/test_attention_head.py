"""The softmax attention head and the multi-head block."""

import numpy as np
import pytest
from brian2 import Hz, second

from circuits.attention import run_head
from circuits.attention import (attention_head, attention_target, head_inputs,
                                multi_head_attention, multi_head_estimate, multi_head_inputs)
from evsim import simulate


def test_target_is_softmax_attention(seed):
    rng = np.random.default_rng(seed)
    q, k, v = rng.random((3, 2, 4, 3))
    scores = 2.0 * q @ np.swapaxes(k, 1, 2)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(attention_target(q, k, v, 2.0), weights @ v)


@pytest.mark.slow  # ~8 s each; the head's exactness also runs in every test-slow
@pytest.mark.parametrize("value", [1.0, 0.0])
def test_value_path_is_exact_for_constant_values(value, seed):
    """With v = 1 every attention spike meets a V spike (out = row spikes, except those of the
    last 3 steps, still in the 2-hop pipeline or the counter's backlog); with v = 0 none does."""
    rng = np.random.default_rng(seed)
    q, k = rng.random((2, 3, 4, 4))
    v = np.full((3, 4, 4), value)
    _, _, record, _ = run_head(q, k, v, replicas=1, beta=1.0, checkpoints=[0.3], seed=seed,
                               record_spikes=True)
    rows = record.counts["exc"][-1].reshape(3, 4, 4).sum(-1)  # (trial, query) from t = 0
    out = record.counts["out"][-1].reshape(3, 4, 4)
    assert rows.sum() > 50
    if value == 0.0:
        assert out.sum() == 0
        return
    train = record.spikes["exc"]
    late = np.asarray(train.time) >= float(record.checkpoints[-1] / second) - 3 * 1e-4
    in_pipeline = np.zeros((3, 4))
    np.add.at(in_pipeline, (train.trial[late], train.neuron[late] // 4), 1)
    deficit = rows[..., None] - out
    assert np.all(deficit >= 0) and np.all(deficit <= in_pipeline[..., None])


@pytest.mark.slow
def test_head_error_shrinks_with_T_and_width(seed):
    """Means over 6 value sets: sampling error ~ 1/sqrt(spikes) must fall from 0.1 s to 0.8 s
    (8x more spikes: expected factor ~2.8; asserted > 1.5) and with 4 replicas."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.random((3, 6, 4, 4))
    errors = {}
    for replicas in (1, 4):
        estimates, target, _, _ = run_head(q, k, v, replicas=replicas, beta=1.0,
                                           checkpoints=[0.1, 0.8], seed=seed)
        errors[replicas] = np.sqrt(((estimates - target) ** 2).mean(axis=(1, 2, 3)))
    assert errors[1][0] / errors[1][1] > 1.5
    assert errors[1][1] / errors[4][1] > 1.2


@pytest.mark.slow
def test_multi_head_splits_channels(seed):
    """Head 0 sees v = 1 (estimate: the row's count over the count its controller holds, ~1),
    head 1 sees v = 0 (exactly 0)."""
    rng = np.random.default_rng(seed)
    block = multi_head_attention(4, 6, 2)
    assert len(block.heads) == 2 and block.heads[0].dim == 3
    q, k = rng.random((2, 2, 4, 6))
    v = np.concatenate([np.ones((2, 4, 3)), np.zeros((2, 4, 3))], axis=-1)
    inputs = multi_head_inputs(block, q, k, v)
    record = simulate(block.circuit, inputs, 3 * second, trials=2, seed=seed,
                      checkpoints=[2, 3] * second)
    estimate = multi_head_estimate(block, record)[-1]
    # 80 spikes per row over the 1 s window; the controller's count spread is ~4.5 spikes
    assert np.all(np.abs(estimate[..., :3] - 1.0) < 0.25)
    np.testing.assert_array_equal(estimate[..., 3:], 0.0)


def test_the_head_gets_no_initial_state(seed):
    """head_inputs returns input ports only: nothing computed from q, k starts the circuit."""
    head = attention_head(4, 4)
    inputs = head_inputs(head, *np.random.default_rng(seed).random((3, 1, 4, 4)))
    assert set(inputs) == {"Q", "K", "V", "key_bias"}


@pytest.mark.slow
def test_each_row_holds_its_rate_after_the_cold_start(seed):
    """The circuit normalises: after settling every row fires replicas x 80 Hz (mean over rows
    within 3 SE of the controller's count spread)."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.random((3, 6, 4, 4))
    _, _, record, head = run_head(q, k, v, replicas=2, beta=1.0, checkpoints=[1.0], seed=seed)
    rows = (record.counts["exc"][-1] - record.counts["exc"][0]).reshape(6, 2, 4, 4).sum(-1)
    deviation = rows - 80  # per (trial, replica, row)
    assert abs(deviation.mean()) < 3 * 4.5 / np.sqrt(deviation.size)


@pytest.mark.parametrize("call, message", [
    (lambda: attention_head(1, 4), "'tokens' must be an integer >= 2"),
    (lambda: attention_head(4, 4, replicas=0), "'replicas'"),
    (lambda: attention_head(4, 4, beta=-1.0), "'beta' must be a number > 0"),
    (lambda: attention_head(4, 4, p_max=1.5), "'p_max' must lie in"),
    (lambda: attention_head(4, 4, rate=1000 * Hz), "'rate' x dt must be <="),
    (lambda: multi_head_attention(4, 6, 4), "'heads' must divide dim"),
])
def test_bad_head_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_head_values():
    head = attention_head(4, 4)
    ok = np.full((1, 4, 4), 0.5)
    with pytest.raises(ValueError, match="'q' must have shape"):
        head_inputs(head, np.zeros((1, 3, 4)), ok, ok)
    with pytest.raises(ValueError, match="'v' must be finite and lie in"):
        head_inputs(head, ok, ok, ok + 1)
    with pytest.raises(ValueError, match="'key_bias'"):
        head_inputs(head, ok, ok, ok, key_bias=[1.0])
