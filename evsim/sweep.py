"""Parameter sweeps on a local process pool with a resumable on-disk cell cache.

Each finished cell is written atomically to ``cache_dir/<key>.json`` as soon as it finishes,
so a killed sweep, run again, skips the finished cells and neither loses nor repeats one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm.auto import tqdm

from .models import check_integer
from .store import atomic_write_json

__all__ = ["grid_cells", "cell_key", "run_sweep"]


def grid_cells(grid: dict) -> list[dict]:
    """All combinations of a grid {name: [values]} as a list of {name: value} cells."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"parameter 'grid' must be a non-empty dict of name -> list, got {grid!r}")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValueError(f"grid entry '{name}' must be a non-empty list of values, "
                             f"got {values!r}")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]


def cell_key(function: Callable, cell: dict) -> str:
    """A stable key for (function, cell): the cache file name."""
    text = json.dumps({"function": f"{function.__module__}.{function.__qualname__}",
                       "cell": {k: repr(v) for k, v in sorted(cell.items())}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_sweep(function: Callable[..., dict], grid: dict, cache_dir, *, workers: int = 1,
              progress: bool = True) -> pd.DataFrame:
    """Run ``function(**cell)`` for every cell of ``grid``; returns one row per cell.

    ``function`` must be importable (module level) and return a dict of JSON-serialisable
    values. Finished cells are cached in ``cache_dir`` and reused on the next call.
    """
    check_integer("workers", workers, 1)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cells = grid_cells(grid)
    keys = [cell_key(function, cell) for cell in cells]
    results = {key: json.loads((cache_dir / f"{key}.json").read_text())["result"]
               for key in keys if (cache_dir / f"{key}.json").exists()}
    pending = [(key, cell) for key, cell in zip(keys, cells) if key not in results]

    def finish(key, cell, result):
        if not isinstance(result, dict):
            raise TypeError(f"sweep function must return a dict, got {type(result).__name__}")
        atomic_write_json(cache_dir / f"{key}.json", {"cell": {k: repr(v) for k, v in
                                                              cell.items()}, "result": result})
        results[key] = result

    bar = tqdm(total=len(cells), initial=len(cells) - len(pending), desc="sweep cells",
               disable=not progress)
    if workers == 1:
        for key, cell in pending:
            finish(key, cell, function(**cell))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(function, **cell): (key, cell) for key, cell in pending}
            for future in as_completed(futures):
                finish(*futures[future], future.result())
                bar.update()
    bar.close()
    return pd.DataFrame([{**cell, **results[key]} for key, cell in zip(keys, cells)])
