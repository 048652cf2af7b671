"""Resets before synapses: input arriving on a firing step is kept, not erased by the reset."""

import pytest
from brian2 import mV, ms, nA

from evsim import Circuit, models, simulate


def pair():
    """Two identical IF neurons firing on the same steps; a excites b with a large weight."""
    model = models.integrate_and_fire(tau_m=10 * ms, v_th=10 * mV, t_ref=0 * ms, reset="value")
    circuit = Circuit("pair")
    circuit.add_population("a", model, 1)
    circuit.add_population("b", model, 1)
    circuit.connect("a", "b", 6 * mV)
    circuit.add_input("drive_a", "a")
    circuit.add_input("drive_b", "b")
    return circuit


@pytest.mark.parametrize("schedule, keeps_input", [("resets_first", True), ("brian", False)])
def test_input_on_firing_step(schedule, keeps_input):
    # each drive alone makes a cycle of 17 steps (0.6 mV per step); b also receives 6 mV per
    # spike of a. If that input is erased by b's reset (both fire on the same step), b fires
    # exactly as often as a; if it is kept, b fires more often.
    drive = {"drive_a": 60 * nA, "drive_b": 60 * nA}
    record = simulate(pair(), drive, 200 * ms, schedule=schedule)
    a, b = record.counts["a"][-1, 0, 0], record.counts["b"][-1, 0, 0]
    assert a == 2000 // 17
    assert (b > a) == keeps_input
    if not keeps_input:
        assert b == a


def test_input_during_refractory_period_is_dropped():
    """With t_ref > 0 the input arrives while b is refractory: absolute refractoriness drops it."""
    circuit = pair()
    refractory = {"t_ref": 2 * ms}
    record = simulate(circuit, {"drive_a": 60 * nA, "drive_b": 60 * nA}, 200 * ms,
                      parameters={"a": refractory, "b": refractory})
    a, b = record.counts["a"][-1, 0, 0], record.counts["b"][-1, 0, 0]
    # first spike at step 16 (17th update); then 20 refractory steps (spike step included)
    # and 16 more updates: one spike every 36 steps in steps 0..1999
    assert a == 1 + (1999 - 16) // 36
    assert b == a
