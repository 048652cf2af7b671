"""Fast by default: evsim with no target argument vs a hand-written NumPy loop, side by side in
one run, and how the cost of each target scales with trials, neurons and steps.

1. ``default_target``: construction S, n = 8, 400 trials, 117,759 steps of 0.05 ms (counts
   after a 20 ms burn-in). Rows: the hand-written NumPy loop of benchmarks/bench_softmax.py;
   evsim on the numpy target; evsim with no target argument ("auto") on an empty cache (cold:
   code generation and compilation included) and again on the warm cache. Each row runs in a
   fresh process (peak RSS from that process). Counts of every evsim row are compared with the
   numpy target's for the same seed (``--rounds`` repeats the whole table from an empty
   cache). A last row runs cpp_standalone with OpenMP on 2 threads.
2. ``targets_scaling``: seconds on numpy and on cpp_standalone (warm build: a first run in
   the same process compiles) as trials, neurons per trial and steps grow, beside the cost
   model's estimates (evsim.cost), and affine fits with their R^2.

Usage: python benchmarks/bench_targets.py [--out DIR] [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import in_fresh_process, save_table

N, DT_MS, TRIALS, STEPS, BURN_IN_MS = 8, 0.05, 400, 117_759, 20.0


def run_evsim(target: str | None, cache: str, trials: int = TRIALS, steps: int = STEPS,
              n: int = N, seed: int = 1, repeat: int = 1, threads: int = 0) -> dict:
    """Construction S on evsim; ``target`` None = the default. Times the last of ``repeat``
    runs (earlier ones warm the build cache); counts after the burn-in. ``threads`` > 0
    compiles with OpenMP."""
    os.environ["EVSIM_CACHE_DIR"] = cache
    from brian2 import ms, prefs

    from evsim import cost
    from evsim.backends import RunSpec

    from bench_softmax import scores_for
    from circuits.softmax import score_inputs, stochastic_softmax
    from evsim import simulate

    prefs.devices.cpp_standalone.openmp_threads = threads
    drive, initial = score_inputs("S", scores_for(trials, seed, n))
    options = {} if target is None else {"target": target}
    circuit = stochastic_softmax(n, dt=DT_MS * ms)
    spec = RunSpec(circuit, {"scores": drive}, trials, seed, DT_MS * ms,
                   [BURN_IN_MS, steps * DT_MS] * ms, {}, initial, "resets_first", False)
    estimated_numpy_s = cost.runtime_seconds("numpy", spec, built=False)
    estimated_compiled_s = cost.compiled_seconds(spec, built=True)
    for _ in range(repeat):
        started = time.perf_counter()
        record = simulate(circuit, {"scores": drive},
                          steps * DT_MS * ms, trials=trials, seed=seed, dt=DT_MS * ms,
                          initial=initial, checkpoints=[BURN_IN_MS, steps * DT_MS] * ms,
                          **options)
        seconds = time.perf_counter() - started
    counts = record.counts["exc"][1] - record.counts["exc"][0]
    choice = record.metadata.get("target_choice", {})
    return dict(seconds=seconds, spikes=int(counts.sum()), ran_on=record.metadata["target"],
                compiled_now=choice.get("compiled_now"),
                estimated_numpy_s=estimated_numpy_s, estimated_compiled_s=estimated_compiled_s,
                counts_hash=hashlib.sha256(counts.tobytes()).hexdigest(),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_hand_numpy() -> dict:
    from bench_softmax import run_numpy

    started = time.perf_counter()
    counts = run_numpy(TRIALS, STEPS, 1, n=N, dt=DT_MS * 1e-3,
                       burn_in_steps=int(round(BURN_IN_MS / DT_MS)))
    return dict(seconds=time.perf_counter() - started, spikes=int(counts.sum()), ran_on="numpy",
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def default_target(out: str, rounds: int) -> pd.DataFrame:
    rows = []
    for round_ in range(1, rounds + 1):
        cache = tempfile.mkdtemp(prefix="evsim-bench-cache-")
        hand = in_fresh_process(run_hand_numpy)
        numpy = in_fresh_process(run_evsim, "numpy", cache)
        measured = [("hand-written NumPy loop", hand), ("evsim, target='numpy'", numpy),
                    ("evsim, no target (auto), cold: empty cache",
                     in_fresh_process(run_evsim, None, cache)),
                    ("evsim, no target (auto), warm: second run",
                     in_fresh_process(run_evsim, None, cache)),
                    ("evsim, cpp_standalone with OpenMP, 2 threads, warm",
                     in_fresh_process(run_evsim, "cpp_standalone", cache, TRIALS, STEPS, N, 1, 2,
                                      2))]
        shutil.rmtree(cache, ignore_errors=True)
        for method, result in measured:
            identical = (None if method.startswith("hand") else
                         result["counts_hash"] == numpy["counts_hash"])
            rows.append(dict(round=round_, method=method,
                             **{k: v for k, v in result.items() if k != "counts_hash"},
                             x_hand_numpy=hand["seconds"] / result["seconds"],
                             identical_to_numpy_target=identical))
    table = pd.DataFrame(rows)
    medians = table.groupby("method", sort=False)["x_hand_numpy"].agg(["median", "min", "max"])
    summary = "; ".join(f"{method}: {row['median']:.2f} ({row['min']:.2f}-{row['max']:.2f})"
                        for method, row in medians.iterrows())
    return save_table(table, out, "default_target",
                      f"# Default target vs a hand-written NumPy loop\n\nConstruction S, n = {N}, "
                      f"{TRIALS} trials x {STEPS:,} steps of {DT_MS} ms; wall seconds of the "
                      "simulation call, one fresh process per row, rows of a round side by side; "
                      "each round starts from an empty build cache. x_hand_numpy > 1: faster "
                      "than the hand loop. The hand loop draws other random numbers (PCG64), "
                      "so only its spike total is comparable. With OpenMP the counts stay "
                      "identical (Brian2 runs the stochastic threshold serially). Median "
                      f"x_hand_numpy over {rounds} rounds (range): {summary}.")


SCALING = {"trials": [50, 200, 800], "n": [8, 32, 128], "steps": [10_000, 40_000, 160_000]}
BASE = dict(trials=100, n=8, steps=20_000)


def scaling(out: str, quick: bool) -> pd.DataFrame:
    cache = tempfile.mkdtemp(prefix="evsim-bench-cache-")
    rows = []
    for factor, values in SCALING.items():
        for value in values[:2] if quick else values:
            size = {**BASE, factor: value}
            for target in ("numpy", "cpp_standalone"):
                result = in_fresh_process(run_evsim, target, cache, size["trials"],
                                          size["steps"], size["n"], 1,
                                          2 if target == "cpp_standalone" else 1)
                estimate = result["estimated_numpy_s" if target == "numpy" else
                                  "estimated_compiled_s"]
                rows.append(dict(varied=factor, **size, target=target,
                                 seconds=result["seconds"], estimated_s=estimate,
                                 peak_rss_mib=result["peak_rss_mib"]))
    shutil.rmtree(cache, ignore_errors=True)
    table = pd.DataFrame(rows)
    fits = []
    for (factor, target), group in table.groupby(["varied", "target"], sort=False):
        x, y = group[factor].to_numpy(float), group["seconds"].to_numpy()
        slope, intercept = np.polyfit(x, y, 1)
        r2 = 1 - ((y - (intercept + slope * x)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        fits.append(f"{target} vs {factor}: {intercept:.3g} s + {slope:.3g} s x {factor} "
                    f"(R^2 = {r2:.3f})")
    _plot(table, Path(out) / "targets_scaling.png")
    return save_table(table, out, "targets_scaling",
                      "# Cost of a run vs trials, neurons per trial and steps\n\nConstruction S, "
                      f"base {BASE}, dt = {DT_MS} ms; cpp_standalone timed on its second run "
                      "(warm build), estimated_s from evsim.cost (numpy, building: "
                      "estimated_numpy_s; cpp_standalone: estimated_compiled_s). Affine fits "
                      "(cost = fixed + per unit; linear in each factor if R^2 ~ 1): "
                      + "; ".join(fits) + ".")


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), sharey=True)
    for ax, factor in zip(axes, SCALING):
        for target, group in table[table["varied"] == factor].groupby("target"):
            ax.loglog(group[factor], group["seconds"], "o-", label=target)
            ax.loglog(group[factor], group["estimated_s"], "x:", color=ax.lines[-1].get_color())
        ax.set_xlabel(factor)
    axes[0].set_ylabel("seconds (o measured, x estimated)")
    axes[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--quick", action="store_true", help="two sizes per factor")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the side-by-side table")
    arguments = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    default_target(arguments.out, arguments.rounds)
    scaling(arguments.out, arguments.quick)
