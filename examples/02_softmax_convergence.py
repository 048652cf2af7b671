"""Softmax convergence from a cold start
=====================================

Softmax convergence from a cold start: circuit-normalised TV vs T for circuits S and D.

Each circuit starts cold (it must find the normaliser itself), settles for READOUT_START
(3 s), then its counts n_j over a window of t seconds are compared with softmax as
n_j / (R t), R = 80 Hz the population rate the circuit's controller holds.

Run: python examples/02_softmax_convergence.py [--small] [--out DIR]
Writes DIR/softmax_convergence.pdf/.png and prints the fitted log-log slopes.
"""

import argparse

import numpy as np
from brian2 import second

from analyses.plots import figure, log_log, paper_style, save_figure
from analyses.convergence import READOUT_START
from analyses.stats import loglog_slope
from circuits.softmax import deterministic_softmax, score_inputs, softmax, stochastic_softmax
from evsim import simulate


def main(out: str = "examples_output", small: bool = False) -> dict:
    trials, n = (10, 8) if small else (50, 16)
    scores = np.random.default_rng(2).normal(0, 1.5, (trials, n))
    T = np.array([0.25, 0.5, 1, 2] if small else [0.25, 0.5, 1, 2, 4, 8]) * second
    slopes = {}
    with paper_style():
        fig, ax = figure("single", 2.4)
        for kind, build in (("S", stochastic_softmax), ("D", deterministic_softmax)):
            drive, initial = score_inputs(kind, scores, rng=np.random.default_rng(3))
            times = np.concatenate([[0], np.asarray(T / second)]) * second + READOUT_START
            record = simulate(build(n), {"scores": drive}, times[-1], trials=trials, seed=1,
                              initial=initial, checkpoints=times)
            counts = record.counts["exc"][1:] - record.counts["exc"][0]  # (T, trials, n)
            expected = 80 * np.asarray(T / second)  # R t: spikes the circuit holds
            rates = counts / expected[:, None, None]
            tv = 0.5 * np.abs(rates - softmax(scores)).sum(-1).mean(-1)
            slopes[kind] = loglog_slope(expected, tv)[0]
            ax.plot(expected, tv, "o-", label=f"{kind}: slope {slopes[kind]:.2f}")
        log_log(ax, "T = R t (expected spikes)", "TV(n_j / T, softmax)").legend()
        save_figure(fig, out, "softmax_convergence")
    print(slopes)
    return slopes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output", help="output directory")
    main(**vars(parser.parse_args()))
