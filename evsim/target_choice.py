"""``target="auto"``: choose the codegen target from the estimated cost of a run.

numpy pays Python overhead for every code object at every step; cpp_standalone pays a
compilation per circuit structure (once: builds are cached, see :mod:`evsim.standalone`) and
then runs the loop in C++. The constants are rounded from
``benchmarks/results/targets_scaling.md`` and ``default_target.md`` (2-core machine); they
only steer the choice: both targets give the same counts for the same seed.

``auto`` never compiles where it cannot: no C++ compiler or ``make`` on the PATH, a platform
other than Linux, OpenMP threads set (per-thread random streams would change the numbers), or
an earlier compilation failure in this process (recorded in the run's ``target_choice``).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass

from brian2 import prefs

__all__ = ["CostEstimate", "estimate_cost", "prefer_compiled", "compiled_unavailable",
           "remember_failure"]

#: numpy target: seconds per code object per step, per neuron per step, and to build a run
NUMPY_OBJECT_STEP_S = 3.5e-6
NUMPY_NEURON_STEP_S = 1e-8
NUMPY_START_S = 0.3
#: cpp_standalone from a cached build: seconds per neuron per step, and to build the objects,
#: start the binary and read its counts
COMPILED_NEURON_STEP_S = 4e-9
COMPILED_START_S = 0.1
#: generating and compiling a new build: a base and a cost per code object (make -j2)
COMPILE_BASE_S = 2.5
COMPILE_OBJECT_S = 0.1

_failure: list[str] = []


@dataclass(frozen=True)
class CostEstimate:
    """Estimated seconds of one run on each target."""

    numpy_s: float
    compiled_s: float
    compile_s: float

    def as_dict(self) -> dict:
        return {f"estimated_{key}": round(value, 3) for key, value in asdict(self).items()}


def estimate_cost(circuit, trials: int, steps: int, time_varying_inputs: int = 0
                  ) -> CostEstimate:
    """Cost of ``steps`` steps of ``trials`` copies of ``circuit`` on numpy and compiled."""
    objects = (4 * len(circuit.populations) + 2 * len(circuit.projections) + time_varying_inputs
               + sum(bool(p.model.step_code) for p in circuit.populations))
    neuron_steps = float(trials) * sum(p.size for p in circuit.populations) * steps
    return CostEstimate(
        numpy_s=NUMPY_START_S + steps * objects * NUMPY_OBJECT_STEP_S
        + neuron_steps * NUMPY_NEURON_STEP_S,
        compiled_s=COMPILED_START_S + neuron_steps * COMPILED_NEURON_STEP_S,
        compile_s=COMPILE_BASE_S + objects * COMPILE_OBJECT_S)


def prefer_compiled(estimate: CostEstimate, built: bool) -> bool:
    """True if cpp_standalone (compiling first unless ``built``) is estimated to be faster."""
    return estimate.compiled_s + (0.0 if built else estimate.compile_s) < estimate.numpy_s


def compiled_unavailable() -> str | None:
    """Why ``auto`` must not pick cpp_standalone here, or None."""
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
