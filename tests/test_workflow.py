"""The research workflow: evsim plot from stored tables, evsim run with a TOML grid, Neo."""

import json

import numpy as np
import pandas as pd
import pytest
from brian2 import ms, nA
from typer.testing import CliRunner

from evsim import simulate
from evsim.cli import app

runner = CliRunner()


@pytest.mark.slow  # a toy verify, then every figure again
def test_plot_redraws_every_figure_from_tables(tmp_path):
    out = tmp_path / "run"
    done = runner.invoke(app, ["verify", "--quick", "--out", str(out), "--only",
                               "a2os2a.capacity", "--no-progress"])
    assert done.exit_code == 0, done.output
    claims = json.loads((out / "claims.json").read_text())["claims"]
    figures = sorted(f for c in claims for f in c["figures"])
    for name in figures:
        (out / name).unlink()
    redrawn = runner.invoke(app, ["plot", str(out)])
    assert redrawn.exit_code == 0, redrawn.output
    assert all((out / name).stat().st_size > 1000 for name in figures)
    assert f"wrote {len(figures)} figure files" in redrawn.output


def test_run_with_a_toml_grid_writes_results_and_reuses_cells(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\nname = ["sdsa", "qkta"]\n[fixed]\ntokens = 4\nchannels = 4\n'
                    'heads = 1\nT = 4\n')
    out = tmp_path / "run"
    args = ["run", "mechanism", "--sweep", str(grid), "--out", str(out), "--no-progress"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    table = pd.read_csv(out / "results.csv")
    assert list(table["name"]) == ["sdsa", "qkta"] and (table.mismatches == 0).all()
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert len(cells) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment"] == "mechanism" and manifest["grid"] == {"name": ["sdsa",
                                                                                  "qkta"]}
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and pd.read_csv(out / "results.csv").equals(table)


def test_spike_record_to_neo_and_dataframe():
    neo = pytest.importorskip("neo")
    from circuits import single_lif

    record = simulate(single_lif(), {"drive": [30, 50] * nA}, 100 * ms, trials=2,
                      record_spikes=True)
    block = record.to_neo("lif")
    assert isinstance(block, neo.Block) and len(block.segments) == 2
    for trial, segment in enumerate(block.segments):
        train = segment.spiketrains[0]
        expected = np.asarray(record.spikes["lif"].of(trial, 0) / ms)
        np.testing.assert_allclose(np.asarray(train.rescale("ms")), expected)
        assert len(train) == record.counts["lif"][-1, trial, 0]
    frame = record.to_dataframe()
    assert frame["count"].sum() == record.counts["lif"].sum()


def test_to_neo_needs_spike_times():
    from circuits import single_lif

    record = simulate(single_lif(), {"drive": 30 * nA}, 20 * ms)
    with pytest.raises(ValueError, match="to_neo needs spike times"):
        record.to_neo("lif")


def test_raster_puts_every_spike_on_its_step():
    from circuits import single_lif

    record = simulate(single_lif(), {"drive": [30, 50] * nA}, 100 * ms, trials=2,
                      record_spikes=True)
    grid = record.raster("lif")
    assert grid.shape == (2, 1000, 1)  # dt = 0.1 ms
    np.testing.assert_array_equal(grid.sum(axis=1), record.counts["lif"][-1])
    steps = np.flatnonzero(grid[1, :, 0])
    np.testing.assert_allclose(steps * 0.1, np.asarray(record.spikes["lif"].of(1, 0) / ms))
    with pytest.raises(ValueError, match="raster needs spike times"):
        simulate(single_lif(), {"drive": 30 * nA}, 20 * ms).raster("lif")
