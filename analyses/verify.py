"""verify(): run claims, write claims.json, report.md, tables, figures and manifest atomically."""

from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from evsim.store import manifest as base_manifest
from evsim.store import atomic_write_json, staged_directory, write_table

from .claims import PLANNED, ClaimContext, select
from .report import jsonable, write_claims_json, write_report

__all__ = ["verify"]


def verify(out, *, quick: bool = True, only=None, seed: int = 1, target: str = "numpy",
           workers: int = 1, cache_dir=None, progress: bool = True) -> list[dict]:
    """Run the selected claims; replace ``out`` with the new results only if all succeed.

    Returns the claims.json entries. A refuted claim is a result, not an error. ``workers``
    processes run sweep cells; finished cells are cached under ``cache_dir`` (see
    ClaimContext.sweep_cache), so an interrupted run resumes where it stopped.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter 'seed' must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    claims = select(only)
    context = ClaimContext(quick=quick, seed=seed, target=target, workers=workers,
                           cache_dir=None if cache_dir is None else str(cache_dir))
    entries, wall_times = [], {}
    started = time.perf_counter()
    with staged_directory(out) as stage:
        for claim in tqdm(claims, desc="claims", disable=not progress):
            claim_started = time.perf_counter()
            result = claim.measure(context)
            for name, table in result.tables.items():
                write_table(stage / "tables" / claim.id / f"{name}.csv", table)
            figures = [f"figures/{name}" for name in claim.plot(result.tables,
                                                                 stage / "figures")]
            wall_times[claim.id] = round(time.perf_counter() - claim_started, 3)
            entries.append(dict(id=claim.id, source=claim.source, statement=claim.statement,
                                protocol=claim.protocol, expected=claim.expected,
                                estimate=result.estimate, ci95=result.ci95,
                                verdict=result.verdict, figures=figures,
                                details=result.details))
        manifest = base_manifest(target=target, seed=seed, quick=quick, workers=workers,
                                 claims=[c.id for c in claims], wall_time_s=wall_times,
                                 total_wall_time_s=round(time.perf_counter() - started, 3))
        atomic_write_json(stage / "manifest.json", jsonable(manifest))
        write_claims_json(stage / "claims.json", entries, manifest)
        not_run = [c for c in PLANNED if c not in {e["id"] for e in entries}]
        write_report(stage / "report.md", entries, manifest, not_run)
    return entries


def default_out(quick: bool) -> Path:
    """Default run directory: results/quick or results/full."""
    return Path("results") / ("quick" if quick else "full")
