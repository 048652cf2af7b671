"""A two-panel paper figure
========================

A two-panel paper figure (double column, 6.9 in): LIF f-I curve and a softmax histogram.

Run: python examples/05_paper_figure.py [--small] [--out DIR]
Writes DIR/paper_figure.pdf (vector, TrueType fonts) and .png.
"""

import argparse

import numpy as np
from brian2 import Mohm, mV, ms, nA, second

from analyses.plots import figure, paper_style, save_figure
from analyses.convergence import READOUT_START
from circuits.softmax import score_inputs, softmax, stochastic_softmax
from evsim import Circuit, models, simulate


def main(out: str = "examples_output", small: bool = False) -> list:
    model = models.lif(tau_m=20 * ms, v_th=20 * mV, t_ref=2 * ms, resistance=1 * Mohm)
    cell = Circuit("one_lif")
    cell.add_population("lif", model, 1)
    cell.add_input("drive", "lif")
    drives = np.linspace(10, 100, 10 if small else 40)
    record = simulate(cell, {"drive": drives * nA}, 1 * second, trials=len(drives))
    rates = np.asarray(record.rates("lif"))[:, 0]
    theory = np.where(drives > 20, 1 / (2e-3 + 20e-3 * np.log(drives / np.maximum(
        drives - 20, 1e-9))), 0)

    scores = np.random.default_rng(5).normal(0, 1.5, (1, 8))
    drive, initial = score_inputs("S", scores)
    end = READOUT_START + (1 if small else 10) * second  # counts after the cold start settles
    counts = simulate(stochastic_softmax(8), {"scores": drive}, end, seed=1, initial=initial,
                      checkpoints=[READOUT_START, end]).counts["exc"]
    hist = counts[1, 0] - counts[0, 0]
    with paper_style():
        fig, (left, right) = figure("double", 2.4, ncols=2)
        left.plot(drives, rates, "o", ms=3, label="Brian2, exact LIF")
        left.plot(drives, theory, "-", label="1/(t_ref + tau ln(RI/(RI - V_th)))")
        left.set(xlabel="input current (nA)", ylabel="firing rate (Hz)")
        left.legend()
        j = np.arange(8)
        right.bar(j - 0.2, softmax(scores)[0], 0.4, label="softmax(s)")
        right.bar(j + 0.2, hist / hist.sum(), 0.4, label=f"spike histogram (N = {hist.sum()})")
        right.set(xlabel="neuron j", ylabel="probability")
        right.legend()
        return save_figure(fig, out, "paper_figure")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output", help="output directory")
    main(**vars(parser.parse_args()))
