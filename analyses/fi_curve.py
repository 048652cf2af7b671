"""LIF f-I curve: simulated firing of the exact LIF with refractoriness vs the analytic curve.

Analytic (reset to rest, absolute refractory period, constant drive; Gerstner et al.,
Neuronal Dynamics ch. 1):  r(I) = 1 / (t_ref + tau_m ln(R I / (R I - V_th)))  for R I > V_th.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from brian2 import Mohm, ms, mV, nA, second

from circuits import single_lif
from evsim import models, simulate

__all__ = ["LIF_DEFAULTS", "analytic_period", "fi_experiment", "PROTOCOL"]

LIF_DEFAULTS = dict(tau_m=20 * ms, v_th=20 * mV, t_ref=2 * ms, resistance=1 * Mohm)

PROTOCOL = (
    "Exact LIF (tau_m = 20 ms, V_th = 20 mV, R = 1 MOhm, t_ref = 2 ms, reset to 0) under constant "
    "drives from 0.5x to 10x rheobase (quick: 24 drives, 8 trials each, 2 s; full: 40 drives, "
    "20 trials, 5 s; dt = 0.1 ms), all trials in one Brian2 run, initial v ~ U[0, V_th). "
    "Rule (fixed before running): supported if, for every drive above rheobase, every measured "
    "inter-spike interval ISI satisfies -dt <= ISI - P <= 0 with P = t_ref + tau_m "
    "ln(RI/(RI - V_th)) the analytic period (with exact integration v is exact on the grid, and "
    "Brian2 stamps a spike at the start of the step in which v crosses V_th, so the grid can "
    "only shorten the period, by less than one step), and no drive below rheobase ever spikes; "
    "otherwise refuted. The same protocol integrated with forward Euler is run as a negative "
    "control that the rule must be able to reject."
)


def analytic_period(current, tau_m, v_th, t_ref, resistance, v_reset=0 * mV):
    """Steady-state inter-spike interval (seconds, array); inf at or below rheobase.

    t_ref + tau_m ln((R I - v_reset) / (R I - v_th)) for reset to ``v_reset``.
    """
    drive = np.asarray(current * resistance / v_th, dtype=float)  # R I / V_th
    reset = float(v_reset / v_th)
    period = np.full(drive.shape, np.inf)
    above = drive > 1
    period[above] = float(t_ref / second) + float(tau_m / second) * np.log(
        (drive[above] - reset) / (drive[above] - 1))
    return period


def fi_experiment(drive_factors, *, duration=2 * second, trials_per_drive: int = 8, seed: int = 1,
                  dt=0.1 * ms, method: str = "exact", target: str = "numpy",
                  **lif_parameters) -> pd.DataFrame:
    """Simulate every drive x trial in one run; one row per drive with rates and ISI errors.

    ``drive_factors`` are multiples of the rheobase current V_th / R. Columns: drive_factor,
    drive_nA, analytic_hz, rate_hz_mean/min/max (count / duration), isi_error_min_steps and
    isi_error_max_steps (extremes of (ISI - analytic period) / dt over all intervals of all
    trials; NaN without two spikes), spikes.
    """
    parameters = {**LIF_DEFAULTS, **lif_parameters}
    model = dataclasses.replace(models.lif(**parameters), method=method)
    circuit = single_lif(model)
    factors = np.asarray(drive_factors, dtype=float)
    rheobase = parameters["v_th"] / parameters["resistance"]
    currents = np.repeat(factors, trials_per_drive) * rheobase
    rng = np.random.default_rng(seed)
    initial_v = rng.uniform(0, 1, len(currents)) * parameters["v_th"]
    record = simulate(circuit, {"drive": currents}, duration, trials=len(currents), seed=seed,
                      dt=dt, initial={"lif": {"v": initial_v}}, record_spikes=True,
                      target=target)
    period = analytic_period(currents, parameters["tau_m"], parameters["v_th"],
                             parameters["t_ref"], parameters["resistance"])
    counts = record.counts["lif"][-1, :, 0]
    trains = record.spikes["lif"]
    error_min, error_max = np.full(len(currents), np.nan), np.full(len(currents), np.nan)
    for trial in range(len(currents)):
        isi = np.diff(np.asarray(trains.of(trial, 0) / second))
        if len(isi) and np.isfinite(period[trial]):
            steps = (isi - period[trial]) / float(dt / second)
            error_min[trial], error_max[trial] = steps.min(), steps.max()
    rates = counts / float(duration / second)
    rows = []
    for index, factor in enumerate(factors):
        block = slice(index * trials_per_drive, (index + 1) * trials_per_drive)
        rows.append(dict(
            drive_factor=factor, drive_nA=float(factor * rheobase / nA),
            analytic_hz=1 / period[block.start], rate_hz_mean=rates[block].mean(),
            rate_hz_min=rates[block].min(), rate_hz_max=rates[block].max(),
            isi_error_min_steps=_nan_extreme(np.nanmin, error_min[block]),
            isi_error_max_steps=_nan_extreme(np.nanmax, error_max[block]),
            spikes=int(counts[block].sum())))
    return pd.DataFrame(rows)


def _nan_extreme(function, values):
    return float(function(values)) if np.isfinite(values).any() else np.nan


def measure_claim(context):
    """Run the ``lif.fi_curve`` protocol (exact method plus the forward-Euler control)."""
    from .claims import ClaimResult

    size = dict(drive_factors=np.geomspace(0.5, 10, 24), duration=2 * second,
                trials_per_drive=8) if context.quick else \
        dict(drive_factors=np.geomspace(0.5, 10, 40), duration=5 * second, trials_per_drive=20)
    exact = fi_experiment(**size, seed=context.seed, target=context.target)
    euler = fi_experiment(**size, seed=context.seed, target=context.target, method="euler")

    def rule(table):
        above = table["analytic_hz"] > 0
        silent_below = bool((table.loc[~above, "spikes"] == 0).all())
        low, high = table.loc[above, "isi_error_min_steps"], table.loc[above, "isi_error_max_steps"]
        within = bool((low >= -1 - 1e-6).all() and (high <= 1e-6).all() and high.notna().all())
        return silent_below and within, silent_below

    supported, silent = rule(exact)
    control_passes, _ = rule(euler)
    above = exact["analytic_hz"] > 0
    worst = float(exact.loc[above, ["isi_error_min_steps", "isi_error_max_steps"]].abs().max().max())
    relative = (exact.loc[above, "rate_hz_mean"] / exact.loc[above, "analytic_hz"] - 1).abs()
    details = {
        "drives": len(exact), "drives_above_rheobase": int(above.sum()),
        "trials": int(len(exact) * size["trials_per_drive"]), "dt_ms": 0.1,
        "isi_error_steps_range": [float(exact.loc[above, "isi_error_min_steps"].min()),
                                  float(exact.loc[above, "isi_error_max_steps"].max())],
        "max_relative_rate_error": float(relative.max()),
        "silent_below_rheobase": silent, "integration_method": "exact",
        "euler_control_isi_error_steps_range": [
            float(euler.loc[above, "isi_error_min_steps"].min()),
            float(euler.loc[above, "isi_error_max_steps"].max())],
        "euler_control_rejected_by_rule": not control_passes,
        "ci95_note": "deterministic simulation: no sampling uncertainty; the estimate is the "
                     "largest |ISI - analytic period| in time steps over all drives and trials",
    }
    return ClaimResult("supported" if supported else "refuted", worst, None, details,
                       {"fi_curve": exact, "fi_curve_euler_control": euler})


def plot_claim(tables, directory) -> list[str]:
    """f-I curve (simulated vs analytic) and ISI error in steps, exact vs Euler control."""
    from .plots import figure, paper_style, plot_fi_curve, save_figure

    with paper_style():
        fig, (top, bottom) = figure("single", 4.2, nrows=2, sharex=True)
        plot_fi_curve(tables["fi_curve"], ax=top, dt_ms=0.1)
        for name, label, marker in (("fi_curve", "exact", "o"),
                                    ("fi_curve_euler_control", "forward Euler (control)", "x")):
            table = tables[name]
            above = table["analytic_hz"] > 0
            for column, tag in (("isi_error_min_steps", label), ("isi_error_max_steps", None)):
                bottom.plot(table.loc[above, "drive_nA"], table.loc[above, column], marker,
                            mfc="none", color="C0" if name == "fi_curve" else "C1", label=tag)
        bottom.axhspan(-1, 0, color="0.85", label="rule: -dt <= ISI - P <= 0")
        bottom.set_xlabel("drive current I (nA)")
        bottom.set_ylabel("(ISI - P) / dt (steps)")
        bottom.legend(loc="lower right")
    return save_figure(fig, directory, "lif_fi_curve")


def _register():
    from .claims import Claim, register

    register(Claim(
        id="lif.fi_curve", source="framework (Gerstner et al., Neuronal Dynamics, ch. 1)",
        statement="the exact LIF with absolute refractory period fires at the analytic rate "
                  "1/(t_ref + tau_m ln(RI/(RI - V_th)))",
        protocol=PROTOCOL, expected=0.0, measure=measure_claim, plot=plot_claim))


_register()
