"""simulate(): build a circuit once for all trials, run it once, read counts at checkpoints."""

from __future__ import annotations

import time
import warnings

import numpy as np
from brian2 import Clock, NetworkOperation, ms, prefs, second
from brian2 import seed as brian_seed

from .build import SCHEDULES, build_network
from .errors import ValidationError
from .graph import Circuit
from .models import check_integer, check_quantity
from .record import SpikeRecord, SpikeTrains
from .standalone import run_compiled
from .target_choice import (compiled_unavailable, estimate_cost, prefer_compiled,
                            remember_failure)

__all__ = ["simulate", "TARGETS"]

TARGETS = ("auto", "numpy", "cython", "cpp_standalone")


def simulate(circuit: Circuit, inputs=None, duration=None, *, trials: int = 1, seed=None,
             dt=0.1 * ms, checkpoints=None, parameters=None, initial=None,
             record_spikes: bool = False, target: str = "auto",
             schedule: str = "resets_first") -> SpikeRecord:
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
    record_spikes : bool
        Also keep every spike time (memory grows with the number of spikes).
    target : str
        Brian2 code generation target, one of ``TARGETS``. ``"auto"`` (default) runs on
        cpp_standalone when its estimated cost, compilation included unless the circuit's
        build is cached, is below numpy's (:mod:`evsim.target_choice`), else on numpy;
        ``metadata["target"]`` says which ran and ``metadata["target_choice"]`` why.
    schedule : str
        ``"resets_first"`` (resets before synaptic propagation; default) or ``"brian"``.

    Returns
    -------
    SpikeRecord
        counts[population] of shape (checkpoints, trials, neurons), synaptic events, spike
        times if recorded, and metadata.
    """
    check_quantity("dt", dt, second, positive=True)
    _check_time_constants(circuit, dt, parameters or {})
    _check_dt_limits(circuit, dt)
    duration, checkpoints = _check_times(duration, dt, checkpoints)
    check_integer("trials", trials, 1)
    if target not in TARGETS:
        raise ValidationError("target", f"parameter 'target' must be one of {TARGETS}, got "
                                        f"{target!r}")
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

    started = time.perf_counter()
    arguments = (circuit, inputs, trials, seed, dt, checkpoints, parameters, initial, schedule)
    choice, compiled = None, None
    if target == "auto":
        varying = sum(np.ndim(value) == 3 for value in (inputs or {}).values())
        estimate = estimate_cost(circuit, trials, steps, varying)
        choice = dict(requested="auto", **estimate.as_dict())
        unavailable = compiled_unavailable()
        if unavailable:
            choice["compiled_unavailable"] = unavailable
        elif prefer_compiled(estimate, built=True):
            try:
                compiled = run_compiled(*arguments, record_spikes,
                                        decide=lambda built: prefer_compiled(estimate, built))
            except (RuntimeError, OSError) as error:  # no working toolchain: numpy instead
                choice["compiled_unavailable"] = remember_failure(error)
                warnings.warn(f"evsim: {choice['compiled_unavailable']}; running on numpy",
                              RuntimeWarning, stacklevel=2)
        target = "numpy" if compiled is None else "cpp_standalone"
    elif target == "cpp_standalone":
        compiled = run_compiled(*arguments, record_spikes)
    if compiled is not None:
        counts, spikes, built, facts = compiled
        choice = {**(choice or {}), **facts}
    else:
        counts, spikes, built = _run_runtime(*arguments, record_spikes, target)
    wall = time.perf_counter() - started
    events = {p.name: np.einsum("kts,s->kt", counts[p.source], built.out_degree[p.name])
              for p in circuit.projections}
    # The method is passed to Brian2 explicitly, so Brian2 raises if it does not apply.
    methods = {p.name: p.model.method for p in circuit.populations}
    metadata = dict(dt_s=float(dt / second), seed=seed, target=target, schedule=schedule,
                    trials=trials, integration=methods, wall_time_s=wall)
    if choice is not None:
        metadata["target_choice"] = choice
    return SpikeRecord(checkpoints, counts, events, spikes, metadata)


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


def _build(circuit, inputs, trials, seed, dt, parameters, initial, record_spikes, schedule):
    clock = Clock(dt, name="evsim_clock")
    built = build_network(circuit, trials, clock, inputs=inputs, parameters=parameters,
                          initial=initial, record_spikes=record_spikes, schedule=schedule)
    if seed is not None:
        brian_seed(int(seed))
    return built


def _run_runtime(circuit, inputs, trials, seed, dt, checkpoints, parameters, initial,
                 schedule, record_spikes, target):
    previous_target = prefs.codegen.target
    prefs.codegen.target = target
    try:
        built = _build(circuit, inputs, trials, seed, dt, parameters, initial, record_spikes,
                       schedule)
        snapshots = {name: [] for name in built.counters}

        def snapshot():
            for name, monitor in built.counters.items():
                snapshots[name].append(np.array(monitor.count[:], dtype=np.int64))

        ends = np.round(np.asarray(checkpoints / dt)).astype(np.int64)
        if snapshot_in_one_run(len(ends), int(ends[-1])):
            _run_with_snapshots(built, ends, dt, snapshot)
        else:  # one Network.run per checkpoint
            elapsed = 0 * second
            for checkpoint in checkpoints:
                built.network.run(checkpoint - elapsed, namespace={})
                elapsed = checkpoint
                snapshot()
    finally:
        prefs.codegen.target = previous_target
    counts = {name: np.stack(s).reshape(len(checkpoints), trials, -1)
              for name, s in snapshots.items()}
    spikes = _spike_trains(built, circuit) if record_spikes else None
    return counts, spikes, built


#: Costs on the numpy target, rounded from benchmarks/results/checkpoints.md: a Python snapshot
#: operation called every step, and one extra Network.run (its set-up) per checkpoint.
SNAPSHOT_STEP_COST_S = 2e-5
EXTRA_RUN_COST_S = 8e-2


def snapshot_in_one_run(checkpoints: int, steps: int) -> bool:
    """True if reading ``checkpoints`` counts in one run of ``steps`` steps (a snapshot
    operation every step) costs less than one Network.run per checkpoint. Both give the same
    counts: the run is the same, only where it pauses differs."""
    return checkpoints > 1 and steps * SNAPSHOT_STEP_COST_S < checkpoints * EXTRA_RUN_COST_S


def _run_with_snapshots(built, ends: np.ndarray, dt, snapshot) -> None:
    """One Network.run to the last checkpoint; ``snapshot()`` at the end of the last step
    before each checkpoint (counts of spikes in steps [0, end))."""
    pending = list(ends)
    clock = next(iter(built.groups.values())).clock

    def at_step_end(t):
        if pending and int(round(float(t / dt))) + 1 == pending[0]:
            snapshot()
            pending.pop(0)

    built.network.add(NetworkOperation(at_step_end, when="end", clock=clock))
    built.network.run(int(ends[-1]) * dt, namespace={})


def _spike_trains(built, circuit) -> dict:
    trains = {}
    for name, monitor in built.counters.items():
        size = circuit.population(name).size
        # copies: since brian2 2.10 monitor arrays are views of C++ memory freed with the monitor
        trains[name] = SpikeTrains.from_group(np.array(monitor.i[:]), np.array(monitor.t_[:]),
                                              size)
    return trains
