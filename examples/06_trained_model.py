"""A trained Spike-driven Transformer as a circuit
===============================================

A trained Spike-driven Transformer as a neuron circuit: raster of one digit through every
layer, and the check against SpikingJelly's reference spikes (shipped; no torch needed).

Run: python examples/06_trained_model.py [--small] [--out DIR]
"""

import argparse

import numpy as np
import pandas as pd

from analyses.plots import figure, paper_style, plot_raster, save_figure
from circuits import trained
from evsim.train import task_data


def main(out: str = "examples_output", small: bool = False) -> int:
    meta, weights, reference = trained.load_weights(trained.shipped("sdt", "digits"))
    model = trained.build(meta, weights)
    images = 4 if small else 32
    X, labels, _, _ = task_data("digits")
    index = reference["test_index"][:images]
    spikes, logits = model.run(X[index])
    layers = trained.mismatches(model, spikes, trained.reference_spikes(reference, images))
    mismatches = sum(counts["mismatches"] for counts in layers.values())
    with paper_style():
        fig, ax = figure("single", 3.0)
        first = {name: s[:, 0].reshape(meta["T"], -1) for name, s in spikes.items()}  # image 0
        table = pd.concat([pd.DataFrame(dict(zip(("step", "neuron"), np.nonzero(f)),
                                             population=name)) for name, f in first.items()])
        plot_raster(table, ax, sizes={name: f.shape[1] for name, f in first.items()},
                    time="step", xlabel="SpikingJelly time step")
        ax.set_title(f"digit {labels[index[0]]}, predicted {logits[0].argmax()}; "
                     f"{mismatches} mismatches")
        save_figure(fig, out, "trained_model_raster")
    accuracy = float((logits.argmax(-1) == labels[index]).mean())
    print(f"{images} images: accuracy {accuracy:.3f}, {mismatches} spikes differ from "
          f"SpikingJelly in {sum(c['compared'] for c in layers.values())} neuron-steps")
    return mismatches


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output")
    args = parser.parse_args()
    main(args.out, args.small)
