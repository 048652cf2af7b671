"""The seam between :func:`evsim.simulate` and the simulators that run a circuit.

A run is described once, by a frozen :class:`RunSpec`; a backend is anything with the four
methods of :class:`Backend` (in the idiom of Brian2's devices and Nengo's per-backend
Simulator). evsim registers ``numpy`` and ``cython`` (Brian2's runtime targets,
:mod:`evsim.runtime`) and ``cpp_standalone`` (:mod:`evsim.standalone`); another simulator
is one module with a Backend and a call to :func:`register`. ``target="auto"`` runs the
registered backend with the smallest estimated cost among those that support the run; a
structure that ran before in this process is expected to run again, so a backend's one-off cost
(a compilation, a build) is credited with what the structure's earlier runs cost (ski rental:
compile once its runs have cost as much as compiling).

A run's target is one name. Pass it per call (``simulate(..., target="numpy")``, and every
circuit helper's ``target=``), or for a whole block with :func:`using`, which also tells an
observer about every run in the block (a claim's context logs its runs this way).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ValidationError

__all__ = ["RunSpec", "RunResult", "Backend", "register", "registered", "targets", "get",
           "choose", "using", "current_target", "report_run", "BUILTIN"]


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One simulation, checked by :func:`evsim.simulate`: ``trials`` copies of ``circuit``
    with ``inputs``, ``parameters`` and ``initial`` values, read at ``checkpoints`` (Brian2
    times, multiples of ``dt``); ``seed`` None for an unseeded run."""

    circuit: object
    inputs: dict
    trials: int
    seed: int | None
    dt: object
    checkpoints: object
    parameters: dict
    initial: dict
    schedule: str
    record_spikes: tuple  # populations whose spike times are kept
    states: tuple = ()  # evsim.states.StateRequest s
    record_every: object = None  # their sampling interval
    restarts: object = None  # evsim.restarts.Restarts, or None
    record_rasters: tuple = ()  # populations whose spikes are kept as a raster per step

    @cached_property
    def plan(self):
        """The :class:`evsim.build.NetworkPlan` of this run (made once, on first use)."""
        from .build import plan_network

        return plan_network(self.circuit, self.trials, self.dt, inputs=self.inputs,
                            parameters=self.parameters, initial=self.initial,
                            record_spikes=self.record_spikes, schedule=self.schedule,
                            states=self.states, record_every=self.record_every,
                            restarts=self.restarts)

    @cached_property
    def spike_times_instead(self) -> "RunSpec":
        """This run as a backend that does not record rasters runs it: the spike times of the
        populations of ``record_rasters`` and ``record_spikes``, from which the rasters are
        made (made once, its plan derived from this run's)."""
        if not self.record_rasters:
            return self
        from .build import recorded_populations, with_spike_times

        both = recorded_populations(self.circuit, {*self.record_spikes, *self.record_rasters})
        instead = replace(self, record_spikes=both, record_rasters=())
        instead.__dict__["plan"] = with_spike_times(self.plan, both)  # the cached property
        return instead

    @property
    def checkpoint_steps(self) -> np.ndarray:
        """Steps at which counts are read (int64)."""
        return np.round(np.asarray(self.checkpoints / self.dt)).astype(np.int64)

    @property
    def steps(self) -> int:
        return int(self.checkpoint_steps[-1])

    @property
    def time_varying_inputs(self) -> int:
        return sum(np.ndim(value) == 3 for value in self.inputs.values())


@dataclass
class RunResult:
    """What a backend returns: counts {population: (checkpoints, trials, size) int64}, spike
    trains {population: SpikeTrains} if recorded (else None), facts for the record, the
    recorded states {population: {variable: (samples, trials, neurons) SI floats}} with their
    sample times ``state_times`` (seconds), and the rasters {population: bool (trials, steps,
    size)} of ``record_rasters`` from a backend that records them (one with
    ``records_rasters = True``; for any other :func:`evsim.simulate` asks spike times and
    makes the rasters from them)."""

    counts: dict
    spikes: dict | None
    facts: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    state_times: np.ndarray | None = None
    rasters: dict = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A simulator evsim can run a :class:`RunSpec` on. It may also define ``one_off(spec)``:
    the seconds of :meth:`estimate` that a later run of the same structure would not pay (a
    compilation, a build; 0 when cached). Without it, ``auto`` credits it nothing."""

    name: str

    def supports(self, spec: RunSpec) -> str | None:
        """None if this backend can run ``spec`` here, else why not (one line)."""

    def estimate(self, spec: RunSpec) -> float:
        """Estimated seconds to run ``spec``, building or compiling first unless cached."""

    def is_cached(self, spec: RunSpec) -> bool:
        """True if what ``spec`` needs is already built (so :meth:`estimate` excludes it)."""

    def run(self, spec: RunSpec) -> RunResult:
        """Simulate ``spec``; the same seed gives the same counts on every backend."""


_BACKENDS: dict[str, Backend] = {}
#: evsim's own backends, listed first and in this order whichever module was imported first
BUILTIN = ("numpy", "cython", "cpp_standalone", "nest")


def register(backend: Backend) -> Backend:
    """Add ``backend`` under ``backend.name`` (replacing one of the same name)."""
    if not isinstance(backend, Backend) or not isinstance(getattr(backend, "name", None), str):
        raise ValidationError("backend", "parameter 'backend' must have a name and the methods "
                                         f"supports, estimate, is_cached and run; got {backend!r}")
    _BACKENDS[backend.name] = backend
    return backend


def registered() -> tuple[str, ...]:
    """Names of the registered backends: evsim's own, then others in registration order."""
    _load_builtin()
    return tuple([name for name in BUILTIN if name in _BACKENDS]
                 + [name for name in _BACKENDS if name not in BUILTIN])


def targets() -> tuple[str, ...]:
    """What ``target=`` accepts: "auto" and every registered backend."""
    return ("auto", *registered())


def get(name: str) -> Backend:
    """The backend called ``name``; one clear error for an unknown name."""
    _load_builtin()
    if name not in _BACKENDS:
        raise ValidationError("target", "parameter 'target' must be one of "
                                        f"{targets()}, got {name!r}")
    return _BACKENDS[name]


#: structure (NetworkPlan.key) -> estimated seconds its earlier runs in this process cost,
#: one-off costs left out (what :func:`choose` credits against a one-off cost)
_SPENT: dict[str, float] = {}


def choose(spec: RunSpec) -> tuple[Backend, dict]:
    """The registered backend ``auto`` runs ``spec`` on: the smallest estimate among those
    that support it, each one-off cost (:class:`Backend`) credited with the estimated seconds
    of the structure's earlier runs in this process, at most in full. Returns it and the
    choice for the record (every estimate, the credit, every reason a backend was left
    out)."""
    _load_builtin()
    estimates, one_offs, left_out = {}, {}, {}
    for name in registered():
        backend = _BACKENDS[name]
        reason = backend.supports(spec)
        if reason is None:
            estimates[name] = backend.estimate(spec)
            one_offs[name] = getattr(backend, "one_off", lambda spec: 0.0)(spec)
        else:
            left_out[name] = reason
    if not estimates:
        raise RuntimeError(f"no registered backend can run this simulation: {left_out}")
    spent = _SPENT.get(spec.plan.key, 0.0)
    credited = {name: estimates[name] - min(one_offs[name], spent) for name in estimates}
    chosen = min(credited, key=credited.get)
    _SPENT[spec.plan.key] = spent + estimates[chosen] - one_offs[chosen]
    choice = dict(requested="auto", chosen=chosen,
                  estimated_s={name: round(value, 3) for name, value in estimates.items()},
                  cached=_BACKENDS[chosen].is_cached(spec))
    if spent:
        choice["earlier_runs_s"] = round(spent, 3)
    if left_out:
        choice["left_out"] = left_out
    return _BACKENDS[chosen], choice


#: (target, observers) of the innermost :func:`using` block
_SCOPE = contextvars.ContextVar("evsim_target_scope", default=("auto", ()))


@contextlib.contextmanager
def using(target: str, on_run=None, *, observed: bool = True):
    """Within the block, simulations with no ``target`` of their own run on ``target``, and
    ``on_run(record)`` (if given) sees the SpikeRecord of every simulation, whatever its target,
    as do the observers of enclosing blocks unless ``observed`` is False."""
    if target != "auto":
        get(target)  # one clear error for an unknown target
    observers = _SCOPE.get()[1] if observed else ()
    token = _SCOPE.set((target, observers + ((on_run,) if on_run else ())))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current_target(target: str | None = None) -> str:
    """``target`` if given, else the innermost :func:`using` block's ("auto" outside any)."""
    return _SCOPE.get()[0] if target is None else target


def report_run(record) -> None:
    """Hand a finished simulation's record to the observers of the enclosing blocks."""
    for observer in _SCOPE.get()[1]:
        observer(record)


def _load_builtin() -> None:
    """Register evsim's own backends (on first use: they import Brian2's devices)."""
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED.append(True)
        from . import runtime, standalone  # noqa: F401  (each registers its backends)
        from . import nest_backend  # noqa: F401  (NEST last; it imports nest only to run)


_BUILTIN_LOADED: list = []
