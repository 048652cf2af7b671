"""Trained models: images per second of evsim's default path beside SpikingJelly's float64
forward pass (one thread) and beside evsim at a baseline commit, on the same digits test
images, measured side by side in one run.

For every architecture, each runner in a fresh process with an empty build cache:

- SpikingJelly float64 CPU forward, ``torch.set_num_threads(1)`` (needs the extra:
  ``pip install -e '.[train]'``; without it the row is left out);
- evsim, default path (``TrainedCircuit.run`` with no target), cold: the first call in the
  process (building, or compiling, included) and warm: the same call again;
- evsim numpy, warm;
- evsim numpy without event pathways (``evsim.runtime.EVENTS = False``: the projections that
  are not block-dense through Brian2's Synapses), cold and warm;
- evsim numpy without NumPy pathways (``BLOCKS`` and ``EVENTS`` False: every projection
  through Brian2's Synapses), cold and warm;
- evsim at ``--baseline`` (default: the commit before the engine work), default path, cold and
  warm, from a git worktree of that commit.

Every evsim row is checked spike for spike against SpikingJelly's reference spikes (the first
128 images of the shipped file) and against evsim numpy's spikes on all images.

Usage: python benchmarks/bench_trained.py [--out DIR] [--images 450] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import in_fresh_process, save_table

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "7bde8df"  # main before issue 28 (the engine work)


def evsim_runs(root: str, arch: str, images: int, targets: list, cache: str,
               pathways: tuple = ()) -> list[dict]:
    """In this process, evsim from ``root``: for each target (None: the default path) a cold
    and a warm call on the first ``images`` test images, with the NumPy pathways named in
    ``pathways`` ("BLOCKS", "EVENTS": :mod:`evsim.runtime`'s switches) turned off. Rows with
    seconds and the spikes' digest, reference mismatches and the target that ran."""
    os.environ["EVSIM_CACHE_DIR"] = cache
    sys.path.insert(0, root)
    import hashlib

    from circuits import trained
    if pathways:  # (a baseline commit may have no evsim.runtime)
        from evsim import runtime

        for switch in pathways:
            setattr(runtime, switch, False)
    from evsim.train import digits_tokens

    X, _, _, test = digits_tokens()
    tokens = X[test[:images]]
    meta, weights, reference = trained.load_weights(trained.shipped(arch))
    model = trained.build(meta, weights)
    rows = []
    for target in targets:
        for label in ("cold", "warm"):
            options = {} if target is None else {"target": target}
            started = time.perf_counter()
            spikes, _ = model.run(tokens, **options)
            seconds = time.perf_counter() - started
            ref = trained.reference_spikes(reference)
            mismatch = sum(c["mismatches"] for c in trained.mismatches(model, spikes,
                                                                         ref).values())
            digest = hashlib.sha256(b"".join(np.packbits(spikes[k]).tobytes()
                                             for k in sorted(spikes))).hexdigest()
            rows.append(dict(target=target or "default", call=label, seconds=seconds,
                             reference_mismatches=mismatch, digest=digest))
    return rows


def spikingjelly_run(arch: str, images: int) -> dict:
    """SpikingJelly's float64 forward pass on one thread (seconds of the forward call)."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from circuits import trained
    from evsim.train import digits_tokens, spikingjelly_forward

    X, _, _, test = digits_tokens()
    meta, weights, reference = trained.load_weights(trained.shipped(arch))
    spikingjelly_forward(meta, weights, X[test[:8]])  # warm-up: torch's first call
    spikes, _, seconds = spikingjelly_forward(meta, weights, X[test[:images]])
    ref = trained.reference_spikes(reference)  # SpikingJelly's own layouts
    mismatch = sum(int((spikes[k][:, :v.shape[1]] != v).sum()) for k, v in ref.items())
    return dict(seconds=seconds, reference_mismatches=mismatch)


def worktree(rev: str) -> Path:
    """A git worktree of ``rev`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="evsim-baseline-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
                   check=True, capture_output=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).parent / "results")
    parser.add_argument("--images", type=int, default=450)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--archs", default="spikformer,qkformer,sdt,spikingresformer")
    args = parser.parse_args()
    base = worktree(args.baseline)
    rows = []
    try:
        for arch in args.archs.split(","):
            try:
                sj = in_fresh_process(spikingjelly_run, arch, args.images)
                rows.append(dict(arch=arch, runner="SpikingJelly float64, 1 thread",
                                 call="warm", **sj))
            except Exception as error:  # the extra is not installed
                print(f"SpikingJelly row left out: {error}")
            runs = [(f"evsim {args.baseline}", str(base), None, ()),
                    ("evsim", str(ROOT), None, ()), ("evsim", str(ROOT), "numpy", ()),
                    ("evsim without event pathways", str(ROOT), "numpy", ("EVENTS",)),
                    ("evsim without NumPy pathways", str(ROOT), "numpy", ("BLOCKS", "EVENTS"))]
            numpy_digest = None
            for runner, root, target, off in runs:  # each in a fresh process, empty cache
                cache = tempfile.mkdtemp(prefix="evsim-bench-trained-")
                try:
                    found = in_fresh_process(evsim_runs, root, arch, args.images, [target],
                                             cache, off)
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
                for row in found:
                    if runner == "evsim" and row["target"] == "numpy":
                        numpy_digest = row["digest"]
                    rows.append(dict(arch=arch, runner=f"{runner} {row.pop('target')}", **row))
            for row in rows:
                if row["arch"] == arch and "digest" in row:
                    row["same_spikes_as_numpy"] = row.pop("digest") == numpy_digest
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                       capture_output=True)
    table = pd.DataFrame(rows)
    table["images_per_s"] = args.images / table.seconds
    sj = table[table.runner.str.startswith("SpikingJelly")].set_index("arch").images_per_s
    old = table[(table.runner == f"evsim {args.baseline} default") & (table.call == "warm")] \
        .set_index("arch").images_per_s
    table["x_spikingjelly"] = table.images_per_s / table.arch.map(sj)
    table["x_baseline_warm"] = table.images_per_s / table.arch.map(old)
    save_table(table, args.out, "trained_models",
               f"# Trained models: {args.images} digits test images (2-core machine)\n\n"
               "images_per_s of each call; warm = the same call again in the same process. "
               "x_spikingjelly: images/s over SpikingJelly's float64 forward pass on one "
               f"thread; x_baseline_warm: over evsim at {args.baseline} (before the engine work) "
               "warm, default path. reference_mismatches: neuron-steps that differ from the "
               "shipped SpikingJelly reference spikes (first 128 images); "
               "same_spikes_as_numpy: every layer's spikes equal evsim numpy's on all images.")


if __name__ == "__main__":
    main()
