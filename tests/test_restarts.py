"""Restarts: inputs one after another through one run equal separate runs, window by window;
spike recording of some populations only."""

import numpy as np
import pytest
from brian2 import ms, nA

from evsim import Circuit, models, runtime, simulate
from evsim.build import plan_network
from evsim.restarts import check_restarts
from evsim.errors import ValidationError

STEP = 1 * ms
W = 5  # window length (steps)
#: lags of the chain below: source 0, A 1 (one hop), B 4 (one hop + 2 steps of delay), C 2
LAGS = dict(source=0, A=1, B=4, C=2)
DEPTH = max(LAGS.values())


def _chain() -> Circuit:
    """source -> A (discrete LIF, constant bias) -> B (delay 2 steps) and A -> C (counter,
    whose backlog outlives a window)."""
    circuit = Circuit("chain")
    circuit.add_population("source", models.spike_source(), 6)
    circuit.add_population("A", models.discrete_lif(tau=2.0, v_th=1.0), 4)
    circuit.add_population("B", models.discrete_lif(tau=3.0, v_th=1.0), 3)
    circuit.add_population("C", models.discrete_counter(), 2)
    rng = np.random.default_rng(0)
    circuit.connect("source", "A", rng.uniform(0.2, 1.4, (6, 4)), connectivity="matrix")
    circuit.connect("A", "B", rng.uniform(0.3, 1.2, (4, 3)), connectivity="matrix",
                    delay=2 * STEP)
    circuit.connect("A", "C", 0.6)
    circuit.add_input("spikes", "source")
    circuit.add_input("bias", "A")
    return circuit


BIAS = np.linspace(0.1, 0.9, 4)


def _inputs(spikes: np.ndarray, windows: int, fresh: bool = False) -> dict:
    """spikes (windows, trials, W, 6) shown one window after another, then DEPTH empty steps;
    A's bias constant, or (``fresh``) switched on at A's lag, as a fresh run starts a window."""
    trials = spikes.shape[1]
    shown = np.concatenate([spikes.transpose(0, 2, 1, 3).reshape(windows * W, trials, 6),
                            np.zeros((DEPTH, trials, 6))])
    bias = BIAS[None, :]
    if fresh:
        bias = np.zeros((len(shown), trials, 4))
        bias[LAGS["A"]:] = BIAS
    return {"spikes": shown, "bias": bias}


def _windows(record, population: str, windows: int) -> np.ndarray:
    """(windows, trials, W, neurons): each window of ``population`` on its own clock."""
    raster, lag = record.raster(population), LAGS[population]
    trials = raster.shape[0]
    by_window = raster[:, lag:lag + windows * W].reshape(trials, windows, W, -1)
    return by_window.swapaxes(0, 1)


def _pipelined(spikes, target="numpy", fresh=False, **options):
    windows, trials = spikes.shape[:2]
    return simulate(_chain(), _inputs(spikes, windows, fresh), (windows * W + DEPTH) * STEP,
                    dt=STEP, trials=trials, record_spikes=True, target=target, **options)


def _restarts():
    return dict(restart_every=W * STEP,
                restart_offsets={p: (lag % W) * STEP for p, lag in LAGS.items()})


WINDOWS, TRIALS = 4, 3


def _spikes(seed: int) -> np.ndarray:
    """Random input spikes (windows, trials, W, 6)."""
    return (np.random.default_rng(seed).random((WINDOWS, TRIALS, W, 6)) < 0.5).astype(float)


def _alone(separate: list, population: str) -> np.ndarray:
    return np.concatenate([_windows(r, population, 1) for r in separate])


@pytest.mark.parametrize("target", ["numpy", pytest.param("cpp_standalone",
                                                          marks=pytest.mark.slow)])
def test_windows_of_one_run_equal_separate_runs(target, seed):
    spikes = _spikes(seed)
    together = _pipelined(spikes, target, **_restarts())
    separate = [_pipelined(spikes[k:k + 1], target, fresh=True) for k in range(WINDOWS)]
    for population in ("A", "B", "C"):
        alone = _alone(separate, population)
        assert alone.any(axis=(1, 2, 3)).all(), population  # every window has spikes
        np.testing.assert_array_equal(_windows(together, population, WINDOWS), alone,
                                      err_msg=population)
    # the check can fail: without restarts, membranes (and the counter's backlog) leak from
    # one window into the next
    leaky = _pipelined(spikes, target)
    assert any(not np.array_equal(_windows(leaky, p, WINDOWS), _alone(separate, p))
               for p in ("A", "B", "C"))


def test_restarts_in_python_equal_the_brian2_code_they_replace(monkeypatch, seed):
    """The numpy target restarts by a Python operation in the steps that start a window; the
    Brian2 code it replaces (run every step, as cpp_standalone runs it) gives the same spikes."""
    spikes = _spikes(seed)
    python = _pipelined(spikes, **_restarts())
    assert "RestartOperation" in {type(obj).__name__ for built in runtime._CACHE.values()
                                  for obj in built.network.objects}
    instantiate = runtime.instantiate
    monkeypatch.setattr(runtime, "_CACHE", type(runtime._CACHE)())  # build anew
    monkeypatch.setattr(runtime, "instantiate", lambda plan, clock, **options: instantiate(
        plan, clock, **dict(options, python_restarts=False)))
    code = _pipelined(spikes, **_restarts())
    kinds = {type(obj).__name__ for built in runtime._CACHE.values()
             for obj in built.network.objects}
    assert "RestartOperation" not in kinds
    for population in ("source", "A", "B", "C"):
        np.testing.assert_array_equal(python.raster(population), code.raster(population))


def test_windows_shorter_than_the_depth_wrap_the_offsets(seed):
    """W = 3 steps with B at lag 4: B's windows start at 4, 7, 10 (offset 1) and still equal
    separate fresh runs (the wrap the trained models use: T = 4 with depths of 7-8)."""
    short = 3
    rng = np.random.default_rng(seed)
    spikes = (rng.random((3, 2, short, 6)) < 0.5).astype(float)

    def runs(chunks, **options):
        windows = len(chunks)
        shown = np.concatenate([chunks.transpose(0, 2, 1, 3).reshape(windows * short, 2, 6),
                                np.zeros((DEPTH, 2, 6))])
        bias = np.zeros((len(shown), 2, 4))  # a fresh run: A's bias from its lag on
        bias[LAGS["A"]:] = BIAS
        if options:  # restarted: constant, what it drives before A's window is wiped
            bias = BIAS[None, :]
        return simulate(_chain(), {"spikes": shown, "bias": bias},
                        (windows * short + DEPTH) * STEP, dt=STEP,
                        trials=2, record_spikes=["B"], target="numpy", **options)

    offsets = {p: (lag % short) * STEP for p, lag in LAGS.items()}
    together = runs(spikes, restart_every=short * STEP, restart_offsets=offsets).raster("B")
    lag = LAGS["B"]
    for k in range(3):
        alone = runs(spikes[k:k + 1]).raster("B")[:, lag:lag + short]
        np.testing.assert_array_equal(together[:, lag + k * short:lag + (k + 1) * short], alone)
    assert together.any()


def test_restarts_are_part_of_the_structure():
    """A cached network without restarts is never rerun for a run with them (or others)."""
    spikes = np.zeros((2, 1, W, 6))
    keys = set()
    for options in ({}, _restarts(), dict(_restarts(), restart_offsets={"B": STEP})):
        restarts = check_restarts(_chain(), options.get("restart_every"),
                                  options.get("restart_offsets"), STEP, {})
        keys.add(plan_network(_chain(), 1, STEP, inputs=_inputs(spikes, 2),
                              restarts=restarts).key)
    assert len(keys) == 3


@pytest.mark.parametrize("options, parameter, message", [
    (dict(restart_offsets={"A": STEP}), "restart_offsets", "needs 'restart_every'"),
    (dict(restart_every=0 * STEP), "restart_every", "at least one step"),
    (dict(restart_every=2.5 * STEP), "restart_every", "a multiple of dt"),
    (dict(restart_every=W * STEP, restart_offsets={"A": W * STEP}), "restart_offsets",
     r"in \[0, restart_every\)"),
    (dict(restart_every=W * STEP, restart_offsets={"nope": STEP}), "population", "nope"),
    (dict(restart_every=W * STEP, initial={"A": {"v": 0.5}}), "initial", "restarts return"),
    (dict(record_spikes=["A", "nope"]), "record_spikes", r"unknown population\(s\) \['nope'\]"),
    (dict(record_spikes="A"), "record_spikes", "True, False or population names"),
])
def test_bad_restarts_and_recordings_are_one_clear_error(options, parameter, message):
    spikes = np.zeros((1, 1, W, 6))
    base = dict(record_spikes=True) | options
    with pytest.raises(ValidationError, match=message) as error:
        simulate(_chain(), _inputs(spikes, 1), (W + DEPTH) * STEP, dt=STEP, target="numpy",
                 **base)
    assert error.value.parameter in (parameter, "name")


def test_a_continuous_model_cannot_restart():
    circuit = Circuit("continuous")
    circuit.add_population("lif", models.lif(), 2)
    circuit.add_input("drive", "lif")
    with pytest.raises(ValidationError, match="'lif' .* continuous dynamics") as error:
        simulate(circuit, {"drive": 0 * nA}, 5 * ms, restart_every=1 * ms, target="numpy")
    assert error.value.parameter == "restart_every"


def test_spike_times_of_some_populations_only(seed):
    spikes = _spikes(seed)[:2, :2]
    every = _pipelined(spikes, **_restarts())
    some = simulate(_chain(), _inputs(spikes, 2), (2 * W + DEPTH) * STEP, dt=STEP, trials=2,
                    record_spikes=["B", "A"], target="numpy", **_restarts())
    assert sorted(some.spikes) == ["A", "B"]
    for population in ("A", "B"):
        np.testing.assert_array_equal(some.raster(population), every.raster(population))
    for population in ("source", "C"):  # counted all the same
        np.testing.assert_array_equal(some.counts[population], every.counts[population])
    with pytest.raises(ValidationError, match="record_spikes left out"):
        some.raster("C")
    assert every.counts["A"].sum() > 0
