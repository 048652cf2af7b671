"""Parameter sweeps on local processes or a dask.distributed cluster, with a resumable cache.

Each finished cell is written atomically to ``cache_dir/<key>.json`` as soon as it finishes
(by the process that submitted it), so a killed sweep, run again, skips the finished cells and
neither loses nor repeats one, on either backend.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import itertools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm.auto import tqdm

from .backends import using
from .errors import ValidationError
from .models import check_integer
from .store import atomic_write_json

__all__ = ["grid_cells", "code_fingerprint", "cell_key", "run_sweep"]


def grid_cells(grid: dict) -> list[dict]:
    """All combinations of a grid {name: [values]} as a list of {name: value} cells."""
    if not isinstance(grid, dict) or not grid:
        raise ValidationError("grid", "parameter 'grid' must be a non-empty dict of name -> list, "
                                      f"got {grid!r}")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValidationError("grid", f"grid entry '{name}' must be a non-empty list of "
                                          f"values, got {values!r}")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]


def code_fingerprint(function: Callable) -> str:
    """A hash of the code that computes a cell: the source file of ``function`` and of every
    module of the packages evsim, circuits and analyses, plus the versions of evsim, brian2
    and numpy. Any code change gives a new fingerprint, so a cache never feeds stale cells."""
    import brian2
    import numpy

    from . import __version__

    files = {Path(inspect.getsourcefile(function)).resolve()}
    for package in ("evsim", "circuits", "analyses"):
        files.update(Path(importlib.import_module(package).__file__).parent.rglob("*.py"))
    digest = hashlib.sha256(f"{__version__} {brian2.__version__} {numpy.__version__}".encode())
    for path in sorted(files):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def cell_key(function: Callable, cell: dict, fingerprint: str = "") -> str:
    """A stable key for (function, cell, code fingerprint): the cache file name."""
    text = json.dumps({"function": f"{function.__module__}.{function.__qualname__}",
                       "code": fingerprint,
                       "cell": {k: repr(v) for k, v in sorted(cell.items())}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_sweep(function: Callable[..., dict], grid: dict, cache_dir, *, workers: int = 1,
              scheduler: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``function(**cell)`` for every cell of ``grid``; returns one row per cell.

    ``function`` must be importable (module level) and return a dict of JSON-serialisable
    values. Finished cells are cached in ``cache_dir`` under a key that includes
    :func:`code_fingerprint`, and reused on the next call as long as the code is unchanged.
    Cells run in ``workers`` local processes, or on the dask.distributed cluster at ``scheduler``
    (an address such as ``tcp://host:8786``; needs the ``dask`` extra) when it is given. A cell
    with a ``target`` runs inside ``evsim.backends.using(target)`` wherever it runs, so its
    simulations without a target of their own use it too.
    """
    check_integer("workers", workers, 1)
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        raise ValidationError("scheduler", "parameter 'scheduler' must be a dask scheduler address "
                                           f"string, got {scheduler!r}")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cells = grid_cells(grid)
    fingerprint = code_fingerprint(function)
    keys = [cell_key(function, cell, fingerprint) for cell in cells]
    results = {key: json.loads((cache_dir / f"{key}.json").read_text())["result"]
               for key in keys if (cache_dir / f"{key}.json").exists()}
    pending = [(key, cell) for key, cell in zip(keys, cells) if key not in results]

    def finish(key, cell, result):
        if not isinstance(result, dict):
            raise TypeError(f"sweep function must return a dict, got {type(result).__name__}")
        atomic_write_json(cache_dir / f"{key}.json", {"cell": {k: repr(v) for k, v in
                                                              cell.items()},
                                                     "code": fingerprint, "result": result},
                          indent=None)  # a cache: read back by evsim, not by people
        results[key] = result

    bar = tqdm(total=len(cells), initial=len(cells) - len(pending), desc="sweep cells",
               disable=not progress)
    if scheduler is not None and pending:
        for (key, cell), result in _on_dask(function, pending, scheduler):
            finish(key, cell, result)
            bar.update()
    elif workers == 1:
        for key, cell in pending:
            finish(key, cell, run_cell(function, cell))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(run_cell, function, cell): (key, cell)
                       for key, cell in pending}
            for future in as_completed(futures):
                finish(*futures[future], future.result())
                bar.update()
    bar.close()
    return pd.DataFrame([{**cell, **results[key]} for key, cell in zip(keys, cells)])


def run_cell(function: Callable, cell: dict) -> dict:
    """``function(**cell)``, inside ``evsim.backends.using(cell["target"])`` if the cell names
    a target (in this process, a worker process or a dask worker alike)."""
    if "target" not in cell:
        return function(**cell)
    with using(cell["target"]):
        return function(**cell)


#: seconds to wait for a dask scheduler before giving up
CONNECT_TIMEOUT_S = 10


def _on_dask(function: Callable, pending: list, address: str):
    """Yield ((key, cell), result) as the cells finish on the dask cluster at ``address``."""
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError as error:
        raise ValidationError("scheduler", "parameter 'scheduler' needs dask.distributed: pip "
                                           "install 'evsim[dask]'") from error
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except OSError as error:
        raise ValidationError("scheduler", "parameter 'scheduler': no dask scheduler at "
                                           f"{address!r} ({error})") from error
    with client:
        # partial: cell names such as "key" or "workers" must reach the function, not dask
        futures = {client.submit(functools.partial(run_cell, function, cell), pure=False):
                   (key, cell) for key, cell in pending}
        for future in dask_completed(futures):
            yield futures[future], future.result()
