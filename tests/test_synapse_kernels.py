"""Synapse kernels of the stock LIF and the adaptive LIF against independent references: the
analytic PSP of an exponential current, the analytic f-I curve, and NumPy integrations of the
conductance-based LIF (exponential Euler) and of the adaptive LIF (matrix exponential)."""

import math

import numpy as np
import pytest
from brian2 import mV, ms, nA, nS
from scipy.linalg import expm

from evsim import Circuit, ValidationError, models, simulate

DT_MS, TAU_M, TAU_S = 0.1, 20.0, 5.0


def driven_by_spikes(model, steps: int, spike_steps: dict, weights: dict):
    """``model`` (one neuron) fed by one spike source per synaptic target in ``weights``;
    returns its record with v and every synaptic variable sampled each step."""
    c = Circuit("kernels")
    c.add_population("cell", model, 1)
    inputs = {}
    for variable, weight in weights.items():
        c.add_population(f"in_{variable}", models.spike_source(), 1)
        c.add_input(f"in_{variable}", f"in_{variable}")
        c.connect(f"in_{variable}", "cell", weight, variable=variable)
        train = np.zeros((steps, 1, 1))
        train[spike_steps[variable], 0, 0] = 1
        inputs[f"in_{variable}"] = train
    return simulate(c, inputs, steps * DT_MS * ms, dt=DT_MS * ms, target="numpy",
                    record_states={"cell": ("v", *weights)})


def test_an_exponential_current_gives_the_analytic_psp():
    w_na, steps = 2.0, 1000
    model = models.lif(tau_m=TAU_M * ms, synapse="current", tau_syn=TAU_S * ms)
    out = driven_by_spikes(model, steps, {"I_syn": [0]}, {"I_syn": w_na * nA})
    v = np.asarray(out.states["cell"]["v"] / mV)[:, 0, 0]
    # the spike of step 0 reaches I_syn after that step's update: the PSP starts at t = dt
    t = np.arange(steps) * DT_MS - DT_MS
    psp = np.where(t >= 0, w_na * TAU_S / (TAU_M - TAU_S)
                   * (np.exp(-t / TAU_M) - np.exp(-t / TAU_S)), 0.0)
    assert np.allclose(v, psp, rtol=1e-9, atol=1e-12)
    peak = TAU_M * TAU_S / (TAU_M - TAU_S) * math.log(TAU_M / TAU_S)  # 9.24 ms
    assert abs(t[np.argmax(v)] - peak) <= DT_MS


def test_the_current_synapse_keeps_the_analytic_f_i_curve_within_one_step():
    drives = np.array([22.0, 30.0, 40.0])  # nA into R = 1 MOhm: 22-40 mV against V_th 20 mV
    c = Circuit("fi")
    c.add_population("p", models.lif(synapse="current"), 3)
    c.add_input("drive", "p")
    out = simulate(c, {"drive": drives * nA}, 1000 * ms, target="numpy", record_spikes=True)
    for neuron, drive in enumerate(drives):
        times = np.asarray(out.spikes["p"].of(0, neuron) / ms)
        analytic = 2.0 + TAU_M * math.log(drive / (drive - 20))  # t_ref + tau ln(RI/(RI - V_th))
        assert len(times) > 10 and abs(np.diff(times).mean() - analytic) <= DT_MS


def test_conductances_match_a_numpy_exponential_euler():
    steps, w = 1500, {"g_exc": 150.0, "g_inh": 300.0}  # nS
    spikes = {"g_exc": [0, 200, 210, 220, 600], "g_inh": [400, 900]}
    model = models.lif(tau_m=TAU_M * ms, synapse="conductance", tau_syn=TAU_S * ms)
    out = driven_by_spikes(model, steps, spikes, {k: v * nS for k, v in w.items()})
    v = np.asarray(out.states["cell"]["v"] / mV)[:, 0, 0]
    reference = np.zeros(steps)
    g = {"g_exc": 0.0, "g_inh": 0.0}
    reversal = {"g_exc": 70.0, "g_inh": -10.0}  # mV, relative to rest
    for n in range(steps - 1):  # R g with R = 1 MOhm: g in units of 1e3 nS
        r_g = {k: g[k] / 1e3 for k in g}
        a = -(1 + sum(r_g.values())) / TAU_M
        b = sum(r_g[k] * reversal[k] for k in g) / TAU_M
        reference[n + 1] = -b / a + (reference[n] + b / a) * math.exp(a * DT_MS)
        for k in g:
            g[k] = g[k] * math.exp(-DT_MS / TAU_S) + w[k] * (n in spikes[k])
    assert out.counts["cell"][-1, 0, 0] == 0 and reference.max() > 5  # large but subthreshold
    assert np.allclose(v, reference, rtol=1e-9, atol=1e-12)
    assert reference.min() < 0  # inhibition pulls below rest (towards e_inh = -10 mV)


def test_the_adaptive_lif_matches_a_numpy_matrix_exponential():
    tau_a, b, drive, steps = 100.0, 1.0, 40.0, 5000  # ms, nA, nA
    c = Circuit("adaptive")
    c.add_population("p", models.adaptive_lif(tau_a=tau_a * ms, b=b * nA, t_ref=0 * ms), 1)
    c.add_input("drive", "p")
    out = simulate(c, {"drive": drive * nA}, steps * DT_MS * ms, target="numpy",
                   record_states={"p": ("v", "a")}, record_spikes=True)
    # x = (v mV, a nA, 1): dv/dt = (R (I - a) - v)/tau_m with R = 1 MOhm, da/dt = -a/tau_a
    step = expm(np.array([[-1 / TAU_M, -1 / TAU_M, drive / TAU_M],
                          [0, -1 / tau_a, 0], [0, 0, 0]]) * DT_MS)
    x, trace, spike_steps = np.array([0.0, 0.0, 1.0]), [], []
    for n in range(steps):
        trace.append(x[:2].copy())
        x = step @ x
        if x[0] > 20:
            x[0], x[1] = 0.0, x[1] + b
            spike_steps.append(n)
    trace = np.array(trace)
    times = np.round(np.asarray(out.spikes["p"].time / ms) / DT_MS).astype(int)
    assert times.tolist() == spike_steps
    assert np.allclose(np.asarray(out.states["p"]["v"] / mV)[:, 0, 0], trace[:, 0], rtol=1e-9,
                       atol=1e-9)
    assert np.allclose(np.asarray(out.states["p"]["a"] / nA)[:, 0, 0], trace[:, 1], rtol=1e-9,
                       atol=1e-12)
    intervals = np.diff(spike_steps)
    assert np.all(np.diff(intervals) >= 0) and intervals[-1] > intervals[0]  # adapting


def test_an_unknown_synapse_kernel_is_refused():
    with pytest.raises(ValidationError, match="'synapse' must be one of"):
        models.lif(synapse="alpha")
    with pytest.raises(ValidationError, match="tau_syn"):
        models.lif(synapse="current", tau_syn=0 * ms)
    with pytest.raises(ValidationError, match="'b'"):
        models.adaptive_lif(b=-1 * nA)


def test_a_weight_in_the_wrong_unit_for_the_kernel_is_refused():
    c = Circuit("units")
    c.add_population("s", models.spike_source(), 1)
    c.add_population("p", models.lif(synapse="current"), 1)
    with pytest.raises(ValidationError):
        c.connect("s", "p", 1 * mV)


def test_an_inhibitory_sign_onto_a_conductance_is_refused():
    c = Circuit("conductance")
    c.add_population("s", models.spike_source(), 1)
    c.add_population("p", models.lif(synapse="conductance"), 1)
    with pytest.raises(ValidationError, match="conductance 'g_exc' .* variable='g_inh'") as error:
        c.connect("s", "p", 10 * nS, sign="inhibitory")
    assert error.value.parameter == "sign"
    c.connect("s", "p", 10 * nS, variable="g_inh")  # inhibition through e_inh
