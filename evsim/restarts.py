"""Restarts: many inputs one after another through one network, in one run.

``simulate(..., restart_every=W, restart_offsets={population: o})`` cuts each discrete-time
population's run into windows that start at steps o, o + W, o + 2 W, ... (``o`` defaults to
0): at the start of each (before that step's update) every state variable but the input
variable and the synaptic targets is set to 0. A feed-forward circuit in which population p
first sees the circuit's input ``lag_p`` steps after it arrives can then take a new input
every W steps: input k occupies the source steps [k W, (k + 1) W), population p reads it in
steps [k W + lag_p, (k + 1) W + lag_p) with ``o = lag_p mod W``, and each window starts from
the state a fresh run starts from. The synaptic input that arrived in the step before a window
is kept: a discrete-time model consumes it in the window's first update, so it is that
window's first input. What a population does before its first window (e.g. driven by a
constant input) is wiped by that window's start and does not reach a later window of a
downstream population, whose windows start later by the same lag.

Only populations whose models have no continuous dynamics (step code or sources) can restart:
a continuous model's synaptic input acts on its state directly, so no restart point separates
two windows. Restarts return to 0, so a restarted variable takes no ``initial`` value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import NetworkOperation, second

from .errors import ValidationError
from .models import check_quantity

__all__ = ["Restarts", "RestartWindow", "RestartOperation", "check_restarts",
           "restarted_variables"]


@dataclass(frozen=True)
class Restarts:
    """Window length ``period`` and each population's first step ``offsets`` (both in steps)."""

    period: int
    offsets: dict

    def window(self, population: str, variables) -> "RestartWindow":
        """When ``population`` restarts and which of its ``variables``."""
        return RestartWindow(self.offsets.get(population, 0), self.period, tuple(variables))


@dataclass(frozen=True)
class RestartWindow:
    """One population's restarts: ``variables`` set to 0 at the start of steps ``first``,
    ``first + period``, ... (steps, before the update)."""

    first: int
    period: int
    variables: tuple

    def starts(self, step: int) -> bool:
        """True if the variables restart at the start of ``step`` (what :meth:`code` tests)."""
        return step >= self.first and (step - self.first) % self.period == 0

    def code(self) -> str:
        """Brian2 code (run every step, before the update) restarting the variables."""
        step = "timestep(t, dt)"
        lines = [f"restart_now = int({step} >= {self.first} and "
                 f"({step} - {self.first}) % {self.period} == 0)"]
        # v * 1 is v exactly; v * 0 is 0 (for finite v)
        lines += [f"{name} = {name} * (1 - restart_now)" for name in self.variables]
        return "\n".join(lines)


class RestartOperation(NetworkOperation):
    """:meth:`RestartWindow.code` as a Python operation for Brian2's runtime targets, acting
    only in the steps that start a window, at the start of the step: the code runs every step,
    and there copies and multiplies every restarted array by 1 in the other steps (most of a
    trained model's update on numpy). The same values: each variable times 0."""

    def __init__(self, group, window: RestartWindow, name: str):
        super().__init__(self._restart, clock=group.clock, when="start", name=name)
        self._arrays = [group.variables[variable] for variable in window.variables]
        self._timestep = group.clock.variables["timestep"]  # the step, an integer
        self.window = window

    def _restart(self) -> None:
        if self.window.starts(int(self._timestep.get_value()[0])):
            for array in self._arrays:
                values = array.get_value()
                np.multiply(values, 0, out=values, casting="unsafe")


def restarted_variables(model) -> list[str]:
    """The state variables a restart sets to 0: all but the input variable and the synaptic
    targets (sorted)."""
    keep = {model.input_variable, *model.synaptic_targets}
    return [name for name in model.state_units if name not in keep]


def check_restarts(circuit, every, offsets, dt, initial) -> Restarts | None:
    """Check ``restart_every`` (a multiple of dt, >= 1 step) and ``restart_offsets``
    (population -> a time in [0, restart_every), a multiple of dt); None without restarts."""
    if every is None:
        if offsets:
            raise ValidationError("restart_offsets", "parameter 'restart_offsets' needs "
                                                     "'restart_every' (the window length)")
        return None
    period = _steps("restart_every", every, dt)
    if period < 1:
        raise ValidationError("restart_every", "parameter 'restart_every' must be at least one "
                              f"step (dt = {dt}), got {every}")
    steps = {}
    for population, offset in (offsets or {}).items():
        circuit.population(population)
        steps[population] = _steps(f"restart_offsets['{population}']", offset, dt)
        if not 0 <= steps[population] < period:
            raise ValidationError("restart_offsets", f"restart_offsets['{population}'] must lie "
                                  f"in [0, restart_every) = [0, {every}), got {offset}")
    for population in circuit.populations:
        model, variables = population.model, restarted_variables(population.model)
        if model.method is not None:
            raise ValidationError("restart_every", f"population '{population.name}' "
                                  f"({model.name}) has continuous dynamics, which cannot "
                                  "restart: its synaptic input acts on its state directly; "
                                  "restarts apply to discrete-time models and sources")
        given = set(initial.get(population.name, {})) & set(variables)
        if given:
            raise ValidationError("initial", f"initial values of {sorted(given)} in restarted "
                                  f"population '{population.name}': restarts return them to 0, "
                                  "so they cannot start elsewhere")
    return Restarts(period, steps)


def _steps(name: str, value, dt) -> int:
    check_quantity(name, value, second)
    steps = float(value / dt)
    if not np.isfinite(steps) or abs(steps - round(steps)) > 1e-6:
        raise ValidationError(name, f"parameter '{name}' must be a multiple of dt = {dt}, "
                                    f"got {value}")
    return int(round(steps))
