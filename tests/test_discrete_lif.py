"""Discrete LIF with SpikingJelly semantics vs a hand-written NumPy loop, spike for spike."""

import numpy as np
import pytest
from brian2 import ms

from evsim import Circuit, models, simulate


def numpy_chain(inputs, tau, v_th, reset, weight):
    """Reference: population A (external input) -> one-to-one weight -> population B.

    A spike of A at step t reaches B's input X at step t + 1 (one synaptic hop).
    """
    steps, trials, size = inputs.shape
    v = {"a": np.zeros((trials, size)), "b": np.zeros((trials, size))}
    pending = np.zeros((trials, size))
    spikes = {"a": np.zeros(inputs.shape, bool), "b": np.zeros(inputs.shape, bool)}
    for t in range(steps):
        for name, x in (("a", inputs[t]), ("b", pending)):
            h = (1 - 1 / tau) * v[name] + x / tau
            fired = h >= v_th
            v[name] = np.where(fired, 0.0 if reset == "hard" else h - v_th, h)
            spikes[name][t] = fired
        pending = weight * spikes["a"][t]
    return spikes


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("tau", [2.0, 3.5])
def test_discrete_lif_matches_numpy_loop(reset, tau, seed):
    rng = np.random.default_rng(seed)
    steps, trials, size, weight = 60, 5, 6, 2.5
    inputs = rng.uniform(0, 3, (steps, trials, size))
    model = models.discrete_lif(tau=tau, v_th=1.0, reset=reset)
    circuit = Circuit("chain")
    circuit.add_population("a", model, size)
    circuit.add_population("b", model, size)
    circuit.connect("a", "b", weight, connectivity="one_to_one")
    circuit.add_input("x", "a")
    record = simulate(circuit, {"x": inputs}, steps * 1 * ms, dt=1 * ms, trials=trials,
                      record_spikes=True)
    reference = numpy_chain(inputs, tau, 1.0, reset, weight)
    for name in ("a", "b"):
        train = record.spikes[name]
        got = np.zeros((steps, trials, size), bool)
        got[np.round(np.asarray(train.time / ms)).astype(int), train.trial, train.neuron] = True
        assert got.sum() > 10
        np.testing.assert_array_equal(got, reference[name])


def test_coincidence_unit_is_a_discrete_lif_of_tau_one(seed):
    """The memoryless unit (V = X) gives the spikes and membrane of discrete_lif(tau=1) (whose
    (1 - 1/tau) V + X / tau is the same number) on real inputs, a constant current, weights of
    both signs and sums that cross and land on the threshold."""
    rng = np.random.default_rng(seed)
    steps, trials, size = 50, 4, 6
    inputs = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, -0.5, 0.1, 0.2], (steps, trials, size))
    bias = rng.choice([0.0, 0.25, 1.0], (trials, size))
    runs = {}
    for name, model in (("lif", models.discrete_lif(tau=1.0, v_th=2.0)),
                        ("coincidence", models.coincidence(2))):
        circuit = Circuit("pair")
        circuit.add_population("a", models.graded_source(), size)
        circuit.add_population("b", model, size)
        circuit.connect("a", "b", 1.0, connectivity="one_to_one")
        circuit.connect("a", "b", 0.3, sign="inhibitory", connectivity="all_to_all")
        circuit.add_input("x", "a")
        circuit.add_input("bias", "b")
        runs[name] = simulate(circuit, {"x": inputs, "bias": bias}, steps * 1 * ms, dt=1 * ms,
                              trials=trials, record_rasters=["b"],
                              record_states={"b": {"variables": "v"}})
    lif, unit = runs["lif"], runs["coincidence"]
    assert 10 < lif.raster("b").sum() < lif.raster("b").size
    np.testing.assert_array_equal(unit.raster("b"), lif.raster("b"))
    np.testing.assert_array_equal(unit.states["b"]["v"], lif.states["b"]["v"])
