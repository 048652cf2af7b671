"""Spike arithmetic: AND/OR units, counters and the spike matrix product, exact in counts."""

import numpy as np
import pytest

from circuits.arithmetic import (STEP, coincidence, connect_pairs, connect_signed, counter,
                                 or_unit, spike_matrix_product)
from evsim import Circuit, models, simulate


def run_unit(model, inputs):
    """Drive one unit from spike sources with integer input counts per step (steps, trials)."""
    steps, trials = inputs.shape
    width = int(inputs.max())
    circuit = Circuit("unit")
    circuit.add_population("src", models.spike_source(), width)
    circuit.add_population("unit", model, 1)
    circuit.connect("src", "unit", 1.0)
    circuit.add_input("src", "src")
    drive = (np.arange(width)[None, None, :] < inputs[:, :, None]).astype(float)
    drive = np.concatenate([drive, np.zeros((steps + 1, trials, width))])
    record = simulate(circuit, {"src": drive}, (2 * steps + 1) * STEP, dt=STEP, trials=trials,
                      record_spikes=True)
    out = np.zeros((2 * steps + 1, trials), int)
    train = record.spikes["unit"]
    out[np.round(np.asarray(train.time) * 1e3).astype(int), train.trial] = 1
    return out, record


@pytest.mark.parametrize("k", [1, 2, 3])
def test_coincidence_fires_next_step_iff_at_least_k_inputs(k, seed):
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 4, (40, 3))
    out, _ = run_unit(coincidence(k), inputs)
    np.testing.assert_array_equal(out[1:41], (inputs >= k).astype(int))
    assert out[0].sum() == 0 and out[41:].sum() == 0
    assert coincidence(1) == or_unit()


def test_counter_fires_once_per_input_and_drains(seed):
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 4, (30, 2))
    out, _ = run_unit(counter(), inputs)
    np.testing.assert_array_equal(out.sum(0), inputs.sum(0))
    assert out.max() <= 1  # one spike per step at most: the backlog is kept


def test_spike_matrix_product_is_exact_per_step_and_in_total(seed):
    rng = np.random.default_rng(seed)
    T, trials, rows, cols, inner = 7, 3, 3, 4, 5
    A = (rng.random((T, trials, rows * inner)) < 0.5).astype(float)
    B = (rng.random((T, trials, cols * inner)) < 0.5).astype(float)
    steps = T + T * inner + 2  # enough steps for every counter to drain
    pad = lambda x: np.concatenate([x, np.zeros((steps - T,) + x.shape[1:])])  # noqa: E731
    record = simulate(spike_matrix_product(rows, cols, inner), {"A": pad(A), "B": pad(B)},
                      steps * STEP, dt=STEP, trials=trials, record_spikes=True)
    a, b = A.reshape(T, trials, rows, inner), B.reshape(T, trials, cols, inner)
    expected = np.einsum("trie,trje->trij", a, b)
    assert expected.sum() > 50
    np.testing.assert_array_equal(record.counts["C"][-1].reshape(trials, rows, cols),
                                  expected.sum(0))
    train = record.spikes["and"]  # AND unit (i, j, e) fires in step t + 1 for the term of step t
    got = np.zeros((steps, trials, rows * cols * inner))
    got[np.round(np.asarray(train.time) * 1e3).astype(int), train.trial, train.neuron] = 1
    terms = np.einsum("trie,trje->trije", a, b).reshape(T, trials, -1)
    np.testing.assert_array_equal(got[1:T + 1], terms)
    # synaptic events: every A spike reaches cols AND units, every B spike rows, AND -> C one
    events = record.synaptic_events
    assert events["A->and+"][-1].sum() == A.sum() * cols
    assert events["B->and+"][-1].sum() == B.sum() * rows
    assert events["and->C+"][-1].sum() == expected.sum()


def test_connect_signed_splits_by_sign():
    circuit = Circuit("signed")
    circuit.add_population("a", models.spike_source(), 2)
    circuit.add_population("b", models.discrete_lif(), 2)
    connect_signed(circuit, "a", "b", np.array([[1.5, -2.0], [0.0, 0.5]]), name="w")
    projections = {p.name: p for p in circuit.projections}
    assert set(projections) == {"w+", "w-"}
    np.testing.assert_array_equal(projections["w+"].synapse_weights(2, 2), [1.5, 0.5])
    np.testing.assert_array_equal(projections["w-"].synapse_weights(2, 2), [-2.0])


@pytest.mark.parametrize("given", ["in order", "in order, each twice", "shuffled, each twice"])
def test_connect_pairs_merges_repeats_in_pre_post_order(given, seed):
    """Pairs given in (pre, post) order without repeats are kept as they are; repeated (in
    order or shuffled), they come out in that order with the repeats summed (a dense matrix's
    nonzero)."""
    rng = np.random.default_rng(seed)
    matrix = rng.choice([0.0, 0.5, -1.0, 2.0], (5, 7))
    pre, post = np.nonzero(matrix)
    weights = matrix[pre, post]
    index = {"in order": np.arange(len(pre)),
             "in order, each twice": np.repeat(np.arange(len(pre)), 2),
             "shuffled, each twice": rng.permutation(np.repeat(np.arange(len(pre)), 2))}[given]
    halves = 1 if given == "in order" else 2  # each pair's weight split in two halves
    pre, post, weights = pre[index], post[index], weights[index] / halves
    circuit = Circuit("pairs")
    circuit.add_population("a", models.spike_source(), 5)
    circuit.add_population("b", models.discrete_lif(), 7)
    connect_pairs(circuit, "a", "b", pre, post, weights, name="w")
    got = {p.name: (p.pairs(5, 7), p.synapse_weights(5, 7)) for p in circuit.projections}
    for name, sign in (("w+", matrix > 0), ("w-", matrix < 0)):
        expected_pre, expected_post = np.nonzero(sign)
        np.testing.assert_array_equal(got[name][0][0], expected_pre)
        np.testing.assert_array_equal(got[name][0][1], expected_post)
        np.testing.assert_array_equal(got[name][1], matrix[sign])


def test_spike_source_rejects_non_spike_input():
    circuit = spike_matrix_product(2, 2, 2)
    with pytest.raises(ValueError, match="input 'spikes' must be binary"):
        simulate(circuit, {"A": np.full((3, 1, 4), 0.5), "B": np.zeros((3, 1, 4))}, 3 * STEP,
                 dt=STEP)
