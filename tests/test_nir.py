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


def _order(graph) -> list:
    """Nodes in an order where every edge points forward (independent of evsim's sort)."""
    order = []
    while len(order) < len(graph.nodes):
        order += [n for n in graph.nodes if n not in order
                  and all(s in order for s, t in graph.edges if t == n)]
    return order


def reference(graph, x: np.ndarray, dt: float = DT, rule: str = ">",
              reset: str = "value") -> np.ndarray:
    """The output of ``graph`` (one input, one output) for x (trials, T, *shape), step by step
    in NumPy."""
    order, edges = _order(graph), graph.edges
    trials, T = x.shape[:2]
    state, out, shapes = {}, [], {}

    def sources(name):
        return next(s for s, target in edges if target == name)
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
                values[name] = inputs * node.scale.reshape(-1)
            elif kind in ("Conv2d", "SumPool2d", "AvgPool2d"):
                values[name] = _conv2d(node, inputs, shapes, name, sources(name))
            elif kind == "Flatten":
                values[name] = inputs
                shapes[name] = (int(np.prod(shapes[sources(name)])),)
            elif kind == "Output":
                out.append(inputs)
            elif kind == "Threshold":
                values[name] = _fires(inputs, node.threshold.reshape(-1), rule)
            else:
                v = state.get(name, np.broadcast_to(node.v_reset.reshape(-1),
                                                    inputs.shape).astype(float))
                p = {key: np.asarray(getattr(node, key)).reshape(-1) for key in
                     ("r", "v_reset", "v_threshold", "tau", "tau_mem", "tau_syn", "w_in",
                      "v_leak") if hasattr(node, key)}
                if kind == "LIF":
                    v = v + (dt / p["tau"]) * (p["v_leak"] - v + p["r"] * inputs)
                elif kind == "IF":
                    v = v + dt * (p["r"] * inputs)
                else:  # CubaLIF: the synaptic current first, then the membrane with it
                    i = state.get(name + ".i", np.zeros(inputs.shape))
                    i = i + (dt / p["tau_syn"]) * (p["w_in"] * inputs - i)
                    state[name + ".i"] = i
                    v = v + (dt / p["tau_mem"]) * (p["v_leak"] - v + p["r"] * i)
                spikes = _fires(v, p["v_threshold"], rule)
                state[name] = np.where(spikes, v - p["v_threshold"] if reset == "subtract"
                                       else p["v_reset"], v)
                values[name] = spikes.astype(float)
            if name not in shapes:
                shapes[name] = shapes[sources(name)] if kind != "Input" else \
                    tuple(node.input_type["input"])
    return np.stack(out, axis=1).astype(bool)


def reference_continuous(graph, x: np.ndarray, dt: float = DT) -> np.ndarray:
    """Continuous mode of a graph of Input, Affine, Linear, Scale, LIF and IF nodes, exactly:
    what flows from an input is a current held over the node's next step, a spike of weight w
    a pulse of area dt (a jump of r w dt / tau, or r w dt for an IF) at the start of it; a
    LIF then relaxes exponentially towards v_leak + r I over the step."""
    order, edges = _order(graph), graph.edges
    trials, T = x.shape[:2]
    state, out = {}, []
    for t in range(T):
        values = {}  # node -> (held current, spike drive)
        for name in order:
            node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
            if kind == "Input":
                current = x[:, t].reshape(trials, -1)
                values[name] = (current, np.zeros_like(current))
                continue
            held = sum(values[s][0] for s, target in edges if target == name)
            spiking = sum(values[s][1] for s, target in edges if target == name)
            if kind in ("Affine", "Linear"):
                bias = node.bias if kind == "Affine" else 0.0
                values[name] = (held @ node.weight.T + bias, spiking @ node.weight.T)
            elif kind == "Scale":
                values[name] = (held * node.scale, spiking * node.scale)
            elif kind == "Output":
                out.append(spiking)
            else:
                v = state.get(name, np.broadcast_to(node.v_reset, (trials,) + node.r.shape)
                              .astype(float))
                if kind == "LIF":
                    v = v + node.r * dt / node.tau * spiking
                    rest = node.v_leak + node.r * held
                    v = rest + (v - rest) * np.exp(-dt / node.tau)
                else:
                    v = v + node.r * dt * spiking + dt * node.r * held
                spikes = v > node.v_threshold
                state[name] = np.where(spikes, node.v_reset, v)
                values[name] = (np.zeros(spikes.shape), spikes.astype(float))
    return np.stack(out, axis=1).astype(bool)


def _fires(v, threshold, rule):
    return v >= threshold if rule == ">=" else v > threshold


def _conv2d(node, inputs, shapes, name, source):
    """A zero-padded 2-D cross-correlation (or sum / average pooling) by explicit loops."""
    kind = type(node).__name__
    c, h, w = shapes[source]
    if kind == "Conv2d":
        weight, bias = node.weight, node.bias
    else:
        kh, kw = (tuple(np.atleast_1d(node.kernel_size)) * 2)[:2]
        weight = np.zeros((c, c, kh, kw))
        weight[np.arange(c), np.arange(c)] = 1.0 / (kh * kw if kind == "AvgPool2d" else 1)
        bias = np.zeros(c)
    sh, sw = (tuple(np.atleast_1d(node.stride)) * 2)[:2]
    ph, pw = (tuple(np.atleast_1d(node.padding)) * 2)[:2]
    x = np.pad(inputs.reshape(-1, c, h, w), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = weight.shape[2:]
    rows, cols = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((len(x), weight.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.einsum("bchw,ochw->bo", patch, weight) + bias
    shapes[name] = y.shape[1:]
    return y.reshape(len(x), -1)


def _lif(shape, rng, tau=2e-4):
    return nir.LIF(tau=np.full(shape, tau), r=rng.uniform(0.8, 1.5, shape),
                   v_leak=np.zeros(shape), v_threshold=np.ones(shape))


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


def _conv(rng):
    """Conv2d (padding 1, stride 1) -> LIF -> AvgPool2d 2 -> Flatten -> Affine -> LIF."""
    shape = (2, 6, 6)
    nodes = {
        "in": nir.Input(input_type=np.array(shape)),
        "conv": nir.Conv2d(input_shape=shape[1:], weight=rng.normal(0, 1.2, (3, 2, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1,
                           bias=rng.normal(0, 0.2, 3)),
        "a": _lif((3, 6, 6), rng),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type=np.array([3, 3, 3]), start_dim=0, end_dim=-1),
        "fc": nir.Affine(rng.normal(0, 2.0, (5, 27)), rng.normal(0, 0.2, 5)),
        "b": _lif(5, rng), "out": nir.Output(output_type=np.array([5]))}
    edges = [("in", "conv"), ("conv", "a"), ("a", "pool"), ("pool", "flat"), ("flat", "fc"),
             ("fc", "b"), ("b", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _cuba(rng):
    """Affine -> CubaLIF -> Linear -> Threshold."""
    n = 7
    return nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0, 1.5, (n, 4)), rng.normal(0, 0.3, n)),
        nir.CubaLIF(tau_syn=np.full(n, 3e-4), tau_mem=np.full(n, 2e-4), r=np.full(n, 2.0),
                    v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.full(n, 2.0)),
        nir.Linear(rng.normal(0, 1.0, (3, n))), nir.Threshold(np.full(3, 0.5)))


@pytest.mark.parametrize("make", [_mlp, _residual, _conv, _cuba])
def test_imported_graphs_spike_as_nirs_semantics(make, seed):
    rng = np.random.default_rng(seed)
    graph = make(rng)
    shape = tuple(next(iter(graph.inputs.values())).input_type["input"])
    x = rng.random((16, 8) + shape)
    spikes = evsim_nir.run(graph, x, target="numpy")
    expected = reference(graph, x)
    assert spikes.shape == expected.shape and 0 < expected.mean() < 1
    np.testing.assert_array_equal(spikes, expected)


def test_a_subtract_reset_keeps_what_exceeds_the_threshold(seed):
    rng = np.random.default_rng(seed)
    graph = _residual(rng)
    x = 2 * rng.random((16, 8, 4))
    spikes = evsim_nir.run(graph, x, reset="subtract", target="numpy")
    np.testing.assert_array_equal(spikes, reference(graph, x, reset="subtract"))
    assert (spikes != reference(graph, x)).any()  # the reset matters here


@pytest.mark.parametrize("make", [_mlp, _residual])
def test_the_continuous_mode_integrates_exactly(make, seed):
    rng = np.random.default_rng(seed)
    graph = make(rng)
    x = rng.random((16, 8, 4))
    spikes = evsim_nir.run(graph, x, mode="continuous", target="numpy")
    expected = reference_continuous(graph, x)
    assert 0 < expected.mean() < 1
    np.testing.assert_array_equal(spikes, expected)
    assert (spikes != reference(graph, x)).any()  # not forward Euler at this dt


def test_a_nested_graph_runs_as_its_flat_twin(seed):
    """The residual graph with its b-branch (fb -> b) as a subgraph: the same spikes."""
    rng = np.random.default_rng(seed)
    flat = _residual(rng)
    inner = nir.NIRGraph(nodes={"i": nir.Input(input_type=np.array([6])), "fb": flat.nodes["fb"],
                                "b": flat.nodes["b"], "o": nir.Output(output_type=np.array([6]))},
                         edges=[("i", "fb"), ("fb", "b"), ("b", "o")])
    nodes = {k: v for k, v in flat.nodes.items() if k not in ("fb", "b")} | {"branch": inner}
    edges = [("a", "branch") if e == ("a", "fb") else ("branch", "fc") if e == ("b", "fc")
             else e for e in flat.edges if e != ("fb", "b")]
    nested = nir.NIRGraph(nodes=nodes, edges=edges)
    x = rng.random((8, 6, 4))
    np.testing.assert_array_equal(evsim_nir.run(nested, x, target="numpy"),
                                  reference(flat, x))
    assert "n_branch_b" in evsim_nir.read(nested).lags
    # a subgraph that ends the network: the output reads its spiking node through identities
    tail = nir.NIRGraph(nodes={"i": nir.Input(input_type=np.array([6])), "fc": flat.nodes["fc"],
                               "c": flat.nodes["c"], "o": nir.Output(output_type=np.array([6]))},
                        edges=[("i", "fc"), ("fc", "c"), ("c", "o")])
    mlp = nir.NIRGraph(nodes={"in": flat.nodes["in"], "fa": flat.nodes["fa"], "a": flat.nodes["a"],
                              "tail": tail, "out": nir.Output(output_type=np.array([6]))},
                       edges=[("in", "fa"), ("fa", "a"), ("a", "tail"), ("tail", "out")])
    chain = nir.NIRGraph.from_list(flat.nodes["fa"], flat.nodes["a"], flat.nodes["fc"],
                                   flat.nodes["c"])
    np.testing.assert_array_equal(evsim_nir.run(mlp, x, target="numpy"), reference(chain, x))


@pytest.mark.parametrize("make", [_mlp, _residual, _conv, _cuba])
def test_a_written_graph_reads_back_to_the_same_spikes(make, tmp_path, seed):
    """read -> write -> read: every layer, bias and parameter survives (the linear chains come
    back folded, one Affine or Linear node per projection)."""
    rng = np.random.default_rng(seed)
    graph = make(rng)
    shape = tuple(next(iter(graph.inputs.values())).input_type["input"])
    x = rng.random((8, 6) + shape)
    evsim_nir.write(evsim_nir.read(graph), tmp_path / "again.nir")
    again = evsim_nir.run(tmp_path / "again.nir", x, target="numpy")
    expected = reference(graph, x)
    np.testing.assert_array_equal(again, expected.reshape(again.shape))
    with pytest.raises(ValidationError, match="exports the discrete mode"):
        evsim_nir.write(evsim_nir.read(graph, mode="continuous"), tmp_path / "no.nir")


def test_from_circuit_refuses_what_nir_cannot_carry():
    from evsim import Circuit, models

    circuit = Circuit("soft")
    circuit.add_population("x", models.graded_source(), 2)
    circuit.add_population("a", models.discrete_lif(reset="soft"), 2)
    circuit.connect("x", "a", 1.0)
    with pytest.raises(ValidationError, match="with a hard reset"):
        evsim_nir.from_circuit(circuit, dt=DT, inputs={"x": "x"}, biases={}, output="a")
    circuit = Circuit("late")
    circuit.add_population("x", models.graded_source(), 2)
    circuit.add_population("a", models.discrete_lif(), 2)
    circuit.add_population("b", models.discrete_lif(), 2)
    circuit.connect("x", "a", 1.0)
    circuit.connect("a", "b", 1.0)
    circuit.connect("x", "b", 1.0, delay=3 * DT * second)  # arrives after a's path
    with pytest.raises(ValidationError, match="does not equalise paths"):
        evsim_nir.from_circuit(circuit, dt=DT, inputs={"x": "x"}, biases={}, output="b")
    with pytest.raises(ValidationError, match="parameter 'output' must name"):
        evsim_nir.from_circuit(circuit, dt=DT, inputs={"x": "x"}, biases={}, output="x")


@pytest.mark.parametrize("arch", ["sdt", pytest.param("qkformer", marks=pytest.mark.slow),
                                  pytest.param("spikformer", marks=pytest.mark.slow),
                                  pytest.param("spikingresformer", marks=pytest.mark.slow)])
def test_a_trained_model_written_to_nir_reads_back_spike_for_spike(arch, tmp_path):
    """A shipped spiking transformer (its attention as LIF AND-gate populations) written as a
    NIR graph with its last layer as the output, read back with SpikingJelly's '>=' and run:
    that layer's spikes equal SpikingJelly's reference on 16 test images."""
    from circuits import trained
    from evsim.train import task_data

    meta, weights, reference_ = trained.load_weights(trained.shipped(arch))
    model = trained.build(meta, weights)
    last = model.stream[-1]
    layer = next(name for name, (population, _, _) in model.layers.items() if population == last)
    evsim_nir.write(evsim_nir.from_circuit(
        model.circuit, dt=DT,
        inputs={source: ("image", model.lags[source]) for source in model.image_sources},
        biases=model.biases, output=last, step=trained.STEP), tmp_path / f"{arch}.nir")
    images = task_data("digits")[0][reference_["test_index"][:16]]
    x = np.repeat(images.reshape(16, 1, -1), meta["T"], axis=1)  # direct encoding
    spikes = evsim_nir.run(tmp_path / f"{arch}.nir", x, spike_rule=">=", target="numpy")
    expected = np.moveaxis(trained.reference_spikes(reference_, 16)[layer], 0, 1)
    np.testing.assert_array_equal(spikes, expected.reshape(spikes.shape))
    assert expected.sum() > 1000


def test_converging_paths_are_equalised_with_delays():
    imported = evsim_nir.read(_residual(np.random.default_rng(0)))
    assert imported.lags == {"in_in": 0, "n_a": 1, "n_b": 2, "in_in__lag2": 2, "n_c": 3}
    delays = {p.name: round(float(p.delay / (DT * second)))
              for p in imported.circuit.projections}
    assert delays["n_a->n_c+"] == 1 and delays["n_b->n_c+"] == 0
    assert delays["in_in__lag2->n_c+"] == 0


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
    leaky = nir.NIRGraph.from_list(nir.Linear(np.eye(2)), nir.LI(
        tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)))
    cases = [
        (lambda: evsim_nir.read(leaky), "graph", r"node 'li' is a LI, which evsim.nir does not "
                                                 "import; supported"),
        (lambda: evsim_nir.read(tmp_path / "none.nir"), "graph", "does not exist"),
        (lambda: evsim_nir.read(_mlp(rng), dt=0), "dt", "time step > 0"),
        (lambda: evsim_nir.read(_mlp(rng), spike_rule="=>"), "spike_rule", "must be one of"),
        (lambda: evsim_nir.read(_mlp(rng), reset="soft"), "reset", "must be one of"),
        (lambda: evsim_nir.run(_mlp(rng), np.zeros((2, 3, 5))), "x", r"shape \(trials, T, "),
        (lambda: evsim_nir.run(_mlp(rng), {"nope": np.zeros((2, 3, 4))}), "x", "inputs"),
        (lambda: evsim_nir.read(nir.NIRGraph.from_list(nir.Linear(np.eye(2)))), "graph",
         "must read one spiking node"),
        (lambda: evsim_nir.read(nir.NIRGraph.from_list(nir.Linear(np.eye(2)), nir.LIF(
            tau=np.ones(2), r=np.ones(2), v_leak=np.full(2, 0.3), v_threshold=np.ones(2)))),
         "graph", "v_leak differs from v_reset"),
        (lambda: evsim_nir.read(nir.NIRGraph.from_list(nir.Linear(np.eye(2)),
                                                       nir.Threshold(np.full(2, -0.5)))),
         "graph", "a threshold that zero input crosses"),
        (lambda: evsim_nir.read(nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])),
                                                    "a": nir.IF(r=np.ones(2),
                                                                v_threshold=np.ones(2))},
                                             edges=[("in", "a")], type_check=False)),
         "graph", "no Output node"),
        (lambda: evsim_nir.read(nir.NIRGraph(nodes={
            "in": nir.Input(input_type=np.array([1, 6, 6])),
            "conv": nir.Conv2d(input_shape=(6, 6), weight=np.ones((1, 1, 3, 3)), stride=2,
                               padding="same", dilation=1, groups=1, bias=np.zeros(1)),
            "a": nir.IF(r=np.ones((1, 6, 6)), v_threshold=np.ones((1, 6, 6))),
            "out": nir.Output(output_type=np.array([1, 6, 6]))},
            edges=[("in", "conv"), ("conv", "a"), ("a", "out")], type_check=False)),
         "graph", "PyTorch allows 'same' only at stride 1"),
    ]
    for call, parameter, message in cases:
        with pytest.raises(ValidationError, match=message) as error:
            call()
        assert error.value.parameter == parameter


def test_as_many_trials_as_neurons_is_not_ambiguous():
    """Per-neuron parameters go to the simulator as (1, size), so 8 trials of an 8-neuron
    layer are not read as one value per trial."""
    rng = np.random.default_rng(4)
    graph = _mlp(rng)
    x = rng.random((8, 4, 4))
    np.testing.assert_array_equal(evsim_nir.run(graph, x, target="numpy"), reference(graph, x))


def test_the_command_line_imports_runs_and_draws_a_file(tmp_path):
    from typer.testing import CliRunner

    from evsim.cli import app

    rng = np.random.default_rng(2)
    graph = _residual(rng)
    nir.write(str(tmp_path / "residual.nir"), graph)
    x = rng.random((3, 5, 4))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["import-nir", str(tmp_path / "residual.nir"), "--inputs",
                                      str(tmp_path / "x.npy"), "--out", str(out),
                                      "--target", "numpy"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(out / "spikes.npy"), reference(graph, x))
    counts = np.loadtxt(out / "counts.csv", delimiter=",", ndmin=2)
    np.testing.assert_array_equal(counts, reference(graph, x).sum(axis=1))
    assert (out / "raster.png").stat().st_size > 0 and (out / "circuit.png").stat().st_size > 0
    bad = CliRunner().invoke(app, ["import-nir", str(tmp_path / "residual.nir"), "--mode",
                                   "exact", "--out", str(out)])
    assert bad.exit_code == 2 and bad.output.startswith("error: parameter 'mode' must be one of")


def test_a_cycle_is_refused():
    nodes = {"in": nir.Input(input_type=np.array([2])), "f": nir.Linear(np.eye(2)),
             "a": nir.IF(r=np.ones(2), v_threshold=np.ones(2)), "g": nir.Linear(np.eye(2)),
             "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "f"), ("f", "a"), ("a", "g"), ("g", "f"), ("a", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(ValidationError, match="cycle"):
        evsim_nir.read(graph)


# -- with the train extra (slow): graphs SpikingJelly exports ---------------------------------

def _spikingjelly_net(name: str, torch, layer, neuron):
    """A float64 multi-step SpikingJelly network (hard reset to 0) and its input shape."""
    def lif(decay_input=True):
        return neuron.LIFNode(tau=2.0, decay_input=decay_input, v_reset=0.0, step_mode="m")

    class Residual(torch.nn.Module):  # s + b(fc2(s)) into fc3: two edges into one node
        def __init__(self):
            super().__init__()
            self.fc1, self.a = layer.Linear(4, 10, step_mode="m"), lif()
            self.fc2, self.b = layer.Linear(10, 10, step_mode="m"), lif()
            self.fc3, self.c = layer.Linear(10, 5, step_mode="m"), lif()

        def forward(self, x):
            s = self.a(self.fc1(x))
            return self.c(self.fc3(s + self.b(self.fc2(s))))

    torch.manual_seed(0)
    if name == "residual":
        net, shape = Residual(), (4,)
    elif name.startswith("conv"):
        pool = [layer.AvgPool2d(2, step_mode="m")] if name == "conv+pool" else []
        features = 4 * (3 * 3 if pool else 6 * 6)
        net, shape = torch.nn.Sequential(
            layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), lif(), *pool,
            layer.Flatten(step_mode="m"), layer.Linear(features, 5, step_mode="m"), lif()), \
            (2, 6, 6)
    else:
        cell = dict(LIF=lif, IF=lambda: neuron.IFNode(v_reset=0.0, step_mode="m"),
                    CubaLIF=lambda: neuron.CUBALIFNode(v_threshold=0.5, v_reset=0.0),
                    **{"LIF no decay_input": lambda: lif(False)})[name]
        net, shape = torch.nn.Sequential(layer.Linear(4, 12, step_mode="m"), cell(),
                                         layer.Linear(12, 5, step_mode="m"), cell()), (4,)
        if name == "CubaLIF":
            for module in net:
                module.step_mode = "m"
    net = net.double()
    gain = 3.0 if name in ("IF", "CubaLIF", "LIF no decay_input") else 6.0
    with torch.no_grad():  # larger weights than the default init: every layer fires
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.mul_(gain)
            elif isinstance(module, torch.nn.Linear):  # after a convolution: pooled rates
                module.weight.mul_(20.0 if name.startswith("conv") else gain)
    return net, shape


@pytest.mark.slow
@pytest.mark.parametrize("name", ["LIF", "LIF no decay_input", "IF", "CubaLIF", "conv",
                                  "conv+pool", "residual"])
def test_spikingjelly_exports_run_spike_for_spike(name):
    """64 trials x T = 8 through a SpikingJelly network exported with its own exporter:
    evsim's output spikes equal SpikingJelly's ('>=' is SpikingJelly's firing rule)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    net, shape = _spikingjelly_net(name, torch, layer, neuron)
    x = np.random.default_rng(1).random((64, 8) + shape)
    inputs = torch.tensor(np.moveaxis(x, 1, 0))  # SpikingJelly: (T, trials, ...)
    graph = export_to_nir(net, inputs[:, :2], dt=1e-4)
    functional.reset_net(net)
    with torch.no_grad():
        expected = np.moveaxis(net(inputs).numpy(), 0, 1).astype(bool)
    spikes = evsim_nir.run(graph, x, spike_rule=">=")  # the default target
    assert 0.02 < expected.mean() < 0.95
    np.testing.assert_array_equal(spikes, expected)


# -- with the train extra and snntorch (slow): graphs snnTorch exports ------------------------

def _snntorch_net(name: str, torch, snn):
    """A float32 snnTorch network (per-neuron beta, threshold 1) and its input shape; reset
    to zero unless the name says subtract, applied in the next step unless it says
    immediate (reset_delay=False)."""
    reset = "subtract" if "subtract" in name else "zero"
    delay = "immediate" not in name

    def cell(n, last=False):
        shape = n if isinstance(n, tuple) else (n,)
        options = dict(threshold=torch.ones(shape), init_hidden=True, output=last,
                       reset_mechanism=reset, reset_delay=delay)
        if name.startswith("Synaptic"):
            return snn.Synaptic(alpha=torch.full(shape, 0.6), beta=torch.full(shape, 0.8),
                                **options)
        return snn.Leaky(beta=torch.full(shape, 0.8), **options)

    torch.manual_seed(0)
    if name.startswith("conv"):
        pool = [torch.nn.AvgPool2d(2)] if name == "conv+pool" else []
        net, shape = torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3, padding=1), cell((4, 6, 6)), *pool, torch.nn.Flatten(),
            torch.nn.Linear(36 if pool else 144, 5), cell(5, last=True)), (2, 6, 6)
    else:
        net, shape = torch.nn.Sequential(torch.nn.Linear(4, 12), cell(12),
                                         torch.nn.Linear(12, 5), cell(5, last=True)), (4,)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                module.weight.mul_(12.0 if name.startswith("conv") and isinstance(
                    module, torch.nn.Linear) else 3.0)
    return net, shape


def _snntorch_case(name: str) -> tuple:
    """(exported graph, inputs x, snnTorch's output spikes) of :func:`_snntorch_net`."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net, shape = _snntorch_net(name, torch, snn)
    x = np.random.default_rng(1).random((64, 8) + shape)
    graph = export_to_nir(net, torch.tensor(x[:1, 0], dtype=torch.float32), ignore_dims=[0])
    return graph, x, _snntorch_spikes(net, x, torch)


def _snntorch_spikes(net, x, torch):
    from snntorch import utils

    utils.reset(net)
    with torch.no_grad():
        return np.stack([net(torch.tensor(x[:, t], dtype=torch.float32))[0].numpy()
                         for t in range(x.shape[1])], axis=1).astype(bool)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Leaky", "Synaptic immediate", "conv", "conv+pool"])
def test_snntorch_exports_run_spike_for_spike(name):
    """64 trials x T = 8 through an snnTorch network exported with its own exporter (float32
    in snnTorch, float64 here), reset to zero (a Leaky's delayed zero reset equals NIR's; a
    Synaptic's needs reset_delay=False, see below)."""
    graph, x, expected = _snntorch_case(name)
    spikes = evsim_nir.run(graph, x)  # the default target
    assert 0.02 < expected.mean() < 0.95
    np.testing.assert_array_equal(spikes, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Leaky subtract", "Leaky subtract immediate", "Synaptic"])
def test_snntorch_resets_the_file_does_not_carry(name):
    """Written to the file as a reset to 0 and matching neither reset of evsim.nir: snnTorch's
    subtract resets (the default one applied in the next step, undecayed; the immediate one
    with a guard against resetting twice) and a Synaptic's delayed zero reset (which drops the
    input of the step after a spike). Stated, not reproduced."""
    graph, x, expected = _snntorch_case(name)
    for reset in evsim_nir.RESETS:
        assert (evsim_nir.run(graph, x, reset=reset, target="numpy") != expected).sum() > 0


@pytest.mark.slow
def test_snntorchs_export_of_a_residual_block_is_refused():
    """snnTorch 1.0's exporter loses a residual addition (it writes an extra Input into the
    layer after it and the block's branch into the Output): the graph is not the model, and
    reading it is one clear error rather than other spikes."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    def cell(n, last=False):
        return snn.Leaky(beta=torch.full((n,), 0.8), threshold=torch.ones(n), init_hidden=True,
                         output=last, reset_mechanism="zero")

    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.a = torch.nn.Linear(4, 10), cell(10)
            self.fc2, self.b = torch.nn.Linear(10, 10), cell(10)
            self.fc3, self.c = torch.nn.Linear(10, 5), cell(5, last=True)

        def forward(self, x):
            s = self.a(self.fc1(x))
            return self.c(self.fc3(s + self.b(self.fc2(s))))

    graph = export_to_nir(Residual(), torch.rand(1, 4), ignore_dims=[0])
    with pytest.raises(ValidationError, match="must read one spiking node"):
        evsim_nir.read(graph)


@pytest.mark.slow
def test_snntorchs_export_of_a_leak_free_neuron_is_refused():
    """snnTorch has no IF neuron; its Leaky with beta = 1 (no leak) is exported with
    tau = dt / (1 - beta) = inf and r = inf: one clear error, not NaN membranes."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(
        beta=torch.ones(3), threshold=torch.ones(3), init_hidden=True, output=True))
    with np.errstate(divide="ignore"):
        graph = export_to_nir(net, torch.rand(1, 4), ignore_dims=[0])
    with pytest.raises(ValidationError, match="non-finite"):
        evsim_nir.read(graph)
