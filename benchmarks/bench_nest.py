"""NEST beside Brian2 on one LIF network from 10^3 to 10^5 neurons: seconds per run (build
included) on numpy, cpp_standalone (cold: compiled in the run; warm: a second run of the same
structure) and NEST with 1 and 2 threads, each in a fresh process, and whether every target's
spike counts equal numpy's.

The network: 80 % excitatory and 20 % inhibitory delta-LIF neurons (t_ref 2 ms), each
receiving 20 random excitatory (+0.5 mV) and 5 inhibitory (-2 mV) synapses with delays of one
to four steps, a constant current per neuron drawn in [18, 26] nA (R I from 18 to 26 mV
against v_th = 20 mV), 200 ms at dt = 0.1 ms (2,000 steps), one trial.

Usage: python benchmarks/bench_nest.py [--out DIR] [--sizes 1000,10000,100000]
(needs the extra: pip install -e ".[nest]")
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import in_fresh_process, save_table

DURATION_MS = 200
IN_EXCITATORY, IN_INHIBITORY = 20, 5


def network(neurons: int, seed: int = 1):
    """The benchmark circuit and its drive."""
    from brian2 import mV, ms, nA

    from evsim import Circuit, models

    rng = np.random.default_rng(seed)
    sizes = {"exc": int(0.8 * neurons), "inh": neurons - int(0.8 * neurons)}
    circuit = Circuit("lif_network")
    for name, size in sizes.items():
        circuit.add_population(name, models.lif(t_ref=2 * ms), size)
        circuit.add_input(f"drive_{name}", name)
    for source, fan_in, weight, sign in (("exc", IN_EXCITATORY, 0.5, "excitatory"),
                                         ("inh", IN_INHIBITORY, 2.0, "inhibitory")):
        for target, size in sizes.items():
            post = np.repeat(np.arange(size), fan_in)
            pre = rng.integers(0, sizes[source], len(post))
            for extra in range(4):  # a delay of 1 + extra steps per hop
                chosen = rng.random(len(post)) < 0.25
                circuit.connect(source, target, weight * mV, connectivity="pairs",
                                pairs=(pre[chosen], post[chosen]), sign=sign,
                                delay=extra * 0.1 * ms, name=f"{source}_{target}_{extra}")
    drive = {f"drive_{name}": rng.uniform(18, 26, size) * nA for name, size in sizes.items()}
    return circuit, drive


def run(target: str, neurons: int, threads: int = 1, warm: bool = False) -> dict:
    """Seconds of one simulate() (the second of two for ``warm``) and the spike counts."""
    from brian2 import ms, prefs

    from evsim import nest_backend, simulate

    prefs.devices.cpp_standalone.openmp_threads = 0
    nest_backend.THREADS = threads
    circuit, drive = network(neurons)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EVSIM_CACHE_DIR"] = cache  # cold: nothing compiled before
        for _ in range(2 if warm else 1):
            started = time.perf_counter()
            record = simulate(circuit, drive, DURATION_MS * ms, seed=1, target=target)
            seconds = time.perf_counter() - started
    return dict(seconds=seconds, counts={p: c[-1].ravel() for p, c in record.counts.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).parent / "results")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    rows = []
    for neurons in map(int, args.sizes.split(",")):
        cases = [("numpy", "numpy", 1, False), ("cpp_standalone, cold", "cpp_standalone", 1, False),
                 ("cpp_standalone, warm", "cpp_standalone", 1, True),
                 ("NEST, 1 thread", "nest", 1, False), ("NEST, 2 threads", "nest", 2, False)]
        results = {label: in_fresh_process(run, target, neurons, threads, warm)
                   for label, target, threads, warm in cases}
        reference = results["numpy"]
        for label, result in results.items():
            spikes = int(sum(c.sum() for c in result["counts"].values()))
            same = all(np.array_equal(result["counts"][p], reference["counts"][p])
                       for p in reference["counts"])
            rows.append(dict(neurons=neurons, target=label, seconds=round(result["seconds"], 2),
                             vs_numpy=round(reference["seconds"] / result["seconds"], 2),
                             spikes=spikes, counts_equal_numpy=same))
        print(pd.DataFrame(rows).tail(len(cases)).to_string(index=False), flush=True)
    save_table(pd.DataFrame(rows), args.out, "nest_vs_brian2",
               "# NEST beside Brian2 on a delta-LIF network (benchmarks/bench_nest.py)\n\n"
               f"{DURATION_MS} ms at dt = 0.1 ms, one trial, build included; vs_numpy = numpy's "
               "seconds / this row's (same run, same machine). counts_equal_numpy: every "
               "neuron's spike count equals numpy's. NEST's minimum delay is one step here "
               "(evsim's hop), so its threads exchange spikes every step.")


if __name__ == "__main__":
    main()
