"""A custom circuit in ten lines
=============================

16 LIF neurons sharing one inhibitory neuron, 200 trials.

Run: python examples/01_custom_circuit.py [--small] [--out DIR]
Writes DIR/custom_circuit.pdf/.png: each neuron's rate against its drive in every trial.
"""

import argparse

import numpy as np
from brian2 import mV, ms, nA

from analyses.plots import figure, paper_style, save_figure
from evsim import Circuit, models, simulate


def main(out: str = "examples_output", small: bool = False) -> np.ndarray:
    c = Circuit("my_circuit")
    c.add_population("exc", models.lif(tau_m=20 * ms, t_ref=2 * ms), 16)
    c.add_population("inh", models.lif(), 1)
    c.connect("exc", "inh", 2 * mV)
    c.connect("inh", "exc", 5 * mV, sign="inhibitory")
    c.add_input("drive", "exc")
    trials = 20 if small else 200
    drives = np.random.default_rng(1).uniform(20, 60, (trials, 16)) * nA
    record = simulate(c, {"drive": drives}, 200 * ms, trials=trials, seed=1,
                      checkpoints=[50, 100, 200] * ms)
    rates = record.rates("exc")  # (trials, neurons), Hz
    print(f"mean rate {float(np.mean(rates)):.1f} Hz over {trials} trials; "
          f"inhibitory neuron {float(np.mean(record.rates('inh'))):.1f} Hz")
    with paper_style():
        fig, ax = figure("single", 2.4)
        ax.plot(np.asarray(drives / nA).ravel(), np.asarray(rates).ravel(), ".", ms=2,
                alpha=0.5)
        ax.set(xlabel="drive (nA)", ylabel="rate over 200 ms (Hz)",
               title="16 LIF neurons with shared inhibition")
        save_figure(fig, out, "custom_circuit")
    return np.asarray(rates)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output", help="output directory")
    main(**vars(parser.parse_args()))
