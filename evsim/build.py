"""Compile a Circuit into ONE Brian2 Network with all trials replicated block-diagonally.

Neuron ``j`` of trial ``r`` in a population of size ``S`` is neuron ``r*S + j`` of that
population's NeuronGroup; synapses only connect neurons of the same trial. Inputs, parameters
and initial values may differ per trial, so trials and sweep cells share one run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
from brian2 import Clock, Network, NeuronGroup, SpikeMonitor, Synapses, TimedArray

from .errors import ValidationError
from .graph import Circuit
from .models import check_quantity, unit_of

__all__ = ["BuiltNetwork", "build_network", "SCHEDULES", "per_neuron_values"]

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
class BuiltNetwork:
    """The Brian2 objects of one built circuit."""

    network: Network
    groups: dict  # population name -> NeuronGroup
    synapses: dict  # projection name -> Synapses
    counters: dict  # population name -> SpikeMonitor (record=False unless spike times asked)
    out_degree: dict  # projection name -> int array (source size,): synapses per source neuron
    trials: int
    #: every value build_network wrote, as (Brian2 object, variable, value); variable None
    #: for a TimedArray's values. A compiled build is rerun with these as run arguments.
    assigned: list
    #: what fixes the generated code (equations, thresholds, resets, sizes, connectivity,
    #: which variables are assigned and their shapes): equal structures share one compiled build
    structure: list


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


def _assign(assigned: list, owner, variable: str, value) -> None:
    """``owner.variable = value``, remembered in ``assigned``."""
    setattr(owner, variable, value)
    assigned.append((owner, variable, value))


def _brian_name(index: int, name: str) -> str:
    return f"p{index}_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


def build_network(circuit: Circuit, trials: int, clock: Clock, *, inputs=None, parameters=None,
                  initial=None, record_spikes: bool = False,
                  schedule: str = "resets_first") -> BuiltNetwork:
    """Create the NeuronGroups, Synapses and spike counters of ``circuit`` x ``trials``.

    ``inputs``: input port -> value for the port population's input variable, either constant
    (broadcast by :func:`per_neuron_values`) or time-varying with shape (steps, trials, size).
    ``parameters`` and ``initial``: population -> {variable: value}, broadcast the same way.
    """
    circuit.validate()
    inputs, parameters, initial = inputs or {}, parameters or {}, initial or {}
    _check_ports(circuit, inputs)
    prepared = {port: _prepare_input(circuit.population(population), inputs[port], port,
                                     trials, clock.dt)
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
    groups, counters, assigned, structure = {}, {}, [], []
    for index, population in enumerate(circuit.populations):
        model = population.model
        name = _brian_name(index, population.name)
        overrides = parameters.get(population.name, {})
        # "" (not None) tells Brian2 that a threshold without reset is intended (sources)
        reset, refractory = model.reset or "", model.refractory
        if refractory and _never_refractory(model, overrides, clock.dt):
            refractory = None
        elif refractory:
            reset = "\n".join(filter(None, [reset, RELEASE_ZERO_REFRACTORY.format(
                t_ref=refractory)]))
        # a parameter not given per trial is one scalar for the group (shared), so Brian2
        # computes expressions of it (e.g. exp(-dt/tau)) once per step, not once per neuron
        shared = set(model.parameters) - set(overrides)
        equations = model.equations(shared=shared, refractory=refractory is not None)
        group = NeuronGroup(
            trials * population.size, equations, threshold=model.threshold, reset=reset,
            refractory=refractory or False, method=model.method, clock=clock, name=name,
            namespace={})
        for key, default in model.parameters.items():
            if key in overrides:
                _assign(assigned, group, key, per_neuron_values(
                    f"{population.name}.{key}", overrides[key], default, trials, population.size)
                    * unit_of(default))
            else:
                _assign(assigned, group, key, default)
        for key, value in initial.get(population.name, {}).items():
            if key not in group.variables or key.startswith("_"):
                raise ValidationError("initial", f"unknown variable '{key}' in initial for "
                                                 f"population '{population.name}'")
            unit = unit_of(group.variables[key].dim)
            _assign(assigned, group, key, per_neuron_values(
                f"initial {population.name}.{key}", value, unit, trials, population.size) * unit)
        for port in [p for p, target in circuit.inputs.items() if target == population.name]:
            _set_input(group, model, prepared[port], clock, assigned)
        if model.step_code:
            group.run_regularly(model.step_code, when="groups", order=STEP_CODE_ORDER,
                                name=f"{name}_step")
        structure.append(repr((name, len(group), str(equations), model.threshold, reset,
                               refractory, model.method, model.step_code)))
        groups[population.name] = group
        counters[population.name] = SpikeMonitor(group, record=record_spikes, name=f"{name}_spk")

    synapses, out_degree = {}, {}
    for index, projection in enumerate(circuit.projections):
        pre_size = circuit.population(projection.source).size
        post_size = circuit.population(projection.target).size
        pre, post = projection.pairs(pre_size, post_size)
        weights = projection.synapse_weights(pre_size, post_size)
        offsets_pre = (np.arange(trials) * pre_size)[:, None]
        offsets_post = (np.arange(trials) * post_size)[:, None]
        payload = circuit.population(projection.source).model.payload
        effect = f"w * {payload}_pre" if payload else "w"
        syn = Synapses(groups[projection.source], groups[projection.target],
                       f"w : {unit_of(weights)!r} (constant)",
                       on_pre=f"{projection.variable}_post += {effect}", clock=clock,
                       name=f"s{index}_" + re.sub(r"[^0-9A-Za-z_]", "_", projection.name))
        i, j = (offsets_pre + pre).ravel(), (offsets_post + post).ravel()
        syn.connect(i=i, j=j)
        # delays stay compiled in: Brian2 prepares the spike queues before run arguments apply
        structure.append(repr((syn.name, groups[projection.source].name,
                               groups[projection.target].name, unit_of(weights), effect,
                               projection.variable, float(projection.delay),
                               hashlib.sha256(i.tobytes() + j.tobytes()).hexdigest())))
        _assign(assigned, syn, "w",
                np.tile(np.asarray(weights, dtype=float), trials) * unit_of(weights))
        if float(projection.delay) > 0:
            syn.delay = projection.delay
        synapses[projection.name] = syn
        out_degree[projection.name] = np.bincount(pre, minlength=pre_size)

    network = Network(*groups.values(), *synapses.values(), *counters.values())
    network.schedule = SCHEDULES[schedule]
    structure = _structure(structure, assigned, clock, schedule, record_spikes)
    return BuiltNetwork(network, groups, synapses, counters, out_degree, trials, assigned,
                        structure)


def _structure(structure: list, assigned: list, clock, schedule: str,
               record_spikes: bool) -> list:
    """What the generated code depends on, as text: the groups' and synapses' definitions
    (``structure``), the assigned variables and their shapes (their values are passed at run
    time), dt, schedule and recording."""
    return [f"dt={float(clock.dt)!r} schedule={schedule} record_spikes={record_spikes}",
            *structure, *(f"assigned {getattr(owner, 'name', owner)}.{variable} "
                          f"shape={np.shape(value)}" for owner, variable, value in assigned)]


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


def _set_input(group: NeuronGroup, model, values: np.ndarray, clock: Clock,
               assigned: list) -> None:
    """Set a constant input, or drive it from a (steps, neurons) array step by step."""
    variable, unit = model.input_variable, model.input_unit
    if values.ndim == 1:
        _assign(assigned, group, variable, values * unit)
        return
    stimulus = TimedArray(values * unit, dt=clock.dt, name=f"{group.name}_{variable}_stim")
    assigned.append((stimulus, None, values * unit))
    group.namespace[stimulus.name] = stimulus
    group.run_regularly(f"{variable} = {stimulus.name}(t, i)", when="start",
                        name=f"{group.name}_{variable}_input")
