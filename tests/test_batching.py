"""One batched run equals separate runs; same seed, same counts; checkpoints are nested."""

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA
from scipy import stats

from circuits import shared_inhibition
from evsim import Circuit, models, simulate


def test_batched_deterministic_trials_equal_separate_runs(seed):
    rng = np.random.default_rng(seed)
    drives = rng.uniform(20, 60, (6, 16)) * nA
    batched = simulate(shared_inhibition(), {"drive": drives}, 100 * ms, trials=6,
                       checkpoints=[20, 50, 100] * ms)
    assert batched.counts["inh"][-1].sum() > 0  # the inhibitory loop is active
    for trial in range(6):
        alone = simulate(shared_inhibition(), {"drive": drives[trial]}, 100 * ms,
                         checkpoints=[20, 50, 100] * ms)
        for name in ("exc", "inh"):
            np.testing.assert_array_equal(batched.counts[name][:, trial], alone.counts[name][:, 0])
        for name in batched.synaptic_events:
            np.testing.assert_array_equal(batched.synaptic_events[name][:, trial],
                                          alone.synaptic_events[name][:, 0])


def noisy_circuit():
    """Poisson input -> LIF with shared inhibition: a stochastic circuit."""
    circuit = shared_inhibition(n=4)
    circuit.add_population("noise", models.poisson_source(), 4)
    circuit.connect("noise", "exc", 8 * mV, connectivity="one_to_one")
    circuit.add_input("rate", "noise")
    return circuit


@pytest.mark.slow
def test_batched_stochastic_statistics_equal_separate_runs(seed):
    inputs = {"drive": 15 * nA, "rate": 400 * Hz}
    batched = simulate(noisy_circuit(), inputs, 200 * ms, trials=40, seed=seed)
    separate = [simulate(noisy_circuit(), inputs, 200 * ms, seed=seed + k).counts["exc"][-1, 0]
                for k in range(1, 41)]
    a, b = batched.counts["exc"][-1].sum(axis=1), np.array(separate).sum(axis=1)
    assert stats.mannwhitneyu(a, b).pvalue > 1e-3  # same distribution of total counts
    assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_same_seed_same_counts_other_seed_other_counts():
    inputs = {"drive": 15 * nA, "rate": 400 * Hz}
    first = simulate(noisy_circuit(), inputs, 100 * ms, trials=10, seed=7)
    again = simulate(noisy_circuit(), inputs, 100 * ms, trials=10, seed=7)
    other = simulate(noisy_circuit(), inputs, 100 * ms, trials=10, seed=8)
    np.testing.assert_array_equal(first.counts["exc"], again.counts["exc"])
    assert not np.array_equal(first.counts["exc"], other.counts["exc"])


def test_checkpoints_are_nested_and_match_a_shorter_run(seed):
    inputs = {"drive": 15 * nA, "rate": 400 * Hz}
    long = simulate(noisy_circuit(), inputs, 100 * ms, trials=5, seed=seed,
                    checkpoints=[10, 40, 100] * ms)
    counts = long.counts["exc"]
    assert np.all(np.diff(counts, axis=0) >= 0)
    short = simulate(noisy_circuit(), inputs, 40 * ms, trials=5, seed=seed)
    np.testing.assert_array_equal(counts[1], short.counts["exc"][0])


def test_synaptic_events_count_each_spike_times_out_degree():
    circuit = Circuit("fan")
    circuit.add_population("src", models.bernoulli_source(), 3)
    circuit.add_population("dst", models.lif(), 2)
    weights = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]) * mV
    circuit.connect("src", "dst", weights, connectivity="matrix")
    circuit.add_input("p", "src")
    record = simulate(circuit, {"p": 0.2}, 50 * ms, trials=4, seed=3, record_spikes=True)
    train = record.spikes["src"]
    expected = [np.sum((train.trial == t) * np.array([1, 2, 0])[train.neuron]) for t in range(4)]
    np.testing.assert_array_equal(record.synaptic_events["src->dst#0"][-1], expected)


def test_record_rates_and_long_table():
    record = simulate(shared_inhibition(n=3), {"drive": 40 * nA}, 100 * ms, trials=2,
                      checkpoints=[50, 100] * ms)
    rates = record.rates("exc")
    np.testing.assert_allclose(np.asarray(rates), record.counts["exc"][-1] / 0.1)
    table = record.to_dataframe()
    assert len(table) == 2 * 2 * (3 + 1)  # checkpoints x trials x neurons (exc + inh)
    assert table["count"].sum() == sum(c.sum() for c in record.counts.values())
    with pytest.raises(ValueError, match="unknown population 'nope'"):
        record.rates("nope")


@pytest.mark.parametrize("seed_value", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_counts_read_in_one_run_equal_one_run_per_checkpoint(seed_value, monkeypatch):
    """Many checkpoints are read in one run (a snapshot every step) when that is cheaper; the
    counts are exactly those of one Network.run per checkpoint, spikes random included."""
    import sys

    from circuits import bernoulli_encoder

    simulate_module = sys.modules["evsim.cost"]
    checkpoints = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) * ms
    results = []
    for one_run in (True, False):
        monkeypatch.setattr(simulate_module, "snapshot_in_one_run",
                            lambda checkpoints, steps, one_run=one_run: one_run)
        record = simulate(bernoulli_encoder(6), {"values": 0.3}, 89 * ms, trials=4,
                          seed=seed_value, dt=1 * ms, checkpoints=checkpoints)
        results.append(record.counts["enc"])
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0][-1].sum() > 0 and (np.diff(results[0], axis=0) >= 0).all()


def test_one_run_is_chosen_only_where_it_is_cheaper():
    from evsim.cost import snapshot_in_one_run

    assert snapshot_in_one_run(105, 8192)  # a bounds cell: ~100 checkpoints, 8k steps
    assert not snapshot_in_one_run(10, 128_000)  # a softmax run: few checkpoints, many steps
    assert not snapshot_in_one_run(1, 10)  # nothing to snapshot
