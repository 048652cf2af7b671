"""The numpy cost model's constants (evsim.cost) beside measured seconds, in one run.

1. Per neuron and step: one population of 9,600 neurons x 25 trials for 2,000 steps of 0.1 ms
   (an exact LIF with a refractory period, the same LIF without one, SpikingJelly's discrete
   LIF with its step code), on numpy from a kept network and on cpp_standalone from a warm
   build, beside the estimates ``auto`` compares (evsim.cost, warm).
2. Per run: a chain of 16 LIF populations (64 code objects) run for 10 steps: the first run
   (build and code generation) and a rerun of the kept network, beside the estimates.

Counts of the numpy and cpp_standalone runs are compared. Usage: python
benchmarks/bench_numpy_costs.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd

from common import save_table

DT_MS, STEPS, SIZE, TRIALS, CHAIN = 0.1, 2000, 9600, 25, 16


def _models():
    from brian2 import ms

    from evsim import models

    return {"LIF, t_ref 2 ms": (models.lif(reset="value", t_ref=2 * ms), "nA", 25.0),
            "LIF, no refractory period": (models.lif(reset="value", t_ref=0 * ms), "nA", 25.0),
            "discrete LIF (step code)": (models.discrete_lif(), "1", 0.8)}


def _spec(circuit, inputs, trials: int, steps: int):
    from brian2 import ms

    from evsim.backends import RunSpec

    return RunSpec(circuit, inputs, trials, 1, DT_MS * ms, [steps * DT_MS] * ms, {}, {},
                   "resets_first", ())


def _timed(circuit, inputs, trials: int, steps: int, target: str):
    from brian2 import ms

    from evsim import simulate

    started = time.perf_counter()
    record = simulate(circuit, inputs, steps * DT_MS * ms, trials=trials, seed=1,
                      dt=DT_MS * ms, target=target)
    return time.perf_counter() - started, record


def per_neuron_step() -> list[dict]:
    from brian2 import nA

    from evsim import Circuit, cost

    rng = np.random.default_rng(0)
    rows = []
    for name, (model, unit, scale) in _models().items():
        circuit = Circuit("layer")
        circuit.add_population("layer", model, SIZE)
        circuit.add_input("drive", "layer")
        drive = rng.uniform(0, 1, (TRIALS, SIZE)) * scale * (nA if unit == "nA" else 1)
        spec = _spec(circuit, {"drive": drive}, TRIALS, STEPS)
        counts = {}
        for target, estimate in (("numpy", cost.runtime_seconds("numpy", spec, built=True)),
                                 ("cpp_standalone", cost.compiled_seconds(spec, built=True))):
            _timed(circuit, {"drive": drive}, TRIALS, STEPS, target)  # build / compile
            seconds, record = _timed(circuit, {"drive": drive}, TRIALS, STEPS, target)
            counts[target] = record.counts["layer"]
            rows.append(dict(model=name, target=target, seconds=seconds, estimated_s=estimate,
                             measured_over_estimate=seconds / estimate,
                             ns_per_neuron_step=1e9 * seconds / (TRIALS * SIZE * STEPS)))
        same = bool(np.array_equal(counts["numpy"], counts["cpp_standalone"]))
        for row in rows[-2:]:
            row["same_counts"] = same
    return rows


def per_run() -> list[dict]:
    from brian2 import mV, nA

    from evsim import Circuit, cost, models, runtime

    circuit = Circuit("chain")
    for k in range(CHAIN):
        circuit.add_population(f"p{k}", models.lif(), 8)
        if k:
            circuit.connect(f"p{k - 1}", f"p{k}", 5 * mV)
    circuit.add_input("drive", "p0")
    inputs = {"drive": 30 * nA}
    spec = _spec(circuit, inputs, 2, 10)
    runtime.clear_cache()
    rows = []
    for run, built in (("first run (build, code generation)", False), ("rerun, kept network", True)):
        seconds, _ = _timed(circuit, inputs, 2, 10, "numpy")
        estimate = cost.runtime_seconds("numpy", spec, built=built)
        rows.append(dict(run=run, code_objects=cost.code_objects(spec), seconds=seconds,
                         estimated_s=estimate, measured_over_estimate=seconds / estimate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    os.environ.setdefault("EVSIM_CACHE_DIR", tempfile.mkdtemp(prefix="evsim-bench-"))
    save_table(pd.DataFrame(per_neuron_step()), args.out, "numpy_costs",
               f"# numpy cost per neuron and step (2-core machine)\n\n{SIZE} neurons x {TRIALS} "
               f"trials x {STEPS} steps of {DT_MS} ms; numpy from a kept network, "
               "cpp_standalone from a warm build; estimated_s: evsim.cost (what auto compares)"
               "; same_counts: numpy's counts equal cpp_standalone's.")
    save_table(pd.DataFrame(per_run()), args.out, "numpy_run_costs",
               f"# numpy set-up per run (2-core machine)\n\nA chain of {CHAIN} LIF populations "
               "(2 trials, 10 steps): the first run builds the network and generates its code; "
               "a rerun of the kept network reuses both (evsim.runtime).")


if __name__ == "__main__":
    main()
