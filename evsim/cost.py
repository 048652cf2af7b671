"""Estimated seconds of a run on each backend, for ``target="auto"``.

numpy pays Python overhead for every code object at every step, a cost per neuron and step
(about twice as much in a population with a refractory period: Brian2 computes which neurons
are refractory and writes the membrane through a mask at every step) and Brian2's code-object
set-up at a network's first run (a kept network keeps its code, :mod:`evsim.runtime`);
building a network costs per object and per synapse, once per structure and process.
cpp_standalone pays a compilation per structure (once: builds are cached on disk,
:mod:`evsim.standalone`), then for every run the binary's start, which creates every synapse
from files, and the C++ loop. The constants are rounded from
``benchmarks/results/targets_scaling.md`` (long runs) and ``trained_models.md`` (short runs
of many synapses) on a 2-core machine; they only steer the choice: every backend gives the
same counts for the same seed.

``auto`` never compiles where it cannot: no C++ compiler or ``make`` on the PATH, a platform
other than Linux, OpenMP threads set (per-thread random streams would change the numbers), or
an earlier compilation failure in this process (recorded in the run's ``target_choice``).
"""

from __future__ import annotations

import os
import shutil
import sys

from brian2 import prefs

__all__ = ["runtime_seconds", "compiled_seconds", "compile_seconds", "code_objects",
           "snapshot_in_one_run", "compiled_unavailable", "remember_failure"]

#: numpy target: per code object per step; per neuron per step, and again per neuron of a
#: population with a refractory period; per code object at a network's first run (Brian2
#: generates its code) and at a later run of a kept network; fixed per run
NUMPY_OBJECT_STEP_S = 3.5e-6
NUMPY_NEURON_STEP_S = 1e-8
NUMPY_REFRACTORY_NEURON_STEP_S = 1e-8
NUMPY_OBJECT_RUN_S = 5e-3
NUMPY_OBJECT_RERUN_S = 2e-4
NUMPY_START_S = 0.05
#: building a network on a runtime target: per Brian2 object, per synapse
BUILD_OBJECT_S = 8e-3
BUILD_SYNAPSE_S = 8e-8
#: cython: a first compilation of every code object in this process is assumed (Brian2 keeps
#: compiled modules on disk, but evsim cannot tell which), then per object per step
CYTHON_OBJECT_COMPILE_S = 3.0
CYTHON_OBJECT_STEP_S = 1e-6
CYTHON_NEURON_STEP_S = 2e-9
#: cpp_standalone from a cached build: per neuron per step, and again per neuron of a
#: population that draws a random number every step; per synapse (the binary creates them
#: from files and evsim writes their weights), fixed per run (objects, start, counts)
COMPILED_NEURON_STEP_S = 1.5e-9
COMPILED_RANDOM_NEURON_STEP_S = 2.5e-9
COMPILED_SYNAPSE_S = 3e-7
#: cpp_standalone per neuron-step of a population recorded as a raster: the binary writes
#: every spike time to a file and evsim reads them back (trained models: ~0.1-0.4 spikes a
#: neuron-step), where the runtime targets mark a grid in memory
COMPILED_RASTER_NEURON_STEP_S = 3e-8
COMPILED_START_S = 0.1
#: generating and compiling a new build: a base and a cost per code object (make -j2)
COMPILE_BASE_S = 2.5
COMPILE_OBJECT_S = 0.1

#: Costs on the numpy target, rounded from benchmarks/results/checkpoints.md: a Python snapshot
#: operation called every step, and one extra Network.run per checkpoint (its set-up, with the
#: code of the first run kept).
SNAPSHOT_STEP_COST_S = 1.5e-6
EXTRA_RUN_COST_S = 2e-3

_failure: list[str] = []


def code_objects(spec, restarts: bool = True) -> int:
    """Code objects Brian2 runs every step for ``spec``'s circuit; ``restarts``: with those
    of its restarts (not on the runtime targets, where a Python operation restarts only in
    the steps that start a window: evsim.restarts.RestartOperation)."""
    circuit = spec.circuit
    return (4 * len(circuit.populations) + 2 * len(circuit.projections)
            + spec.time_varying_inputs + sum(bool(p.model.step_code) for p in circuit.populations)
            + (sum(g.restart is not None for g in spec.plan.groups) if restarts else 0))


def _sizes(spec) -> tuple[float, float]:
    """(neuron steps, synapses) of ``spec``, all trials."""
    neurons = sum(p.size for p in spec.circuit.populations)
    synapses = spec.plan.synapses_per_trial
    return float(spec.trials) * neurons * spec.steps, float(spec.trials) * synapses


def _refractory_neuron_steps(spec) -> float:
    """Neuron steps of ``spec`` in populations with a refractory period, all trials."""
    return float(sum(g.neurons for g in spec.plan.groups if g.refractory)) * spec.steps


def _random_neuron_steps(spec) -> float:
    """Neuron steps of ``spec`` in populations that draw random numbers, all trials."""
    return float(sum(g.neurons for g in spec.plan.groups
                     if "rand(" in f"{g.threshold} {g.step_code}")) * spec.steps


def _raster_neuron_steps(spec) -> float:
    """Neuron steps of ``spec`` in the populations it records as rasters, all trials."""
    sizes = spec.circuit.sizes
    return float(spec.trials) * sum(sizes[p] for p in spec.record_rasters) * spec.steps


def runtime_seconds(target: str, spec, built: bool) -> float:
    """Seconds of ``spec`` on Brian2's runtime ``target`` (numpy or cython), building the
    network first unless ``built``."""
    objects = code_objects(spec, restarts=False)
    neuron_steps, synapses = _sizes(spec)
    build = 0.0 if built else (BUILD_OBJECT_S * (len(spec.circuit.populations) * 2
                                                 + len(spec.circuit.projections))
                               + BUILD_SYNAPSE_S * synapses)
    if target == "cython":
        step = spec.steps * objects * CYTHON_OBJECT_STEP_S + neuron_steps * CYTHON_NEURON_STEP_S
        build += 0.0 if built else objects * CYTHON_OBJECT_COMPILE_S
    else:
        step = (spec.steps * objects * NUMPY_OBJECT_STEP_S + neuron_steps * NUMPY_NEURON_STEP_S
                + _refractory_neuron_steps(spec) * NUMPY_REFRACTORY_NEURON_STEP_S)
    set_up = objects * (NUMPY_OBJECT_RERUN_S if built else NUMPY_OBJECT_RUN_S)
    return NUMPY_START_S + set_up + build + step


def compile_seconds(spec) -> float:
    """Seconds to generate and compile a new cpp_standalone build of ``spec``."""
    return COMPILE_BASE_S + code_objects(spec) * COMPILE_OBJECT_S


def compiled_seconds(spec, built: bool) -> float:
    """Seconds of ``spec`` on cpp_standalone, compiling first unless ``built``."""
    neuron_steps, synapses = _sizes(spec)
    return (COMPILED_START_S + neuron_steps * COMPILED_NEURON_STEP_S
            + _random_neuron_steps(spec) * COMPILED_RANDOM_NEURON_STEP_S
            + _raster_neuron_steps(spec) * COMPILED_RASTER_NEURON_STEP_S
            + synapses * COMPILED_SYNAPSE_S + (0.0 if built else compile_seconds(spec)))


def snapshot_in_one_run(checkpoints: int, steps: int) -> bool:
    """True if reading ``checkpoints`` counts in one run of ``steps`` steps (a snapshot
    operation every step) costs less than one Network.run per checkpoint. Both give the same
    counts: the run is the same, only where it pauses differs."""
    return checkpoints > 1 and steps * SNAPSHOT_STEP_COST_S < checkpoints * EXTRA_RUN_COST_S


def compiled_unavailable() -> str | None:
    """Why cpp_standalone cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return f"compiled runs are set up for Linux only (platform {sys.platform})"
    for tool in (os.environ.get("CXX", "g++"), "make"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not on the PATH"
    if prefs.devices.cpp_standalone.openmp_threads:
        return "OpenMP threads are set: compiled counts would differ from numpy's"
    return _failure[0] if _failure else None


def remember_failure(error: Exception) -> str:
    """Record that a compiled run failed in this process (``auto`` stops trying); the reason."""
    reason = f"a compiled run failed in this process: {str(error).splitlines()[0]}"
    _failure[:] = [reason]
    return reason
