"""Exact LIF: analytic trajectory, f-I curve, refractoriness, reset modes, IF neuron."""

import numpy as np
import pytest
from brian2 import Clock, Mohm, Network, StateMonitor, mV, ms, nA, second

from analyses.fi_curve import LIF_DEFAULTS, analytic_period, fi_experiment
from circuits import single_lif
from evsim import models, simulate
from evsim.build import build_network


def test_subthreshold_trajectory_is_exact():
    """v(t) = R I (1 - exp(-t/tau)) on the grid, to float precision (Euler is off by ~1e-3)."""
    circuit = single_lif(models.lif(v_th=1000 * mV))
    clock = Clock(0.1 * ms)
    built = build_network(circuit, 1, clock, inputs={"drive": 15 * nA})
    monitor = StateMonitor(built.groups["lif"], "v", record=0, when="end")
    net = Network(built.network.objects, monitor)
    net.run(50 * ms)
    t = np.asarray(monitor.t / second) + 1e-4  # recorded at the end of each step
    expected = 15e-3 * (1 - np.exp(-t / 0.02))
    np.testing.assert_allclose(np.asarray(monitor.v[0] / mV) * 1e-3, expected, rtol=1e-9)


def test_fi_curve_within_one_step_and_euler_control_rejected(lif_target):
    factors = [0.8, 1.05, 1.5, 3.0, 10.0]
    exact = fi_experiment(factors, duration=1 * second, trials_per_drive=3, seed=3,
                          target=lif_target)
    euler = fi_experiment(factors, duration=1 * second, trials_per_drive=3, seed=3,
                          method="euler")
    above = exact["analytic_hz"] > 0
    assert (exact.loc[~above, "spikes"] == 0).all()
    assert (exact.loc[above, "isi_error_min_steps"] >= -1 - 1e-9).all()
    assert (exact.loc[above, "isi_error_max_steps"] <= 1e-9).all()
    # forward Euler overshoots the period near rheobase by more than one step
    assert euler.loc[above, "isi_error_min_steps"].min() < -1


def test_analytic_period_closed_form():
    period = analytic_period(np.array([10, 20, 40]) * nA, 20 * ms, 20 * mV, 2 * ms, 1 * Mohm)
    assert np.isinf(period[0]) and np.isinf(period[1])
    assert period[2] == pytest.approx(0.002 + 0.02 * np.log(2))


def test_no_spike_within_refractory_period(seed, lif_target):
    rng = np.random.default_rng(seed)
    record = simulate(single_lif(models.lif(t_ref=3 * ms)), {"drive": rng.uniform(30, 2000, 50)
                                                              * nA}, 0.3 * second, trials=50,
                      seed=seed, record_spikes=True, target=lif_target)
    trains = record.spikes["lif"]
    for trial in range(50):
        isi = np.diff(np.asarray(trains.of(trial, 0) / ms))
        assert len(isi) > 5
        assert isi.min() >= 3 - 1e-9


@pytest.mark.parametrize("reset", ["value", "subtract"])
def test_reset_modes_of_integrate_and_fire(reset):
    """IF (exact for constant drive): subtraction keeps the residual, reset-to-value loses it."""
    model = models.integrate_and_fire(tau_m=10 * ms, v_th=10 * mV, t_ref=0 * ms, reset=reset)
    drive = 60 * nA  # dv per step = R I dt / tau = 0.6 mV, threshold 10 mV
    steps = 10_000
    record = simulate(single_lif(model), {"drive": drive}, steps * 0.1 * ms)
    count = record.counts["lif"][-1, 0, 0]
    per_step = 0.6
    if reset == "subtract":  # sigma-delta: count = floor(total charge / threshold) within rounding
        assert abs(count - steps * per_step / 10) <= 1
    else:  # every cycle needs ceil(10 / 0.6) = 17 steps to exceed threshold, charge lost
        assert count == steps // int(np.ceil(10 / per_step + 1e-9))


def test_lif_defaults_are_the_protocol_values():
    assert LIF_DEFAULTS["tau_m"] == 20 * ms and LIF_DEFAULTS["t_ref"] == 2 * ms
