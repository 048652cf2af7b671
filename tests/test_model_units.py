"""A user's own NeuronModel: any unit of the right dimensions gives the same spikes, and a model
that refers to something it never defines is refused when it is made, with one sentence."""

import math

import numpy as np
import pytest
from brian2 import Mohm, amp, mV, ms, nA, pA, uA

from evsim import Circuit, ValidationError, simulate
from evsim.models import NeuronModel

DRIVES_NA = np.array([22.0, 30.0, 40.0])  # R I = 22, 30, 40 mV against a 20 mV threshold


def custom_lif(input_unit=amp, **changes) -> NeuronModel:
    """A LIF written as a new user would: no refractory period, reset to 0."""
    fields = dict(name="mine", dynamics="dv/dt = (R*I - v)/tau : volt\nI : amp",
                  threshold="v > 20*mV", reset="v = 0*mV", method="exact",
                  parameters=dict(tau=20 * ms, R=1 * Mohm), input_variable="I",
                  input_unit=input_unit, synaptic_targets={"v": mV})
    return NeuronModel(**(fields | changes))


def counts(model, drive, duration=100 * ms):
    c = Circuit("units")
    c.add_population("p", model, len(DRIVES_NA))
    c.add_input("drive", "p")
    return simulate(c, {"drive": drive}, duration, target="numpy").counts["p"][-1, 0]


def analytic_counts(duration_ms=100.0, dt_ms=0.1) -> list:
    """Spikes of the LIF above: from v = 0, v(t) = R I (1 - exp(-t/tau)) crosses 20 mV at
    tau ln(R I / (R I - 20 mV)), seen at the end of that step; the reset restarts it."""
    interval = [math.ceil(20 * math.log(ri / (ri - 20)) / dt_ms) for ri in DRIVES_NA]
    return [int(round(duration_ms / dt_ms)) // steps for steps in interval]


@pytest.mark.parametrize("input_unit", [amp, nA, pA, uA])
def test_an_input_unit_of_any_scale_gives_the_analytic_spikes(input_unit):
    expected = analytic_counts()
    assert expected == [2, 4, 7]
    assert counts(custom_lif(input_unit), DRIVES_NA * nA).tolist() == expected


def test_inputs_in_any_unit_of_the_right_dimension_are_the_same_input():
    model = custom_lif(nA)
    assert (counts(model, DRIVES_NA * nA).tolist() == counts(model, DRIVES_NA / 1e3 * uA).tolist()
            == counts(model, DRIVES_NA * 1e-9 * amp).tolist())


@pytest.mark.parametrize("changes, field, words", [
    (dict(dynamics="dv/dt = (R*I - v)/tau : volt"), "parameters", "['I']"),
    (dict(dynamics="dv/dt = -v/tau : volt\nJ : amp"), "input_variable", "'I' is not a state"),
    (dict(threshold="v > v_th"), "parameters", "['v_th']"),
    (dict(reset="v = v_rest"), "parameters", "['v_rest']"),
    (dict(input_unit=mV), "input_variable", "does not match its declared unit"),
    (dict(synaptic_targets={"w": mV}), "synaptic_targets", "'w' is not a state"),
    (dict(synaptic_targets={"v": nA}), "synaptic_targets", "does not match"),
    (dict(payload="R"), "payload", "'R' is not a state"),
    (dict(refractory="t_ref"), "refractory", "not one of its parameters"),
    (dict(time_constants=("tau_s",)), "time_constants", "not one of its parameters"),
    (dict(dynamics="dv/dt = (R*I - v/tau : volt\nI : amp"), "dynamics", "do not parse"),
])
def test_a_model_that_refers_to_what_it_never_defines_is_refused(changes, field, words):
    with pytest.raises(ValidationError) as error:
        custom_lif(**changes)
    assert error.value.parameter == field
    assert words in str(error.value) and "model 'mine'" in str(error.value)
    assert "\n" not in str(error.value)


def test_temporaries_in_reset_and_step_code_are_not_undefined_names():
    model = custom_lif(reset="tmp = v\nv = tmp - 20*mV")
    assert "tmp" in model.reset
    with pytest.raises(ValidationError, match=r"\['tmp'\]"):
        custom_lif(reset="v = tmp")  # read before any assignment
    with pytest.raises(ValidationError, match=r"\['tmp'\]"):
        custom_lif(reset="tmp += v")
