"""verify(): run claims, write claims.json, report.md, tables, figures and manifest atomically."""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from evsim import runtime
from evsim.errors import ValidationError
from evsim.store import atomic_write_json, staged_directory, write_table
from evsim.store import manifest as base_manifest

from .claims import ClaimContext, all_claims, get_claim, select
from .claims.registry import load_registry, registration
from .report import jsonable, write_claims_json, write_report
from .report_pages import write_pages

__all__ = ["verify", "replot"]


def _check_seeds(seed, seeds) -> list[int]:
    """The seeds to run: ``seeds`` if given (distinct non-negative integers), else [seed]."""
    chosen = [seed] if seeds is None else list(seeds)
    name = "seed" if seeds is None else "seeds"
    if not chosen or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0
                         for s in chosen) or len(set(chosen)) != len(chosen):
        raise ValidationError(name, f"parameter '{name}' must be "
                              + ("a non-negative integer" if seeds is None else
                                 "a non-empty list of distinct non-negative integers")
                              + f", got {seed if seeds is None else seeds!r}")
    return [int(s) for s in chosen]


def _by_seed(results: dict) -> dict:
    """Per-seed verdicts and estimates of one claim, and how many seeds agree with the first."""
    verdicts = {str(s): r.verdict for s, r in results.items()}
    headline = next(iter(verdicts.values()))
    agree = sum(v == headline for v in verdicts.values())
    return {"verdict_by_seed": verdicts,
            "estimate_by_seed": {str(s): r.estimate for s, r in results.items()},
            "seeds_agreeing": f"{agree} of {len(verdicts)} seeds give {headline}"}


def verify(out, *, quick: bool = True, only=None, seed: int = 1, seeds=None,
           target: str = "auto", workers: int = 1, scheduler: str | None = None,
           cache_dir=None, progress: bool = True, scale: str | None = None) -> list[dict]:
    """Run the selected claims; replace ``out`` with the new results only if all succeed.

    Returns the claims.json entries. A refuted claim is a result, not an error. ``seeds`` (a
    list) runs every claim once per seed: the first seed's result is the headline (tables,
    figures, details) and every entry records verdict_by_seed, estimate_by_seed and how many
    seeds agree. ``workers`` processes run families of claims in parallel (claims that share
    an experiment stay in one process), as many side by side as fit in memory by the shipped
    run's peaks; the numbers do not depend on it. The manifest records each claim's wall
    seconds and peak memory. Finished sweep cells are cached under
    ``cache_dir`` (see ClaimContext.sweep_cache), so an interrupted run resumes where it
    stopped. ``scale`` ("toy", "quick" or "full") overrides ``quick``; toy sizes are for tests
    only.
    """
    from evsim import backends

    if target not in backends.targets():
        raise ValidationError("target", f"parameter 'target' must be one of "
                                        f"{backends.targets()}, got {target!r}")
    seeds = _check_seeds(seed, seeds)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("workers", "parameter 'workers' must be an integer >= 1, got "
                                         f"{workers!r}")
    claims = select(only)
    scale = scale or ("quick" if quick else "full")
    contexts = {s: ClaimContext(scale=scale, seed=s, target=target, workers=workers,
                                scheduler=scheduler,
                                cache_dir=None if cache_dir is None else str(cache_dir))
                for s in seeds}
    # fingerprints read the rules' source now, before any claim runs (not after edits made
    # while a long run goes on)
    registry = load_registry()
    registrations = {c.id: registration(c, registry) for c in claims}
    started = time.perf_counter()
    with staged_directory(out) as stage:
        done = {}
        with tqdm(total=len(claims), desc="claims", disable=not progress) as bar:
            bar.set_postfix_str(_waiting_for(claims, done))
            for outcome in _run_families(claims, contexts, stage, workers, registrations):
                done.update(outcome)
                bar.update(len(outcome))
                last = ", ".join(f"{claim_id} {seconds:.0f} s"
                                 for claim_id, (_, seconds, _) in outcome.items())
                bar.set_postfix_str(f"done {last}; {_waiting_for(claims, done)}")
        entries, wall_times, peaks, targets = [], {}, {}, {}
        for claim in claims:
            entry, wall_times[claim.id], peaks[claim.id] = done[claim.id]
            targets[claim.id] = entry["target"]
            entries.append(entry)
        manifest = base_manifest(target=target, targets_used=targets, seed=seeds[0], seeds=seeds,
                                 quick=scale != "full", scale=scale, workers=workers,
                                 scheduler=scheduler,
                                 claims=[c.id for c in claims], wall_time_s=wall_times,
                                 peak_rss_gb=peaks,
                                 total_wall_time_s=round(time.perf_counter() - started, 3))
        atomic_write_json(stage / "manifest.json", jsonable(manifest))
        write_claims_json(stage / "claims.json", entries, manifest)
        not_run = [c.id for c in all_claims() if c.id not in targets]
        write_report(stage / "report.md", entries, manifest, not_run)
        write_pages(stage)
    return entries


def _waiting_for(claims, done: dict) -> str:
    """The families of claims not finished yet (running or queued), for the progress bar."""
    families = list(dict.fromkeys(c.id.split(".")[0] for c in claims if c.id not in done))
    return f"waiting for {', '.join(families)}" if families else "writing the report"


#: the shipped runs whose manifests give each claim's wall seconds and peak memory (quick: the
#: results of the docs; full: a full seed's manifest), which a parallel verify reads to order
#: and pack the families of claims
SHIPPED_RUNS = {"quick": Path(__file__).resolve().parent.parent / "docs" / "results_claims.json",
                "full": Path(__file__).resolve().parent.parent / "docs" / "full_seed_manifest.json"}
#: share of the machine's memory that the families running side by side may hold
MEMORY_SHARE = 0.8
#: BLAS and OpenMP threads a claim runs with, in a worker or in this process, whatever the
#: cores: OpenBLAS's sums can depend on its threads (attention.universal's full-size estimate
#: differed in its 17th digit between 2 threads and 1), and two workers whose products each
#: start a thread per core oversubscribe the machine (BLAS threads spin while they wait: ~2x
#: slower than alone)
CLAIM_THREADS = 1


def _families(claims, seconds: dict) -> list[list]:
    """The claims grouped by the experiment they share (:attr:`Claim.shares`; a claim that
    shares none is a group of its own): a group runs in one process. Longest first by
    ``seconds`` {claim id: wall seconds} (a claim it lacks counts as the longest), so the
    longest group does not start last."""
    families = {}
    for claim in claims:
        families.setdefault(claim.shares or claim.id, []).append(claim.id)
    return sorted(families.values(),
                  key=lambda ids: -sum(seconds.get(i, float("inf")) for i in ids))


def _shipped_manifest(scale: str) -> dict:
    """The manifest of the shipped run at ``scale`` (toy: quick's; empty if it is missing)."""
    path = SHIPPED_RUNS["full" if scale == "full" else "quick"]
    try:
        shipped = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return shipped.get("manifest", shipped)


def _run_families(claims, contexts: dict, stage: Path, workers: int, registrations: dict):
    """Yield {claim id: (claims.json entry, wall seconds, peak memory GB)}: on ``workers``
    processes as many groups (:func:`_families`) side by side as fit in memory
    (:func:`_in_parallel`; sweep cells then run in their group's process), else group by
    group claim by claim in this process, each group's shared experiments freed once it is
    done: with one worker, one group, or at full scale without the shipped full run's peaks
    (the trained models' groups held 15-18 GB: two at once ran out of 23 GB). Seeds come from
    --seed and the claim id, so the numbers do not depend on the process or the order that
    runs a claim."""
    scale = next(iter(contexts.values())).scale
    shipped = _shipped_manifest(scale)
    seconds = shipped.get("wall_time_s") or _shipped_manifest("quick").get("wall_time_s", {})
    families = _families(claims, seconds)
    peaks = shipped.get("peak_rss_gb")
    if workers > 1 and len(families) > 1 and (peaks or scale != "full"):
        copies = len(contexts) / max(1, len(shipped.get("seeds") or [None]))
        yield from _in_parallel(families, contexts, stage, workers, registrations,
                                _needs(families, peaks, copies))
        return
    shares = {claim.id: claim.shares for claim in claims}
    with threadpool_limits(CLAIM_THREADS), _older_objects_frozen():
        for family in families:
            for claim_id in family:
                yield _run_claims([claim_id], contexts, stage, registrations)
            for context in contexts.values():
                context.release_shared(shares[family[0]])
            gc.collect()  # trained-model runs hold cycles through Brian2's objects


def _in_parallel(families: list, contexts: dict, stage: Path, workers: int,
                 registrations: dict, need: list):
    """Run ``families`` on ``workers`` processes, longest first, starting a family only while
    the peak memory (GB) of those running and its own (``need``, :func:`_needs`) fit in
    MEMORY_SHARE of the memory available now (no limit where it is unknown); one runs
    whatever its size when none other does. At full scale each family gets a fresh process,
    so its memory goes back to the system when it ends."""
    budget = MEMORY_SHARE * (_memory_gb() or math.inf)
    serial = {s: dataclasses.replace(c, workers=1) for s, c in contexts.items()}
    full = next(iter(contexts.values())).scale == "full"
    processes = min(workers, len(families))
    pending, running = list(range(len(families))), {}
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker,
                             max_tasks_per_child=1 if full else None) as pool:
        while pending or running:
            while pending and len(running) < processes:
                chosen = _admit(pending, need, list(running.values()), budget)
                if chosen is None:
                    break
                pending.remove(chosen)
                running[pool.submit(_run_claims, families[chosen], serial, stage,
                                    registrations)] = chosen
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
                yield future.result()


def _needs(families: list, peaks: dict | None, copies: float = 1.0) -> list[float]:
    """Each family's peak memory (GB): the largest of its claims' shipped ``peaks`` times
    ``copies`` (the seeds run against the shipped run's: each seed holds its own shared
    experiments); inf for a claim missing there (it then runs alone); 0 for all without
    shipped peaks."""
    if not peaks:
        return [0.0] * len(families)
    return [copies * max(math.inf if peaks.get(claim_id) is None else peaks[claim_id]
                         for claim_id in family) for family in families]


def _admit(pending: list, need: list, running: list, budget: float) -> int | None:
    """The first of the ``pending`` families (indices, longest first) whose ``need`` fits in
    ``budget`` beside the ``running`` ones'; the first when none runs; None when none fits."""
    free = budget - sum(need[i] for i in running)
    return next((i for i in pending if not running or need[i] <= free), None)


def _memory_gb() -> float | None:
    """The memory available to new processes now (GB): Linux's MemAvailable, else the
    machine's physical memory; None where neither is known."""
    available = _proc_kilobytes("/proc/meminfo", "MemAvailable")
    if available is not None:
        return available / 1e6
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (AttributeError, OSError, ValueError):
        return None


def _start_worker() -> None:
    """Run a worker's claims with one BLAS and OpenMP thread (:data:`CLAIM_THREADS`) and
    freeze the objects its imports made (see :func:`_older_objects_frozen`; a worker ends with
    its run)."""
    threadpool_limits(CLAIM_THREADS)
    gc.freeze()


@contextmanager
def _older_objects_frozen():
    """The objects alive now (after the imports: ~240,000 modules, functions, classes and
    caches) moved out of the garbage collector's sight for the block (``gc.freeze``). The
    full collections a verify makes (one per evicted Brian2 network and per trained-model
    family, hundreds in all) then scan only what the run made: they took 25 s of a profiled
    quick verify. Objects frozen here that become unreachable during the block are collected
    after it, so the networks the runtime backends kept before are dropped first (frozen, an
    evicted one would stay in memory to the end). A caller's own freeze is left alone."""
    if gc.get_freeze_count():
        yield
        return
    runtime.clear_cache()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_claims(ids: list, contexts: dict, stage: Path, registrations: dict) -> dict:
    """Run the claims ``ids`` once per seed; write their tables and figures into ``stage``.
    {claim id: (claims.json entry, wall seconds, peak memory GB of the process while it ran
    or None)}."""
    out = {}
    for claim_id in ids:
        claim = get_claim(claim_id)
        _reset_peak_memory()
        claim_started = time.perf_counter()
        results, used, elsewhere = {}, set(), {}
        for s, context in contexts.items():
            claim_context = context.for_claim(claim.id)
            results[s] = claim.run(claim_context)
            used |= {run["target"] for run in claim_context.runs}
            elsewhere |= {run["target"]: run["why"] for run in claim_context.runs if "why" in run}
        result = results[next(iter(contexts))]
        for name, table in result.tables.items():
            write_table(stage / "tables" / claim.id / f"{name}.csv", table)
        figures = [f"figures/{name}" for name in claim.plot(result.tables, stage / "figures")]
        entry = dict(id=claim.id, source=claim.source, statement=claim.statement,
                     protocol=claim.protocol, expected=claim.expected,
                     estimate=result.estimate, ci95=result.ci95, verdict=result.verdict,
                     **result.basis_entry(), **_by_seed(results),
                     target=", ".join(sorted(used)) or None,
                     **({"target_fallbacks": elsewhere} if elsewhere else {}),
                     sensitivity=result.sensitivity,
                     rule_history=result.rule_history,
                     rule_registration=registrations[claim.id], figures=figures,
                     details=result.details)
        out[claim.id] = (entry, round(time.perf_counter() - claim_started, 3), _peak_memory_gb())
    return out


def _reset_peak_memory() -> bool:
    """Start this process's peak resident memory afresh (Linux); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_memory_gb() -> float | None:
    """Peak resident memory in GB since :func:`_reset_peak_memory`: this process's (Linux's
    VmHWM) plus the largest its finished child processes reached (compiled binaries, sweep
    workers; since the process started, so an upper bound); None where /proc does not give
    it."""
    kilobytes = _proc_kilobytes("/proc/self/status", "VmHWM")
    if kilobytes is None:
        return None
    import resource  # POSIX only (here: Linux, which has /proc)

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux
    return round((kilobytes + children) / 1e6, 2)


def _proc_kilobytes(path: str, field: str) -> int | None:
    """The kB value of ``field`` in a Linux /proc file such as /proc/meminfo; None where the
    file or the field is missing."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in text.splitlines()
                 if line.startswith(f"{field}:")), None)


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
