"""NIR graphs in evsim: seconds per graph (import, first and second run) and the divergence of
the continuous mode from the discrete one as dt shrinks, for three graphs written with ``nir``
(an MLP of LIF neurons, a convolutional net with average pooling, a CubaLIF layer).

The divergence runs keep the simulated time (0.8 ms) and the input (64 trials of 8 values per
input neuron, each held for 1e-4 s) fixed and cut it into steps of dt: the discrete mode
(forward Euler, what the exporters assume) and the continuous one (the ODEs integrated
exactly, input currents held over a step, spikes as pulses of area dt) then see the same
input; LIF time constants are 2e-4 s (2 steps of the exporters' 1e-4 s). A layer driven by
the input currents converges as dt shrinks; a layer driven by spikes receives less as dt
shrinks in both modes (a spike is one step of input), so the file's dynamics depend on dt.

Usage: python benchmarks/bench_nir.py [--out DIR]  (needs the extra: pip install -e ".[nir]")
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import save_table

TAU = 2e-4  # s
BASE_DT = 1e-4  # s: one input value per 1e-4 s
STEPS = 8


def graphs(rng) -> dict:
    """name -> (NIR graph, input shape)."""
    import nir

    def lif(shape):
        return nir.LIF(tau=np.full(shape, TAU), r=np.ones(shape), v_leak=np.zeros(shape),
                       v_threshold=np.ones(shape))

    mlp = nir.NIRGraph.from_list(nir.Affine(rng.normal(0, 1.0, (64, 16)), np.zeros(64)),
                                 lif(64), nir.Affine(rng.normal(0, 0.6, (10, 64)), np.zeros(10)),
                                 lif(10))
    conv = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([2, 16, 16])),
        "conv": nir.Conv2d(input_shape=(16, 16), weight=rng.normal(0, 0.8, (8, 2, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(8)),
        "a": lif((8, 16, 16)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type=np.array([8, 8, 8]), start_dim=0, end_dim=-1),
        "fc": nir.Affine(rng.normal(0, 0.5, (10, 512)), np.zeros(10)), "b": lif(10),
        "out": nir.Output(output_type=np.array([10]))},
        edges=[("in", "conv"), ("conv", "a"), ("a", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "b"), ("b", "out")], type_check=False)
    cuba = nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0, 1.0, (32, 16)), np.zeros(32)),
        nir.CubaLIF(tau_syn=np.full(32, 3e-4), tau_mem=np.full(32, TAU), r=np.full(32, 1.5),
                    v_leak=np.zeros(32), v_threshold=np.ones(32), w_in=np.full(32, 1.5)),
        nir.Affine(rng.normal(0, 0.6, (10, 32)), np.zeros(10)), lif(10))
    first = nir.NIRGraph.from_list(nir.Affine(mlp.nodes["affine"].weight, np.zeros(64)),
                                   lif(64))
    return {"mlp": (mlp, (16,)), "conv": (conv, (2, 16, 16)), "cuba": (cuba, (16,)),
            "mlp, first layer only": (first, (16,))}


def timings(graphs: dict, rng) -> pd.DataFrame:
    from evsim import nir as evsim_nir

    rows = []
    for name, (graph, shape) in list(graphs.items())[:3]:
        x = rng.random((64, STEPS) + shape)
        started = time.perf_counter()
        imported = evsim_nir.read(graph)
        read_s = time.perf_counter() - started
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            evsim_nir.run(imported, x, target="numpy")
            runs.append(time.perf_counter() - started)
        neurons = sum(p.size for p in imported.circuit.populations)
        synapses = sum(len(p.pairs(1, 1)[0]) if p.connectivity == "pairs" else 0
                       for p in imported.circuit.projections)
        rows.append(dict(graph=name, neurons=neurons, synapses=synapses, trials=64, T=STEPS,
                         read_s=read_s, first_run_s=runs[0], second_run_s=runs[1]))
    return pd.DataFrame(rows)


def divergence(graphs: dict, rng) -> pd.DataFrame:
    from evsim import nir as evsim_nir

    rows = []
    for name, (graph, shape) in graphs.items():
        x = rng.random((64, STEPS) + shape)
        for dt in (1e-4, 5e-5, 2e-5, 1e-5):
            held = np.repeat(x, int(round(BASE_DT / dt)), axis=1)
            discrete = evsim_nir.run(graph, held, dt=dt, target="numpy")
            continuous = evsim_nir.run(graph, held, dt=dt, mode="continuous", target="numpy")
            counts = [int(discrete.sum()), int(continuous.sum())]
            rows.append(dict(graph=name, dt_s=dt, dt_over_tau=dt / TAU, steps=held.shape[1],
                             spikes_discrete=counts[0], spikes_continuous=counts[1],
                             differing_neuron_steps=float((discrete != continuous).mean()),
                             count_difference=(counts[1] - counts[0]) / max(counts[0], 1)))
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).parent / "results")
    args = parser.parse_args()
    made = graphs(np.random.default_rng(0))
    save_table(timings(made, np.random.default_rng(1)), args.out, "nir_timings",
               "# NIR graphs: seconds to import and run (64 trials x T = 8, numpy target, "
               "2-core machine)\n\nread_s: evsim.nir.read; first_run_s: the first run in the "
               "process (building the network); second_run_s: the same run again (the built "
               "network reused).")
    save_table(divergence(made, np.random.default_rng(2)), args.out, "nir_divergence",
               "# NIR graphs: the continuous mode against the discrete one as dt shrinks\n\n"
               "The same 0.8 ms of input (64 trials) at each dt; differing_neuron_steps: the "
               "fraction of output neuron-steps whose spike differs between the modes; "
               "count_difference: (continuous - discrete) / discrete output spikes. LIF time "
               "constants 2e-4 s.")


if __name__ == "__main__":
    main()
