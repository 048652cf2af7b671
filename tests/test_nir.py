"""NIR graphs written with ``nir`` itself, imported as circuits and simulated in Brian2, spike
for spike against a NumPy replay of NIR's discrete semantics (forward Euler, same-step
propagation in topological order, membranes from v_reset)."""

import numpy as np
import pytest
from brian2 import second

nir = pytest.importorskip("nir")

from evsim import nir as evsim_nir  # noqa: E402
from evsim.errors import ValidationError  # noqa: E402

DT = 1e-4


def reference(graph, x: np.ndarray, dt: float = DT, rule: str = ">") -> np.ndarray:
    """The output of ``graph`` (one input, one output) for x (trials, T, *shape), step by step
    in NumPy."""
    order, edges = evsim_nir._topological(graph), graph.edges
    trials, T = x.shape[:2]
    state, out = {}, []
    for t in range(T):
        values = {}
        for name in order:
            node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
            inputs = sum(values[s] for s, target in edges if target == name) if kind != "Input" \
                else None
            if kind == "Input":
                values[name] = x[:, t].reshape(trials, -1)
            elif kind == "Affine":
                values[name] = inputs @ node.weight.T + node.bias
            elif kind == "Linear":
                values[name] = inputs @ node.weight.T
            elif kind == "Scale":
                values[name] = inputs * node.scale
            elif kind == "Output":
                out.append(inputs)
            else:
                v = state.get(name, np.broadcast_to(node.v_reset, inputs.shape).astype(float))
                if kind == "LIF":
                    v = v + (dt / node.tau) * (node.v_leak - v + node.r * inputs)
                else:
                    v = v + dt * (node.r * inputs)
                spikes = v >= node.v_threshold if rule == ">=" else v > node.v_threshold
                state[name] = np.where(spikes, node.v_reset, v)
                values[name] = spikes.astype(float)
    return np.stack(out, axis=1).astype(bool)


def _lif(n, rng, tau=2e-4):
    return nir.LIF(tau=np.full(n, tau), r=rng.uniform(0.8, 1.5, n), v_leak=np.zeros(n),
                   v_threshold=np.ones(n))


def _mlp(rng):
    return nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0, 1.5, (8, 4)), rng.normal(0, 0.3, 8)), _lif(8, rng),
        nir.Linear(rng.normal(0, 1.0, (3, 8))),
        nir.IF(r=np.full(3, 1e4), v_threshold=np.ones(3)))


def _residual(rng):
    """input -> a; a -> b; a (scaled) + b + input -> c: three paths of 1, 2 and 3 hops into c
    (delays equalise them; the input is read by a copy shown two steps later)."""
    nodes = {
        "in": nir.Input(input_type=np.array([4])),
        "fa": nir.Affine(rng.normal(0, 1.5, (6, 4)), rng.normal(0, 0.3, 6)), "a": _lif(6, rng),
        "fb": nir.Linear(rng.normal(0, 1.2, (6, 6))), "b": _lif(6, rng, tau=5e-4),
        "sa": nir.Scale(rng.uniform(0.5, 1.5, 6)), "fc": nir.Linear(rng.normal(0, 1.0, (6, 6))),
        "fx": nir.Affine(rng.normal(0, 1.0, (6, 4)), np.full(6, 0.1)), "c": _lif(6, rng),
        "out": nir.Output(output_type=np.array([6]))}
    edges = [("in", "fa"), ("fa", "a"), ("a", "fb"), ("fb", "b"), ("a", "sa"), ("sa", "c"),
             ("b", "fc"), ("fc", "c"), ("in", "fx"), ("fx", "c"), ("c", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("make", [_mlp, _residual])
def test_imported_graphs_spike_as_nirs_semantics(make, seed):
    rng = np.random.default_rng(seed)
    graph = make(rng)
    x = rng.random((16, 8, 4))
    spikes = evsim_nir.run(graph, x, target="numpy")
    expected = reference(graph, x)
    assert spikes.shape == expected.shape and 0 < expected.mean() < 1
    np.testing.assert_array_equal(spikes, expected)


def test_converging_paths_are_equalised_with_delays():
    imported = evsim_nir.read(_residual(np.random.default_rng(0)))
    assert imported.lags == {"in_in": 0, "n_a": 1, "n_b": 2, "in_in_2": 2, "n_c": 3}
    delays = {p.name: round(float(p.delay / (DT * second)))
              for p in imported.circuit.projections}
    assert delays["n_a->n_c+"] == 1 and delays["n_b->n_c+"] == 0 and delays["in_in_2->n_c+"] == 0


def test_a_file_and_unordered_nodes_and_edges_give_the_same_spikes(tmp_path):
    rng = np.random.default_rng(3)
    graph = _residual(rng)
    x = rng.random((4, 6, 4))
    path = tmp_path / "residual.nir"
    nir.write(str(path), graph)
    shuffled = nir.NIRGraph(nodes=dict(reversed(list(graph.nodes.items()))),
                            edges=list(reversed(graph.edges)))
    first = evsim_nir.run(graph, x, target="numpy")
    np.testing.assert_array_equal(evsim_nir.run(path, x, target="numpy"), first)
    np.testing.assert_array_equal(evsim_nir.run(shuffled, x, target="numpy"), first)


def test_the_spike_rule_decides_exact_ties():
    """IF with dt r x = 1 exactly: '>' fires every second step, '>=' every step."""
    graph = nir.NIRGraph.from_list(nir.Linear(np.eye(2)),
                                   nir.IF(r=np.full(2, 2.0), v_threshold=np.ones(2)))
    x = np.ones((1, 6, 2))
    strict = evsim_nir.run(graph, x, dt=0.5, target="numpy")[0, :, 0]
    ties = evsim_nir.run(graph, x, dt=0.5, spike_rule=">=", target="numpy")[0, :, 0]
    assert strict.tolist() == [False, True] * 3 and ties.all()
    np.testing.assert_array_equal(reference(graph, x, 0.5)[0, :, 0], strict)
    np.testing.assert_array_equal(reference(graph, x, 0.5, ">=")[0, :, 0], ties)


def test_unsupported_nodes_and_bad_input_are_one_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    cuba = nir.NIRGraph.from_list(nir.Linear(np.eye(2)), nir.CubaLIF(
        tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
        v_threshold=np.ones(2)))
    cases = [
        (lambda: evsim_nir.read(cuba), "graph", r"node 'cubalif' is a CubaLIF, which evsim.nir "
                                                "does not import; supported"),
        (lambda: evsim_nir.read(tmp_path / "none.nir"), "graph", "does not exist"),
        (lambda: evsim_nir.read(_mlp(rng), dt=0), "dt", "time step > 0"),
        (lambda: evsim_nir.read(_mlp(rng), spike_rule="=>"), "spike_rule", "must be one of"),
        (lambda: evsim_nir.run(_mlp(rng), np.zeros((2, 3, 5))), "x", r"shape \(trials, T, "),
        (lambda: evsim_nir.run(_mlp(rng), {"nope": np.zeros((2, 3, 4))}), "x", "inputs"),
        (lambda: evsim_nir.read(nir.NIRGraph.from_list(nir.Linear(np.eye(2)))), "graph",
         "must read one LIF or IF node"),
    ]
    for call, parameter, message in cases:
        with pytest.raises(ValidationError, match=message) as error:
            call()
        assert error.value.parameter == parameter


def test_a_cycle_is_refused():
    nodes = {"in": nir.Input(input_type=np.array([2])), "f": nir.Linear(np.eye(2)),
             "a": nir.IF(r=np.ones(2), v_threshold=np.ones(2)), "g": nir.Linear(np.eye(2)),
             "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "f"), ("f", "a"), ("a", "g"), ("g", "f"), ("a", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(ValidationError, match="cycle"):
        evsim_nir.read(graph)


# -- with the train extra (slow): graphs SpikingJelly exports ---------------------------------

def _spikingjelly_mlp(kind: str, torch, layer, neuron):
    """Linear -> LIF (or IF) -> Linear -> LIF, float64, multi-step, hard reset to 0."""
    def cell():
        if kind == "IF":
            return neuron.IFNode(v_reset=0.0, step_mode="m")
        return neuron.LIFNode(tau=2.0, decay_input=kind == "LIF", v_reset=0.0, step_mode="m")

    torch.manual_seed(0)
    net = torch.nn.Sequential(layer.Linear(4, 12, step_mode="m"), cell(),
                              layer.Linear(12, 5, step_mode="m"), cell()).double()
    with torch.no_grad():  # larger weights than the default init: every layer fires
        for module in net:
            if isinstance(module, torch.nn.Linear):
                module.weight.mul_(6.0 if kind == "LIF" else 3.0)
    return net


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["LIF", "LIF no decay_input", "IF"])
def test_spikingjelly_exports_run_spike_for_spike(kind):
    """64 trials x T = 8 of a SpikingJelly MLP exported with its own exporter: evsim's
    output spikes equal SpikingJelly's ('>=' is SpikingJelly's firing rule)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    net = _spikingjelly_mlp(kind.split()[0], torch, layer, neuron)
    if kind == "LIF no decay_input":
        net[1].decay_input = net[3].decay_input = False
    x = np.random.default_rng(1).random((64, 8, 4))
    inputs = torch.tensor(x.transpose(1, 0, 2))  # SpikingJelly: (T, trials, features)
    graph = export_to_nir(net, inputs[:, :2], dt=1e-4)
    functional.reset_net(net)
    with torch.no_grad():
        expected = net(inputs).numpy().transpose(1, 0, 2).astype(bool)
    spikes = evsim_nir.run(graph, x, spike_rule=">=", target="numpy")
    assert 0.05 < expected.mean() < 0.95
    np.testing.assert_array_equal(spikes, expected)
