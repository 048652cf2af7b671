"""Benchmark: the five attention mechanisms as Brian2 neuron circuits vs their NumPy tensor
references, side by side in one run (same operands, outputs checked identical).

For each mechanism at (N, D, heads) = (16, 16, 4) (DSSA with patch 2), T = 8 steps and
1, 10 and 50 trials: wall time of evsim's run_mechanism (build + run; each measurement in a
fresh process) on the numpy target and on cpp_standalone (cold: generating and compiling a new
build; warm: the same circuit again from the cached build), and of the NumPy reference, their
ratios, the circuit's size and its synaptic events per trial. The circuit does what the
hardware would (every synaptic event is simulated), the reference only the arithmetic, so the
ratio is the price of explicit neurons, not a target.

Usage: python benchmarks/bench_mechanisms.py [--out DIR]
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

from circuits.mechanism_registry import MECHANISMS
from circuits.mechanisms import run_mechanism

NAMES = tuple(MECHANISMS)
SIZE, T = (16, 16, 4), 8


def measure(name: str, trials: int, cache: str) -> dict:
    os.environ["EVSIM_CACHE_DIR"] = cache
    n, D, h = SIZE
    rng = np.random.default_rng(0)
    spec = MECHANISMS[name]
    mechanism = spec.build(n, D, h, rng)  # DSSA: patch 2 at 16 tokens
    operands = spec.sample_operands((trials, T, n, D), h, rng)
    started = time.perf_counter()
    expected = spec.reference(mechanism, operands)
    numpy_s = time.perf_counter() - started
    seconds, identical = {}, {}
    for label, target in (("circuit", "numpy"), ("compiled_cold", "cpp_standalone"),
                          ("compiled_warm", "cpp_standalone")):
        started = time.perf_counter()
        out, record = run_mechanism(mechanism, operands, seed=0, target=target)
        seconds[label] = time.perf_counter() - started
        identical[label] = bool((out == expected).all())
    events = sum(e[-1].sum() for e in record.synaptic_events.values()) / trials
    return dict(mechanism=name, trials=trials, numpy_s=numpy_s,
                **{f"{label}_s": value for label, value in seconds.items()},
                ratio=seconds["circuit"] / numpy_s,
                compiled_warm_ratio=seconds["compiled_warm"] / numpy_s,
                identical=all(identical.values()),
                neurons_per_trial=sum(p.size for p in mechanism.circuit.populations),
                events_per_trial=float(events))


def main(out: str) -> pd.DataFrame:
    cache = tempfile.mkdtemp(prefix="evsim-bench-cache-")
    rows = [in_fresh_process(measure, name, trials, cache) for name in NAMES
            for trials in (1, 10, 50)]
    return save_table(pd.DataFrame(rows), out, "mechanisms",
                      "# Attention mechanisms: Brian2 circuit vs NumPy reference\n\n"
                      f"(N, D, heads) = {SIZE}, T = {T}; wall seconds, one fresh process per row.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    main(parser.parse_args().out)
