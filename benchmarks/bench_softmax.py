"""Benchmark: the stochastic softmax experiment three ways, side by side in one run.

1. a per-trial Brian2 loop (one Brian2 network built and run per trial, as a user would
   write it around Brian2; here through evsim with trials=1),
2. evsim batched (all trials in one network; numpy target, and cpp_standalone for long runs),
3. a hand-written NumPy simulation of the same dynamics (vectorised over trials, Python loop
   over time steps, same schedule: update, threshold, reset, propagate).

Circuit: construction S with n = 16, rate 80 Hz, dt = 0.1 ms, T = 256 expected spikes after a
20 ms burn-in (32,200 steps). Throughput is trials x steps per second. Each measurement runs
in a fresh process, which also gives its peak RSS. The mean TV of evsim and of the NumPy
simulation are reported side by side as a check that both simulate the same thing.

Usage: python benchmarks/bench_softmax.py [--out DIR] [--loop-trials 5]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import ms

from common import in_fresh_process, markdown

from circuits.softmax import score_inputs, softmax, stochastic_softmax
from evsim import simulate

N, RATE, DT = 16, 80.0, 1e-4
BURN_IN_STEPS = 200
W_FAST, TAU_FAST, ETA = 5.0, 1e-3, 0.05


def scores_for(trials: int, seed: int, n: int = N) -> np.ndarray:
    """One score vector of ``n`` scores (from ``seed``), repeated for every trial."""
    return np.repeat(np.random.default_rng(seed).normal(0, 1.5, (1, n)), trials, axis=0)


def _tv(counts: np.ndarray, scores: np.ndarray) -> float:
    p_hat = counts / np.maximum(counts.sum(-1, keepdims=True), 1)
    return float(0.5 * np.abs(p_hat - softmax(scores)).sum(-1).mean())


def run_evsim(trials: int, steps: int, seed: int, target: str = "numpy",
              simulation_seed: int | None = None) -> np.ndarray:
    """Batched evsim run; scores from ``seed``, random numbers from ``simulation_seed``."""
    scores = scores_for(trials, seed)
    drive, initial = score_inputs("S", scores)
    record = simulate(stochastic_softmax(N), {"scores": drive}, steps * DT * 1000 * ms,
                      trials=trials, seed=seed if simulation_seed is None else simulation_seed,
                      initial=initial, target=target,
                      checkpoints=[BURN_IN_STEPS * DT * 1000, steps * DT * 1000] * ms)
    return record.counts["exc"][1] - record.counts["exc"][0]


def run_loop(trials: int, steps: int, seed: int) -> np.ndarray:
    return np.concatenate([run_evsim(1, steps, seed, simulation_seed=seed + k)
                           for k in range(trials)])


def run_numpy(trials: int, steps: int, seed: int, n: int = N, dt: float = DT,
              burn_in_steps: int = BURN_IN_STEPS) -> np.ndarray:
    """The dynamics of construction S, written by hand (see circuits/softmax.py); dt in s.
    Counts (trials, n) after ``burn_in_steps``."""
    rng = np.random.default_rng(seed)
    z = scores_for(trials, seed, n)
    slow = np.zeros(trials)  # cold start, as circuits.softmax.score_inputs
    fast = np.zeros(trials)
    relay = np.zeros(trials)
    decay = np.exp(-dt / TAU_FAST)
    counts = np.zeros((trials, n), dtype=np.int64)
    for step in range(steps):
        fast *= decay  # groups: exact decay of the fast trace, drift of the slow one
        slow += ETA * RATE * dt
        hazard = np.exp(z + (fast + slow)[:, None])  # thresholds
        fired = rng.random((trials, n)) < -np.expm1(-hazard * dt)
        relay_fires = relay > 0.5
        relay -= relay_fires  # resets
        relay += fired.sum(1)  # synapses
        fast -= W_FAST * relay_fires
        slow -= ETA * relay_fires
        if step >= burn_in_steps:
            counts += fired
    return counts


RUNNERS = {"brian2 per-trial loop": run_loop, "evsim batched (numpy)": run_evsim,
           "evsim batched (cpp_standalone)": lambda t, s, seed: run_evsim(t, s, seed,
                                                                           "cpp_standalone"),
           "hand-written NumPy": run_numpy}


def _child(method: str, trials: int, steps: int, seed: int):
    started = time.perf_counter()
    counts = RUNNERS[method](trials, steps, seed)
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, \
        _tv(counts, scores_for(trials, seed))


def measure(method: str, trials: int, steps: int, seed: int = 1) -> dict:
    seconds, rss, tv = in_fresh_process(_child, method, trials, steps, seed)
    row = dict(method=method, trials=trials, steps=steps, seconds=seconds,
               trial_steps_per_s=trials * steps / seconds, peak_rss_mib=rss, mean_tv=tv)
    print(row, flush=True)
    return row




def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--loop-trials", type=int, default=5)
    args = parser.parse_args()
    steps = BURN_IN_STEPS + int(round(256 / (RATE * DT)))
    rows = [measure("brian2 per-trial loop", args.loop_trials, steps)]
    for trials in (args.loop_trials, 100, 1000):
        rows += [measure("evsim batched (numpy)", trials, steps),
                 measure("hand-written NumPy", trials, steps)]
    long_steps = BURN_IN_STEPS + int(round(4096 / (RATE * DT)))
    rows += [measure(m, 100, long_steps) for m in
             ("evsim batched (numpy)", "evsim batched (cpp_standalone)", "hand-written NumPy")]
    table = pd.DataFrame(rows)
    loop = table.iloc[0]["trial_steps_per_s"]
    table["x_loop_throughput"] = table["trial_steps_per_s"] / loop
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "softmax_throughput.csv", index=False)
    text = ("## stochastic softmax (construction S, n = 16): throughput in trial-steps per second\n\n"
            + markdown(table) + "\n\nx_loop_throughput: throughput relative to the per-trial "
            "Brian2 loop (whose cost is linear in trials: each trial is its own network). "
            "cpp_standalone times include code generation and compilation.\n")
    (out / "softmax_throughput.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
