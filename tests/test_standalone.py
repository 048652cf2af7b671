"""Compiled runs from a cached build: one compilation per circuit structure, reused for new
inputs, initial values, parameters, weights, seeds and checkpoints, with the counts (and spike
times) of the numpy target for the same seed. Each compiled build costs seconds: the default
run keeps one test per behaviour, variants of circuits and builds run in test-slow."""

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA

from circuits import shared_inhibition
from circuits.softmax import score_inputs, stochastic_softmax, windowed_softmax
from evsim import backends, cost, simulate, standalone
from evsim.backends import RunSpec

DT = 0.1 * ms


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Each test its own build cache (tests assert compiled_now), sharing the session's
    precompiled header (compiled once, in the session's cache)."""
    header = standalone.precompiled_header()
    standalone._wait_for(header)
    builds = tmp_path / "cache" / "standalone"
    builds.mkdir(parents=True)
    (builds / header.parent.name).symlink_to(header.parent)
    monkeypatch.setenv("EVSIM_CACHE_DIR", str(tmp_path / "cache"))


def firing_inputs(scores):
    """Drive and a start with the slow trace at log(80) (any fixed value serves these engineering
    tests; this one makes the circuit fire from the first step)."""
    drive, initial = score_inputs("S", scores)
    initial["exc"]["syn_slow"] = initial["exc"]["syn_slow"] + np.log(80) * mV
    return drive, initial


def _both(rate, scores, *, seed, checkpoints, circuit=None):
    """Counts on numpy and cpp_standalone (identical); the compiled run's build facts."""
    circuit = circuit or stochastic_softmax(4, rate=rate, dt=DT)
    drive, initial = firing_inputs(scores)
    options = dict(inputs={"scores": drive}, duration=checkpoints[-1], trials=len(scores),
                   seed=seed, dt=DT, initial=initial, checkpoints=checkpoints)
    reference = simulate(circuit, target="numpy", **options)
    compiled = simulate(circuit, target="cpp_standalone", **options)
    assert reference.counts["exc"][-1].sum() > 0
    for name in reference.counts:
        np.testing.assert_array_equal(compiled.counts[name], reference.counts[name])
    return compiled.metadata["target_choice"]


@pytest.mark.slow  # compiles; test_spike_times_and_weights_match_numpy compiles in the default run
def test_one_build_serves_new_values_seeds_and_checkpoints(seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1, (3, 4))
    first = _both(80 * Hz, scores, seed=1, checkpoints=[5, 10] * ms)
    assert first["compiled_now"]
    variants = [dict(rate=80 * Hz, scores=scores, seed=2, checkpoints=[5, 10] * ms),
                dict(rate=80 * Hz, scores=rng.normal(0, 1, (3, 4)), seed=1,
                     checkpoints=[5, 10] * ms),
                dict(rate=60 * Hz, scores=scores, seed=1,
                     checkpoints=[5, 10] * ms),
                dict(rate=80 * Hz, scores=scores, seed=1, checkpoints=[3, 7, 12, 20] * ms)]
    for variant in variants:
        facts = _both(variant.pop("rate"), variant.pop("scores"), **variant)
        assert not facts["compiled_now"] and facts["build"] == first["build"]


@pytest.mark.slow
def test_a_new_structure_gets_its_own_build(seed):
    scores = np.random.default_rng(seed).normal(0, 1, (3, 4))
    small = _both(80 * Hz, scores, seed=1, checkpoints=[5] * ms)
    more_trials = _both(80 * Hz, np.vstack([scores, scores]), seed=1, checkpoints=[5] * ms)
    assert more_trials["build"] != small["build"]


def test_spike_times_and_weights_match_numpy(seed):
    drives = np.random.default_rng(seed).uniform(20, 60, (4, 16)) * nA
    options = dict(inputs={"drive": drives}, duration=60 * ms, trials=4, seed=seed,
                   checkpoints=[20, 60] * ms, record_spikes=True)
    builds = set()
    for weight in (5, 9):  # weights are run arguments: one build
        reference = simulate(shared_inhibition(w_inhibit=weight * mV), target="numpy", **options)
        compiled = simulate(shared_inhibition(w_inhibit=weight * mV), target="cpp_standalone",
                            **options)
        builds.add(compiled.metadata["target_choice"]["build"])
        for name, train in reference.spikes.items():
            other = compiled.spikes[name]
            np.testing.assert_array_equal(other.trial, train.trial)
            np.testing.assert_array_equal(other.neuron, train.neuron)
            np.testing.assert_allclose(np.asarray(other.time / ms), np.asarray(train.time / ms))
        np.testing.assert_array_equal(compiled.counts["exc"], reference.counts["exc"])
    assert len(builds) == 1


def test_auto_runs_small_work_on_numpy_and_says_why():
    record = simulate(shared_inhibition(), {"drive": 30 * nA}, 10 * ms, trials=2, seed=1)
    assert record.metadata["target"] == "numpy"
    choice = record.metadata["target_choice"]
    assert choice["requested"] == "auto" and choice["chosen"] == "numpy"
    assert choice["estimated_s"]["numpy"] < min(choice["estimated_s"].values()) + 1e-9


def _spec(circuit, trials, steps):
    return RunSpec(circuit, {"drive": 30 * nA}, trials, 1, DT, [steps] * DT, {}, {},
                   "resets_first", False)


def test_target_choice_can_go_either_way():
    circuit = shared_inhibition()
    small, large = _spec(circuit, 2, 100), _spec(circuit, 400, 200_000)
    assert cost.compiled_seconds(small, built=False) > cost.runtime_seconds("numpy", small, False)
    assert cost.compiled_seconds(large, built=False) < cost.runtime_seconds("numpy", large, True)
    # a cached build tips a run that a compilation would not pay for
    between = _spec(circuit, 40, 20_000)
    numpy_s = cost.runtime_seconds("numpy", between, True)
    assert cost.compiled_seconds(between, built=True) < numpy_s < cost.compiled_seconds(
        between, built=False)


@pytest.mark.slow
def test_an_unfinished_build_is_rebuilt(seed):
    """A build folder without its manifest (a crash while compiling) is compiled afresh."""
    scores = np.random.default_rng(seed).normal(0, 1, (2, 4))
    facts = _both(80 * Hz, scores, seed=1, checkpoints=[4] * ms)
    build = Path(facts["build"])
    (build / "evsim_build.json").unlink()
    (build / "main").write_text("not a program")
    again = _both(80 * Hz, scores, seed=1, checkpoints=[4] * ms)
    assert again["compiled_now"] and again["build"] == facts["build"]


@pytest.mark.slow
def test_concurrent_processes_share_one_build(seed, tmp_path):
    """Two processes asking for the same new build: one compiles, the other waits and reuses."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        facts = list(pool.map(_compiled_counts, [str(tmp_path)] * 2, [seed] * 2))
    assert sorted(f["compiled_now"] for f, _ in facts) == [False, True]
    assert facts[0][1] == facts[1][1]


def _compiled_counts(cache: str, seed: int):
    os.environ["EVSIM_CACHE_DIR"] = cache
    scores = np.random.default_rng(seed).normal(0, 1, (2, 4))
    drive, initial = firing_inputs(scores)
    record = simulate(stochastic_softmax(4, dt=DT), {"scores": drive}, 5 * ms, trials=2, seed=1,
                      dt=DT, initial=initial, target="cpp_standalone")
    return record.metadata["target_choice"], record.counts["exc"].tolist()


@pytest.mark.slow
def test_a_thousand_one_step_checkpoints_do_not_drift(seed):
    """The binary runs to absolute checkpoint times (summed segment lengths would drift)."""
    scores = np.random.default_rng(seed).normal(0, 1, (2, 4))
    _both(80 * Hz, scores, seed=1, checkpoints=np.arange(1, 1201) * DT)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["refractory", "shunting", "window"])
def test_escape_noise_variants_match_numpy(variant, seed):
    """The firing probability computed in the step code: refractory periods longer than a
    step, shunting inhibition and the windowed circuit give numpy's counts."""
    scores = np.random.default_rng(seed).normal(0, 1, (3, 4))
    if variant == "window":
        _both(100 * Hz, scores, seed=seed, checkpoints=[100, 300] * ms,
              circuit=windowed_softmax(4, dt=DT))
        return
    circuit = stochastic_softmax(4, dt=DT, **({"t_ref": 0.5 * ms} if variant == "refractory"
                                            else {"inhibition": "shunting"}))
    _both(80 * Hz, scores, seed=seed, checkpoints=[10, 30] * ms, circuit=circuit)


@pytest.mark.slow
def test_no_seed_gives_fresh_random_numbers():
    drive, initial = firing_inputs(np.zeros((4, 4)))
    counts = [simulate(stochastic_softmax(4, dt=DT), {"scores": drive}, 50 * ms, trials=4,
                       dt=DT, initial=initial, target="cpp_standalone").counts["exc"]
              for _ in range(2)]
    assert counts[0].sum() > 0 and not np.array_equal(counts[0], counts[1])


def _prefer(monkeypatch, name):
    """Make ``auto`` estimate ``name`` the cheapest backend (no one-off cost to credit)."""
    for backend in (backends.get(n) for n in backends.registered()):
        monkeypatch.setattr(backend, "estimate", lambda spec, mine=backend.name == name:
                            0.0 if mine else 1.0)
        monkeypatch.setattr(backend, "one_off", lambda spec: 0.0, raising=False)


@pytest.mark.slow  # compiles; test_spike_times_and_weights_match_numpy compiles by default
def test_auto_runs_compiled_when_the_estimate_says_so(monkeypatch):
    _prefer(monkeypatch, "cpp_standalone")
    record = simulate(shared_inhibition(), {"drive": 30 * nA}, 10 * ms, trials=2, seed=1)
    assert record.metadata["target"] == "cpp_standalone"
    assert record.metadata["target_choice"]["requested"] == "auto"


def test_auto_falls_back_to_numpy_without_a_working_compiler(monkeypatch):
    _prefer(monkeypatch, "cpp_standalone")
    monkeypatch.setattr(cost, "_failure", [])
    options = dict(inputs={"drive": 30 * nA}, duration=10 * ms, trials=2, seed=1)
    monkeypatch.setenv("CXX", "no-such-compiler")
    record = simulate(shared_inhibition(), **options)
    assert record.metadata["target"] == "numpy"
    assert "not on the PATH" in record.metadata["target_choice"]["left_out"]["cpp_standalone"]
    monkeypatch.setenv("CXX", "false")  # found, but fails
    with pytest.warns(RuntimeWarning, match="cpp_standalone failed"):
        record = simulate(shared_inhibition(w_inhibit=4 * mV), **options)
    assert record.metadata["target"] == "numpy"
    again = simulate(shared_inhibition(w_inhibit=2 * mV), **options)  # auto stops trying
    assert "compiled run failed" in again.metadata["target_choice"]["left_out"]["cpp_standalone"]
    with pytest.raises(RuntimeError, match="precompiling headers"):
        simulate(shared_inhibition(w_inhibit=3 * mV), target="cpp_standalone", **options)


@pytest.mark.slow  # compiles
def test_a_raster_run_is_cached_as_the_spike_time_build_it_runs():
    """cpp_standalone runs rasters as spike times (another build than the raster spec's own
    structure): after one such run, the raster spec counts as cached, with nothing to
    compile."""
    circuit = shared_inhibition()
    names = tuple(p.name for p in circuit.populations)
    spec = RunSpec(circuit, {"drive": 30 * nA}, 2, 1, DT, [10 * DT], {}, {}, "resets_first", (),
                   record_rasters=names)
    compiled = backends.get("cpp_standalone")
    assert not compiled.is_cached(spec) and compiled.one_off(spec) > 0
    compiled.run(spec.spike_times_instead)
    assert compiled.is_cached(spec) and compiled.one_off(spec) == 0
