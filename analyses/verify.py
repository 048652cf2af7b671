"""verify(): run claims, write claims.json, report.md, tables, figures and manifest atomically."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from evsim.errors import ValidationError
from evsim.store import atomic_write_json, staged_directory, write_table
from evsim.store import manifest as base_manifest

from .claims import ClaimContext, all_claims, get_claim, select
from .report import jsonable, write_claims_json, write_report

__all__ = ["verify", "replot"]


def verify(out, *, quick: bool = True, only=None, seed: int = 1, target: str = "auto",
           workers: int = 1, scheduler: str | None = None, cache_dir=None,
           progress: bool = True, scale: str | None = None) -> list[dict]:
    """Run the selected claims; replace ``out`` with the new results only if all succeed.

    Returns the claims.json entries. A refuted claim is a result, not an error. ``workers``
    processes run sweep cells; finished cells are cached under ``cache_dir`` (see
    ClaimContext.sweep_cache), so an interrupted run resumes where it stopped. ``scale``
    ("toy", "quick" or "full") overrides ``quick``; toy sizes are for tests only.
    """
    from evsim.simulate import TARGETS

    if target not in TARGETS:
        raise ValidationError("target", f"parameter 'target' must be one of {TARGETS}, got "
                                        f"{target!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError("seed", "parameter 'seed' must be a non-negative integer, got "
                                      f"{seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("workers", "parameter 'workers' must be an integer >= 1, got "
                                         f"{workers!r}")
    claims = select(only)
    scale = scale or ("quick" if quick else "full")
    context = ClaimContext(scale=scale, seed=seed, target=target, workers=workers,
                           scheduler=scheduler,
                           cache_dir=None if cache_dir is None else str(cache_dir))
    entries, wall_times, targets = [], {}, {}
    started = time.perf_counter()
    with staged_directory(out) as stage:
        for claim in tqdm(claims, desc="claims", disable=not progress):
            claim_started = time.perf_counter()
            claim_context = context.for_claim(claim.id)
            result = claim.measure(claim_context)
            targets[claim.id] = claim_context.targets_used
            for name, table in result.tables.items():
                write_table(stage / "tables" / claim.id / f"{name}.csv", table)
            figures = [f"figures/{name}" for name in claim.plot(result.tables,
                                                                 stage / "figures")]
            wall_times[claim.id] = round(time.perf_counter() - claim_started, 3)
            entries.append(dict(id=claim.id, source=claim.source, statement=claim.statement,
                                protocol=claim.protocol, expected=claim.expected,
                                estimate=result.estimate, ci95=result.ci95,
                                verdict=result.verdict, target=targets[claim.id],
                                sensitivity=result.sensitivity, figures=figures,
                                details=result.details))
        manifest = base_manifest(target=target, targets_used=targets, seed=seed,
                                 quick=scale != "full", scale=scale, workers=workers,
                                 scheduler=scheduler,
                                 claims=[c.id for c in claims], wall_time_s=wall_times,
                                 total_wall_time_s=round(time.perf_counter() - started, 3))
        atomic_write_json(stage / "manifest.json", jsonable(manifest))
        write_claims_json(stage / "claims.json", entries, manifest)
        not_run = [c.id for c in all_claims() if c.id not in targets]
        write_report(stage / "report.md", entries, manifest, not_run)
    return entries


def replot(run_dir, only=None) -> list[str]:
    """Redraw every figure of a run directory from its stored tables (no simulation)."""
    import pandas as pd

    run_dir = Path(run_dir)
    claims_file = run_dir / "claims.json"
    if not claims_file.is_file():
        raise ValidationError("run_dir", f"RUN_DIR '{run_dir}' has no claims.json (not an evsim "
                                         "verify run)")
    ids = [entry["id"] for entry in json.loads(claims_file.read_text())["claims"]]
    unknown = sorted(set(only or []) - set(ids))
    if unknown:
        raise ValidationError("only", f"claim(s) {unknown} are not in {claims_file}; it has {ids}")
    written = []
    for claim_id in only or ids:
        folder = run_dir / "tables" / claim_id
        tables = {path.stem: pd.read_csv(path) for path in sorted(folder.glob("*.csv"))}
        if not tables:
            raise ValidationError("run_dir", f"no tables for claim '{claim_id}' under {folder}")
        written += [f"figures/{name}" for name in get_claim(claim_id).plot(tables,
                                                                            run_dir / "figures")]
    return written


def default_out(quick: bool) -> Path:
    """Default run directory: results/quick or results/full."""
    return Path("results") / ("quick" if quick else "full")
