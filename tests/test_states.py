"""State recording: v of an exactly integrated LIF against its analytic trajectory, chosen
neurons and trials, subsampling, every target, a reused network, and one clear error per
bad request."""

import numpy as np
import pytest
from brian2 import Hz, Mohm, mV, ms, nA, second

from evsim import Circuit, ValidationError, models, simulate
from evsim.record import SpikeTrains
from evsim.states import STATE_BYTES_LIMIT

TAU_MS, DT_MS = 20.0, 0.1
DRIVES_NA = np.array([[5.0, 10.0, 15.0], [2.0, 4.0, 6.0]])  # per trial and neuron, R I < V_th


def lif_circuit():
    c = Circuit("states")
    c.add_population("p", models.lif(tau_m=TAU_MS * ms, v_th=20 * mV, resistance=1 * Mohm), 3)
    c.add_input("drive", "p")
    return c


def analytic_v(times_ms, drive_na):
    """From v = 0 under constant R I below threshold: v(t) = R I (1 - exp(-t / tau)) (mV)."""
    return drive_na * (1 - np.exp(-np.asarray(times_ms)[:, None, None] / TAU_MS))


def record(target="numpy", **options):
    return simulate(lif_circuit(), {"drive": DRIVES_NA * nA}, 30 * ms, trials=2, target=target,
                    dt=DT_MS * ms, **options)


@pytest.mark.parametrize("target", ["numpy", pytest.param("cpp_standalone",
                                                          marks=pytest.mark.slow)])
def test_recorded_v_follows_the_analytic_trajectory(target):
    out = record(target, record_states={"p": "v"})
    v, times = out.states["p"]["v"], out.state_times
    assert v.shape == (300, 2, 3) and np.allclose(times / ms, np.arange(300) * DT_MS)
    assert np.allclose(v / mV, analytic_v(times / ms, DRIVES_NA[None]), rtol=1e-9, atol=1e-12)
    assert out.metadata["state_bytes"] == 8 * 300 * 2 * 3


def test_chosen_neurons_trials_and_interval_are_slices_of_the_full_record():
    full = record(record_states={"p": "v"}).states["p"]["v"]
    part = record(record_states={"p": {"variables": ("v",), "neurons": [2, 0], "trials": [1]}},
                  record_every=1 * ms)
    assert part.states["p"]["v"].shape == (30, 1, 2)
    assert np.array_equal(part.states["p"]["v"], full[::10][:, [1]][:, :, [0, 2]])
    assert np.allclose(part.state_times / ms, np.arange(30))


def test_a_reused_network_records_its_own_run():
    first = record(record_states={"p": "v"})
    other = simulate(lif_circuit(), {"drive": 1.25 * DRIVES_NA * nA}, 30 * ms, trials=2,
                     target="numpy", record_states={"p": "v"})
    again = record(record_states={"p": "v"})
    assert again.metadata["target_choice"]["build_reused"]
    assert np.array_equal(first.states["p"]["v"], again.states["p"]["v"])
    assert np.allclose(other.states["p"]["v"] / mV, 1.25 * first.states["p"]["v"] / mV)


def test_recording_does_not_change_the_spikes():
    drive = {"drive": np.array([25.0, 30.0, 40.0]) * nA}
    plain = simulate(lif_circuit(), drive, 100 * ms, target="numpy", seed=1)
    recorded = simulate(lif_circuit(), drive, 100 * ms, target="numpy", seed=1,
                        record_states={"p": "v"})
    assert plain.counts["p"][-1, 0].tolist() == recorded.counts["p"][-1, 0].tolist()
    assert recorded.counts["p"][-1].sum() > 0
    # v never sits above threshold at the start of a step: every crossing was reset
    assert np.all(recorded.states["p"]["v"] <= 20 * mV)


@pytest.mark.parametrize("request_, every, words", [
    ({"q": "v"}, None, "unknown population"),
    ({"p": "tau_m"}, None, "must name state variables"),
    ({"p": ()}, None, "must name state variables"),
    ({"p": {"variables": "v", "neurons": [3]}}, None, "indices in [0, 2]"),
    ({"p": {"variables": "v", "trials": [0.5]}}, None, "indices in [0, 1]"),
    ({"p": {"variables": "v", "cells": [0]}}, None, "must be variable name(s) or a dict"),
    (["v"], None, "must be a dict"),
    ({"p": "v"}, 0.15 * ms, "multiple of dt"),
    ({"p": "v"}, 1 * nA, "units of"),
])
def test_a_bad_request_is_one_clear_error(request_, every, words):
    with pytest.raises(ValidationError) as error:
        record(record_states=request_, record_every=every)
    assert words in str(error.value)


def test_a_recording_beyond_the_memory_limit_is_refused_with_its_size(monkeypatch):
    monkeypatch.setattr("evsim.states.STATE_BYTES_LIMIT", 1000)
    with pytest.raises(ValidationError, match=r"would hold 0\.0 GB .*record_every"):
        record(record_states={"p": "v"})
    assert STATE_BYTES_LIMIT == 2 * 1024**3
    assert record(record_states={"p": "v"}, record_every=30 * ms).states["p"]["v"].shape == (
        1, 2, 3)


def test_states_of_a_discrete_model_are_dimensionless():
    c = Circuit("discrete")
    c.add_population("d", models.discrete_lif(tau=2.0), 2)
    c.add_input("x", "d")
    out = simulate(c, {"x": np.array([0.5, 1.5])}, 4 * second / 1000, dt=1 * ms, target="numpy",
                   record_states={"d": "v"})
    v = np.asarray(out.states["d"]["v"])[:, 0]
    # H = V/2 + X/2 from V = 0: 0, then X/2, then 3X/4 (or reset after a spike at H >= 1)
    assert np.allclose(v[:3, 0], [0, 0.25, 0.375]) and np.allclose(v[:2, 1], [0, 0.75])


def test_spike_trains_round_trip_through_a_raster_and_rates_add_up_to_the_counts():
    c = Circuit("poisson")
    c.add_population("s", models.poisson_source(), 4)
    c.add_input("rate", "s")
    out = simulate(c, {"rate": 200 * Hz}, 100 * ms, trials=3, seed=2, target="numpy",
                   record_spikes=True)
    raster = out.raster("s")
    trains = SpikeTrains.from_raster(raster, out.metadata["dt_s"] * second)
    assert np.array_equal(trains.to_raster(3, 1000, 4, 0.1 * ms), raster)
    assert np.array_equal(trains.trial, out.spikes["s"].trial)
    assert np.array_equal(trains.neuron, out.spikes["s"].neuron)
    assert np.allclose(trains.time / ms, out.spikes["s"].time / ms)
    assert out.spike_table("s").equals(out.spike_table(["s"]))
    rate = out.population_rate("s", bin=10 * ms)
    assert rate.shape == (3, 10)
    per_bin = raster.reshape(3, 10, 100, 4).sum(axis=(2, 3))  # the dense reference
    assert np.allclose(np.asarray(rate * 10 * ms) * 4, per_bin)
    assert np.allclose(rate.sum(axis=1) * 10 * ms * 4, out.counts["s"][-1].sum(axis=1))
    assert np.allclose(out.population_rate("s", bin=100 * ms)[:, 0] / Hz,
                       out.counts["s"][-1].mean(axis=1) / 0.1)
    with pytest.raises(ValidationError, match="'bin' must be a positive multiple of dt"):
        out.population_rate("s", bin=0.15 * ms)
    with pytest.raises(ValidationError, match="no longer than the run"):
        out.population_rate("s", bin=200 * ms)
    with pytest.raises(ValidationError, match="'bin' must be a quantity in units of"):
        out.population_rate("s", bin=1 * nA)
    with pytest.raises(ValidationError, match="bool array"):
        SpikeTrains.from_raster(raster.astype(int), 0.1 * ms)
