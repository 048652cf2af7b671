"""Reading counts at many checkpoints: one Network.run per checkpoint vs one run with a
snapshot operation every step, side by side on the same circuit and seed (numpy target).

The per-step and per-run costs measured here are the constants evsim.simulate uses to choose
(SNAPSHOT_STEP_COST_S, EXTRA_RUN_COST_S). Both strategies must give identical counts.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import in_fresh_process, save_table

CASES = [(8, 1024), (32, 1024), (8, 16384), (32, 16384), (105, 16384), (10, 131072)]


def measure(checkpoints: int, steps: int, one_run: bool) -> dict:
    from brian2 import ms

    from analyses.bounds import candidate_steps
    from circuits import bernoulli_encoder
    from evsim import cost, simulate

    cost.snapshot_in_one_run = lambda k, s: one_run
    ends = np.unique(np.round(np.geomspace(1, steps, checkpoints)).astype(int))
    if len(ends) < checkpoints:  # a log grid of the wanted size on the step grid
        ends = candidate_steps(steps)[-checkpoints:]
    started = time.perf_counter()
    record = simulate(bernoulli_encoder(64), {"values": 0.3}, int(ends[-1]) * ms, trials=16,
                      seed=1, dt=1 * ms, checkpoints=ends * ms)
    return dict(checkpoints=len(ends), steps=int(ends[-1]), one_run=one_run,
                wall_s=time.perf_counter() - started,
                counts_hash=hashlib.sha256(record.counts["enc"].tobytes()).hexdigest())


def main(out: str) -> pd.DataFrame:
    rows = []
    for checkpoints, steps in CASES:
        chunked = in_fresh_process(measure, checkpoints, steps, False)
        single = in_fresh_process(measure, checkpoints, steps, True)
        rows.append(dict(checkpoints=chunked["checkpoints"], steps=chunked["steps"],
                         per_checkpoint_runs_s=chunked["wall_s"], one_run_s=single["wall_s"],
                         speedup=chunked["wall_s"] / single["wall_s"],
                         identical=chunked["counts_hash"] == single["counts_hash"]))
    return save_table(pd.DataFrame(rows), out, "checkpoints",
                      "# Counts at many checkpoints: one run per checkpoint vs one run with "
                      "snapshots\n\nbernoulli_encoder(64) x 16 trials, dt = 1 ms, numpy target; "
                      "wall seconds including build, one fresh process per cell.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    main(parser.parse_args().out)
