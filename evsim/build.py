"""Compile a Circuit into ONE Brian2 Network with all trials replicated block-diagonally.

Neuron ``j`` of trial ``r`` in a population of size ``S`` is neuron ``r*S + j`` of that
population's NeuronGroup; synapses only connect neurons of the same trial. Inputs, parameters
and initial values may differ per trial, so trials and sweep cells share one run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from brian2 import (Clock, Equations, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses,
                    TimedArray)

from .blocks import BlockPathway, block_layout
from .pathways import EventPathway, Pathway
from .errors import ValidationError
from .graph import Circuit
from .models import check_quantity, unit_of
from .restarts import RestartOperation, restarted_variables

__all__ = ["BuiltNetwork", "NetworkPlan", "build_network", "plan_network", "instantiate",
           "SCHEDULES", "per_neuron_values", "recorded_populations", "with_spike_times",
           "PerTrial", "whole"]

#: Brian2 marks a neuron refractory from its spike to the end of that step even when its
#: refractory period is shorter than one step, so synaptic input arriving on the firing step
#: (after the reset in the ``resets_first`` schedule) would be dropped. Appended to the reset of
#: every model with a refractory period (``{t_ref}``: the model's refractory parameter), this
#: line lifts the block for neurons whose period rounds to zero steps.
RELEASE_ZERO_REFRACTORY = "not_refractory = timestep({t_ref}, dt) == 0"

#: ``order`` of a model's step code within the ``groups`` slot: after the state updater
#: (order 0), so a discrete-time update sees the state the continuous part has just written.
STEP_CODE_ORDER = 1

#: Slot orders. ``resets_first`` runs resets before synaptic propagation, so an input that
#: arrives on the step a neuron fires is added after its reset instead of being erased by it.
SCHEDULES = {
    "resets_first": ["start", "groups", "thresholds", "resets", "synapses", "end"],
    "brian": ["start", "groups", "thresholds", "synapses", "resets", "end"],
}


@dataclass
class GroupPlan:
    """One NeuronGroup: ``trials * size`` neurons of one population's model."""

    population: str
    name: str  # the Brian2 name
    neurons: int
    equations: object  # brian2.Equations
    threshold: str
    reset: str
    refractory: str | None
    method: str | None
    step_code: str | None
    varying_input: str | None  # input variable driven by a TimedArray, if any
    states: object = None  # the StateRequest recorded from this group, if any
    restart: object = None  # evsim.restarts.RestartWindow: when its state restarts, if ever


@dataclass
class SynapsesPlan:
    """One Synapses object: the projections between two populations that act alike (same
    target variable, delay and weight unit; e.g. the excitatory and inhibitory halves of a
    signed matrix), merged and replicated block-diagonally over trials. Its synapses are
    ordered by (pre, post), so its structure does not depend on the weights' signs."""

    name: str  # the Brian2 name
    source: str  # population names
    target: str
    model: str
    on_pre: str
    pre: np.ndarray  # synapses of one trial
    post: np.ndarray
    source_size: int
    target_size: int
    delay: object
    #: (projection name, its synapses' pre indices) of every merged projection
    parts: tuple = ()
    variable: str = ""  # the target's variable that on_pre adds to
    payload: str | None = None  # the source's variable a spike carries (graded sources)

    def indices(self, trials: int) -> tuple[np.ndarray, np.ndarray]:
        """Pre and post neuron indices of every synapse, trial by trial."""
        i = (np.arange(trials)[:, None] * self.source_size + self.pre).ravel()
        j = (np.arange(trials)[:, None] * self.target_size + self.post).ravel()
        return i, j


@dataclass(frozen=True, eq=False)
class PerTrial:
    """A plan value that is the same in every trial: ``one_trial`` (SI floats) in ``unit``,
    repeated ``trials`` times; made whole (:meth:`tiled`) only where every trial's copy is
    needed (a NumPy pathway takes one trial's weights)."""

    one_trial: np.ndarray
    trials: int
    unit: object = 1

    @property
    def shape(self) -> tuple:
        return (self.trials * len(self.one_trial),)

    def tiled(self):
        """The values of every trial, trial by trial (a Quantity unless dimensionless)."""
        tiled = np.tile(self.one_trial, self.trials)
        return tiled if isinstance(self.unit, int) else tiled * self.unit  # unit_of: 1


def whole(value):
    """A plan value with every trial's copy (:meth:`PerTrial.tiled`); others as they are."""
    return value.tiled() if isinstance(value, PerTrial) else value


@dataclass
class NetworkPlan:
    """Everything :func:`build_network` creates, without Brian2 objects: the groups and
    synapses, the values to assign and the structure that fixes the generated code.

    ``values`` lists (Brian2 object name, variable, value), values as Brian2 quantities:
    variable ``None`` is a TimedArray's values (steps, neurons); others are scalars or one
    value per neuron or synapse. Two plans with equal :attr:`key` build the same network up to these values.
    """

    circuit: str
    trials: int
    dt: object
    schedule: str
    record_spikes: tuple  # the populations whose spike times are kept
    groups: list
    synapses: list
    values: list
    structure: list
    record_every: object = None  # sampling interval of the state monitors (a Brian2 time)

    @property
    def synapses_per_trial(self) -> int:
        """Synapses of one copy of the circuit."""
        return sum(len(s.pre) for s in self.synapses)

    @cached_property
    def key(self) -> str:
        """sha256 of :attr:`structure` (hex)."""
        return hashlib.sha256("\n".join(self.structure).encode()).hexdigest()


@dataclass
class BuiltNetwork:
    """The Brian2 objects of one built circuit."""

    network: Network
    groups: dict  # population name -> NeuronGroup
    synapses: dict  # Brian2 name -> Synapses or evsim.pathways.Pathway (see SynapsesPlan)
    counters: dict  # population name -> SpikeMonitor (record=False unless spike times asked)
    trials: int
    plan: NetworkPlan
    #: Brian2 name -> the object a plan value is assigned to (a group, Synapses, Pathway or
    #: TimedArray)
    owners: dict
    states: dict = field(default_factory=dict)  # population name -> StateMonitor

    @property
    def structure(self) -> list:
        return self.plan.structure

    def owned_values(self, plan: NetworkPlan):
        """(Brian2 object, variable, value) of each value of ``plan`` whose object was built
        (a projection without synapses is not)."""
        for owner, variable, value in plan.values:
            if owner in self.owners:
                yield self.owners[owner], variable, value

    def assign(self, plan: NetworkPlan) -> None:
        """Write the values of ``plan`` (same key as this network's) into its objects."""
        if plan.key != self.plan.key:
            raise RuntimeError(f"plan of '{plan.circuit}' does not match this network's structure")
        for target, variable, value in self.owned_values(plan):
            if variable is None:  # a TimedArray's values (SI), read by its code in place
                target.values[...] = np.asarray(value)
            elif isinstance(value, PerTrial) and isinstance(target, Pathway):
                target.weights_of_every_trial = value.one_trial
            else:
                setattr(target, variable, whole(value))
        self.plan = plan


def per_neuron_values(name: str, value, unit, trials: int, size: int) -> np.ndarray:
    """Broadcast a value to (trials*size,): a scalar; one per neuron, (size,) or (1, size);
    one per trial, (trials,) or (trials, 1); or (trials, size).

    A 1-D value is ambiguous when trials = size > 1 and is refused then (use (1, size) or
    (trials, 1)). Checks the unit against ``unit`` and that every value is finite; returns a
    Quantity or a float array in the unit's SI base.
    """
    check_quantity(name, value, unit)
    array = np.asarray(value, dtype=float)
    shape = array.shape
    if len(shape) == 1 and trials == size > 1:
        raise ValidationError(name, f"'{name}' has shape {shape}, which is ambiguous when trials = "
                                    f"size = {size}: pass shape (1, size) for one value per neuron "
                                    "or (trials, 1) for one per trial")
    if shape in ((), (size,), (1, size), (trials, 1), (trials, size)):
        full = np.broadcast_to(array, (trials, size))
    elif shape == (trials,):
        full = np.broadcast_to(array[:, None], (trials, size))
    else:
        raise ValidationError(name, f"'{name}' must be a scalar or have shape (size,) = ({size},), "
                                    f"(trials,) = ({trials},) or (trials, size) = ({trials}, "
                                    f"{size}), got {shape}")
    return full.reshape(-1).copy()


def recorded_populations(circuit: Circuit, record, parameter: str = "record_spikes") -> tuple:
    """The populations ``record`` asks for (True: all, False: none, or their names), in the
    circuit's order; one clear error naming ``parameter`` for an unknown name."""
    names = [p.name for p in circuit.populations]
    if isinstance(record, (bool, np.bool_)):
        return tuple(names) if record else ()
    if isinstance(record, str) or not hasattr(record, "__iter__"):
        raise ValidationError(parameter, f"parameter '{parameter}' must be True, False or "
                                         f"population names, got {record!r}")
    asked = set(record)
    unknown = sorted(asked - set(names))
    if unknown:
        raise ValidationError(parameter, f"unknown population(s) {unknown} in '{parameter}'; "
                                         f"accepted: {sorted(names)}")
    return tuple(name for name in names if name in asked)


def _brian_name(index: int, name: str) -> str:
    return f"p{index}_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


def build_network(circuit: Circuit, trials: int, clock: Clock, *, inputs=None, parameters=None,
                  initial=None, record_spikes=False,
                  schedule: str = "resets_first") -> BuiltNetwork:
    """Create the NeuronGroups, Synapses and spike counters of ``circuit`` x ``trials``
    (:func:`plan_network`, then :func:`instantiate`)."""
    return instantiate(plan_network(circuit, trials, clock.dt, inputs=inputs,
                                    parameters=parameters, initial=initial,
                                    record_spikes=record_spikes, schedule=schedule), clock)


def plan_network(circuit: Circuit, trials: int, dt, *, inputs=None, parameters=None,
                 initial=None, record_spikes=False, schedule: str = "resets_first",
                 states=(), record_every=None, restarts=None) -> NetworkPlan:
    """Check the run's values and describe the network of ``circuit`` x ``trials``.

    ``inputs``: input port -> value for the port population's input variable, either constant
    (broadcast by :func:`per_neuron_values`) or time-varying with shape (steps, trials, size).
    ``parameters`` and ``initial``: population -> {variable: value}, broadcast the same way.
    ``states``: :class:`evsim.states.StateRequest` s, sampled every ``record_every``.
    ``restarts``: :class:`evsim.restarts.Restarts` (windows of one run), or None.
    """
    circuit.validate()
    inputs, parameters, initial = inputs or {}, parameters or {}, initial or {}
    record_spikes = recorded_populations(circuit, record_spikes)
    _check_ports(circuit, inputs)
    prepared = {port: _prepare_input(circuit.population(population), inputs[port], port,
                                     trials, dt)
                for port, population in circuit.inputs.items()}
    for population in [*parameters, *initial]:
        circuit.population(population)
    for name, overrides in parameters.items():
        model = circuit.population(name).model
        unknown = set(overrides) - set(model.parameters)
        if unknown:
            raise ValidationError("parameters", f"unknown parameter(s) {sorted(unknown)} for "
                                                f"population '{name}' ({model.name}); accepted: "
                                                f"{sorted(model.parameters)}")
    groups, synapses, values = [], [], []
    for index, population in enumerate(circuit.populations):
        groups.append(_plan_group(index, population, trials, dt, parameters, initial,
                                  [prepared[port] for port, target in circuit.inputs.items()
                                   if target == population.name], values))
    for request in states:
        next(g for g in groups if g.population == request.population).states = request
    for group, population in zip(groups, circuit.populations):
        variables = restarted_variables(population.model)
        if restarts is not None and variables:
            group.restart = restarts.window(population.name, variables)
    names = {group.population: group.name for group in groups}
    for index, merged in enumerate(_alike_projections(circuit)):
        first = merged[0]
        source = circuit.population(first.source)
        target_size = circuit.population(first.target).size
        pairs = [p.pairs(source.size, target_size) for p in merged]
        weights = [p.synapse_weights(source.size, target_size) for p in merged]
        unit = unit_of(weights[0])
        pre, post = (np.concatenate([np.asarray(pair[k], dtype=np.int64) for pair in pairs])
                     for k in (0, 1))
        # by pre, then post, stable (lexsort's order; a stable sort of one key is ~10x faster)
        order = np.argsort(pre * target_size + post, kind="stable")
        payload = source.model.payload
        plan = SynapsesPlan(
            f"s{index}_" + re.sub(r"[^0-9A-Za-z_]", "_", first.name.rstrip("+-")),
            first.source, first.target, f"w : {unit!r} (constant)",
            f"{first.variable}_post += {'w * ' + payload + '_pre' if payload else 'w'}",
            pre[order], post[order], source.size, target_size, first.delay,
            tuple((p.name, np.asarray(pair[0])) for p, pair in zip(merged, pairs)),
            first.variable, payload)
        synapses.append(plan)
        signed = np.concatenate([np.broadcast_to(np.asarray(w, dtype=float), len(pair[0]))
                                 for w, pair in zip(weights, pairs)])  # SI values
        values.append((plan.name, "w", PerTrial(signed[order], trials, unit)))
    structure = [_run_line(dt, schedule, record_spikes, trials),
                 *(f"{r.describe()} every={float(record_every)!r}" for r in states),
                 *(repr((g.name, g.neurons, str(g.equations), g.threshold, g.reset,
                         g.refractory, g.method, g.step_code, g.varying_input,
                         g.restart and g.restart.code()))
                   for g in groups),
                 # delays stay compiled in: Brian2 prepares spike queues before run arguments
                 *(repr((s.name, names[s.source], names[s.target], s.model, s.on_pre,
                         float(s.delay), hashlib.sha256(s.pre.astype(np.int64).tobytes()
                                                        + s.post.astype(np.int64).tobytes())
                         .hexdigest())) for s in synapses),
                 *(f"assigned {owner}.{variable} shape={np.shape(value)}"
                   for owner, variable, value in values)]
    return NetworkPlan(circuit.name, trials, dt, schedule, record_spikes, groups, synapses,
                       values, structure, record_every)


def with_spike_times(plan: NetworkPlan, record_spikes: tuple) -> NetworkPlan:
    """``plan`` keeping the spike times of ``record_spikes`` (populations, as
    :func:`recorded_populations` returns them) instead of its own: the plan
    :func:`plan_network` makes with them, without planning the circuit again."""
    return replace(plan, record_spikes=record_spikes,
                   structure=[_run_line(plan.dt, plan.schedule, record_spikes, plan.trials),
                              *plan.structure[1:]])


def _run_line(dt, schedule: str, record_spikes: tuple, trials: int) -> str:
    """The first line of a plan's structure: what the whole run shares."""
    return f"dt={float(dt)!r} schedule={schedule} record_spikes={record_spikes} trials={trials}"


def _alike_projections(circuit: Circuit) -> list[list]:
    """The circuit's projections grouped by (source, target, variable, delay, weight unit), in
    the order of each group's first projection: each group becomes one Synapses object."""
    groups = {}
    for projection in circuit.projections:
        key = (projection.source, projection.target, projection.variable,
               float(projection.delay), repr(unit_of(projection.signed_weight)))
        groups.setdefault(key, []).append(projection)
    return list(groups.values())


def _plan_group(index: int, population, trials: int, dt, parameters: dict, initial: dict,
                inputs: list, values: list) -> GroupPlan:
    """The NeuronGroup of ``population``; appends its values (parameters, initial state,
    inputs) to ``values``."""
    model = population.model
    name = _brian_name(index, population.name)
    overrides = parameters.get(population.name, {})
    # "" (not None) tells Brian2 that a threshold without reset is intended (sources)
    reset, refractory = model.reset or "", model.refractory
    if refractory and _never_refractory(model, overrides, dt):
        refractory = None
    elif refractory:
        reset = "\n".join(filter(None, [reset, RELEASE_ZERO_REFRACTORY.format(
            t_ref=refractory)]))
    # a parameter not given per trial is one scalar for the group (shared), so Brian2
    # computes expressions of it (e.g. exp(-dt/tau)) once per step, not once per neuron
    shared = set(model.parameters) - set(overrides)
    equations = Equations(model.equations(shared=shared, refractory=refractory is not None))
    for key, default in model.parameters.items():
        if key in overrides:
            values.append((name, key, per_neuron_values(
                f"{population.name}.{key}", overrides[key], default, trials, population.size)
                * unit_of(default)))
        else:
            values.append((name, key, default))
    for key, value in initial.get(population.name, {}).items():
        if key not in equations.names or key.startswith("_"):
            raise ValidationError("initial", f"unknown variable '{key}' in initial for "
                                             f"population '{population.name}'")
        unit = unit_of(equations[key].dim)
        values.append((name, key, per_neuron_values(
            f"initial {population.name}.{key}", value, unit, trials, population.size) * unit))
    varying = None
    for value in inputs:  # SI floats: times the SI unit (an input_unit of nA would be 1e-9)
        unit = unit_of(model.input_unit)
        if value.ndim == 1:
            values.append((name, model.input_variable, value * unit))
        else:
            varying = model.input_variable
            values.append((f"{name}_{varying}_stim", None, value * unit))
    return GroupPlan(population.name, name, trials * population.size, equations,
                     model.threshold, reset, refractory, model.method, model.step_code, varying)


def instantiate(plan: NetworkPlan, clock: Clock, *, blocks: bool = False, events: bool = False,
                python_restarts: bool = False) -> BuiltNetwork:
    """The Brian2 objects of ``plan`` on ``clock``, its values assigned. ``blocks``: a
    projection whose synapses fill dense blocks becomes a :class:`evsim.blocks.BlockPathway`
    (one matrix product a step; runtime targets only) instead of Synapses; ``events``: every
    other projection an :class:`evsim.pathways.EventPathway` (NumPy events without a spike
    queue; the numpy target only).
    ``python_restarts``: restarts run as a :class:`evsim.restarts.RestartOperation` in the
    steps that start a window (runtime targets only) instead of Brian2 code in every step."""
    groups, counters, owners, states, operations = {}, {}, {}, {}, []
    for g in plan.groups:
        group = NeuronGroup(g.neurons, g.equations, threshold=g.threshold, reset=g.reset,
                            refractory=g.refractory or False, method=g.method, clock=clock,
                            name=g.name, namespace={})
        if g.varying_input:
            stimulus_name = f"{g.name}_{g.varying_input}_stim"
            values = next(v for owner, _, v in plan.values if owner == stimulus_name)
            stimulus = TimedArray(values, dt=clock.dt, name=stimulus_name)
            group.namespace[stimulus_name] = stimulus
            group.run_regularly(f"{g.varying_input} = {stimulus_name}(t, i)", when="start",
                                name=f"{g.name}_{g.varying_input}_input")
            owners[stimulus_name] = stimulus
        # restarts: at the start of the step (after a state monitor), before the update
        if g.restart and python_restarts:
            operations.append(RestartOperation(group, g.restart, f"{g.name}_restart"))
        elif g.restart:
            group.run_regularly(g.restart.code(), when="start", name=f"{g.name}_restart")
        if g.step_code:
            group.run_regularly(g.step_code, when="groups", order=STEP_CODE_ORDER,
                                name=f"{g.name}_step")
        groups[g.population], owners[g.name] = group, group
        counters[g.population] = SpikeMonitor(group, record=g.population in plan.record_spikes,
                                              name=f"{g.name}_spk")
        if g.states is not None:  # first in the step: the state the previous step left
            size = g.neurons // plan.trials
            states[g.population] = StateMonitor(
                group, list(g.states.variables), record=g.states.group_indices(size),
                dt=plan.record_every, when="start", order=-1, name=f"{g.name}_state")
    synapses = {}
    for s in plan.synapses:
        if not len(s.pre):
            continue  # no synapses (an all-zero matrix): nothing to build, no events
        steps = delay_steps(s.delay, clock.dt)
        whole_steps = abs(float(s.delay / clock.dt) - steps) < 1e-9
        layout = (block_layout(s.pre, s.post, s.source_size, s.target_size)
                  if blocks and whole_steps else None)  # Brian2's queues round half-steps apart
        if layout is not None:
            synapses[s.name] = owners[s.name] = BlockPathway(
                groups[s.source], groups[s.target], s.variable, s.payload, layout, plan.trials,
                steps, clock, s.name)
            continue
        if events and whole_steps:
            synapses[s.name] = owners[s.name] = EventPathway(
                groups[s.source], groups[s.target], s.variable, s.payload, s.pre, s.post,
                s.source_size, s.target_size, plan.trials, steps, clock, s.name)
            continue
        syn = Synapses(groups[s.source], groups[s.target], s.model, on_pre=s.on_pre,
                       clock=clock, name=s.name)
        i, j = s.indices(plan.trials)
        syn.connect(i=i, j=j)
        if float(s.delay) > 0:
            syn.delay = s.delay
        synapses[s.name], owners[s.name] = syn, syn
    network = Network(*groups.values(), *synapses.values(), *counters.values(),
                      *states.values(), *operations)
    network.schedule = SCHEDULES[plan.schedule]
    built = BuiltNetwork(network, groups, synapses, counters, plan.trials, plan, owners, states)
    built.assign(plan)
    return built


def delay_steps(delay, dt) -> int:
    """A synaptic delay in whole steps, rounded as Brian2 rounds it."""
    return int(np.floor(float(delay) / float(dt) + 0.5))


def _never_refractory(model, overrides: dict, dt) -> bool:
    """True if every neuron's refractory period rounds to zero steps (Brian2: period <
    dt (1 - 1e-3)).

    Such neurons never block input or spikes, so the refractoriness machinery is dropped.
    """
    period = overrides.get(model.refractory, model.parameters[model.refractory])
    return bool(np.all(np.asarray(period) < float(dt) * (1 - 1e-3)))


def _check_ports(circuit: Circuit, inputs: dict) -> None:
    unknown = set(inputs) - set(circuit.inputs)
    if unknown:
        raise ValidationError("inputs", f"unknown input port(s) {sorted(unknown)}; circuit "
                                        f"'{circuit.name}' accepts: {sorted(circuit.inputs)}")
    missing = set(circuit.inputs) - set(inputs)
    if missing:
        raise ValidationError("inputs", f"input port(s) {sorted(missing)} of circuit "
                                        f"'{circuit.name}' are not connected: pass a value for "
                                        "each in 'inputs'")


def _prepare_input(population, value, port: str, trials: int, dt) -> np.ndarray:
    """Validate an input: (trials*size,) for a constant, (steps, trials*size) if time-varying."""
    model, size = population.model, population.size
    if np.ndim(value) != 3:
        values = per_neuron_values(f"inputs['{port}']", value, model.input_unit, trials, size)
    else:
        check_quantity(f"inputs['{port}']", value, model.input_unit)
        values = np.asarray(value, dtype=float)
        if values.shape[1:] != (trials, size):
            raise ValidationError("inputs", f"time-varying inputs['{port}'] must have shape "
                                            f"(steps, trials, size) = (steps, {trials}, {size}), "
                                            f"got {values.shape}")
        values = values.reshape(len(values), -1)
    model.check_input(values, dt)
    return values
