"""Synaptic-operation counts and energy estimates (45 nm constants of Horowitz, ISSCC 2014).

The SNN side is counted, not estimated: every synaptic event of a Brian2 run (one per
presynaptic spike and outgoing synapse, evsim's ``SpikeRecord.synaptic_events``) costs one
accumulate, E_AC. The ANN side is the multiply-accumulate count of the dense layer it replaces
(``MechanismSpec.dense_macs`` in :mod:`circuits.mechanism_registry`), E_MAC each. The
papers' estimate fr x T x FLOPs is given alongside for comparison.
"""

from __future__ import annotations

import numpy as np

__all__ = ["E_AC", "E_MAC", "counted_events", "energy_ratio", "paper_formula_ratio"]

E_AC = 0.9e-12  # J per accumulate (32-bit float add, 45 nm)
E_MAC = 4.6e-12  # J per multiply-accumulate (32-bit float, 45 nm)


def counted_events(record, checkpoint: int = -1) -> np.ndarray:
    """Synaptic events per trial summed over all projections: array (trials,)."""
    return np.sum([events[checkpoint] for events in record.synaptic_events.values()], axis=0)


def energy_ratio(macs, events) -> np.ndarray:
    """E_ANN / E_SNN = E_MAC macs / (E_AC events)."""
    return E_MAC * np.asarray(macs, dtype=float) / (E_AC * np.asarray(events, dtype=float))


def paper_formula_ratio(firing_rate, T) -> np.ndarray:
    """The papers' estimate for one layer: E_MAC FLOPs / (E_AC fr T FLOPs) = E_MAC/(E_AC fr T)."""
    return E_MAC / (E_AC * np.asarray(firing_rate, dtype=float) * np.asarray(T, dtype=float))
