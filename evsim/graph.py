"""Circuits as explicit neuron graphs.

A :class:`Circuit` is a networkx ``MultiDiGraph``: nodes are populations (a neuron model and a
size), edges are projections (weights, connectivity, delay, sign). Named input ports say which
populations receive external inputs; output ports name what a user reads out. Sub-circuits are
composed with :meth:`Circuit.include`, which prefixes their names with ``prefix/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from brian2 import Quantity, ms, siemens
from brian2.units.fundamentalunits import get_dimensions

from .errors import ValidationError
from .models import NeuronModel, check_integer, check_quantity

__all__ = ["Population", "Projection", "Circuit", "CONNECTIVITIES", "SIGNS"]

CONNECTIVITIES = ("all_to_all", "one_to_one", "matrix", "pairs")
SIGNS = ("excitatory", "inhibitory")


@dataclass(frozen=True)
class Population:
    """``size`` neurons of one model (per trial)."""

    name: str
    model: NeuronModel
    size: int


@dataclass(frozen=True)
class Projection:
    """Synapses from ``source`` to ``target``.

    ``weight`` is a non-negative magnitude in the unit of the target's synaptic variable: a
    scalar for ``all_to_all``/``one_to_one``, an array of shape (source size, target size) for
    ``matrix`` (zero entries make no synapse), a scalar or one value per synapse for
    ``pairs``, whose synapses are ``index_pairs`` = (pre indices, post indices): sparse
    connectivity without a dense matrix, one synapse per listed pair (a repeated pair makes
    parallel synapses; :func:`circuits.arithmetic.connect_pairs` merges them instead).
    ``sign`` says whether it adds or subtracts.
    ``delay`` is extra transmission delay; every hop already costs one time step.
    ``variable`` is the target's variable that each spike increments.
    """

    name: str
    source: str
    target: str
    weight: object
    connectivity: str
    delay: Quantity
    sign: str
    variable: str
    index_pairs: tuple | None = None  # (pre, post) int arrays, for connectivity "pairs"

    @property
    def signed_weight(self):
        """The weight with its sign applied."""
        return self.weight if self.sign == "excitatory" else -self.weight

    def pairs(self, source_size: int, target_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Pre and post indices (within one trial) of every synapse."""
        if self.connectivity == "one_to_one":
            index = np.arange(source_size)
            return index, index
        if self.connectivity == "all_to_all":
            pre, post = np.meshgrid(np.arange(source_size), np.arange(target_size), indexing="ij")
            return pre.ravel(), post.ravel()
        if self.connectivity == "pairs":
            return self.index_pairs
        return np.nonzero(np.asarray(self.weight))

    def synapse_weights(self, source_size: int, target_size: int):
        """Signed weight of every synapse, in the order of :meth:`pairs`."""
        pre, post = self.pairs(source_size, target_size)
        if self.connectivity == "matrix":
            return self.signed_weight[pre, post]
        return self.signed_weight * np.ones(len(pre))


def _check_name(kind: str, name) -> None:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_/" for c in name):
        raise ValidationError("name", f"{kind} name must be a non-empty string of letters, digits, "
                                      f"'_' or '/', got {name!r}")


def _index_pairs(pairs, connectivity: str, source_size: int, target_size: int):
    """Validated (pre, post) int arrays for ``pairs`` connectivity (None otherwise)."""
    if connectivity != "pairs":
        if pairs is not None:
            raise ValidationError("pairs", "parameter 'pairs' is only for connectivity='pairs', "
                                           f"got connectivity={connectivity!r}")
        return None
    if pairs is None or len(pairs) != 2:
        raise ValidationError("pairs", "parameter 'pairs' must be (pre indices, post indices) for "
                                       "connectivity='pairs'")
    pre, post = (np.asarray(index) if len(index) else np.zeros(0, np.int64) for index in pairs)
    for label, index, size in (("pre", pre, source_size), ("post", post, target_size)):
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer) or \
                np.any(index < 0) or np.any(index >= size):
            raise ValidationError("pairs", f"parameter 'pairs': {label} indices must be a 1-D "
                                           f"integer array in [0, {size})")
    if pre.shape != post.shape:
        raise ValidationError("pairs", "parameter 'pairs' must have as many pre as post indices, "
                                       f"got {len(pre)} and {len(post)}")
    return pre, post


class Circuit:
    """A spiking circuit as a networkx MultiDiGraph of populations and projections.

    Examples
    --------
    >>> from evsim import Circuit, models
    >>> from brian2 import mV
    >>> c = Circuit("pair")
    >>> _ = c.add_population("exc", models.lif(), 16)
    >>> _ = c.add_population("inh", models.lif(), 1)
    >>> _ = c.connect("exc", "inh", 2 * mV)
    >>> _ = c.connect("inh", "exc", 5 * mV, sign="inhibitory")
    >>> c.add_input("drive", "exc"); c.add_output("spikes", "exc")
    """

    def __init__(self, name: str = "circuit"):
        _check_name("circuit", name)
        self.name = name
        self.graph = nx.MultiDiGraph(name=name)
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.dt_limits: list[tuple] = []  # (largest dt, why), enforced by evsim.simulate

    # -- description --------------------------------------------------------------------------
    def add_population(self, name: str, model: NeuronModel, size: int) -> Population:
        """Add ``size`` neurons of ``model``; returns the Population."""
        _check_name("population", name)
        if name in self.graph:
            raise ValidationError("name", f"population '{name}' already exists in circuit "
                                          f"'{self.name}'")
        if not isinstance(model, NeuronModel):
            raise ValidationError("model", "parameter 'model' must be an evsim NeuronModel, got "
                                           f"{model!r}")
        check_integer("size", size, 1)
        population = Population(name, model, int(size))
        self.graph.add_node(name, population=population)
        return population

    def connect(self, source: str, target: str, weight, *, connectivity: str = "all_to_all",
                delay=0 * ms, sign: str = "excitatory", variable: str | None = None,
                name: str | None = None, pairs=None) -> Projection:
        """Add a projection; weights carry the unit of the target's synaptic ``variable``.

        ``variable`` defaults to the target model's first synaptic target (e.g. ``v``).
        ``pairs`` = (pre indices, post indices) lists the synapses of ``connectivity="pairs"``
        (``weight`` then a scalar or one value per pair).
        """
        pre, post = self.population(source), self.population(target)
        if connectivity not in CONNECTIVITIES:
            raise ValidationError("connectivity", "parameter 'connectivity' must be one of "
                                                  f"{CONNECTIVITIES}, got {connectivity!r}")
        if sign not in SIGNS:
            raise ValidationError("sign", f"parameter 'sign' must be one of {SIGNS}, got {sign!r}")
        targets = post.model.synaptic_targets
        if not targets:
            raise ValidationError("target", f"population '{target}' ({post.model.name}) is a "
                                            "source and cannot receive a projection")
        variable = next(iter(targets)) if variable is None else variable
        if variable not in targets:
            raise ValidationError("variable", "parameter 'variable' must be one of "
                                              f"{sorted(targets)} for target '{target}' "
                                              f"({post.model.name}), got {variable!r}")
        check_quantity("weight", weight, targets[variable], nonnegative=True)
        if sign == "inhibitory" and get_dimensions(targets[variable]) == siemens.dim:
            raise ValidationError("sign", f"parameter 'sign' must be 'excitatory' onto the "
                                          f"conductance '{variable}' of '{target}': a conductance "
                                          "cannot be negative, it inhibits through its reversal "
                                          "potential (connect to its inhibitory conductance, e.g. "
                                          "variable='g_inh')")
        check_quantity("delay", delay, ms, nonnegative=True)
        shape = np.shape(weight)
        index_pairs = _index_pairs(pairs, connectivity, pre.size, post.size)
        if connectivity == "matrix" and shape != (pre.size, post.size):
            raise ValidationError("weight", "parameter 'weight' must have shape (source size, "
                                            f"target size) = ({pre.size}, {post.size}) for matrix "
                                            f"connectivity, got {shape}")
        if connectivity == "pairs" and shape not in ((), index_pairs[0].shape):
            raise ValidationError("weight", "parameter 'weight' must be a scalar or have one value "
                                            f"per pair ({len(index_pairs[0])}), got shape {shape}")
        if connectivity in ("all_to_all", "one_to_one") and shape != ():
            raise ValidationError("weight", "parameter 'weight' must be a scalar for "
                                            f"{connectivity} connectivity, got shape {shape}; use "
                                            "connectivity='matrix' or 'pairs'")
        if connectivity == "one_to_one" and pre.size != post.size:
            raise ValidationError("connectivity", "one_to_one needs equal sizes, got source "
                                                  f"'{source}' size {pre.size} and target "
                                                  f"'{target}' size {post.size}")
        name = name or f"{source}->{target}#{self.graph.number_of_edges(source, target)}"
        if name in {p.name for p in self.projections}:
            raise ValidationError("name", f"projection '{name}' already exists in circuit "
                                          f"'{self.name}'")
        projection = Projection(name, source, target, weight, connectivity, delay, sign, variable,
                                index_pairs)
        self.graph.add_edge(source, target, key=name, projection=projection)
        return projection

    def require_dt_at_most(self, max_dt, reason: str) -> None:
        """Record that this circuit is only valid for time steps dt <= ``max_dt`` (a time),
        for ``reason``; :func:`evsim.simulate` refuses a larger dt."""
        check_quantity("max_dt", max_dt, ms, positive=True)
        self.dt_limits.append((max_dt, reason))

    def add_input(self, port: str, population: str) -> None:
        """Declare an input port: external inputs for ``port`` drive ``population``."""
        self._add_port(self.inputs, port, population)
        if self.population(population).model.input_variable is None:
            raise ValidationError("population", f"population '{population}' has no input variable")

    def add_output(self, port: str, population: str) -> None:
        """Declare an output port reading the spikes of ``population``."""
        self._add_port(self.outputs, port, population)

    def _add_port(self, ports: dict, port: str, population: str) -> None:
        _check_name("port", port)
        self.population(population)
        if port in ports:
            raise ValidationError("port", f"port '{port}' already exists in circuit '{self.name}'")
        ports[port] = population

    def include(self, other: "Circuit", prefix: str) -> None:
        """Copy ``other`` into this circuit with every name (and port) prefixed by ``prefix/``."""
        _check_name("prefix", prefix)
        for population in other.populations:
            self.add_population(f"{prefix}/{population.name}", population.model, population.size)
        for p in other.projections:
            self.connect(f"{prefix}/{p.source}", f"{prefix}/{p.target}", p.weight,
                         connectivity=p.connectivity, delay=p.delay, sign=p.sign,
                         variable=p.variable, name=f"{prefix}/{p.name}", pairs=p.index_pairs)
        for port, population in other.inputs.items():
            self.add_input(f"{prefix}/{port}", f"{prefix}/{population}")
        self.dt_limits += other.dt_limits
        for port, population in other.outputs.items():
            self.add_output(f"{prefix}/{port}", f"{prefix}/{population}")

    # -- queries ------------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        """The population called ``name`` (clear error if there is none)."""
        if name not in self.graph:
            raise ValidationError("population", f"unknown population '{name}' in circuit "
                                                f"'{self.name}'; accepted: "
                                                f"{sorted(self.graph.nodes)}")
        return self.graph.nodes[name]["population"]

    @property
    def populations(self) -> list[Population]:
        return [data["population"] for _, data in self.graph.nodes(data=True)]

    @property
    def sizes(self) -> dict[str, int]:
        """{population name: neurons}."""
        return {population.name: population.size for population in self.populations}

    @property
    def projections(self) -> list[Projection]:
        return [data["projection"] for _, _, data in self.graph.edges(data=True)]

    def validate(self) -> None:
        """Check that the circuit can be built: non-empty, and every port names a population."""
        if self.graph.number_of_nodes() == 0:
            raise ValidationError("circuit", f"circuit '{self.name}' has no populations")
        for population in {**self.inputs, **self.outputs}.values():
            self.population(population)

    def __repr__(self) -> str:
        return (f"<Circuit '{self.name}': {len(self.populations)} populations, "
                f"{len(self.projections)} projections, inputs {sorted(self.inputs)}, "
                f"outputs {sorted(self.outputs)}>")

    # -- drawing ------------------------------------------------------------------------------
    def draw(self, ax=None):
        """Draw the circuit as a layered diagram (:mod:`evsim.diagram`); returns the Axes (a new
        figure sized to the circuit if ``ax`` is None)."""
        from .diagram import draw_circuit

        return draw_circuit(self, ax)
