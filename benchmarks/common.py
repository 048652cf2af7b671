"""Helpers shared by the benchmark scripts: fresh-process measurement and Markdown tables."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd


def in_fresh_process(function, *args):
    """``function(*args)`` in a new spawned process (clean peak RSS, no shared caches)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def save_table(table: pd.DataFrame, out, name: str, heading: str) -> pd.DataFrame:
    """Write ``table`` as out/NAME.csv and out/NAME.md (``heading`` above the pipe table) and
    print it."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{name}.csv", index=False)
    (folder / f"{name}.md").write_text(heading + "\n\n" + markdown(table) + "\n")
    print(markdown(table))
    return table


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (floats to 3 significant digits)."""
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
             for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
