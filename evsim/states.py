"""Recording state variables (membrane potentials, traces) during a simulation.

``simulate(..., record_states={"exc": "v"})`` records ``v`` of every neuron of ``exc`` in
every trial; a dict chooses variables, neurons and trials:
``{"exc": {"variables": ("v", "x"), "neurons": [0, 3], "trials": [0]}}``. Samples are taken
every ``record_every`` (a multiple of dt, default dt) at t_k = k * record_every < duration,
at the start of the step: the state the previous step left (v(t_k) of a continuous model).
Memory is 8 bytes per variable, recorded neuron, trial and sample; a request above
:data:`STATE_BYTES_LIMIT` is refused with its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ValidationError
from .models import check_steps

__all__ = ["StateRequest", "state_requests", "shape_states", "with_units",
           "STATE_BYTES_LIMIT"]

#: most memory a run's state recording may take (bytes)
STATE_BYTES_LIMIT = 2 * 1024**3


@dataclass(frozen=True, eq=False)
class StateRequest:
    """Variables of one population to record, for chosen neurons and trials (index arrays)."""

    population: str
    variables: tuple
    neurons: np.ndarray
    trials: np.ndarray

    def group_indices(self, size: int) -> np.ndarray:
        """Indices in the population's NeuronGroup (neuron j of trial r is r*size + j), trial
        by trial."""
        return (self.trials[:, None] * size + self.neurons[None, :]).ravel()

    def describe(self) -> str:
        """What fixes the monitor (part of a network's structure)."""
        return (f"states {self.population} {self.variables} neurons={self.neurons.tolist()} "
                f"trials={self.trials.tolist()}")


def state_requests(circuit, record_states, trials: int, duration, dt, record_every):
    """Check ``record_states`` and ``record_every`` against the circuit; returns
    (tuple of StateRequest, record_every as a Brian2 time, bytes the recording will hold)."""
    if record_every is None:
        record_every = dt
    if not record_states:
        return (), record_every, 0
    if not isinstance(record_states, dict):
        raise ValidationError("record_states", "parameter 'record_states' must be a dict "
                                               "population -> variable name(s) or {'variables', "
                                               f"'neurons', 'trials'}}, got {record_states!r}")
    every_steps = check_steps("record_every", record_every, dt)
    samples = -(-int(round(float(duration / dt))) // every_steps)
    requests, total = [], 0
    for name, request in record_states.items():
        population = circuit.population(name)
        if isinstance(request, (str, tuple, list)):
            request = {"variables": request}
        if not isinstance(request, dict) or not set(request) <= {"variables", "neurons", "trials"}:
            raise ValidationError("record_states", f"record_states['{name}'] must be variable "
                                                   "name(s) or a dict with keys 'variables', "
                                                   f"'neurons', 'trials', got {request!r}")
        variables = request.get("variables", ())
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        recordable = population.model.state_units
        if not variables or not set(variables) <= set(recordable):
            raise ValidationError("record_states", f"record_states['{name}'] must name state "
                                                   f"variables of {population.model.name}: "
                                                   f"{sorted(recordable)}, got {list(variables)}")
        neurons = _indices(f"record_states['{name}']['neurons']", request.get("neurons"),
                           population.size)
        chosen_trials = _indices(f"record_states['{name}']['trials']", request.get("trials"),
                                 trials)
        requests.append(StateRequest(name, variables, neurons, chosen_trials))
        total += 8 * len(variables) * len(neurons) * len(chosen_trials) * samples
    if total > STATE_BYTES_LIMIT:
        raise ValidationError("record_states", f"the state recording would hold {total / 1e9:.1f} "
                                               f"GB (limit {STATE_BYTES_LIMIT / 1e9:.1f} GB): "
                                               "record fewer neurons or trials, or set a larger "
                                               "record_every")
    return tuple(requests), record_every, total


def _indices(name: str, value, size: int) -> np.ndarray:
    """``value`` (None: all) as sorted unique int64 indices in [0, size)."""
    if value is None:
        return np.arange(size, dtype=np.int64)
    array = np.atleast_1d(np.asarray(value))
    if (array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer)
            or array.min() < 0 or array.max() >= size):
        raise ValidationError("record_states", f"{name} must be integer indices in [0, {size - 1}], "
                                               f"got {value!r}")
    return np.unique(array.astype(np.int64))


def shape_states(samples: np.ndarray, request: StateRequest) -> np.ndarray:
    """A monitor's samples (samples, recorded indices), indices trial by trial, as (samples,
    trials, neurons) of the request."""
    return samples.reshape(len(samples), len(request.trials), len(request.neurons))


def with_units(circuit, states: dict) -> dict:
    """SI samples {population: {variable: array}} as Brian2 quantities in each variable's unit."""
    return {population: {name: values * circuit.population(population).model.state_units[name]
                         for name, values in variables.items()}
            for population, variables in states.items()}
