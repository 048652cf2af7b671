"""A spiking softmax-attention head
================================

A spiking softmax-attention head: raster of every population and the output error.

Run: python examples/04_attention_head_raster.py [--small] [--out DIR]
"""

import argparse

import numpy as np

from circuits.attention import run_head
from analyses.plots import figure, paper_style, plot_raster, save_figure


def main(out: str = "examples_output", small: bool = False) -> float:
    rng = np.random.default_rng(4)
    q, k, v = rng.random((3, 1, 4, 4))  # one set of 4 tokens x 4 channels in [0, 1]
    duration = 0.1 if small else 1.0
    estimates, target, record, head = run_head(q, k, v, replicas=1, beta=1.0,
                                               checkpoints=[duration], seed=1,
                                               record_spikes=True)
    error = float(np.sqrt(((estimates[-1] - target) ** 2).mean()))
    with paper_style():
        fig, ax = figure("single", 2.6)
        populations = ("Q", "K", "qk", "exc", "inh", "av", "out")
        plot_raster(record.spike_table(populations), ax,
                    sizes={p: head.circuit.population(p).size for p in populations})
        ax.set_title(f"RMS error to softmax attention {error:.3f}")
        save_figure(fig, out, "attention_head_raster")
    print(f"RMS error {error:.3f} after {duration} s")
    return error


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output", help="output directory")
    main(**vars(parser.parse_args()))
