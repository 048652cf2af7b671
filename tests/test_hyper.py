"""The hyperparameter claim's pieces: analytic LIF rate, settings, statement judging."""

import numpy as np
import pytest
import pandas as pd

from analyses.claims.hyper import (BASE, COMBINED, SWEEPS, _tends_to, analytic_rate, judge,
                                   settings, surrogate_gradients)


def test_analytic_rate_is_the_lif_fi_curve():
    # u = 2 V_th, reset 0, tau 20 ms, t_ref 2 ms: 1 / (2 ms + 20 ms ln 2)
    assert np.isclose(analytic_rate(40.0, 20.0, 0.0, 2.0, 20.0), 1000 / (2 + 20 * np.log(2)))
    assert analytic_rate(19.0, 20.0, 0.0, 0.0, 20.0) == 0.0
    # reset to 0.5 V_th: ln((u - 10)/(u - 20))
    assert np.isclose(analytic_rate(40.0, 20.0, 0.5, 0.0, 20.0), 1000 / (20 * np.log(1.5)))


def test_settings_vary_one_knob_at_a_time():
    table = settings()
    assert (table.knob == "base").sum() == 1 and (table.knob == "combined").sum() == 1
    for knob, values in SWEEPS.items():
        rows = table[table.knob == knob]
        assert set(rows[knob]) == set(values) - {BASE[knob]}
        others = [k for k in SWEEPS if k != knob]
        assert (rows[others] == pd.Series(BASE)[others]).all().all()


def test_judge_accepts_a_layer_that_follows_the_note():
    """A synthetic table built from the note's own rules passes the monotonicity and product
    statements and fails none of the limits."""
    table = settings()
    r_th = np.exp(-table.v_th / 40)  # 1 at V_th -> 0, -> 0 at large V_th, falling
    r_reset = 1 / (1 + 0.5 * table.beta ** 2)
    r_ref = 1 - table.t_ref / 50
    table["R_counts"] = r_th * r_reset * r_ref
    table["deff_counts"] = 10 * table.R_counts * (1 + table.tau_m / 1000)
    table["closed_threshold"] = r_th
    table["isi_ms"] = 50.0
    statements = judge(table, "counts")["statements"]
    for name in ("R in (0, 1]", "R -> 1 as V_th -> 0", "R -> 0 as V_th -> infinity",
                 "d_eff falls with V_th", "d_eff falls with the reset value",
                 "R falls with t_ref", "d_eff rises with tau_m",
                 "R = R_threshold R_reset R_refractory (within 20%)",
                 "R_reset = 1/(1 + gamma beta^2) (within 0.05)",
                 "R_refractory = 1 - t_ref/T_ISI (within 0.1)"):
        assert statements[name], name
    assert COMBINED["v_th"] in SWEEPS["v_th"]


def test_limits_are_judged_by_trend():
    assert _tends_to([0.4, 0.6, 0.8, 0.9], 1.0)  # approaches 1, ends within half the distance
    assert not _tends_to([0.4, 0.6, 0.8, 0.7], 1.0)  # turns away at the end
    assert not _tends_to([0.4, 0.45, 0.5, 0.55], 1.0)  # approaches too little
    assert _tends_to([0.5, 0.2, 0.05, np.nan], 0.0)  # a silent layer is R = 0


def test_replay_matches_the_circuit_and_its_gradient_the_analytic_trajectory():
    """The NumPy replay spikes exactly as the Brian2 LIF (refractory clamp included), and for
    a neuron that never fires its surrogate gradient is sum_t s'((v_t - V_th)/V_th)/V_th x
    dv_t/du with v_t = u (1 - exp(-t dt/tau)) and dv_t/du = 1 - exp(-t dt/tau)."""
    from brian2 import Mohm, ms, mV, second
    from evsim import Circuit, models, simulate

    u = np.array([[10.0, 30.0, 60.0, 100.0]])
    table = settings().iloc[[0, 1, 5, 11, 14]].reset_index(drop=True)  # base, V_th, t_ref
    circuit = Circuit("layer")
    circuit.add_population("layer", models.lif(reset="value"), u.size)
    circuit.add_input("drive", "layer")
    record = simulate(circuit, {"drive": u.ravel() * mV / (1 * Mohm)}, 0.2 * second,
                      trials=len(table), dt=0.1 * ms, seed=1, parameters={"layer": {
                          "v_th": table.v_th.to_numpy() * mV, "t_ref": table.t_ref.to_numpy() * ms,
                          "v_reset": (table.beta * table.v_th).to_numpy() * mV,
                          "tau_m": table.tau_m.to_numpy() * ms}})
    counts, gradients = surrogate_gradients(u, table)
    assert np.array_equal(counts[:, 0], record.counts["layer"][-1])
    assert counts[0, 0, 0] == 0  # 10 mV never reaches the base threshold of 20 mV
    t = np.arange(1, 2001) * 0.1
    grow = 1 - np.exp(-t / 20.0)
    x = (10.0 * grow - 20.0) / 20.0
    sig = 1 / (1 + np.exp(-5 * x))
    assert gradients[5.0][0, 0, 0] == pytest.approx(np.sum(5 * sig * (1 - sig) / 20.0 * grow))


def test_replaying_a_few_settings_at_a_time_gives_the_numbers_of_all_at_once(monkeypatch):
    """Chunks of settings (REPLAY_CHUNK, 3 here: a last chunk of 2) give bit for bit the
    counts and gradients of one replay of every setting."""
    from analyses.claims import hyper

    u = np.random.default_rng(0).normal(20.0, 15.0, (3, 4))
    table = settings().iloc[:8].reset_index(drop=True)
    monkeypatch.setattr(hyper, "REPLAY_CHUNK", 3)
    counts, gradients = surrogate_gradients(u, table, (2.0, 5.0))
    monkeypatch.setattr(hyper, "REPLAY_CHUNK", len(table))
    whole_counts, whole_gradients = surrogate_gradients(u, table, (2.0, 5.0))
    assert counts.sum() > 0 and np.array_equal(counts, whole_counts)
    for k in (2.0, 5.0):
        assert np.array_equal(gradients[k], whole_gradients[k])


def test_the_limit_without_refractoriness_can_hold_or_fail():
    from analyses.claims.hyper import limit_without_refractoriness

    table = settings()
    table["R_sntk"] = np.exp(-table.v_th / 40)  # -> 1 as V_th -> 0
    assert limit_without_refractoriness(table)
    table["R_sntk"] = 1.8  # spiking above the continuous layer at every threshold
    assert not limit_without_refractoriness(table)
