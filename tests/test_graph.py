"""Circuits as graphs: composition, ports, drawing."""

import matplotlib.pyplot as plt
import numpy as np
from brian2 import mV, ms, nA

from circuits import CIRCUITS, shared_inhibition
from evsim import Circuit, models, simulate


def test_include_prefixes_names_and_ports():
    outer = Circuit("outer")
    outer.include(shared_inhibition(n=3), "left")
    outer.include(shared_inhibition(n=3), "right")
    outer.connect("left/exc", "right/exc", 15 * mV, connectivity="one_to_one")
    assert sorted(p.name for p in outer.populations) == [
        "left/exc", "left/inh", "right/exc", "right/inh"]
    assert set(outer.inputs) == {"left/drive", "right/drive"}
    assert outer.outputs["left/inh"] == "left/inh"
    assert outer.graph.number_of_edges() == 5
    record = simulate(outer, {"left/drive": 40 * nA, "right/drive": 0 * nA}, 50 * ms)
    assert record.counts["left/exc"].sum() > 0
    assert record.counts["right/exc"].sum() > 0  # driven only through left -> right


def test_graph_is_a_networkx_multidigraph_with_signed_edges():
    circuit = shared_inhibition(n=4)
    edges = {(u, v): d["projection"].sign for u, v, d in circuit.graph.edges(data=True)}
    assert edges == {("exc", "inh"): "excitatory", ("inh", "exc"): "inhibitory"}
    assert circuit.graph.nodes["exc"]["population"].size == 4


def test_draw_returns_axes_for_every_registered_circuit():
    for factory in CIRCUITS.values():
        fig, ax = plt.subplots()
        assert factory().draw(ax) is ax
        plt.close(fig)


def test_matrix_projection_uses_signed_weights():
    circuit = Circuit("inhibit")
    circuit.add_population("a", models.lif(t_ref=0 * ms), 2)
    circuit.add_population("b", models.lif(), 2)
    circuit.connect("a", "b", np.array([[0, 30.0], [0, 0]]) * mV, connectivity="matrix",
                    sign="inhibitory")
    circuit.add_input("da", "a")
    circuit.add_input("db", "b")
    record = simulate(circuit, {"da": [100, 0] * nA, "db": 30 * nA}, 100 * ms)
    b = record.counts["b"][-1, 0]
    assert b[1] < b[0]  # only b[1] is inhibited
