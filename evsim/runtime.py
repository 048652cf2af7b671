"""Brian2's runtime targets (numpy, cython) as backends that build a structure once.

The Brian2 network of a run is kept per process, keyed by :attr:`NetworkPlan.key` (equations,
sizes, trials, connectivity, dt, schedule, recording: what fixes the objects), right after
it is built, with its state stored (``Network.store``). A later run of the same structure,
with any inputs, parameters, initial values, weights and seed, restores that state, assigns
its own values and runs: no NeuronGroup, Synapses or connect is made again, and no code is
generated again after its first run (:func:`_code_generated_once`). The counts and spike
times are those of a freshly built network (tests/test_backends.py checks it).

Networks are evicted least recently used beyond :data:`CACHE_SYNAPSES` synapses in all; a
larger network is not kept.
"""

from __future__ import annotations

import gc
import importlib.util
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
from brian2 import Clock, NetworkOperation, prefs, second
from brian2 import seed as brian_seed
from brian2.core import network as network_module
from brian2.groups.group import CodeRunner

from . import cost
from .backends import RunResult, RunSpec, register
from .build import BuiltNetwork, instantiate
from .states import shape_states
from .record import SpikeTrains

__all__ = ["RuntimeBackend", "clear_cache", "CACHE_SYNAPSES", "BLOCKS", "EVENTS"]

#: block-dense projections (token-wise linear layers) run as one matrix product a step
#: (:mod:`evsim.blocks`); False: through Brian2's Synapses, or EVENTS (same spikes)
BLOCKS = True
#: on the numpy target, other projections deliver their events in NumPy
#: (:class:`evsim.pathways.EventPathway`); False: through Brian2's Synapses (same spikes)
EVENTS = True

#: most synapses (all cached networks together) kept built: ~100 bytes each on numpy with the
#: stored initial state; a network larger than this is run but not kept
CACHE_SYNAPSES = 12_000_000


class RuntimeBackend:
    """Brian2's ``target`` ("numpy" or "cython") in this process."""

    records_rasters = True  # record_rasters straight from the spikes of every step

    def __init__(self, target: str):
        self.name = target

    def supports(self, spec: RunSpec) -> str | None:
        if self.name == "cython" and importlib.util.find_spec("Cython") is None:
            return "Cython is not installed (pip install cython)"
        return None

    def is_cached(self, spec: RunSpec) -> bool:
        return _key(self.name, spec) in _CACHE

    def estimate(self, spec: RunSpec) -> float:
        return cost.runtime_seconds(self.name, spec, built=self.is_cached(spec))

    def one_off(self, spec: RunSpec) -> float:
        """Seconds of building the network and generating its code; 0 when kept, and when it
        will not be kept (over :data:`CACHE_SYNAPSES`: every run pays them again)."""
        if self.is_cached(spec) or spec.trials * spec.plan.synapses_per_trial > CACHE_SYNAPSES:
            return 0.0
        return (cost.runtime_seconds(self.name, spec, built=False)
                - cost.runtime_seconds(self.name, spec, built=True))

    def run(self, spec: RunSpec) -> RunResult:
        previous_target = prefs.codegen.target
        prefs.codegen.target = self.name  # each backend pins its own codegen target
        try:
            started = time.perf_counter()
            built, reused = _built(self.name, spec)
            build_s = time.perf_counter() - started
            counts, rasters = _run(built, spec)
        finally:
            prefs.codegen.target = previous_target
        spikes = _spike_trains(built) if spec.record_spikes else None
        states, times = _states(built)
        if not reused and _key(self.name, spec) not in _CACHE:
            del built
            gc.collect()  # a network too large to keep: free it before the next run
        return RunResult(counts, spikes, dict(build_reused=reused, build_s=round(build_s, 3)),
                         states, times, rasters)


#: (target, plan key) -> BuiltNetwork with its initial state stored
_CACHE: "OrderedDict[tuple, BuiltNetwork]" = OrderedDict()


def _key(target: str, spec: RunSpec) -> tuple:
    """What fixes a kept network and its code: the target, the plan's structure and Brian2's
    code-generation preferences (a kept network keeps the code made under them)."""
    return target, BLOCKS, EVENTS, spec.plan.key, _codegen_preferences()


def _codegen_preferences() -> tuple:
    return tuple(sorted((name, repr(value)) for name, value in prefs.items()
                        if name.startswith("codegen.") and name != "codegen.target"))


def _built(target: str, spec: RunSpec) -> tuple[BuiltNetwork, bool]:
    """The network of ``spec``'s plan: reused (state restored, values assigned) or built now."""
    key, plan = _key(target, spec), spec.plan
    built = _CACHE.get(key)
    if built is not None:
        _CACHE.move_to_end(key)
        built.network.restore("evsim_initial")
        built.assign(plan)
        return built, True
    built = instantiate(plan, Clock(spec.dt, name="evsim_clock"), **pathways_on(target),
                        python_restarts=True)
    if _synapses(built) <= CACHE_SYNAPSES:
        built.network.store("evsim_initial")
        _CACHE[key] = built
        while sum(_synapses(b) for b in _CACHE.values()) > CACHE_SYNAPSES:
            _CACHE.popitem(last=False)
            gc.collect()  # Brian2's objects hold cycles: free the evicted network now
    return built, False


def _network_run(built: BuiltNetwork, duration) -> None:
    """``Network.run`` of ``built`` for ``duration``, with the code of its earlier runs."""
    _code_generated_once(built.network)
    built.network.run(duration, namespace={})


def _code_generated_once(network) -> None:
    """Every object of ``network`` keeps the code objects of its first run. Brian2 generates
    them anew in every ``Network.run`` (0.2-0.4 s a run of a trained model, most of a short
    run), although a kept network's code cannot change: its equations, sizes, connectivity,
    schedule and dt are its key, evsim runs with an empty namespace, and the code reads every
    value that can change (parameters, weights, state) from the objects' arrays, which are
    assigned in place."""
    for obj in network.sorted_objects:
        if isinstance(obj, CodeRunner) and obj.code_objects:
            obj.create_code_objects = _keep_code_objects


def _keep_code_objects(run_namespace) -> None:
    """``CodeRunner.create_code_objects`` of an object whose code objects are kept."""


def _synapses(built: BuiltNetwork) -> int:
    return built.trials * built.plan.synapses_per_trial


def clear_cache() -> None:
    """Forget every built network (frees their memory)."""
    _CACHE.clear()


def _run(built: BuiltNetwork, spec: RunSpec) -> tuple[dict, dict]:
    """Run ``built`` to the last checkpoint: counts {population: (checkpoints, trials, size)}
    and the rasters of ``spec.record_rasters`` {population: bool (trials, steps, size)}."""
    if spec.seed is not None:
        brian_seed(int(spec.seed))
    ends = spec.checkpoint_steps
    grids, mark = _raster_grids(built, spec)
    # a population recorded as a raster is counted from it: its counter (a spike monitor that
    # keeps no times) is switched off for the run, ~5 % of a trained model's run
    idle = [p for p, monitor in built.counters.items() if p in grids and not monitor.record]
    counters = {p: monitor for p, monitor in built.counters.items() if p not in idle}
    snapshots = {name: [] for name in counters}

    def snapshot():
        for name, monitor in counters.items():
            snapshots[name].append(np.array(monitor.count[:], dtype=np.int64))

    with _brian2_collection_skipped(), _at_every_step_end(built, mark if grids else None), \
            _switched_off([built.counters[p] for p in idle]):
        if cost.snapshot_in_one_run(len(ends), int(ends[-1])):
            _run_with_snapshots(built, ends, spec.dt, snapshot)
        else:  # one Network.run per checkpoint
            elapsed = 0 * second
            for checkpoint in spec.checkpoints:
                _network_run(built, checkpoint - elapsed)
                elapsed = checkpoint
                snapshot()
    counts = {name: np.stack(s).reshape(len(ends), spec.trials, -1)
              for name, s in snapshots.items()}
    counts |= {p: _counts_of(grids[p], ends).reshape(len(ends), spec.trials, -1) for p in idle}
    return {p: counts[p] for p in built.counters}, \
        {p: grid.reshape(spec.steps, spec.trials, -1).transpose(1, 0, 2)
         for p, grid in grids.items()}


def _counts_of(grid: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Spikes per neuron in steps [0, end) for each checkpoint step ``end`` of a raster grid
    (steps, neurons): (checkpoints, neurons) int64."""
    starts = np.concatenate([[0], ends[:-1]])
    # int32 per segment (a step adds at most 1): 2.5x faster than summing into int64
    segments = [grid[start:end].sum(axis=0, dtype=np.int32) for start, end in zip(starts, ends)]
    return np.cumsum(segments, axis=0, dtype=np.int64)


@contextmanager
def _switched_off(objects: list):
    """The Brian2 objects inactive (skipped by their network's runs) for the block."""
    for obj in objects:
        obj.active = False
    try:
        yield
    finally:
        for obj in objects:
            obj.active = True


def _raster_grids(built: BuiltNetwork, spec: RunSpec) -> tuple[dict, Callable]:
    """The grids of ``spec.record_rasters`` {population: bool (steps, trials * size)} (one byte
    per neuron-step, no spike monitor) and ``mark(step)``, which marks the spikes of ``step``."""
    grids = {p: np.zeros((spec.steps, len(built.groups[p])), bool) for p in spec.record_rasters}
    spaces = {p: built.groups[p].variables["_spikespace"] for p in grids}

    def mark(step):
        for p, grid in grids.items():
            space = spaces[p].get_value()
            grid[step, space[:space[-1]]] = True

    return grids, mark


@contextmanager
def _at_every_step_end(built: BuiltNetwork, function):
    """``function(step)`` runs at the end of every step of ``built``'s runs inside the block,
    with the step's index (none if ``function`` is None). The index is read from the clock's
    integer counter: dividing Brian2's ``t`` by ``dt`` costs ~20 us a step in unit handling."""
    if function is None:
        yield
        return
    clock = next(iter(built.groups.values())).clock
    timestep = clock.variables["timestep"]
    operation = NetworkOperation(lambda: function(int(timestep.get_value()[0])), when="end",
                                 clock=clock)
    built.network.add(operation)
    try:
        yield
    finally:
        built.network.remove(operation)


def pathways_on(target: str) -> dict:
    """The NumPy pathways a network built for ``target`` uses (:func:`evsim.build.instantiate`'s
    switches): block pathways on both runtime targets, event pathways on numpy only (Brian2's
    cython synapse code fuses ``v + w * payload`` into one rounding, which NumPy's events
    cannot reproduce)."""
    return dict(blocks=BLOCKS, events=EVENTS and target == "numpy")


@contextmanager
def _brian2_collection_skipped():
    """Brian2's ``Network.run`` starts with a full ``gc.collect()``, only to warn about Brian2
    objects made but not added to a network; evsim adds every object it makes to the network it
    builds. A full collection scans every object of the process (50-200 ms a run once evsim's
    analyses are imported). Inside the block Brian2's network module sees a ``gc`` whose
    ``collect`` does nothing. The collector's automatic collections go on; an evicted network is
    collected when it is evicted, and a network too large to keep right after its run
    (:meth:`RuntimeBackend.run`)."""
    network_module.gc = _NO_COLLECTION
    try:
        yield
    finally:
        network_module.gc = gc


_NO_COLLECTION = SimpleNamespace(collect=lambda generation=2: 0)


def _run_with_snapshots(built: BuiltNetwork, ends: np.ndarray, dt, snapshot) -> None:
    """One Network.run to the last checkpoint; ``snapshot()`` at the end of the last step
    before each checkpoint (counts of spikes in steps [0, end))."""
    pending = list(ends)

    def at_step_end(step):
        if pending and step + 1 == pending[0]:
            snapshot()
            pending.pop(0)

    with _at_every_step_end(built, at_step_end):
        _network_run(built, int(ends[-1]) * dt)


def _states(built: BuiltNetwork) -> tuple[dict, np.ndarray | None]:
    """The state monitors' samples {population: {variable: (samples, trials, neurons)}} (SI)
    and their times (seconds)."""
    states, times = {}, None
    requests = {g.population: g.states for g in built.plan.groups}
    for population, monitor in built.states.items():
        request, times = requests[population], np.array(monitor.t_[:])
        states[population] = {variable: shape_states(np.array(getattr(monitor, variable + "_")).T,
                                                     request)
                              for variable in request.variables}
    return states, times


def _spike_trains(built: BuiltNetwork) -> dict:
    trains = {}
    for name, monitor in built.counters.items():
        if not monitor.record:
            continue
        size = len(monitor.source) // built.trials
        # times copied: the monitor's arrays are reused when a cached network runs again
        trains[name] = SpikeTrains.from_group(monitor.i[:], np.array(monitor.t_[:]), size)
    return trains


NUMPY = register(RuntimeBackend("numpy"))
CYTHON = register(RuntimeBackend("cython"))
