"""Backends agree: deterministic circuits give identical counts on every target (NEST
included: shared_inhibition is delta-LIF)."""

import numpy as np
import pytest
from brian2 import ms, nA

from circuits import shared_inhibition
from evsim import simulate


@pytest.mark.parametrize("target", [pytest.param("cython", marks=pytest.mark.slow),
                                    pytest.param("cpp_standalone", marks=pytest.mark.slow),
                                    "nest"])
def test_target_matches_numpy_on_deterministic_circuit(target, seed):
    if target == "nest":
        pytest.importorskip("nest")
    rng = np.random.default_rng(seed)
    drives = rng.uniform(20, 60, (4, 16)) * nA
    common = dict(inputs={"drive": drives}, duration=100 * ms, trials=4,
                  checkpoints=[30, 100] * ms)
    reference = simulate(shared_inhibition(), **common)
    other = simulate(shared_inhibition(), target=target, **common)
    assert reference.counts["exc"][-1].sum() > 0
    for name in ("exc", "inh"):
        np.testing.assert_array_equal(other.counts[name], reference.counts[name])
    for name in reference.synaptic_events:
        np.testing.assert_array_equal(other.synaptic_events[name],
                                      reference.synaptic_events[name])
