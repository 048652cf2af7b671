"""NIR graphs (the Neuromorphic Intermediate Representation, package ``nir``) as evsim circuits.

:func:`read` turns a graph (or a ``.nir`` file) into a :class:`NIRCircuit`: an evsim Circuit of
explicit neuron populations, one per spiking node, with the graph's linear maps as synapses;
:func:`write` exports such a circuit again (:func:`from_circuit`: one of evsim's own);
:func:`run` simulates it on inputs of shape ``(trials, T, *input_shape)`` and returns the
output node's spikes ``(trials, T, *output_shape)``, aligned with the input steps. Needs the
extra ``pip install -e ".[nir]"``.

A NIR file stores no time step, discretisation or initial state. The discrete mode is what
the SpikingJelly and snnTorch exporters assume: forward Euler with step ``dt`` (default
1e-4 s); a LIF does ``v <- v + dt/tau (v_leak - v + r I)``, an IF ``v <- v + dt r I``, a
CubaLIF first ``i <- i + dt/tau_syn (w_in I - i)`` and then its membrane with ``r i``, a
Threshold fires where its input exceeds the threshold; a neuron spikes when ``v >
v_threshold`` (``spike_rule=">="``: SpikingJelly's firing at exact ties) and is then set to
``v_reset``; membranes start at ``v_reset``, synaptic currents at 0. The linear nodes
(Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Identity;
:mod:`evsim.nir_maps`)
act within the step, so a chain of them between two spiking nodes is one sparse weight
matrix and a constant current (the biases, from the first step on); edges into one node are
summed (residual fan-in); spikes reach the next spiking node in the same step. In the
circuit each hop between spiking nodes costs one step, so node p shows step t at step t +
lag_p; converging paths are equalised with synaptic delays and :func:`run` removes the lags.
``mode="continuous"`` integrates the same ODEs exactly instead (:func:`nir_continuous_neuron`).

Nested graphs are flattened (their nodes named "outer.inner"). Any other node (LI, CubaLI,
I, Delay) and recurrent edges are one ValidationError naming them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from brian2 import hertz, second
from scipy import sparse

from .errors import ValidationError
from .graph import Circuit
from .models import NeuronModel, graded_source
from .nir_maps import LINEAR_NODES, linear_map
from .simulate import simulate

__all__ = ["NIRCircuit", "read", "run", "write", "from_circuit", "nir_neuron",
           "nir_continuous_neuron", "SPIKE_RULES", "RESETS", "MODES", "STEPS", "ODES",
           "SUPPORTED"]

SPIKE_RULES = (">", ">=")
MODES = ("discrete", "continuous")
#: after a spike: ``v = v_reset`` (NIR's semantics) or ``v -= v_threshold`` (snnTorch's
#: subtract reset with reset_delay=False, which its exporter writes as a reset to 0)
RESETS = ("value", "subtract")
#: spiking nodes and the forward-Euler step of each (``I + x``: the node's input this step)
STEPS = {
    "LIF": "v = v + k*(v_leak - v + r*(I + x))",
    "IF": "v = v + k*(r*(I + x))",
    "CubaLIF": "i_syn = i_syn + ks*(w_in*(I + x) - i_syn)\nv = v + k*(v_leak - v + r*i_syn)",
    "Threshold": "v = I + x",
}
#: node types :func:`read` builds
SUPPORTED = ("Input", "Output", *LINEAR_NODES, *STEPS)


def nir_neuron(kind: str, spike_rule: str = ">", reset: str = "value") -> NeuronModel:
    """The spiking NIR node ``kind`` (LIF, IF, CubaLIF, Threshold) stepped by forward Euler
    (:data:`STEPS`): ``k = dt/tau`` (LIF, CubaLIF's membrane) or ``dt`` (IF), ``ks =
    dt/tau_syn``; ``I`` the constant current of the biases and ``x`` the synaptic input that
    arrived in the step before; spike if ``v > v_th`` (or ``>=``), then ``v = v_reset`` (or
    ``v -= v_th``: ``reset="subtract"``; a Threshold node has no state: ``v`` is its input).
    Dimensionless."""
    if spike_rule not in SPIKE_RULES:
        raise ValidationError("spike_rule", f"parameter 'spike_rule' must be one of "
                                            f"{SPIKE_RULES}, got {spike_rule!r}")
    if reset not in RESETS:
        raise ValidationError("reset", f"parameter 'reset' must be one of {RESETS}, got "
                                       f"{reset!r}")
    stateless = kind == "Threshold"
    parameters = dict(v_th=1.0) if stateless else dict(k=1.0, r=1.0, v_leak=0.0, v_th=1.0,
                                                       v_reset=0.0)
    if kind == "CubaLIF":
        parameters.update(ks=1.0, w_in=1.0)
    return NeuronModel(
        name=f"nir_{kind.lower()}",
        dynamics="v : 1\nx : 1\nI : 1" + ("\ni_syn : 1" if kind == "CubaLIF" else ""),
        threshold=f"v {spike_rule} v_th",
        reset=None if stateless else ("v = v_reset" if reset == "value" else "v -= v_th"),
        method=None, parameters=parameters, input_variable="I", input_unit=1,
        synaptic_targets={"x": 1}, step_code=f"{STEPS[kind]}\nx = 0")


#: continuous mode: the node's ODE (``c``: the input current of the step, held over it) and
#: the variable a spike jumps (a pulse of area dt, the discrete step's input: by r dt / tau,
#: r dt or w_in dt / tau_syn times its weight, :func:`_jump`)
ODES = {
    "LIF": ("dv/dt = (v_leak - v + r*(I + c))/tau : 1", "v"),
    "IF": ("dv/dt = r*(I + c) : 1", "v"),
    "CubaLIF": ("di_syn/dt = (w_in*(I + c) - i_syn)/tau_syn : 1\n"
                "dv/dt = (v_leak - v + r*i_syn)/tau : 1", "i_syn"),
}


def nir_continuous_neuron(kind: str, spike_rule: str = ">", reset: str = "value") -> NeuronModel:
    """The spiking NIR node ``kind`` (LIF, IF, CubaLIF) in continuous time (:data:`ODES`),
    integrated exactly by Brian2: the input of Input nodes is a current held over each step
    (``c``, cleared after the step's update), a spike a pulse of area dt (the discrete step's
    input), i.e. a jump of ``jump`` x its weight in the node's variable; a Threshold node
    stays discrete (:func:`nir_neuron`). ``tau``, ``tau_syn`` in seconds, IF's ``r`` in
    Hz."""
    if kind not in ODES:
        return nir_neuron(kind, spike_rule, reset)
    discrete = nir_neuron(kind, spike_rule, reset)
    ode, target = ODES[kind]
    parameters = dict(r=1.0 * (hertz if kind == "IF" else 1), v_th=1.0, v_reset=0.0)
    if kind != "IF":
        parameters.update(v_leak=0.0, tau=1.0 * second)
    if kind == "CubaLIF":
        parameters.update(tau_syn=1.0 * second, w_in=1.0)
    constants = [name for name in ("tau", "tau_syn") if name in parameters]
    return NeuronModel(
        name=f"nir_{kind.lower()}_continuous", dynamics=ode + "\nc : 1\nI : 1",
        threshold=discrete.threshold, reset=discrete.reset,
        method="euler" if kind == "IF" else "exact",  # IF: a held derivative, Euler is exact
        parameters=parameters, input_variable="I", input_unit=1,
        synaptic_targets={target: 1, "c": 1}, step_code="c = 0",
        time_constants=tuple(constants))


@dataclass
class NIRCircuit:
    """An imported graph: the evsim ``circuit``, each spiking node's population parameters
    (``parameters``, per neuron) and lag, the graph's inputs {name: shape} (their copies shown
    from later steps in ``input_copies`` {population: (input, lag)}), the biases {population:
    (size,)} and the output {name: (population, shape)}."""

    circuit: Circuit
    dt: float
    inputs: dict
    outputs: dict
    lags: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    biases: dict = field(default_factory=dict)
    input_copies: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return max(self.lags.values())

    def run_inputs(self, x: dict, T: int) -> dict:
        """Circuit inputs (steps, trials, size) for ``x`` {input: (trials, T, size)}."""
        trials = len(next(iter(x.values())))
        steps = T + self.depth
        out = {}
        for population, (name, lag) in self.input_copies.items():
            shown = np.zeros((steps, trials, x[name].shape[2]))
            shown[lag:lag + T] = x[name].transpose(1, 0, 2)
            out[population] = shown
        for population, bias in self.biases.items():
            current = np.zeros((steps, trials, bias.size))
            current[self.lags[population]:] = bias  # from the node's first step on
            out[population] = current
        return out


def read(graph, *, dt: float = 1e-4, spike_rule: str = ">", reset: str = "value",
         mode: str = "discrete") -> NIRCircuit:
    """Import a NIR graph (a ``nir.NIRGraph`` or the path of a ``.nir`` file); ``dt`` the
    step in seconds the source framework used (> 0); ``spike_rule`` ">" (NIR, snnTorch) or
    ">=" (SpikingJelly); ``reset`` "value" (NIR) or "subtract" (see :data:`RESETS`);
    ``mode`` "discrete" (forward Euler, what the exporters assume) or "continuous" (the
    ODEs integrated exactly, :func:`nir_continuous_neuron`)."""
    nir = _nir()
    name = _safe("", Path(graph).stem) if isinstance(graph, (str, Path)) else "nir"
    if isinstance(graph, (str, Path)):
        if not Path(graph).is_file():
            raise ValidationError("graph", f"NIR file '{graph}' does not exist")
        graph = nir.read(str(graph))
    if not isinstance(graph, nir.NIRGraph):
        raise ValidationError("graph", "parameter 'graph' must be a nir.NIRGraph or the path of a "
                                       f".nir file, got {type(graph).__name__}")
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValidationError("dt", f"parameter 'dt' must be a time step > 0 in seconds, got "
                                    f"{dt!r}")
    nir_neuron("LIF", spike_rule, reset)  # checks spike_rule and reset
    if mode not in MODES:
        raise ValidationError("mode", f"parameter 'mode' must be one of {MODES}, got {mode!r}")
    graph = _flattened(graph, nir)
    for key, node in graph.nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED:
            raise ValidationError("graph", f"node '{key}' is a {kind}, which evsim.nir does not "
                                           f"import; supported: {SUPPORTED}")
    order = _topological(graph)
    return _Builder(graph, dt, spike_rule, reset, mode, name).build(order)


def run(graph, x, *, dt: float = 1e-4, spike_rule: str = ">", reset: str = "value",
        mode: str = "discrete", seed: int = 0, target: str | None = None) -> np.ndarray:
    """Simulate a NIR graph (see :func:`read`) on ``x`` of shape ``(trials, T,
    *input_shape)`` (a dict {input name: array} for several inputs); returns the output
    node's spikes, bool ``(trials, T, *output_shape)``, step t the output of input step t."""
    imported = graph if isinstance(graph, NIRCircuit) else read(graph, dt=dt,
                                                                spike_rule=spike_rule,
                                                                reset=reset, mode=mode)
    x = x if isinstance(x, dict) else {next(iter(imported.inputs)): x}
    if set(x) != set(imported.inputs):
        raise ValidationError("x", f"parameter 'x' must give the graph's inputs "
                                   f"{sorted(imported.inputs)}, got {sorted(x)}")
    flat, T, trials = {}, None, None
    for name, value in x.items():
        value, shape = np.asarray(value, dtype=float), imported.inputs[name]
        if value.ndim != 2 + len(shape) or value.shape[2:] != shape or value.shape[1] < 1 \
                or value.shape[0] < 1 or not np.all(np.isfinite(value)):
            raise ValidationError("x", f"input '{name}' must be finite with shape (trials, T, "
                                       f"*{shape}), got {value.shape}")
        if (trials, T) not in ((None, None), value.shape[:2]):
            raise ValidationError("x", "every input must have the same trials and T")
        trials, T = value.shape[:2]
        flat[name] = value.reshape(trials, T, -1)
    (population, shape), = imported.outputs.values()
    dt_s = imported.dt * second
    record = simulate(imported.circuit, imported.run_inputs(flat, T),
                      (T + imported.depth) * dt_s, dt=dt_s, trials=trials, seed=seed,
                      parameters={p: {key: value[None, :] for key, value in values.items()}
                                  for p, values in imported.parameters.items()},
                      record_spikes=[population],
                      initial={p: {"v": values["v_reset"][None, :]}
                               for p, values in imported.parameters.items()
                               if "v_reset" in values},
                      target=target)
    lag = imported.lags[population]
    return record.raster(population)[:, lag:lag + T].reshape((trials, T) + shape)


def write(imported: NIRCircuit, path) -> None:
    """Write an imported circuit (discrete mode) back as a NIR graph file: an Input per graph
    input (and a Flatten after it), a LIF, IF, CubaLIF or Threshold node per population with
    its parameters, an Affine (the bias, on the first) or Linear node per projection into it,
    and the Output (flat: shapes other than the inputs' come back flat). The file carries
    neither the spike rule nor the reset the circuit was read with: read it with the same
    options."""
    nir = _nir()
    graph = _to_graph(imported, nir)
    nir.write(str(path), graph)


#: the discrete LIFs :func:`from_circuit` writes, with the parameters they hold implicitly (a
#: coincidence unit is a discrete LIF of tau = 1 step)
DISCRETE_LIFS = {"discrete_lif": {}, "coincidence": {"tau": 1.0}}


def from_circuit(circuit: Circuit, *, dt: float, inputs: dict, biases: dict, output: str,
                 step=None) -> NIRCircuit:
    """An evsim circuit of graded sources and discrete LIF populations
    (:func:`evsim.models.discrete_lif`, SpikingJelly's neuron, and
    :func:`evsim.models.coincidence`, one of tau = 1 step) as a :class:`NIRCircuit` for
    :func:`write`: ``inputs`` maps each source population to its graph input, or to (input,
    lag) for a copy of it shown from step ``lag`` on, ``biases`` gives each population's constant
    current, ``output`` the population the graph outputs. A discrete LIF of time constant
    tau steps is a NIR LIF with tau dt, r = 1 and v_leak = 0; it fires at ``v >= v_th``
    (read the file with ``spike_rule=">="``). Synaptic delays are not written: in NIR a spike
    reaches the next layer in the same step, and :func:`read` places the lags again; they
    must equalise the paths into each population, in steps of ``step`` (the circuit's time
    step, a Brian2 time; default ``dt`` seconds)."""
    sizes = circuit.sizes
    imported = NIRCircuit(circuit, float(dt), {}, {"output": (output, (sizes[output],))})
    for population in circuit.populations:
        model = population.model
        if population.name in inputs:
            name, lag = (inputs[population.name], 0) if isinstance(inputs[population.name], str) \
                else inputs[population.name]
            imported.inputs[name] = (population.size,)
            imported.input_copies[population.name] = (name, int(lag))
        elif model.name in DISCRETE_LIFS and model.reset == "v = v_reset":
            size, values = population.size, DISCRETE_LIFS[model.name] | model.parameters
            imported.parameters[population.name] = dict(
                k=np.full(size, 1 / values["tau"]), r=np.ones(size), v_leak=np.zeros(size),
                v_th=np.full(size, values["v_th"]), v_reset=np.full(size, values["v_reset"]))
            imported.biases[population.name] = np.asarray(
                biases.get(population.name, np.zeros(size)), dtype=float)
        else:
            raise ValidationError("circuit", f"population '{population.name}' is a "
                                             f"{model.name} (reset {model.reset!r}); "
                                             "from_circuit writes graded sources (inputs) and "
                                             "discrete_lif or coincidence populations "
                                             "with a hard reset")
    if output not in imported.parameters:
        raise ValidationError("output", f"parameter 'output' must name a discrete_lif or "
                                        f"coincidence population, got {output!r}")
    _check_equalised(circuit, dt * second if step is None else step,
                     {p: lag for p, (_, lag) in imported.input_copies.items()})
    return imported


def _check_equalised(circuit: Circuit, step, input_lags: dict) -> None:
    """One clear error unless every projection targets a population's synaptic input ``x``
    and every path into a population takes the same number of steps (one per hop plus its
    delay): then dropping the delays (NIR is same-step) keeps the circuit's timing."""
    hops = [(p.source, p.target, 1 + int(round(float(p.delay / step))), p)
            for p in circuit.projections]
    for *_, projection in hops:
        if projection.variable != "x":
            raise ValidationError("circuit", f"projection '{projection.name}' targets "
                                             f"'{projection.variable}', not the synaptic input x")
    lag = dict(input_lags)
    for _ in circuit.populations:
        for source, target, hop, _ in hops:
            lag[target] = max(lag.get(target, 0), lag.get(source, 0) + hop)
    for source, target, hop, projection in hops:
        if lag.get(source, 0) + hop != lag[target]:
            raise ValidationError("circuit", f"projection '{projection.name}' reaches "
                                             f"'{target}' at another step than its other inputs: "
                                             "its delay does not equalise paths, and NIR has "
                                             "no delays")


def _to_graph(imported: NIRCircuit, nir):
    """The NIR graph of ``imported`` (see :func:`write`); node names are population names
    with every character but letters, digits and '_' replaced (HDF5 reads '/' as a group)."""
    if any(p.model.method is not None for p in imported.circuit.populations):
        raise ValidationError("imported", "write() exports the discrete mode; read the graph "
                                          "again with mode='discrete'")
    nodes = {name: nir.Input(input_type=np.array(shape))
             for name, shape in imported.inputs.items()}
    edges, sizes = [], imported.circuit.sizes
    node = {population: name for population, (name, _) in imported.input_copies.items()}
    for name, shape in imported.inputs.items():  # the projections read flat vectors
        if len(shape) > 1:
            nodes[f"{name}_flat"] = nir.Flatten(input_type={"input": np.array(shape)},
                                                start_dim=0, end_dim=-1)
            edges.append((name, f"{name}_flat"))
            node = {p: f"{n}_flat" if n == name else n for p, n in node.items()}
    node |= {population: _safe("", population) for population in imported.parameters}
    for population, values in imported.parameters.items():
        kind = next(p.model.name for p in imported.circuit.populations
                    if p.name == population).removeprefix("nir_")
        nodes[node[population]] = _node("lif" if kind in DISCRETE_LIFS else kind, values,
                                        imported.dt, nir)
        weights = {}
        for projection in imported.circuit.projections:
            if projection.target == population:
                source_size = sizes[projection.source]
                pre, post = projection.pairs(source_size, sizes[population])
                matrix = weights.setdefault(node[projection.source],
                                            np.zeros((sizes[population], source_size)))
                np.add.at(matrix, (post, pre), np.asarray(
                    projection.synapse_weights(source_size, sizes[population]), dtype=float))
        for k, (source, matrix) in enumerate(weights.items()):
            name = f"{node[population]}_from_{source}"
            nodes[name] = nir.Affine(matrix, imported.biases[population]) if k == 0 else \
                nir.Linear(matrix)
            edges += [(source, name), (name, node[population])]
    for name, (population, _) in imported.outputs.items():  # flat, as its population
        nodes[name] = nir.Output(output_type=np.array([sizes[population]]))
        edges.append((node[population], name))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _node(kind: str, values: dict, dt: float, nir):
    """The NIR node of a population's :func:`nir_neuron` parameters."""
    if kind == "threshold":
        return nir.Threshold(values["v_th"])
    common = dict(r=values["r"], v_threshold=values["v_th"], v_reset=values["v_reset"])
    if kind == "if":
        return nir.IF(**common)
    if kind == "lif":
        return nir.LIF(tau=dt / values["k"], v_leak=values["v_leak"], **common)
    return nir.CubaLIF(tau_mem=dt / values["k"], tau_syn=dt / values["ks"],
                       v_leak=values["v_leak"], w_in=values["w_in"], **common)


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValidationError("nir", "evsim.nir needs the 'nir' package: pip install -e "
                                     "\".[nir]\"") from None
    return nir


def _flattened(graph, nir, prefix: str = "") -> SimpleNamespace:
    """``graph`` with every nested NIRGraph node replaced by its nodes (named
    "outer.inner"): edges into the subgraph go to its Input, edges out of it leave its
    Output, and those two become Identity nodes."""
    from nir.ir.graph import Identity  # not exported at the package's top level

    nodes, edges, ends = {}, [], {}
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[prefix + name] = node
            continue
        inner = _flattened(node, nir, f"{prefix}{name}.")
        ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
        outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise ValidationError("graph", f"subgraph '{prefix}{name}' must have one Input and "
                                           f"one Output, got {ins} and {outs}")
        for key in (ins[0], outs[0]):
            end = node.nodes[key]
            shape = end.input_type["input"] if key == ins[0] else end.output_type["output"]
            inner.nodes[f"{prefix}{name}.{key}"] = Identity(input_type={"input": shape})
        nodes.update(inner.nodes)
        edges += inner.edges
        ends[prefix + name] = (f"{prefix}{name}.{ins[0]}", f"{prefix}{name}.{outs[0]}")
    for source, target in graph.edges:
        source, target = prefix + source, prefix + target
        edges.append((ends[source][1] if source in ends else source,
                      ends[target][0] if target in ends else target))
    return SimpleNamespace(nodes=nodes, edges=edges)


def _topological(graph) -> list[str]:
    """Node names in an order where every edge points forward (nir.read returns nodes
    alphabetically and snnTorch writes edges unordered); one clear error for a cycle."""
    incoming = {name: 0 for name in graph.nodes}
    for source, target in graph.edges:
        for end in (source, target):
            if end not in graph.nodes:
                raise ValidationError("graph", f"edge ({source!r}, {target!r}) names a node the "
                                               "graph does not have")
        incoming[target] += 1
    ready = sorted(name for name, count in incoming.items() if count == 0)
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for source, target in graph.edges:
            if source == name:
                incoming[target] -= 1
                if incoming[target] == 0:
                    ready.append(target)
    if len(order) != len(graph.nodes):
        raise ValidationError("graph", "the graph has a cycle (recurrent edges are not "
                                       f"imported): {sorted(set(graph.nodes) - set(order))}")
    return order


class _Builder:
    """Folds the linear nodes into synapses and places each spiking node's population."""

    def __init__(self, graph, dt: float, spike_rule: str, reset: str, mode: str, name: str):
        self.graph, self.dt, self.rule, self.reset = graph, float(dt), spike_rule, reset
        self.continuous = mode == "continuous"
        self.imported = NIRCircuit(Circuit(name or "nir"), float(dt), {}, {})
        #: node -> ({source node: sparse matrix (node size, source size)}, bias, shape)
        self.forms: dict = {}

    def build(self, order: list[str]) -> NIRCircuit:
        predecessors = {name: [s for s, t in self.graph.edges if t == name] for name in order}
        for name in order:
            node, kind = self.graph.nodes[name], type(self.graph.nodes[name]).__name__
            if kind == "Input":
                shape = tuple(int(n) for n in np.atleast_1d(node.input_type["input"]))
                self.imported.inputs[name] = shape
                self._identity(name, shape)
            elif kind == "Output":
                self._output(name, predecessors[name])
            elif kind in LINEAR_NODES:
                matrices, bias, shape = self._sum(name, predecessors[name])
                matrix, shift, out = linear_map(name, node, shape)
                self.forms[name] = ({o: matrix @ m for o, m in matrices.items()},
                                    matrix @ bias + shift, out)
            else:
                self._spiking(name, kind, node, self._sum(name, predecessors[name]))
        if not self.imported.outputs:
            raise ValidationError("graph", "the graph has no Output node (evsim.nir returns the "
                                           "spikes of one)")
        return self.imported

    def _identity(self, name: str, shape: tuple) -> None:
        size = int(np.prod(shape))
        self.forms[name] = ({name: sparse.identity(size, format="csr")}, np.zeros(size), shape)

    def _sum(self, name: str, sources: list[str]) -> tuple:
        """The summed affine form of the edges into ``name`` and its shape."""
        if not sources:
            raise ValidationError("graph", f"node '{name}' has no incoming edge")
        matrices, bias, shapes = {}, 0.0, set()
        for source in sources:
            forms, b, shape = self.forms[source]
            for origin, matrix in forms.items():
                matrices[origin] = matrices[origin] + matrix if origin in matrices else matrix
            bias, shapes = bias + b, shapes | {shape}
        if len({int(np.prod(shape)) for shape in shapes}) > 1:
            raise ValidationError("graph", f"node '{name}' sums inputs of shapes {sorted(shapes)}")
        return matrices, np.asarray(bias, dtype=float), max(shapes, key=len)

    def _spiking(self, name: str, kind: str, node, drive) -> None:
        matrices, bias, shape = drive
        size = len(bias)
        values = _parameters(name, kind, node, size, self.dt)
        if kind == "Threshold" and np.any(values["v_th"] < 0 if self.rule == ">"
                                          else values["v_th"] <= 0):
            raise ValidationError("graph", f"node '{name}': a threshold that zero input "
                                           f"crosses ({self.rule} {values['v_th'].min():g}) "
                                           "would fire before the node's first input")
        circuit, lags = self.imported.circuit, self.imported.lags
        population = self._population(name)
        continuous = self.continuous and kind in ODES
        model = (nir_continuous_neuron if continuous else nir_neuron)(kind, self.rule,
                                                                     self.reset)
        circuit.add_population(population, model, size)
        lag = max(self._lag(origin) for origin in matrices) + 1
        lags[population] = lag
        if continuous:
            values = _continuous(kind, values, self.dt)
        from circuits.arithmetic import connect_pairs

        for origin, matrix in matrices.items():
            source = self._source(origin, lag - 1)
            entries = matrix.tocoo()
            weights, variable = entries.data, None
            if continuous:  # a spike: a pulse of area dt; an input value: a held current
                graded = origin in self.imported.inputs
                variable = "c" if graded else ODES[kind][1]
                if not graded:
                    weights = weights * _jump(kind, values, self.dt)[entries.row]
            connect_pairs(circuit, source, population, entries.col, entries.row, weights,
                          delay=(lag - 1 - lags[source]) * self.dt * second,
                          variable=variable, name=f"{source}->{population}")
        circuit.add_input(population, population)
        self.imported.biases[population] = bias
        self.imported.parameters[population] = values
        self._identity(name, shape)

    def _population(self, name: str) -> str:
        """An evsim population name for node ``name`` (letters, digits and '_')."""
        population = _safe("n_", name)
        if population in self.imported.lags:
            raise ValidationError("graph", f"node names '{name}' and another one map to the "
                                           f"same population name '{population}'")
        return population

    def _output(self, name: str, sources: list[str]) -> None:
        if len(sources) == 1 and sources[0] in self.forms:  # through identities (subgraphs)
            matrices, bias, _ = self.forms[sources[0]]
            origin = next(iter(matrices))
            if len(matrices) == 1 and not bias.any() and origin not in self.imported.inputs \
                    and matrices[origin].shape == (len(bias),) * 2 \
                    and (matrices[origin] != sparse.identity(len(bias))).nnz == 0:
                sources = [origin]
        if len(sources) != 1 or type(self.graph.nodes[sources[0]]).__name__ not in STEPS:
            raise ValidationError("graph", f"output '{name}' must read one spiking node (evsim "
                                           f"returns spikes), it reads {sources}")
        if self.imported.outputs:
            outputs = [k for k, n in self.graph.nodes.items() if type(n).__name__ == "Output"]
            raise ValidationError("graph", f"evsim.nir runs graphs with one output, got {outputs}")
        self.imported.outputs[name] = (self._source(sources[0], 0), self.forms[sources[0]][2])

    def _lag(self, origin: str) -> int:
        """Lag of a node's population (an input's first copy: 0)."""
        return 0 if origin in self.imported.inputs else self.imported.lags[self._source(origin, 0)]

    def _source(self, origin: str, lag: int) -> str:
        """The population that sends ``origin``'s output: a spiking node, or for an input the
        copy shown from step ``lag`` on (a graded event is read when it arrives, so a
        delayed synapse would read a later step)."""
        if origin not in self.imported.inputs:
            return _safe("n_", origin)
        population = _safe("in_", origin) + (f"__lag{lag}" if lag else "")
        if population not in self.imported.input_copies:
            if population in {p.name for p in self.imported.circuit.populations}:
                raise ValidationError("graph", f"input '{origin}' and another node map to the "
                                               f"same population name '{population}'")
            size = int(np.prod(self.imported.inputs[origin]))
            self.imported.circuit.add_population(population, graded_source(), size)
            self.imported.circuit.add_input(population, population)
            self.imported.input_copies[population] = (origin, lag)
            self.imported.lags[population] = lag
        return population


def _safe(prefix: str, name: str) -> str:
    """``prefix`` + a node name made of letters, digits and '_' (an evsim population name)."""
    return prefix + re.sub(r"[^0-9A-Za-z_]", "_", name)


def _parameters(name: str, kind: str, node, size: int, dt: float) -> dict:
    """Per-neuron parameters of the :func:`nir_neuron` model of a spiking node."""
    def flat(value):
        array = np.asarray(value, dtype=float).reshape(-1)
        if array.size not in (1, size) or not np.all(np.isfinite(array)):
            raise ValidationError("graph", f"node '{name}' ({size} neurons) has parameters of "
                                           f"{array.size} values or non-finite ones")
        return np.broadcast_to(array, (size,)).copy()

    if kind == "Threshold":
        return dict(v_th=flat(node.threshold))
    values = dict(r=flat(node.r), v_th=flat(node.v_threshold), v_reset=flat(node.v_reset))
    if kind != "IF" and np.any(flat(node.v_leak) != values["v_reset"]):
        raise ValidationError("graph", f"node '{name}': v_leak differs from v_reset; evsim.nir "
                                       "imports membranes that rest where they start (as the "
                                       "SpikingJelly and snnTorch exporters write them): a "
                                       "node's steps before its first input would drift")
    if kind == "IF":
        return values | dict(k=np.full(size, dt), v_leak=np.zeros(size))
    tau = flat(node.tau if kind == "LIF" else node.tau_mem)
    values |= dict(k=dt / tau, v_leak=flat(node.v_leak))
    if kind == "CubaLIF":
        tau_syn = flat(node.tau_syn)
        tau = np.concatenate([tau, tau_syn])
        values |= dict(ks=dt / tau_syn, w_in=flat(node.w_in))
    if np.any(tau <= 0):
        raise ValidationError("graph", f"node '{name}': time constants must be > 0")
    return values


def _continuous(kind: str, values: dict, dt: float) -> dict:
    """The continuous model's parameters from the discrete ones (``k = dt/tau``, IF's
    ``k = dt``), with units."""
    out = dict(r=values["r"] * (hertz if kind == "IF" else 1), v_leak=values["v_leak"],
               v_th=values["v_th"], v_reset=values["v_reset"])
    if kind != "IF":
        out["tau"] = dt / values["k"] * second
    if kind == "CubaLIF":
        out.update(tau_syn=dt / values["ks"] * second, w_in=values["w_in"])
    if kind == "IF":
        out.pop("v_leak")
    return out


def _jump(kind: str, values: dict, dt: float) -> np.ndarray:
    """Per neuron: what a spike of weight 1 adds to the node's variable (:data:`ODES`)."""
    step = dt * second
    if kind == "LIF":
        return np.asarray(values["r"] * step / values["tau"], dtype=float)
    if kind == "IF":
        return np.asarray(values["r"] * step, dtype=float)
    return np.asarray(values["w_in"] * step / values["tau_syn"], dtype=float)
