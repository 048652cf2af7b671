"""Core details a Brian2 developer would check: step-code order, codegen target restored,
refractoriness by field, generated parameter declarations, sparse connectivity, per-trial
values that cannot be mistaken for per-neuron ones, and cache keys that see code changes."""

import numpy as np
import pytest
from brian2 import Clock, Hz, ms, mV, nA, prefs

from circuits import stochastic_softmax
from circuits.softmax import score_inputs
from evsim import Circuit, ValidationError, models, simulate
from evsim.build import STEP_CODE_ORDER, build_network, per_neuron_values
from evsim.models import NeuronModel
from evsim.sweep import cell_key, code_fingerprint


def test_step_code_runs_after_the_state_updater_by_order():
    c = Circuit("c")
    c.add_population("e", models.escape_noise_lif(), 2)  # continuous state + step code
    c.add_input("drive", "e")
    built = build_network(c, 1, Clock(0.1 * ms), inputs={"drive": 0 * nA})
    group = built.groups["e"]
    updater = next(o for o in group.contained_objects if "stateupdater" in o.name)
    step = next(o for o in group.contained_objects if o.name.endswith("_step"))
    assert step.when == updater.when == "groups"
    assert step.order == STEP_CODE_ORDER > updater.order


def test_codegen_target_is_restored_after_a_run():
    previous = prefs.codegen.target
    prefs.codegen.target = "cython"  # a user's own choice
    try:
        c = Circuit("c")
        c.add_population("a", models.poisson_source(), 1)
        c.add_input("r", "a")
        simulate(c, {"r": 0 * Hz}, 1 * ms)
        assert prefs.codegen.target == "cython"
    finally:
        prefs.codegen.target = previous


def _lif_with_dead_time(dead_time):
    """A LIF whose refractory parameter is called ``dead_time`` (not t_ref)."""
    base = models.lif()
    parameters = {("dead_time" if k == "t_ref" else k): v for k, v in base.parameters.items()}
    parameters["dead_time"] = dead_time
    return NeuronModel(**{**base.__dict__, "parameters": parameters, "refractory": "dead_time"})


def test_the_refractory_parameter_is_the_models_field():
    c = Circuit("c")
    c.add_population("n", _lif_with_dead_time(5 * ms), 1)
    c.add_input("drive", "n")
    record = simulate(c, {"drive": 100 * nA}, 100 * ms, record_spikes=True)
    isi = np.diff(np.asarray(record.spikes["n"].time / ms))
    assert len(isi) > 3 and isi.min() >= 5 - 1e-9  # the dead time holds


def test_parameter_declarations_are_generated_from_the_parameters():
    model = models.gain_modulated_if(gain_drift=4 * Hz)
    text = model.equations(shared={"tau_m"})
    for key in model.parameters:
        assert sum(line.startswith(f"{key} :") for line in text.splitlines()) == 1
    assert "tau_m : second (constant, shared)" in text
    assert "exp(log_gain)*resistance*I/tau_m : volt (unless refractory)" in text
    assert "(unless refractory)" not in models.gain_modulated_if().equations(refractory=False)
    assert "- v" not in models.integrate_and_fire().equations()  # no leak


def test_sparse_pairs_match_a_dense_matrix(seed):
    rng = np.random.default_rng(seed)
    weights = np.where(rng.random((5, 4)) < 0.5, rng.uniform(1, 3, (5, 4)), 0)
    pre, post = np.nonzero(weights)
    counts = []
    for connectivity in ("matrix", "pairs"):
        c = Circuit("c")
        c.add_population("src", models.poisson_source(), 5)
        c.add_population("lif", models.lif(), 4)
        c.add_input("r", "src")
        if connectivity == "matrix":
            c.connect("src", "lif", weights * mV, connectivity="matrix")
        else:
            c.connect("src", "lif", weights[pre, post] * mV, connectivity="pairs",
                      pairs=(pre, post))
        record = simulate(c, {"r": 300 * Hz}, 200 * ms, trials=3, seed=seed)
        counts.append((record.counts["lif"], record.synaptic_events))
    np.testing.assert_array_equal(counts[0][0], counts[1][0])
    assert counts[0][0].sum() > 0
    for (_, dense), (_, sparse) in zip(counts[0][1].items(), counts[1][1].items()):
        np.testing.assert_array_equal(dense, sparse)


def test_per_trial_values_are_unambiguous_when_trials_equal_size():
    per_trial = per_neuron_values("x", np.arange(3.0)[:, None], 1, trials=3, size=3)
    np.testing.assert_array_equal(per_trial.reshape(3, 3), np.repeat(np.arange(3.0), 3)
                                  .reshape(3, 3))
    per_neuron = per_neuron_values("x", np.arange(3.0)[None], 1, trials=3, size=3)
    np.testing.assert_array_equal(per_neuron.reshape(3, 3), np.tile(np.arange(3.0), (3, 1)))
    with pytest.raises(ValidationError, match="ambiguous when trials = size = 3"):
        per_neuron_values("x", np.arange(3.0), 1, trials=3, size=3)


def test_a_per_trial_start_is_per_trial_when_trials_equal_n(seed):
    """Regression: a slow trace started per trial (shape (trials, 1)) was read per neuron when
    trials == n."""
    scores = np.random.default_rng(seed).normal(0, 1.5, (4, 4))
    drive, initial = score_inputs("S", scores)
    initial["exc"]["syn_slow"] = np.arange(4.0)[:, None] * mV
    built = build_network(stochastic_softmax(4), 4, Clock(0.1 * ms), inputs={"scores": drive},
                          initial=initial)
    slow = np.asarray(built.groups["exc"].syn_slow / mV).reshape(4, 4)
    np.testing.assert_allclose(slow, np.repeat(np.asarray(initial["exc"]["syn_slow"] / mV), 4,
                                               axis=1))
    assert np.ptp(slow, axis=1).max() == 0 and np.ptp(slow[:, 0]) > 0


def fingerprinted_cell(x):
    return {"y": x}


def test_cache_keys_change_with_the_code(monkeypatch):
    fingerprint = code_fingerprint(fingerprinted_cell)
    assert fingerprint == code_fingerprint(fingerprinted_cell)  # stable
    key = cell_key(fingerprinted_cell, {"x": 1}, fingerprint)
    assert key != cell_key(fingerprinted_cell, {"x": 1}, fingerprint + "0")
    # a changed source file changes the fingerprint
    import evsim.sweep as sweep_module
    from pathlib import Path

    real_read = Path.read_bytes

    def edited(path):
        data = real_read(path)
        return data + b"# edit" if path.name == "graph.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert sweep_module.code_fingerprint(fingerprinted_cell) != fingerprint
