"""Trained models: images per second of the Brian2 circuit (numpy, cpp_standalone cold and
warm, auto) beside SpikingJelly's float64 CPU forward pass, all 450 digits test images as
trials (150 per Brian2 run),
measured side by side in one run. Each evsim row is checked spike for spike against the
first: a faster target that changed a spike would be reported, not hidden.

SpikingJelly needs the extra (``pip install -e '.[train]'``); without it its row is left out.

Usage: python benchmarks/bench_trained.py [--out DIR] [--images 450]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from common import save_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from circuits import trained  # noqa: E402
from evsim.train import ARCHITECTURES, digits_tokens, spikingjelly_forward  # noqa: E402

BATCH = 150  # images per Brian2 run (450 at once needs more than the 24 GiB here)


def evsim_row(model, tokens, target: str, label: str, baseline=None) -> tuple[dict, dict]:
    start = time.perf_counter()
    spikes, logits = model.run(tokens, target=target, batch=BATCH)
    seconds = time.perf_counter() - start
    differ = 0 if baseline is None else sum(int((spikes[k] != baseline[k]).sum())
                                            for k in spikes)
    return dict(arch=model.arch, runner=label, seconds=seconds,
                images_per_s=len(tokens) / seconds, spikes_differing=differ), spikes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).parent / "results")
    parser.add_argument("--images", type=int, default=450)
    args = parser.parse_args()
    X, _, _, test = digits_tokens()
    tokens = X[test[:args.images]]
    rows = []
    cache = tempfile.mkdtemp(prefix="evsim-bench-trained-")
    os.environ["EVSIM_CACHE_DIR"] = cache
    try:
        for arch in ARCHITECTURES:
            meta, weights, _ = trained.load_weights(trained.shipped(arch))
            model = trained.build(meta, weights)
            row, numpy_spikes = evsim_row(model, tokens, "numpy", "evsim numpy")
            rows.append(row)
            for target, label in (("cpp_standalone", "evsim cpp_standalone (cold: compiles)"),
                                  ("cpp_standalone", "evsim cpp_standalone (warm)"),
                                  ("auto", "evsim auto (default)")):
                rows.append(evsim_row(model, tokens, target, label, numpy_spikes)[0])
            try:
                spikes, _, seconds = spikingjelly_forward(meta, weights, tokens)
            except Exception as error:  # the extra is not installed
                print(f"SpikingJelly row left out: {error}")
                continue
            differ = sum(c["mismatches"] for c in
                         trained.mismatches(model, numpy_spikes, spikes).values())
            rows.append(dict(arch=arch, runner="SpikingJelly float64 CPU forward",
                             seconds=seconds, images_per_s=len(tokens) / seconds,
                             spikes_differing=differ))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    table = pd.DataFrame(rows)
    first = table.groupby("arch", sort=False).seconds.transform("first")
    table["speed_vs_numpy"] = first / table.seconds
    save_table(table, args.out, "trained_models",
               f"# Trained models: {len(tokens)} test images as trials (2-core machine)")


if __name__ == "__main__":
    main()
