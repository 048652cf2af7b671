"""Reliability: a SIGKILLed sweep resumes without losing or repeating cells; dask backend;
the same seed and target give identical claims.json numbers."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from evsim import sweep
from evsim.sweep import run_sweep
from stub_claim import use_stub_claim


def slow_cell(x, log):
    """A sweep cell that takes a while and logs its start and end."""
    with open(log, "a") as stream:
        stream.write(f"start {x}\n")
    time.sleep(0.3)
    with open(log, "a") as stream:
        stream.write(f"end {x}\n")
    return {"y": x * x}


@pytest.mark.slow  # kills a process pool mid-sweep (5 s)
def test_sweep_killed_with_sigkill_resumes_without_losing_or_repeating_cells(tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "calls.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from evsim.sweep import run_sweep
        from test_reliability import slow_cell
        run_sweep(slow_cell, {{"x": list(range(10)), "log": [{str(log)!r}]}}, {str(cache)!r},
                  progress=False)
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while len(list(cache.glob("*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before = {json.loads(p.read_text())["result"]["y"] for p in cache.glob("*.json")}
    assert 3 <= len(finished_before) < 10  # killed mid-run
    assert not list(cache.glob("*.tmp*"))  # no half-written cell file is left as a cell

    table = run_sweep(slow_cell, {"x": list(range(10)), "log": [str(log)]}, cache,
                      progress=False)
    assert list(table.x) == list(range(10)) and list(table.y) == [x * x for x in range(10)]
    assert len(list(cache.glob("*.json"))) == 10
    starts = log.read_text().split("\n")
    for x in range(10):
        if x * x in finished_before:  # cached before the kill: never run again
            assert starts.count(f"start {x}") == 1


def test_dask_backend_matches_local_and_skips_cached_cells(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from test_store_sweep import counted_square  # noqa: E402 (module-level, importable)

    log = tmp_path / "calls.log"
    local = run_sweep(counted_square, {"x": [1, 2], "log": [str(log)]}, tmp_path / "cache",
                      progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        table = run_sweep(counted_square, {"x": [1, 2, 3, 4], "log": [str(log)]},
                          tmp_path / "cache", scheduler=cluster.scheduler_address,
                          progress=False)
    assert list(table.y) == [1, 4, 9, 16] and list(local.y) == [1, 4]
    assert sorted(log.read_text().split()) == ["1", "2", "3", "4"]  # 1, 2 came from the cache


def test_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ValueError, match="no dask scheduler at 'tcp://127.0.0.1:9'"):
        run_sweep(slow_cell, {"x": [1], "log": [str(tmp_path / "l")]}, tmp_path / "c",
                  scheduler="tcp://127.0.0.1:9", progress=False)


def test_same_seed_and_target_give_identical_claims(tmp_path, monkeypatch):
    """The same seed twice gives the same claims.json entries; another seed other numbers
    (the stub claim's simulation is stochastic)."""
    from analyses.verify import verify

    stub = use_stub_claim(monkeypatch)
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        verify(tmp_path / name, quick=True, only=[stub], seed=seed, progress=False)
        runs.append(json.loads((tmp_path / name / "claims.json").read_text())["claims"])
    assert runs[0] == runs[1]
    assert runs[0][0]["estimate"] != runs[2][0]["estimate"]


@pytest.mark.slow  # spawns two processes that each import everything (~7 s)
def test_claim_families_on_two_processes_give_the_numbers_of_one(tmp_path):
    """--workers 2 runs families of claims in parallel processes; claims.json and every table
    equal the single-process run's."""
    from analyses.verify import verify

    only = ["lif.fi_curve", "a2os2a.capacity"]
    for name, workers in (("one", 1), ("two", 2)):
        verify(tmp_path / name, scale="toy", only=only, seed=5, workers=workers,
               progress=False, cache_dir=tmp_path / f"cache-{name}")
    one, two = (json.loads((tmp_path / n / "claims.json").read_text())["claims"]
                for n in ("one", "two"))
    assert [c["id"] for c in two] == only and one == two
    tables = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.csv"))
    assert tables and tables == sorted(p.relative_to(tmp_path / "two")
                                       for p in (tmp_path / "two").rglob("*.csv"))
    for table in tables:
        assert (tmp_path / "one" / table).read_text() == (tmp_path / "two" / table).read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_serial_verify_runs_each_family_together_then_frees_its_experiments(monkeypatch,
                                                                             workers):
    """In one process (one worker, or several at full scale without the shipped full run's
    peaks) the claims that share an experiment run one after another even when the registry
    interleaves them, and their shared experiments are forgotten once the last of them is
    done (the trained models' two groups held at once ran out of 23 GB), with one BLAS
    thread."""
    from types import SimpleNamespace

    from threadpoolctl import threadpool_info

    from analyses import verify as verify_module
    from analyses.claims import base

    shares = {"a": "group", "b": None, "c": "group"}
    monkeypatch.setattr(base, "_declared_shares", shares.get)
    monkeypatch.setattr(verify_module, "_shipped_manifest", lambda scale: {})
    context = base.ClaimContext(scale="full")
    computed, held, threads = [], [], set()

    def run_claims(ids, contexts, stage, registrations):
        (claim_id,) = ids
        contexts[1].for_claim(claim_id).shared(f"experiment {shares[claim_id] or claim_id}",
                                               lambda: computed.append(claim_id))
        held.append((claim_id, sorted(contexts[1]._shared)))
        threads.update(pool["num_threads"] for pool in threadpool_info())
        return {claim_id: (None, 0.0, None)}

    monkeypatch.setattr(verify_module, "_run_claims", run_claims)
    claims = [SimpleNamespace(id=i, shares=shares[i]) for i in shares]
    list(verify_module._run_families(claims, {1: context}, None, workers, {}))
    assert held == [("a", ["experiment group"]), ("c", ["experiment group"]),
                    ("b", ["experiment b"])]
    assert computed == ["a", "b"] and context._shared == {}
    assert threads <= {1}  # BLAS sums that do not depend on the cores


def test_families_start_longest_first_and_side_by_side_only_while_they_fit_in_memory():
    """The scheduler of a parallel verify on the trained models' full-size peaks: the longest
    family first, then the longest that fits beside it (skipping one that does not), any
    family when none runs, a family of unknown peak alone; each family's peak is its largest
    claim's, times the seeds run against the shipped run's; without shipped peaks, no
    limit."""
    from types import SimpleNamespace

    from analyses.verify import _admit, _families, _needs

    claims = [SimpleNamespace(id=i, shares=s) for i, s in
              (("t4", "runs"), ("energy", "runs"), ("design", None), ("small", None),
               ("new", None))]
    seconds = {"t4": 300, "energy": 130, "design": 550, "small": 20}
    families = _families(claims, seconds)
    assert families == [["new"], ["design"], ["t4", "energy"], ["small"]]
    peaks = {"t4": 6.0, "energy": 9.0, "design": 16.0, "small": 1.0}
    need = _needs(families, peaks)
    assert need == [float("inf"), 16.0, 9.0, 1.0]
    assert _needs(families, peaks, copies=2.0)[1:] == [32.0, 18.0, 2.0]
    assert _needs(families, None) == [0.0] * 4
    assert _admit([0, 1, 2, 3], need, [], 18.0) == 0
    assert _admit([1, 2, 3], need, [0], 18.0) is None
    assert _admit([1, 2, 3], need, [], 18.0) == 1
    assert _admit([2, 3], need, [1], 18.0) == 3
    assert _admit([2], need, [1], 18.0) is None
    assert _admit([2, 3], need, [], 18.0) == 2
    assert _admit([1, 2], [0.0] * 4, [0, 3], float("inf")) == 1


def test_a_claims_peak_memory_is_measured_from_its_own_start():
    """The peak resident memory recorded per claim counts what the claim made, not what the
    process held at its peak before it (Linux's VmHWM, reset per claim)."""
    from analyses.verify import _peak_memory_gb, _reset_peak_memory

    if _peak_memory_gb() is None or not _reset_peak_memory():
        pytest.skip("no peak memory to read or reset here (Linux's /proc)")
    before = _peak_memory_gb()
    block = np.ones(2 * 10 ** 8 // 8)  # 0.2 GB, touched
    during = _peak_memory_gb()
    del block
    _reset_peak_memory()
    assert during - before == pytest.approx(0.2, abs=0.05)
    assert _peak_memory_gb() < during - 0.15


def test_a_serial_verify_freezes_only_for_its_run_and_leaves_a_callers_freeze(tmp_path,
                                                                            monkeypatch):
    """A serial verify freezes the objects alive at its start for its run only (none frozen
    after it), drops the networks kept before it (frozen, an evicted one could not be freed),
    and leaves a caller's own freeze as it was."""
    import gc

    from analyses.verify import verify
    from evsim import runtime

    stub = use_stub_claim(monkeypatch)
    frozen_during = []
    monkeypatch.setattr(gc, "collect", lambda *a: frozen_during.append(gc.get_freeze_count()))
    runtime._CACHE["kept before"] = object()
    verify(tmp_path / "a", quick=True, only=[stub], seed=7, progress=False)
    assert "kept before" not in runtime._CACHE
    assert max(frozen_during) > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        runtime._CACHE["kept before"] = object()
        verify(tmp_path / "b", quick=True, only=[stub], seed=7, progress=False)
        # (frozen objects freed during the run leave the count; an unfreeze would empty it)
        assert gc.get_freeze_count() > before // 2 and "kept before" in runtime._CACHE
    finally:
        gc.unfreeze()
        runtime._CACHE.pop("kept before", None)
