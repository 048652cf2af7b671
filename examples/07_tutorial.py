"""Tutorial: from a circuit to a verdict
=====================================

Build a small circuit, record its membrane potentials, draw a raster and a PSTH, sweep a
parameter across the trials of one run, and decide a claim with a bootstrap confidence
interval, the way evsim's own claims are decided.

Run: python examples/07_tutorial.py [--small] [--out DIR]
"""

# %%
# Set-up
# ------
# ``--small`` shortens the runs; the documentation builds the tutorial that way. Figures go
# to ``--out``.

import argparse

import numpy as np
from brian2 import Hz, ms, mV, nA

from analyses.plots import (figure, paper_style, plot_psth, plot_raster, plot_states,
                            save_figure)
from analyses.stats import bootstrap_mean, bootstrap_ratio
from evsim import Circuit, models, simulate

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", help="a fast, reduced run")
parser.add_argument("--out", default="examples_output", help="output directory")
args = parser.parse_args()
duration = (200 if args.small else 1000) * ms
trials_per_rate = 8 if args.small else 40

# %%
# 1. A circuit
# ------------
# 40 Poisson inputs drive 10 LIF neurons through exponential current synapses (tau_syn
# 5 ms), each neuron from a random half of the inputs; the LIF neurons excite one inhibitory
# neuron that inhibits them all. Weights carry the unit of the variable a spike increments:
# nA for the current synapse, mV for a jump of v.

circuit = Circuit("tutorial")
circuit.add_population("inputs", models.poisson_source(), 40)
circuit.add_population("exc", models.lif(synapse="current", tau_syn=5 * ms), 10)
circuit.add_population("inh", models.lif(), 1)
wiring = np.random.default_rng(0).random((40, 10)) < 0.5  # (inputs, exc): which synapses exist
circuit.connect("inputs", "exc", 6 * nA * wiring, connectivity="matrix")
circuit.connect("exc", "inh", 4 * mV)
circuit.connect("inh", "exc", 1.5 * nA, sign="inhibitory")
circuit.add_input("rate", "inputs")
with paper_style():
    ax = circuit.draw()
    save_figure(ax.figure, args.out, "tutorial_circuit")

# %%
# 2. Membrane potentials
# ----------------------
# ``record_states`` records state variables of chosen neurons and trials; the samples are the
# state at the start of each step. Here: v and the synaptic current of three neurons in the
# first trial, at 40 Hz input.

record = simulate(circuit, {"rate": 40 * Hz}, duration, trials=trials_per_rate, seed=1,
                  record_spikes=True,
                  record_states={"exc": {"variables": ("v", "I_syn"), "neurons": [0, 1, 2],
                                         "trials": [0]}})
print(f"recorded {record.metadata['state_bytes']:,} bytes of states")
with paper_style():
    fig, (top, bottom) = figure("single", 3.0, nrows=2, sharex=True)
    plot_states(record, "exc", "v", neurons=(0, 1, 2), ax=top).set_xlabel("")
    top.axhline(20, color="0.5", ls=":", lw=0.8)  # the threshold
    plot_states(record, "exc", "I_syn", neurons=(0,), ax=bottom)
    save_figure(fig, args.out, "tutorial_states")

# %%
# 3. Raster and PSTH
# ------------------
# ``spike_table`` is the sparse form of the spikes (one row per spike); ``plot_raster`` stacks
# the populations of one trial, ``plot_psth`` averages the population rate over the trials.

with paper_style():
    fig, (left, right) = figure("double", 2.2, ncols=2)
    plot_raster(record.spike_table(trials=[0]), left, sizes={"inputs": 40, "exc": 10, "inh": 1})
    plot_psth(record, "exc", 20 * ms, ax=right)
    save_figure(fig, args.out, "tutorial_raster_psth")

# %%
# 4. A sweep in one run
# ---------------------
# Inputs, parameters and initial values can differ per trial, so a sweep over the input rate
# is one simulation: here ``trials_per_rate`` trials at each of four rates.

rates = np.array([10.0, 20.0, 40.0, 80.0])
per_trial = np.repeat(rates, trials_per_rate)
sweep = simulate(circuit, {"rate": per_trial * Hz}, duration, trials=len(per_trial), seed=2)
output = np.asarray(sweep.rates("exc") / Hz).mean(axis=1).reshape(len(rates), -1)  # (rates, trials)
summary = [bootstrap_mean(row, seed=3) for row in output]
with paper_style():
    fig, ax = figure("single", 2.2)
    mean = np.array([s["mean"] for s in summary])
    low, high = np.array([s["ci95"] for s in summary]).T
    ax.errorbar(rates, mean, yerr=[mean - low, high - mean], fmt="o-")
    ax.set(xscale="log", xlabel="input rate (Hz)", ylabel="exc rate (Hz), 95% CI")
    save_figure(fig, args.out, "tutorial_sweep")

# %%
# 5. A verdict with a confidence interval
# ---------------------------------------
# Claim: "with feedback inhibition, doubling the input from 40 to 80 Hz less than doubles the
# output". The rule is fixed before looking and can say either: supported if the whole 95% CI
# of the ratio of mean rates lies below 2, refuted if it lies above 2, otherwise the data
# cannot tell (partial). Whatever it says is the finding: near threshold the output of an
# LIF grows faster than its input, and the inhibition here does not undo that.

ratio = bootstrap_ratio(output[3][None], output[2][None], seed=4)
low, high = ratio["ci95"]
verdict = "supported" if high < 2 else "refuted" if low > 2 else "partial"
print(f"output ratio 80 Hz / 40 Hz: {ratio['ratio']:.2f} [{low:.2f}, {high:.2f}] -> {verdict}")
