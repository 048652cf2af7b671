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

__all__ = ["LIF_DEFAULTS", "analytic_period", "fi_experiment"]

LIF_DEFAULTS = dict(tau_m=20 * ms, v_th=20 * mV, t_ref=2 * ms, resistance=1 * Mohm)

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
                  dt=0.1 * ms, method: str = "exact", target: str | None = None,
                  **lif_parameters) -> pd.DataFrame:
    """Simulate every drive x trial in one run; one row per drive with rates and ISI errors.

    ``drive_factors`` are multiples of the rheobase current V_th / R; ``seed`` draws the
    initial membranes and seeds Brian2; ``target`` is the backend (default: the enclosing
    :func:`evsim.backends.using` block's). Columns: drive_factor,
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
