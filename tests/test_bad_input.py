"""Every bad input gives one clear ValidationError naming the parameter and the accepted range."""

import re

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA, second

from analyses.claims import select
from circuits import shared_inhibition, single_lif, stochastic_softmax
from evsim import Circuit, ValidationError, models, simulate
from evsim.sweep import run_sweep


def run(**changes):
    arguments = dict(circuit=single_lif(), inputs={"drive": 30 * nA}, duration=10 * ms)
    arguments.update(changes)
    return simulate(**arguments)


def matrix_circuit(weight):
    c = Circuit("m")
    c.add_population("a", models.lif(), 2)
    c.add_population("b", models.lif(), 3)
    c.connect("a", "b", weight, connectivity="matrix")


CASES = [
    ("negative duration", lambda: run(duration=-1 * ms), "parameter 'duration' must be > 0"),
    ("zero duration", lambda: run(duration=0 * ms), "parameter 'duration' must be > 0"),
    ("duration without unit", lambda: run(duration=10), "'duration' must be a quantity in units "
                                                        "of second"),
    ("dt >= tau_m", lambda: run(dt=20 * ms), "parameter 'dt' must be smaller than lif.tau_m"),
    ("dt wrong unit", lambda: run(dt=0.1 * mV), "parameter 'dt' must be a quantity in units of "
                                                "second"),
    ("zero trials", lambda: run(trials=0), "parameter 'trials' must be an integer >= 1"),
    ("size 0", lambda: Circuit("c").add_population("a", models.lif(), 0),
     "parameter 'size' must be an integer >= 1"),
    ("weight matrix of wrong shape", lambda: matrix_circuit(np.ones((3, 2)) * mV),
     r"must have shape \(source size, target size\) = \(2, 3\)"),
    ("weight missing unit", lambda: shared_inhibition(w_excite=2.0),
     "parameter 'weight' must be a quantity in units of volt"),
    ("negative weight", lambda: shared_inhibition(w_excite=-2 * mV),
     "parameter 'weight' must be >= 0"),
    ("input wrong unit", lambda: run(inputs={"drive": 30 * Hz}),
     r"parameter 'inputs\['drive'\]' must be a quantity in units of amp"),
    ("non-finite input", lambda: run(inputs={"drive": np.array([np.nan]) * nA}),
     r"parameter 'inputs\['drive'\]' must be finite"),
    ("input wrong shape", lambda: run(inputs={"drive": np.ones((2, 2)) * nA}),
     r"'inputs\['drive'\]' must be a scalar or have shape"),
    ("port not connected", lambda: run(inputs={}), r"input port\(s\) \['drive'\] .* not connected"),
    ("unknown port", lambda: run(inputs={"drive": 30 * nA, "x": 1 * nA}),
     r"unknown input port\(s\) \['x'\]"),
    ("unknown model", lambda: models.get_model("hh"), "unknown model 'hh'; accepted"),
    ("unknown model parameter", lambda: run(parameters={"lif": {"tau": 1 * ms}}),
     r"unknown parameter\(s\) \['tau'\]"),
    ("unknown claim id", lambda: select(["softmax.nope"]), "unknown claim id 'softmax.nope'"),
    ("unknown target", lambda: run(target="gpu"), "parameter 'target' must be one of"),
    ("checkpoint beyond duration", lambda: run(checkpoints=[5, 20] * ms),
     "parameter 'checkpoints' must increase and not exceed duration"),
    ("checkpoint off the grid", lambda: run(checkpoints=[0.05] * ms),
     "parameter 'checkpoints' must be positive multiples of dt"),
    ("tau_m without unit", lambda: models.lif(tau_m=20), "parameter 'tau_m' must be a quantity"),
    ("negative refractory", lambda: models.lif(t_ref=-1 * ms), "parameter 't_ref' must be >= 0"),
    ("reset above threshold", lambda: models.lif(v_reset=30 * mV), "parameter 'v_reset' must be <"),
    ("unknown reset", lambda: models.lif(reset="soft"), "parameter 'reset' must be one of"),
    ("discrete tau < 1", lambda: models.discrete_lif(tau=0.5), "parameter 'tau' must be >= 1"),
    ("poisson rate too high", lambda: simulate(_source(), {"r": 1e5 * Hz}, 1 * second),
     r"input 'rate' must lie in \[0, 1/dt\]"),
    ("negative seed", lambda: run(seed=-3),
     r"parameter 'seed' must be an integer in \[0, 2\*\*32\)"),
    ("seed too large", lambda: run(seed=2**32),
     r"parameter 'seed' must be an integer in \[0, 2\*\*32\)"),
    ("one_to_one size mismatch", lambda: _one_to_one_mismatch(), "one_to_one needs equal sizes"),
    ("projection into a source", lambda: _into_source(), "is a source and cannot receive"),
    ("empty sweep grid", lambda: run_sweep(print, {}, "/tmp/x"), "parameter 'grid' must be"),
    ("pair index out of range", lambda: _pairs(([0, 5], [0, 1])),
     r"pre indices must be a 1-D integer array in \[0, 2\)"),
    ("pairs of unequal length", lambda: _pairs(([0, 1], [0])), "as many pre as post indices"),
    ("pairs without pairs connectivity", lambda: _pairs(([0], [0]), connectivity="all_to_all"),
     "only for connectivity='pairs'"),
    ("dt above the circuit's limit", lambda: simulate(
        stochastic_softmax(4), {"scores": np.zeros(4) * nA}, 1 * ms, dt=0.5 * ms),
     r"parameter 'dt' must be <= .* for circuit 'stochastic_softmax' \(population rate"),
]


def _pairs(pairs, connectivity="pairs"):
    c = Circuit("p")
    c.add_population("a", models.lif(), 2)
    c.add_population("b", models.lif(), 3)
    c.connect("a", "b", 1 * mV, connectivity=connectivity, pairs=pairs)


def _source():
    c = Circuit("s")
    c.add_population("src", models.poisson_source(), 1)
    c.add_input("r", "src")
    return c


def _one_to_one_mismatch():
    c = Circuit("c")
    c.add_population("a", models.lif(), 2)
    c.add_population("b", models.lif(), 3)
    c.connect("a", "b", 1 * mV, connectivity="one_to_one")


def _into_source():
    c = _source()
    c.add_population("a", models.lif(), 1)
    c.connect("a", "src", 1 * Hz)


@pytest.mark.parametrize("case, call, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_error(case, call, message):
    with pytest.raises(ValidationError, match=message) as caught:
        call()
    error = caught.value
    assert isinstance(error, ValueError) and error.parameter  # still a ValueError
    named = re.match(r"parameter '([\w.]+)'", str(error))
    if named:  # the attribute names the parameter the message names
        assert error.parameter == named.group(1)


def test_table_has_at_least_twenty_cases():
    assert len(CASES) >= 20
