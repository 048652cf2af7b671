"""NEST as a second backend (evsim.nest_backend): the same spikes as Brian2 on delta-LIF
circuits, each semantic mapping pinned (raw NEST without it differs), clear refusals.

Tests that run NEST skip when it is not installed (extra ``nest``)."""

import dataclasses
import json

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA

from analyses.verify import verify
from circuits import shared_inhibition, single_lif
from evsim import Circuit, models, nest_backend, simulate
from evsim.errors import UnsupportedRun, ValidationError
from evsim.sweep import run_sweep

DT = 0.1 * ms


@pytest.fixture
def nest():
    return pytest.importorskip("nest")


def _steps(record, population):
    train = record.spikes[population]
    return sorted(zip(train.trial.tolist(), train.neuron.tolist(), train.steps(DT).tolist()))


def _random_circuit(rng) -> tuple[Circuit, dict, dict]:
    """Three LIF populations (t_ref 0, 1 and 2 ms) with random signed weights, extra delays of
    0-3 steps and recurrent wiring; per-trial drives and initial membranes."""
    circuit = Circuit("random_lif")
    sizes = {"a": 6, "b": 5, "c": 4}
    for (name, size), t_ref in zip(sizes.items(), (0, 1, 2)):
        circuit.add_population(name, models.lif(t_ref=t_ref * ms, tau_m=rng.uniform(10, 30) * ms),
                               size)
        circuit.add_input(f"drive_{name}", name)
    for source, target in (("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("b", "b")):
        weights = rng.normal(0, 4, (sizes[source], sizes[target]))
        for sign, part in (("excitatory", np.maximum(weights, 0)),
                           ("inhibitory", np.maximum(-weights, 0))):
            circuit.connect(source, target, part * mV, connectivity="matrix", sign=sign,
                            delay=int(rng.integers(0, 4)) * DT,
                            name=f"{source}_{target}_{sign}")
    trials = 4
    inputs = {f"drive_{name}": rng.uniform(15, 40, (trials, size)) * nA
              for name, size in sizes.items()}
    initial = {name: {"v": rng.uniform(0, 20, (trials, size)) * mV}
               for name, size in sizes.items()}
    return circuit, inputs, initial


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lif_circuits_spike_alike_on_nest_and_brian2(nest, seed):
    """Refractory and non-refractory populations, excitation and inhibition, extra delays:
    every spike at the same step, counts and synaptic events equal."""
    circuit, inputs, initial = _random_circuit(np.random.default_rng(seed))
    runs = {target: simulate(circuit, inputs, 100 * ms, trials=4, seed=seed, initial=initial,
                             record_spikes=True, checkpoints=[50, 100] * ms, target=target)
            for target in ("numpy", "nest")}
    brian, other = runs["numpy"], runs["nest"]
    assert other.metadata["target"] == "nest" and other.metadata["seed"] == seed
    assert all(c[-1].sum() >= 10 for c in brian.counts.values())  # every population fires
    for population in brian.counts:
        np.testing.assert_array_equal(other.counts[population], brian.counts[population])
        assert _steps(other, population) == _steps(brian, population)
    for projection, events in brian.synaptic_events.items():
        np.testing.assert_array_equal(other.synaptic_events[projection], events)


def test_shared_inhibition_on_both_backends_over_500_ms_of_20_trials(nest):
    """The engine issue's bar: per-neuron counts within +-1, totals within 1 %."""
    drive = np.random.default_rng(1).uniform(20, 40, (20, 16)) * nA
    counts = {target: simulate(shared_inhibition(), {"drive": drive}, 500 * ms, trials=20,
                               seed=1, target=target).counts for target in ("numpy", "nest")}
    for population in ("exc", "inh"):
        brian, other = counts["numpy"][population][-1], counts["nest"][population][-1]
        assert brian.sum() > 100
        assert np.abs(other - brian).max() <= 1
        assert abs(int(other.sum()) - int(brian.sum())) <= 0.01 * brian.sum()


def _raw_nest(nest, params: dict, simulate_ms: float, weight=None):
    """One iaf_psc_delta (plus a sender firing once at 1 ms with ``weight``): its spike times."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = float(DT / ms)
    neuron = nest.Create("iaf_psc_delta", params={"E_L": 0.0, "V_m": 0.0, **params})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neuron, recorder)
    if weight is not None:
        sender = nest.Create("spike_generator", params={"spike_times": [1.0]})
        nest.Connect(sender, neuron, syn_spec={"weight": weight, "delay": float(DT / ms)})
    nest.Simulate(simulate_ms)
    return np.asarray(recorder.get("events")["times"])


def test_nest_stamps_at_the_end_of_the_step_and_clamps_one_step_longer(nest):
    """Raw NEST: a spike is stamped one step after the step evsim reports, and with evsim's
    t_ref and v_reset each interval is one step longer than Brian2's, which the backend's reset
    value removes (the constant-drive ISIs then agree)."""
    circuit = single_lif(models.lif(t_ref=2 * ms))
    brian = simulate(circuit, {"drive": 30 * nA}, 30 * ms, record_spikes=True, target="numpy")
    steps = brian.spikes["lif"].steps(DT)
    raw = _raw_nest(nest, {"V_th": 20.0, "V_reset": 0.0, "tau_m": 20.0, "C_m": 20000.0,
                           "t_ref": 2.0, "I_e": 30000.0}, 30.0)
    raw_steps = np.rint(raw / float(DT / ms)).astype(int)
    assert raw_steps[0] == steps[0] + 1  # the same crossing, stamped at the step's end
    assert np.all(np.diff(raw_steps) == np.diff(steps)[:len(raw_steps) - 1] + 1)
    mapped = simulate(circuit, {"drive": 30 * nA}, 30 * ms, record_spikes=True, target="nest")
    np.testing.assert_array_equal(mapped.spikes["lif"].steps(DT), steps)


def test_a_delta_input_is_decayed_one_step_before_the_threshold_test(nest):
    """w = 20.05 mV on a neuron at rest with v_th = 20 mV: Brian2 decays it over one step
    (19.95 mV, no spike); raw NEST adds it after the decay (a spike); the backend's weight
    w exp(-dt/tau_m) gives Brian2's answer."""
    circuit = Circuit("pair")
    circuit.add_population("a", models.lif(), 1)
    circuit.add_population("b", models.lif(), 1)
    circuit.add_input("drive_a", "a")
    circuit.add_input("drive_b", "b")
    circuit.connect("a", "b", 20.05 * mV)
    inputs = {"drive_a": 30 * nA, "drive_b": 0 * nA}
    runs = {target: simulate(circuit, inputs, 25 * ms, target=target).counts
            for target in ("numpy", "nest")}
    assert runs["numpy"]["a"][-1, 0, 0] >= 1 and runs["numpy"]["b"][-1, 0, 0] == 0
    assert runs["nest"]["b"][-1, 0, 0] == 0
    raw = _raw_nest(nest, {"V_th": 20.0, "V_reset": 0.0, "tau_m": 20.0, "C_m": 20000.0},
                    5.0, weight=20.05)
    assert len(raw) == 1  # NEST's own convention fires


def test_auto_never_picks_nest():
    circuit = single_lif(models.lif())
    record = simulate(circuit, {"drive": 30 * nA}, 5 * ms)
    assert record.metadata["target"] != "nest"
    choice = record.metadata["target_choice"]
    assert choice.get("estimated_s", {}).get("nest", np.inf) == np.inf


def test_without_nest_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(nest_backend.importlib.util, "find_spec", lambda name: None)
    circuit = single_lif(models.lif())
    with pytest.raises(UnsupportedRun, match=r"NEST is not installed \(pip install -e '.\[nest\]'\)"):
        simulate(circuit, {"drive": 30 * nA}, 5 * ms, target="nest")


@pytest.mark.parametrize("case, match", [
    ("poisson", r"population 'lif' uses model 'poisson_source' \(None integration\)"),
    ("euler", r"uses model 'lif' \(euler integration\), and NEST runs only exact lif"),
    ("subtract", r"uses model 'lif' \(exact integration\)"),
    ("current synapse", r"uses model 'lif' \(exact integration\)"),
    ("time-varying", "inputs that change every step are not mapped to NEST"),
    ("states", "record_states is not mapped to NEST"),
    ("dt", r"dt must be a multiple of NEST's tic, 0.001 ms; got 0.0125 ms"),
])
def test_what_nest_cannot_run_is_refused_with_one_error(nest, case, match):
    model = {"poisson": models.poisson_source(),
             "euler": dataclasses.replace(models.lif(), method="euler"),
             "subtract": models.lif(reset="subtract"),
             "current synapse": models.lif(synapse="current")}.get(case, models.lif())
    drive = 10 * Hz if case == "poisson" else 30 * nA
    if case == "time-varying":
        drive = np.full((50, 1, 1), 30.0) * nA
    options = {"states": {"record_states": {"lif": "v"}},
               "dt": {"dt": 0.0125 * ms}}.get(case, {})
    with pytest.raises(UnsupportedRun, match=match):
        simulate(single_lif(model), {"drive": drive}, 5 * ms, target="nest", **options)


@pytest.mark.parametrize("parameters, match", [
    (dict(t_ref=0.15 * ms), r"t_ref must be a multiple of dt = 0.1 ms"),
    (dict(v_th=0.1 * mV), "one step from v_reset must stay below v_th"),
])
def test_parameters_nest_cannot_map_are_refused(nest, parameters, match):
    circuit = single_lif(models.lif(**parameters))
    with pytest.raises(ValidationError, match=match):
        simulate(circuit, {"drive": 30 * nA}, 5 * ms, target="nest")


def test_lif_claim_on_nest_keeps_its_verdict_and_records_where_the_control_ran(nest, tmp_path):
    """lif.fi_curve on --target nest: the exact runs on NEST, the forward-Euler control on numpy
    (NEST integrates only exactly), both recorded; the verdict and estimate equal numpy's."""
    runs = {}
    for target in ("numpy", "nest"):
        verify(tmp_path / target, scale="toy", only=["lif.fi_curve"], target=target,
               progress=False)
        runs[target] = json.loads((tmp_path / target / "claims.json").read_text())["claims"][0]
    assert runs["nest"]["target"] == "nest, numpy"
    assert "NEST runs only exact lif" in runs["nest"]["target_fallbacks"]["numpy"]
    assert runs["nest"]["verdict"] == runs["numpy"]["verdict"]
    assert runs["nest"]["estimate"] == runs["numpy"]["estimate"]
    assert "target_fallbacks" not in runs["numpy"]


def test_half_step_delays_and_exact_ties_go_the_same_way_on_both(nest):
    """Extra delays of 1.5, 2.5, 14.5 and 19.5 steps round half up on both; a membrane held
    exactly at v_th (v = R I = v_th) fires on neither (evsim fires at v > v_th)."""
    for extra in (0.15, 0.25, 1.45, 1.95):
        circuit = Circuit("delayed")
        circuit.add_population("s", models.lif(t_ref=100 * ms), 1)
        circuit.add_population("r", models.lif(t_ref=0 * ms), 1)
        circuit.add_input("drive", "s")
        circuit.connect("s", "r", 25 * mV, delay=extra * ms)
        steps = [simulate(circuit, {"drive": 0 * nA}, 5 * ms, initial={"s": {"v": 30 * mV}},
                          record_spikes=True, target=target).spikes["r"].steps(DT)
                 for target in ("numpy", "nest")]
        assert len(steps[0]) == 1 and np.array_equal(*steps), extra
    tie = [simulate(single_lif(), {"drive": 20 * nA}, 10 * ms, initial={"lif": {"v": 20 * mV}},
                    target=target).counts["lif"].sum() for target in ("numpy", "nest")]
    assert tie == [0, 0]


def test_a_projection_without_synapses_runs_and_counts_no_events(lif_target):
    """An all-zero weight matrix makes no synapses: both backends run, its events are 0."""
    circuit = Circuit("empty")
    circuit.add_population("a", models.lif(), 2)
    circuit.add_population("b", models.lif(), 2)
    circuit.add_input("drive", "a")
    circuit.connect("a", "b", np.zeros((2, 2)) * mV, connectivity="matrix", name="none")
    circuit.connect("a", "b", 3 * mV, delay=0.2 * ms, name="some")
    record = simulate(circuit, {"drive": 30 * nA}, 30 * ms, target=lif_target)
    assert record.counts["a"][-1].sum() == 2
    assert record.synaptic_events["none"][-1, 0] == 0
    assert record.synaptic_events["some"][-1, 0] == 2 * 2


def lif_cell(drive_na: float, target: str) -> dict:
    """A sweep cell that simulates without naming a target (the cell's target must apply)."""
    record = simulate(single_lif(), {"drive": drive_na * nA}, 30 * ms)
    return {"spikes": int(record.counts["lif"].sum()), "ran_on": record.metadata["target"]}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweep_cell_runs_on_its_target_in_any_process(nest, tmp_path, workers):
    cells = run_sweep(lif_cell, {"drive_na": [30.0, 40.0], "target": ["nest"]}, tmp_path,
                      workers=workers, progress=False)
    assert list(cells.ran_on) == ["nest", "nest"] and cells.spikes.min() >= 1
