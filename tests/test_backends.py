"""The backend seam: a registered backend runs through simulate(); auto picks the cheapest;
a structure built once and rerun gives exactly the counts and spike times of a fresh build."""

from dataclasses import replace

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA

from circuits import shared_inhibition
from circuits.mechanism_registry import MECHANISMS
from circuits.mechanisms import run_mechanism
from circuits.softmax import score_inputs, stochastic_softmax
from evsim import Circuit, backends, cost, models, runtime, simulate
from evsim.backends import RunResult
from evsim.errors import ValidationError
from same_spikes import assert_same_spikes

DT = 0.1 * ms


def _softmax_run(scores, rate, seed, checkpoints):
    drive, initial = score_inputs("S", scores)
    initial["exc"]["syn_slow"] = initial["exc"]["syn_slow"] + np.log(80) * mV
    return simulate(stochastic_softmax(4, rate=rate, dt=DT), {"scores": drive},
                    checkpoints[-1], trials=len(scores), seed=seed, dt=DT, initial=initial,
                    checkpoints=checkpoints, target="numpy", record_spikes=True)


def test_a_rerun_from_the_cache_equals_a_fresh_build(seed):
    """Interleaved structures, new inputs, initial values, parameters, seeds and checkpoints:
    each rerun of a cached network gives the fresh build's spikes."""
    rng = np.random.default_rng(seed)
    runs = [(rng.normal(0, 1, (3, 4)), 80 * Hz, 1, [5, 10] * ms),
            (rng.normal(0, 1, (5, 4)), 80 * Hz, 2, [10] * ms),  # another structure (trials)
            (rng.normal(0, 1, (3, 4)), 60 * Hz, 3, [5, 10] * ms),
            (rng.normal(0, 1, (3, 4)), 80 * Hz, 1, [2, 4, 6, 8, 10] * ms)]
    runtime.clear_cache()
    cached = [_softmax_run(*run) for run in runs]
    assert [r.metadata["target_choice"]["build_reused"] for r in cached] == [False, False,
                                                                            True, True]
    assert sum(r.counts["exc"][-1].sum() for r in cached) > 0
    for run, record in zip(runs, cached):
        runtime.clear_cache()
        assert_same_spikes(_softmax_run(*run), record)


def _two_layer_run(tau_m, weight, drive, duration, target="numpy"):
    """A LIF layer driving another through all-to-all synapses with a delay, 2 trials; the
    second layer's membrane recorded."""
    circuit = Circuit("two_layers")
    circuit.add_population("a", models.lif(tau_m=tau_m), 3)
    circuit.add_population("b", models.lif(tau_m=tau_m), 2)
    circuit.connect("a", "b", weight, delay=0.5 * ms)
    circuit.add_input("drive", "a")
    return simulate(circuit, {"drive": drive}, duration, trials=2, seed=1, target=target,
                    checkpoints=[20 * ms, duration], record_spikes=True,
                    record_states={"b": "v"})


@pytest.mark.parametrize("target", ["numpy", pytest.param("cython", marks=pytest.mark.slow)])
def test_a_rerun_keeps_the_code_of_the_first_and_follows_new_values(monkeypatch, target):
    """A cached network runs again without generating code (Brian2 would make every code
    object anew), and its runs still follow new shared parameters, weights and inputs, and a
    longer duration: each equals a fresh build's, spikes and membranes (cython copies shared
    constants into its code's locals, and reads them again from their arrays)."""
    import brian2.groups.group

    generated = []
    create = brian2.groups.group.create_runner_codeobj
    monkeypatch.setattr(brian2.groups.group, "create_runner_codeobj",
                        lambda *a, **k: generated.append(1) or create(*a, **k))
    runs = [(10 * ms, 12 * mV, np.array([[25.0, 30.0, 40.0]]) * nA, 60 * ms),
            (25 * ms, 30 * mV, np.array([[21.0, 35.0, 50.0]]) * nA, 150 * ms)]
    runtime.clear_cache()
    first = _two_layer_run(*runs[0], target)
    made_by_first = len(generated)
    again = _two_layer_run(*runs[1], target)
    assert again.metadata["target_choice"]["build_reused"]
    assert made_by_first > 0 and len(generated) == made_by_first
    shared = len(first.states["b"]["v"])  # samples of the first 60 ms
    assert not np.array_equal(first.states["b"]["v"], again.states["b"]["v"][:shared])
    assert again.counts["b"][-1].sum() > 0
    for run, record in zip(runs, (first, again)):
        runtime.clear_cache()
        fresh = _two_layer_run(*run, target)
        assert_same_spikes(fresh, record)
        np.testing.assert_array_equal(fresh.states["b"]["v"], record.states["b"]["v"])


def test_a_changed_code_generation_preference_builds_anew(monkeypatch):
    """A kept network keeps the code made under Brian2's code-generation preferences, so a
    run under other ones builds (and generates) anew; back under the first, it is reused."""
    from brian2 import prefs

    run = (10 * ms, 12 * mV, np.array([[25.0, 30.0, 40.0]]) * nA, 30 * ms)
    runtime.clear_cache()
    _two_layer_run(*run)
    monkeypatch.setitem(prefs, "codegen.loop_invariant_optimisations", False)
    other = _two_layer_run(*run)
    monkeypatch.undo()
    back = _two_layer_run(*run)
    assert not other.metadata["target_choice"]["build_reused"]
    assert back.metadata["target_choice"]["build_reused"]
    assert_same_spikes(other, back)


@pytest.mark.parametrize("target", ["numpy", pytest.param("cpp_standalone",
                                                          marks=pytest.mark.slow)])
def test_delays_and_time_varying_inputs_survive_a_rerun(target, seed):
    """A mechanism (inputs change every step, spikes in flight on delayed synapses) rerun on
    new operands from its cached network or build gives the NumPy reference's spikes."""
    rng = np.random.default_rng(seed)
    spec = MECHANISMS["sdsa"]
    mechanism = spec.build(4, 4, 1, rng)
    facts = []
    for _ in range(3):
        operands = spec.sample_operands((2, 6, 4, 4), 1, rng)
        spikes, record = run_mechanism(mechanism, operands, seed=0, target=target)
        np.testing.assert_array_equal(spikes, spec.reference(mechanism, operands))
        facts.append(record.metadata["target_choice"])
    if target == "numpy":
        assert [f["build_reused"] for f in facts[1:]] == [True, True]
    else:  # one build, compiled by the first run at most
        assert len({f["build"] for f in facts}) == 1
        assert not any(f["compiled_now"] for f in facts[1:])


def test_the_cache_evicts_beyond_its_synapse_budget(monkeypatch):
    runtime.clear_cache()

    def run(trials):
        simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, trials=trials, seed=1,
                 target="numpy")

    run(1)
    per_trial = runtime._synapses(next(iter(runtime._CACHE.values())))
    runtime.clear_cache()
    monkeypatch.setattr(runtime, "CACHE_SYNAPSES", 4 * per_trial)
    for trials in (2, 3, 6):
        run(trials)
    kept = sorted(built.trials for built in runtime._CACHE.values())
    assert kept == [3]  # 2 evicted when 3 came; 6 trials (over budget alone) not kept


class _Stub:
    """A backend that 'simulates' by returning zero counts, with a fixed estimate."""

    def __init__(self, name, estimate):
        self.name, self._estimate, self.ran = name, estimate, 0

    def supports(self, spec):
        return None

    def estimate(self, spec):
        return self._estimate

    def is_cached(self, spec):
        return True

    def run(self, spec):
        self.ran += 1
        counts = {p.name: np.zeros((len(spec.checkpoint_steps), spec.trials, p.size), np.int64)
                  for p in spec.circuit.populations}
        return RunResult(counts, None, {"stub": True})


@pytest.fixture
def stub_backends():
    saved = dict(backends._BACKENDS)
    yield
    backends._BACKENDS.clear()
    backends._BACKENDS.update(saved)


def test_a_registered_backend_runs_by_name_and_auto_picks_the_cheapest(stub_backends):
    cheap = backends.register(_Stub("stub_cheap", 0.0))
    record = simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, trials=2, seed=1)
    assert record.metadata["target"] == "stub_cheap" and cheap.ran == 1
    assert record.metadata["target_choice"]["chosen"] == "stub_cheap"
    backends.register(_Stub("stub_cheap", 1e9))  # now the most expensive: numpy runs
    record = simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, trials=2, seed=1)
    assert record.metadata["target"] == "numpy"
    assert record.metadata["target_choice"]["estimated_s"]["stub_cheap"] == 1e9


class _Compiles(_Stub):
    """A stub that pays a one-off cost for a structure it has not run (a compilation), then
    ``per_run``."""

    def __init__(self, name, one_off, per_run):
        super().__init__(name, per_run)
        self._one_off, self.built = one_off, set()

    def estimate(self, spec):
        return self._estimate + self.one_off(spec)

    def one_off(self, spec):
        return 0.0 if self.is_cached(spec) else self._one_off

    def is_cached(self, spec):
        return spec.plan.key in self.built

    def run(self, spec):
        self.built.add(spec.plan.key)
        return super().run(spec)


def test_auto_compiles_once_a_structures_runs_have_cost_as_much(stub_backends, monkeypatch):
    """Ski rental: the one-off cost is credited with the estimated seconds of the structure's
    earlier runs, so the third run of 1 ms runs compiles (2.6 ms once, then 0.1 ms a run);
    another structure starts with no credit. (Both stubs undercut numpy's 50 ms start.)"""
    monkeypatch.setattr(backends, "_SPENT", {})
    backends.register(_Stub("stub_rent", 1e-3))
    backends.register(_Compiles("stub_buy", 2.5e-3, 1e-4))

    def chosen(trials=2):
        record = simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, trials=trials,
                          seed=1)
        return record.metadata["target"], record.metadata["target_choice"]

    runs = [chosen() for _ in range(4)]
    assert [target for target, _ in runs] == ["stub_rent", "stub_rent", "stub_buy", "stub_buy"]
    assert "earlier_runs_s" not in runs[0][1]
    assert runs[2][1]["earlier_runs_s"] == pytest.approx(2e-3)
    assert chosen(trials=3)[0] == "stub_rent"  # another structure: no credit yet


def test_a_network_that_will_not_be_kept_has_no_one_off_cost_to_credit(monkeypatch):
    """Building a network that is not kept recurs in every run: nothing to credit."""
    spec = backends.RunSpec(shared_inhibition(), {"drive": 30 * nA}, 2, 1, DT, [10 * DT], {},
                            {}, "resets_first", ())
    numpy = backends.get("numpy")
    monkeypatch.setattr(runtime, "_CACHE", type(runtime._CACHE)())
    assert numpy.one_off(spec) == pytest.approx(
        cost.runtime_seconds("numpy", spec, built=False)
        - cost.runtime_seconds("numpy", spec, built=True))
    monkeypatch.setattr(runtime, "CACHE_SYNAPSES", 0)  # nothing is kept
    assert numpy.one_off(spec) == 0.0


def test_unknown_targets_and_non_backends_are_refused(stub_backends):
    with pytest.raises(ValidationError, match="'target' must be one of .'auto', 'numpy'"):
        simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, target="gpu")
    with pytest.raises(ValidationError, match="supports, estimate, is_cached and run"):
        backends.register(object())


def test_using_sets_the_default_target_and_tells_observers_of_every_run(stub_backends):
    """A block's target applies to runs without one; a run's own target wins; observers of
    enclosing blocks see every run unless a block hides them; the default returns after."""
    stub = backends.register(_Stub("stub_block", 1e9))  # auto would never choose it
    outer, inner = [], []

    def run(**options):
        return simulate(shared_inhibition(), {"drive": 30 * nA}, 5 * ms, seed=1, **options)

    with backends.using("stub_block", on_run=outer.append):
        assert run().metadata["target"] == "stub_block" and stub.ran == 1
        assert run(target="numpy").metadata["requested"] == "numpy"
        with backends.using("numpy", on_run=inner.append):
            run()
        with backends.using("numpy", observed=False):
            run()
    assert [r.metadata["target"] for r in outer] == ["stub_block", "numpy", "numpy"]
    assert [r.metadata["target"] for r in inner] == ["numpy"]
    assert run().metadata["requested"] == "auto" and stub.ran == 1
    with pytest.raises(ValidationError, match="'target' must be one of"):
        with backends.using("gpu"):
            pass


class _WithoutRasters(_Stub):
    """numpy under another name that does not record rasters (simulate asks spike times)."""

    def __init__(self):
        super().__init__("stub_without_rasters", 1e9)
        self.asked = []

    def run(self, spec):
        self.asked.append((spec.record_spikes, spec.record_rasters))
        return runtime.NUMPY.run(spec)


@pytest.mark.parametrize("checkpoints, in_one_run", [(None, True), ([3, 7, 12] * ms, True),
                                                     ([3, 7, 12] * ms, False)])
def test_rasters_equal_the_spike_times_on_the_grid_on_every_backend(seed, stub_backends,
                                                                     monkeypatch, checkpoints,
                                                                     in_one_run):
    """record_rasters gives the raster of the spike times (numpy records it step by step, in
    one run or one Network.run per checkpoint, and counts a raster's spikes from it); a backend
    without rasters is asked for spike times, and the record keeps only the spike times asked
    for."""
    monkeypatch.setattr(cost, "snapshot_in_one_run", lambda *_: in_one_run)
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1, (3, 4))
    drive, initial = score_inputs("S", scores)
    circuit = stochastic_softmax(4, rate=80 * Hz, dt=DT)

    def run(**options):
        return simulate(circuit, {"scores": drive}, 12 * ms, trials=3, seed=seed, dt=DT,
                        initial=initial, checkpoints=checkpoints, **options)

    times = run(record_spikes=True, target="numpy")
    rasters = run(record_rasters=True, target="numpy")
    stub = backends.register(_WithoutRasters())
    converted = run(record_rasters=True, record_spikes=["exc"], target=stub.name)
    assert stub.asked == [(tuple(times.spikes), ())]
    assert rasters.spikes is None and list(converted.spikes) == ["exc"]
    assert sum(times.counts[p][-1].sum() for p in times.counts) > 0
    for population in times.spikes:
        expected = times.raster(population)
        assert expected.shape == (3, 120, times.counts[population].shape[2])
        np.testing.assert_array_equal(rasters.raster(population), expected)
        np.testing.assert_array_equal(converted.raster(population), expected)
        np.testing.assert_array_equal(expected.sum(axis=1), times.counts[population][-1])
        # counted from the raster (its counter switched off for the run): the same counts
        np.testing.assert_array_equal(rasters.counts[population], times.counts[population])
    assert all(monitor.active for built in runtime._CACHE.values()
               for monitor in built.counters.values())
    raster_run = next(b for b in runtime._CACHE.values() if not b.plan.record_spikes)
    assert all(monitor.count[:].sum() == 0 for monitor in raster_run.counters.values())


def test_the_spike_time_run_of_a_raster_run_has_the_plan_planned_afresh():
    """A raster run's spike-time twin derives its plan from the run's own (not planned again):
    the same groups, values and structure as planning the twin from scratch."""
    spec = backends.RunSpec(shared_inhibition(), {"drive": 30 * nA}, 2, 1, DT, [10 * DT], {},
                            {}, "resets_first", ("exc",), record_rasters=("inh",))
    instead = spec.spike_times_instead
    fresh = replace(instead)  # the same run, its plan not yet made
    assert "plan" in instead.__dict__ and "plan" not in fresh.__dict__
    assert instead.plan.record_spikes == fresh.plan.record_spikes == ("exc", "inh")
    assert instead.plan.structure == fresh.plan.structure
    assert instead.plan.key == fresh.plan.key != spec.plan.key
    assert [g.name for g in instead.plan.groups] == [g.name for g in fresh.plan.groups]
    assert [(o, v) for o, v, _ in instead.plan.values] == [(o, v) for o, v, _ in fresh.plan.values]


def test_an_unknown_raster_population_is_refused():
    circuit = stochastic_softmax(4, rate=80 * Hz, dt=DT)
    with pytest.raises(ValidationError, match=r"\[.nope.\] in .record_rasters"):
        simulate(circuit, {"scores": 0 * nA}, 1 * ms, dt=DT, record_rasters=["nope"])


def test_a_kept_networks_runs_make_no_full_collection(monkeypatch):
    """Brian2's Network.run starts with gc.collect() (to warn about objects left out of a
    network); evsim's runs skip it and give Brian2's network module its gc back afterwards.
    A network kept in the cache makes no collection at all in its runs."""
    import gc

    from brian2.core import network

    calls = []
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or real_collect(*a))
    runtime.clear_cache()
    for _ in range(2):
        _softmax_run(np.zeros((2, 4)), 80 * Hz, 1, [5] * ms)
    assert calls == [] and network.gc is gc
    network.Network().run(0 * ms)  # outside evsim's runs Brian2 collects as before
    assert calls == [()]
