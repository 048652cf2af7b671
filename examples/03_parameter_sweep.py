"""A resumable parameter sweep
===========================

A parameter sweep: softmax error over circuit kind x number of neurons, resumable.

Run: python examples/03_parameter_sweep.py [--small] [--out DIR]
Writes DIR/sweep.csv and DIR/parameter_sweep.pdf/.png (error vs n per circuit).
Finished cells are cached in DIR/sweep_cells: run it twice and the second run is instant.
The same grid from the command line: evsim run softmax --sweep grid.toml
"""

import argparse
from pathlib import Path

from analyses.experiments import softmax_run
from analyses.plots import figure, log_log, paper_style, save_figure
from evsim.sweep import run_sweep


def main(out: str = "examples_output", small: bool = False):
    grid = {"kind": ["S", "D"], "n": [4, 16] if small else [4, 16, 64],
            "duration_s": [0.5 if small else 4.0], "trials": [5 if small else 20]}
    table = run_sweep(softmax_run, grid, Path(out) / "sweep_cells", workers=1, progress=False)
    table.to_csv(Path(out) / "sweep.csv", index=False)
    print(table.to_string(index=False))
    with paper_style():
        fig, ax = figure("single", 2.4)
        for kind, rows in table.groupby("kind"):
            ax.errorbar(rows.n, rows.tv_circuit, rows.tv_circuit_sd, fmt="o-", ms=3,
                        capsize=2, label=f"circuit {kind}")
        log_log(ax, "neurons n", "circuit-normalised TV error").legend()
        save_figure(fig, out, "parameter_sweep")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a fast, reduced run")
    parser.add_argument("--out", default="examples_output", help="output directory")
    main(**vars(parser.parse_args()))
