"""assert_same_spikes(a, b): two SpikeRecords with equal counts and spike times."""

import numpy as np
from brian2 import ms


def assert_same_spikes(a, b) -> None:
    """Equal counts at every checkpoint and equal spikes (neuron and time) in every population
    of ``a`` (both recorded with spike times)."""
    for name in a.counts:
        np.testing.assert_array_equal(a.counts[name], b.counts[name])
        np.testing.assert_array_equal(a.spikes[name].neuron, b.spikes[name].neuron)
        np.testing.assert_array_equal(np.asarray(a.spikes[name].time / ms),
                                      np.asarray(b.spikes[name].time / ms))
