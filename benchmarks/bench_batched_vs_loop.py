"""Benchmark: a per-trial Brian2 loop (what a user writes by hand) vs evsim's batched run.

Circuit: 16 LIF neurons exciting one inhibitory LIF neuron that inhibits them all, random
drives per trial, 1000 steps of 0.1 ms, numpy target. Both implementations run in this one
process, side by side, and must give identical spike counts. A second table shows the peak
memory of a counts-only run vs a run that keeps spike times, for growing durations.

Usage: python benchmarks/bench_batched_vs_loop.py [--trials 20,50,...] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import brian2 as b2
import numpy as np
import pandas as pd
from brian2 import Mohm, ms, nA

from circuits import shared_inhibition
from common import in_fresh_process, markdown
from evsim import simulate

DURATION = 100 * ms  # 1000 steps of 0.1 ms


def hand_written_trial(drive):
    """One trial in plain Brian2, as a user would write it without evsim."""
    b2.prefs.codegen.target = "numpy"
    equations = """dv/dt = (resistance*I - v)/tau_m : volt (unless refractory)
                   I : amp
                   resistance : ohm (constant)
                   tau_m : second (constant)"""
    exc = b2.NeuronGroup(16, equations, threshold="v > 20*mV",
                         reset="v = 0*mV", refractory=2 * ms,
                         method="exact", dt=0.1 * ms)
    inh = b2.NeuronGroup(1, equations, threshold="v > 20*mV", reset="v = 0*mV",
                         refractory=2 * ms, method="exact", dt=0.1 * ms)
    for group in (exc, inh):
        group.resistance, group.tau_m = 1 * Mohm, 20 * ms
    exc.I = drive
    excite = b2.Synapses(exc, inh, on_pre="v_post += 2*mV", dt=0.1 * ms)
    excite.connect()
    inhibit = b2.Synapses(inh, exc, on_pre="v_post -= 5*mV", dt=0.1 * ms)
    inhibit.connect()
    monitor = b2.SpikeMonitor(exc, record=False)
    network = b2.Network(exc, inh, excite, inhibit, monitor)
    network.schedule = ["start", "groups", "thresholds", "resets", "synapses", "end"]
    network.run(DURATION)
    return np.array(monitor.count[:])




def _measure_in_child(kind: str, trials: int, duration_ms: float, record_spikes: bool,
                      seed: int):
    """Runs in a fresh process: (seconds, peak RSS in MiB, counts, spikes) of one run."""
    drives = np.random.default_rng(seed).uniform(20, 60, (trials, 16)) * nA
    started = time.perf_counter()
    if kind == "loop":
        counts = np.array([hand_written_trial(drives[k]) for k in range(trials)])
    else:
        record = simulate(shared_inhibition(), {"drive": drives}, duration_ms * ms,
                          trials=trials, record_spikes=record_spikes)
        counts = record.counts["exc"][-1]
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, peak, counts


def measure(kind, trials, duration_ms=100.0, record_spikes=False, seed=1):
    """One measurement in a new process, so timings and peak memory do not mix."""
    return in_fresh_process(_measure_in_child, kind, trials, duration_ms, record_spikes, seed)


def baseline_rss() -> float:
    """Peak RSS (MiB) of a child that imports evsim and runs one tiny evsim simulation."""
    return measure("evsim", 1, 0.1)[1]


def speed_table(trial_counts, seed=1) -> pd.DataFrame:
    rows = []
    for trials in trial_counts:
        loop_s, loop_mib, loop = measure("loop", trials, seed=seed)
        batched_s, batched_mib, batched = measure("evsim", trials, seed=seed)
        rows.append(dict(trials=trials, loop_s=loop_s, evsim_s=batched_s,
                         speedup=loop_s / batched_s, loop_peak_rss_mib=loop_mib,
                         evsim_peak_rss_mib=batched_mib,
                         identical_counts=bool(np.array_equal(loop, batched))))
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def memory_table(durations_ms=(100, 400, 1600), trials=1000, seed=1) -> pd.DataFrame:
    rows = []
    for duration in durations_ms:
        for record_spikes in (False, True):
            seconds, mib, counts = measure("evsim", trials, duration, record_spikes, seed)
            rows.append(dict(duration_ms=duration, trials=trials, record_spikes=record_spikes,
                             exc_spikes=int(counts.sum()), seconds=seconds, peak_rss_mib=mib))
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="20,50,100,200,500,1000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    trial_counts = [int(t) for t in args.trials.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    baseline = baseline_rss()
    speed, memory = speed_table(trial_counts), memory_table()
    speed.to_csv(out / "batched_vs_loop.csv", index=False)
    memory.to_csv(out / "memory_counts_vs_spikes.csv", index=False)
    text = ("## per-trial Brian2 loop vs evsim batched (numpy target, 17 LIF, 1000 steps)\n\n"
            + markdown(speed)
            + f"\n\nPeak RSS of a child process that only imports evsim and runs one tiny "
            f"simulation: {baseline:.0f} MiB (included in every peak below).\n"
            + "\n## peak memory: counts only vs spike times (1000 trials)\n\n"
            + markdown(memory) + "\n")
    (out / "batched_vs_loop.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
