"""Small reference circuits: one LIF neuron, and LIF neurons with shared inhibition."""

from __future__ import annotations

from brian2 import mV

from evsim import Circuit, models

__all__ = ["single_lif", "shared_inhibition"]


def single_lif(model=None) -> Circuit:
    """One LIF neuron driven by a current (input port ``drive``, output ``spikes``)."""
    circuit = Circuit("single_lif")
    circuit.add_population("lif", model or models.lif(), 1)
    circuit.add_input("drive", "lif")
    circuit.add_output("spikes", "lif")
    return circuit


def shared_inhibition(n: int = 16, w_excite=2 * mV, w_inhibit=5 * mV) -> Circuit:
    """``n`` LIF neurons exciting one inhibitory LIF neuron that inhibits them all.

    Input port ``drive`` (current, amp) feeds the excitatory neurons; outputs ``exc``, ``inh``.
    """
    circuit = Circuit("shared_inhibition")
    circuit.add_population("exc", models.lif(), n)
    circuit.add_population("inh", models.lif(), 1)
    circuit.connect("exc", "inh", w_excite)
    circuit.connect("inh", "exc", w_inhibit, sign="inhibitory")
    circuit.add_input("drive", "exc")
    circuit.add_output("exc", "exc")
    circuit.add_output("inh", "inh")
    return circuit
