"""simulate(): check a run, describe it (:class:`evsim.backends.RunSpec`), run it on a backend
and read counts at checkpoints."""

from __future__ import annotations

import time
import warnings

import numpy as np
from brian2 import ms, second

from . import backends
from .backends import RunSpec
from .build import SCHEDULES, recorded_populations
from .errors import ValidationError
from .graph import Circuit
from .models import check_integer, check_quantity
from .record import SpikeRecord
from .restarts import check_restarts
from .states import state_requests, with_units

__all__ = ["simulate", "TARGETS"]

#: "auto" and evsim's own backends; :func:`evsim.backends.targets` lists every registered one
TARGETS = ("auto", *backends.BUILTIN)


def simulate(circuit: Circuit, inputs=None, duration=None, *, trials: int = 1, seed=None,
             dt=0.1 * ms, checkpoints=None, parameters=None, initial=None,
             record_spikes=False, target: str | None = None,
             schedule: str = "resets_first", record_states=None,
             record_every=None, restart_every=None, restart_offsets=None,
             record_rasters=False) -> SpikeRecord:
    """Simulate ``trials`` independent copies of ``circuit`` in one Brian2 run.

    Parameters
    ----------
    circuit : Circuit
        The circuit to run.
    inputs : dict, optional
        Input port -> input value (unit of the port population's input variable): a scalar,
        (size,), (trials,), (trials, size), or (steps, trials, size) for inputs that change
        every time step.
    duration : Quantity
        Total simulated time (Brian2 time quantity, > 0).
    trials : int
        Number of independent copies, >= 1.
    seed : int or None
        Seed for Brian2's random numbers, in [0, 2**32) (None: not reproducible).
    dt : Quantity
        Time step (> 0 and smaller than every membrane time constant).
    checkpoints : Quantity array, optional
        Increasing durations T_k <= duration, multiples of dt, at which counts are read
        (default: [duration]).
    parameters, initial : dict, optional
        Population -> {name: value}: per-trial parameter values and initial state (broadcast
        like constant inputs).
    record_spikes : bool or iterable of str
        Also keep every spike time, of every population (True) or of the named ones (memory
        grows with the number of spikes).
    target : str, optional
        A registered backend (:mod:`evsim.backends`: "numpy", "cython", "cpp_standalone" and
        any added) or ``"auto"``: the backend with the smallest estimated cost, building or
        compiling included unless cached (:mod:`evsim.cost`). Default: the target of the
        enclosing :func:`evsim.backends.using` block, "auto" outside any.
        ``metadata["target"]`` says which ran and ``metadata["target_choice"]`` why.
    schedule : str
        ``"resets_first"`` (resets before synaptic propagation; default) or ``"brian"``.
    record_states : dict, optional
        Population -> variable name(s) to record in every neuron and trial, or
        ``{"variables": ..., "neurons": [...], "trials": [...]}`` for some (indices, sorted in
        the record); see :mod:`evsim.states`. Memory: 8 bytes per variable, neuron, trial and
        sample (``metadata["state_bytes"]``), refused above 2 GiB.
    record_every : Quantity, optional
        Interval of the state samples, a multiple of dt (default dt); samples at
        t_k = k * record_every < duration, the state at the start of that step.
    restart_every, restart_offsets : Quantity and dict, optional
        Window length (a multiple of dt) and population -> offset in [0, restart_every)
        (default 0): every discrete-time population's state returns to 0 at the start of
        steps offset + k * restart_every, k >= 0, so one run carries one input per window
        through a feed-forward circuit (:mod:`evsim.restarts`).
    record_rasters : bool or iterable of str
        Keep the spikes of every population (True) or of the named ones as a bool raster
        (trials, steps, neurons) for :meth:`SpikeRecord.raster`: 1 byte per neuron-step
        whatever the rate, against ~12 bytes per spike for spike times (cheaper to record and
        read where many neurons fire; the runtime targets record them directly).

    Returns
    -------
    SpikeRecord
        counts[population] of shape (checkpoints, trials, neurons), synaptic events, spike
        times if recorded, states[population][variable] (samples, trials, neurons) with
        state_times if recorded, and metadata.
    """
    check_quantity("dt", dt, second, positive=True)
    _check_time_constants(circuit, dt, parameters or {})
    _check_dt_limits(circuit, dt)
    duration, checkpoints = _check_times(duration, dt, checkpoints)
    check_integer("trials", trials, 1)
    target = backends.current_target(target)
    if target != "auto":
        backends.get(target)  # one clear error for an unknown target
    if schedule not in SCHEDULES:
        raise ValidationError("schedule", "parameter 'schedule' must be one of "
                                          f"{tuple(SCHEDULES)}, got {schedule!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**32):
        raise ValidationError("seed", "parameter 'seed' must be an integer in [0, 2**32) or None, "
                                      f"got {seed!r}")
    steps = int(round(float(duration / dt)))
    for port, value in (inputs or {}).items():
        if np.ndim(value) == 3 and np.shape(value)[0] < steps:
            raise ValidationError("inputs", f"time-varying inputs['{port}'] must cover the run: at "
                                            f"least {steps} steps, got {np.shape(value)[0]}")

    record_spikes = recorded_populations(circuit, record_spikes)
    record_rasters = recorded_populations(circuit, record_rasters, "record_rasters")
    restarts = check_restarts(circuit, restart_every, restart_offsets, dt, initial or {})
    states, record_every, state_bytes = state_requests(circuit, record_states, trials, duration,
                                                       dt, record_every)
    spec = RunSpec(circuit, dict(inputs or {}), trials, seed, dt, checkpoints,
                   dict(parameters or {}), dict(initial or {}), schedule, record_spikes, states,
                   record_every, restarts, record_rasters)
    started = time.perf_counter()
    requested = target
    result, target, choice = _run(spec, target)
    wall = time.perf_counter() - started
    # synapses per source neuron, from the plan's connectivity (not recomputed from the graph)
    events = {projection: np.einsum("kts,s->kt", result.counts[s.source],
                                    np.bincount(pre, minlength=s.source_size))
              for s in spec.plan.synapses for projection, pre in s.parts}
    # The method is passed to Brian2 explicitly, so Brian2 raises if it does not apply.
    methods = {p.name: p.model.method for p in circuit.populations}
    metadata = dict(circuit=circuit.name, dt_s=float(dt / second), seed=seed, target=target,
                    requested=requested, schedule=schedule,
                    trials=trials, integration=methods, wall_time_s=wall)
    if choice:
        metadata["target_choice"] = choice
    record = SpikeRecord(checkpoints, result.counts, events, result.spikes, metadata,
                         rasters=result.rasters)
    if states:
        metadata["state_bytes"] = state_bytes
        record.states = with_units(circuit, result.states)
        record.state_times = result.state_times * second
    backends.report_run(record)
    return record


def _run(spec: RunSpec, target: str):
    """Run ``spec`` on ``target`` or, for "auto", on :func:`evsim.backends.choose`'s pick,
    falling back to numpy if a compiled run fails for want of a toolchain. Returns the
    RunResult, the backend that ran and the choice for the record."""
    if target != "auto":
        result = _run_on(backends.get(target), spec)
        return result, target, result.facts
    backend, choice = backends.choose(spec)
    try:
        result = _run_on(backend, spec)
    except (RuntimeError, OSError) as error:
        if backend.name == "numpy":
            raise
        choice["fallback"] = f"{backend.name} failed: {str(error).splitlines()[0]}"
        warnings.warn(f"evsim: {choice['fallback']}; running on numpy", RuntimeWarning,
                      stacklevel=3)
        backend = backends.get("numpy")
        result = _run_on(backend, spec)
    return result, backend.name, {**choice, **result.facts}


def _run_on(backend, spec: RunSpec):
    """``backend.run(spec)``; a backend that does not record rasters records the spike times
    of ``spec.record_rasters`` instead, made into rasters here."""
    if not spec.record_rasters or getattr(backend, "records_rasters", False):
        return backend.run(spec)
    result = backend.run(spec.spike_times_instead)
    sizes = spec.circuit.sizes
    result.rasters = {p: result.spikes[p].to_raster(spec.trials, spec.steps, sizes[p], spec.dt)
                      for p in spec.record_rasters}
    result.spikes = {p: result.spikes[p] for p in spec.record_spikes} or None
    return result


def _check_times(duration, dt, checkpoints):
    if duration is None:
        raise ValidationError("duration", "parameter 'duration' is required (a Brian2 time, e.g. "
                                          "1*second)")
    check_quantity("duration", duration, second, positive=True)
    if checkpoints is None:
        checkpoints = [float(duration / second)] * second
    check_quantity("checkpoints", checkpoints, second, positive=True)
    checkpoints = np.atleast_1d(np.asarray(checkpoints / second, dtype=float)) * second
    steps = np.asarray(checkpoints / dt, dtype=float)
    if np.any(np.abs(steps - np.round(steps)) > 1e-6) or np.any(np.round(steps) < 1):
        raise ValidationError("checkpoints", "parameter 'checkpoints' must be positive multiples "
                                             f"of dt = {dt}, got {checkpoints}")
    if np.any(np.diff(steps) <= 0) or steps[-1] > float(duration / dt) + 1e-6:
        raise ValidationError("checkpoints", "parameter 'checkpoints' must increase and not exceed "
                                             f"duration = {duration}, got {checkpoints}")
    return duration, checkpoints


def _check_time_constants(circuit: Circuit, dt, parameters: dict) -> None:
    for population in circuit.populations:
        for name in population.model.time_constants:
            value = parameters.get(population.name, {}).get(name,
                                                            population.model.parameters[name])
            if np.any(np.asarray(value) <= float(dt)):
                raise ValidationError("dt", "parameter 'dt' must be smaller than "
                                            f"{population.name}.{name} = {value}, got dt = {dt}")


def _check_dt_limits(circuit: Circuit, dt) -> None:
    for max_dt, reason in circuit.dt_limits:
        if float(dt) > float(max_dt) * (1 + 1e-9):
            raise ValidationError("dt", f"parameter 'dt' must be <= {max_dt} for circuit "
                                        f"'{circuit.name}' ({reason}), got dt = {dt}")
