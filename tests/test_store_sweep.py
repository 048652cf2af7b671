"""Atomic run directories and resumable sweeps."""

import json

import pytest

from evsim import ValidationError
from evsim.store import atomic_write_json, manifest, staged_directory
from evsim.sweep import run_sweep


def test_failed_run_leaves_previous_results_intact(tmp_path):
    out = tmp_path / "run"
    with staged_directory(out) as stage:
        atomic_write_json(stage / "claims.json", {"claims": [1]})
    with pytest.raises(RuntimeError, match="boom"):
        with staged_directory(out) as stage:
            atomic_write_json(stage / "claims.json", {"claims": [2]})
            raise RuntimeError("boom")
    assert json.loads((out / "claims.json").read_text()) == {"claims": [1]}
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []


def test_second_writer_is_refused(tmp_path):
    out = tmp_path / "run"
    with staged_directory(out):
        with pytest.raises(ValidationError, match="another evsim run is writing"):
            with staged_directory(out):
                pass


def test_manifest_records_versions():
    data = manifest(seed=3)
    assert {"evsim", "brian2", "numpy", "python", "git_commit", "git_dirty"} <= set(data)
    assert data["seed"] == 3



def square(x, fail_on=None):
    """Module-level sweep function; records calls in a file to prove cached cells are skipped."""
    if x == fail_on:
        raise RuntimeError(f"cell {x} failed")
    return {"y": x * x}


def counted_square(x, log):
    with open(log, "a") as stream:
        stream.write(f"{x}\n")
    return {"y": x * x}


def test_sweep_resumes_without_redoing_or_losing_cells(tmp_path):
    log = tmp_path / "calls.log"
    grid = {"x": [1, 2, 3, 4], "log": [str(log)]}
    first = run_sweep(counted_square, {"x": [1, 2], "log": [str(log)]}, tmp_path / "cache",
                      progress=False)
    assert list(first["y"]) == [1, 4]
    full = run_sweep(counted_square, grid, tmp_path / "cache", progress=False)
    assert list(full["y"]) == [1, 4, 9, 16]
    assert log.read_text().split() == ["1", "2", "3", "4"]  # 1 and 2 were not recomputed


def test_sweep_failure_keeps_finished_cells(tmp_path):
    with pytest.raises(RuntimeError, match="cell 3 failed"):
        run_sweep(square, {"x": [1, 2, 3], "fail_on": [3]}, tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


def test_sweep_with_two_processes_matches_serial(tmp_path):
    parallel = run_sweep(square, {"x": [1, 2, 3]}, tmp_path / "a", workers=2, progress=False)
    serial = run_sweep(square, {"x": [1, 2, 3]}, tmp_path / "b", progress=False)
    assert parallel.equals(serial)
