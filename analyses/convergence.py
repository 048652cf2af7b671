"""Error of lateral-inhibition softmax circuits vs read-out length T, all trials in one run.

Every run starts COLD (circuits.softmax.score_inputs): the inhibition finds the normaliser
itself. Population counts on a 50 ms grid up to ``READOUT_START`` show the settling; the
read-out window then runs from ``READOUT_START`` for T / rate, T being the paper's number of
time steps read as the expected number of output spikes. Two errors per (T, trial):

* circuit-normalised (the verdict): ``1/2 sum_j |n_j / T - p_j|``, T = rate x window, where the
  rate is the circuit parameter its integral controller holds: no measured total enters;
* histogram: ``1/2 sum_j |n_j / N - p_j|``, N = sum_j n_j (a division done in the analysis).

Counts from the onset (t = 0, transient included) are kept too. Score vectors of every n
share one population of ``max(n)`` neurons: a vector with fewer entries is padded with
silent neurons (drive that never fires, membranes started at that drive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, ms, second

from circuits.softmax import (DELTA, deterministic_softmax, score_inputs, softmax,
                              stochastic_softmax, windowed_softmax)
from evsim import simulate
from evsim.errors import ValidationError

__all__ = ["T_QUICK", "T_FULL", "READOUT_START", "SETTLE_STEP", "SETTLE_WINDOW",
           "SETTLE_TOLERANCE", "SoftmaxRun", "score_vectors", "run_softmax", "errors",
           "onset_errors", "population_rates", "settle_times", "predicted_tv",
           "log_partition_gap", "window_rates", "padded_scores"]

T_QUICK = np.unique(np.round(np.geomspace(16, 1024, 9))).astype(int)
T_FULL = np.unique(np.round(np.geomspace(16, 4096, 11))).astype(int)
#: Start of the read-out window after the cold start (pre-registered, above every settle time
#: measured so far; each run measures its own and the claims report it).
READOUT_START = 3 * second
#: Settling: population rate in windows of SETTLE_WINDOW every SETTLE_STEP; a condition has
#: settled from the first window start after which every window's trial-mean rate lies within
#: SETTLE_TOLERANCE of the rate the circuit holds. 10% is about 3 standard errors of that mean
#: at quick size (window count spread ~1/sqrt(eta) = 4.5 spikes of 40, 10 trials).
SETTLE_STEP, SETTLE_WINDOW, SETTLE_TOLERANCE = 50 * ms, 500 * ms, 0.1
#: Construction S' as measured: 5 ms windows, 99% of them with a winner (race rate 921 Hz, so
#: race rate x dt = 0.09: nine times the circuit default, for 10x fewer steps).
WINDOW, FILL = 5 * ms, 0.99
SILENT_SCORE = -1e4  # padding: exp(-1e4) underflows to a zero rate


@dataclass
class SoftmaxRun:
    """Counts of one experiment (arrays over trials and the ``n_max`` neurons).

    counts (K, trials, n) in the read-out windows [READOUT_START, READOUT_START + T/rate);
    onset_counts (G, trials, n) in [0, onset_times); p the targets (zero on padded neurons);
    per_second: the output spikes per second the circuit holds (rate, or fill / window).
    """

    kind: str
    T: np.ndarray
    counts: np.ndarray
    onset_times: np.ndarray  # seconds
    onset_counts: np.ndarray
    p: np.ndarray
    per_second: float
    readout_start_s: float
    trials: pd.DataFrame  # per trial: vector, seed, n, temperature
    record: object  # the SpikeRecord (events, metadata)


def score_vectors(n_values, temperatures, per_cell: int, seed: int) -> pd.DataFrame:
    """Random score vectors s ~ N(0, 1.5^2) for every (n, temperature), ``per_cell`` each."""
    rng = np.random.default_rng(seed)
    rows = [dict(n=n, temperature=t, scores=rng.normal(0, 1.5, n))
            for n in n_values for t in temperatures for _ in range(per_cell)]
    return pd.DataFrame(rows)


def padded_scores(vectors: pd.DataFrame, n_max: int) -> np.ndarray:
    """(vectors, n_max) array of scores / temperature, padded with silent entries."""
    z = np.full((len(vectors), n_max), SILENT_SCORE)
    for row, (scores, temperature) in enumerate(zip(vectors["scores"], vectors["temperature"])):
        z[row, :len(scores)] = scores / temperature
    return z


def _circuit(kind, n_max, rate, dt, circuit_options) -> tuple:
    """(circuit, output spikes per second it holds) for ``kind``."""
    if kind == "S'":
        return (windowed_softmax(n_max, window=WINDOW, fill=FILL, dt=dt, max_rate_dt=0.1,
                                 **circuit_options), float(FILL / WINDOW))
    factory = stochastic_softmax if kind == "S" else deterministic_softmax
    return factory(n_max, rate=rate, dt=dt, **circuit_options), float(rate / Hz)


def log_partition_gap(z: np.ndarray, rate=80 * Hz) -> np.ndarray:
    """ln(rate / 1 Hz) - logsumexp(z) per row: how far (in units of delta) the cold slow trace
    starts from its equilibrium. For REPORTING settle times only; the circuits never see it."""
    top = z.max(1, keepdims=True)
    return np.log(float(rate / Hz)) - (np.log(np.exp(z - top).sum(1)) + top[:, 0])


def run_softmax(kind: str, vectors: pd.DataFrame, seeds: int, T_values, *, seed: int = 1,
                rate=80 * Hz, dt=0.1 * ms, target: str | None = None, offset: float = 0.0,
                readout_start=READOUT_START, handed_normaliser: bool = False,
                **circuit_options) -> SoftmaxRun:
    """Simulate every vector x seed of circuit ``kind`` ("S", "S'" or "D") in one Brian2 run,
    from a cold start.

    The read-out window for T starts at ``readout_start`` and lasts T / rate (S, D) or T
    windows of 5 ms (S'). ``seed`` draws D's initial phases and seeds Brian2; ``target``
    is the backend (default: the enclosing :func:`evsim.backends.using` block's). ``offset shifts every
    drive of S and S'; ``handed_normaliser`` adds log_partition_gap to every drive of S instead
    (a CONTROL: the normaliser computed in NumPy and handed in, as the audit found the old
    protocol did); ``circuit_options`` go to the circuit factory.
    """
    n_max = int(vectors["n"].max())
    z = np.repeat(padded_scores(vectors, n_max), seeds, axis=0)
    trials = pd.DataFrame({"vector": np.repeat(np.arange(len(vectors)), seeds),
                           "seed": np.tile(np.arange(seeds), len(vectors)),
                           "n": np.repeat(vectors["n"].to_numpy(), seeds),
                           "temperature": np.repeat(vectors["temperature"].to_numpy(), seeds)})
    circuit, per_second = _circuit(kind, n_max, rate, dt, circuit_options)
    if handed_normaliser:
        offset = offset + log_partition_gap(z, rate)[:, None]
    drive, initial = score_inputs("D" if kind == "D" else "S", z,
                                  rng=np.random.default_rng(seed),
                                  **({} if kind == "D" else {"offset": offset}))
    silent = z < SILENT_SCORE / 2
    if kind != "D":  # padded neurons are switched off from the first step
        initial["exc"]["v"] = np.where(silent, SILENT_SCORE, 0.0) * DELTA
    T = np.asarray(T_values, dtype=int)
    step = float(dt / second)
    start = round(float(readout_start / second) / step)
    grid_step = round(float(SETTLE_STEP / dt))
    if start % grid_step:
        raise ValidationError("readout_start", "parameter 'readout_start' must be a multiple of "
                                               f"{SETTLE_STEP}, got {readout_start}")
    grid = np.arange(grid_step, start + 1, grid_step)
    ends = start + np.round(T / per_second / step).astype(int)
    checkpoints = np.unique(np.concatenate([grid, [start], ends]))
    record = simulate(circuit, {"scores": drive}, checkpoints[-1] * dt, trials=len(z),
                      seed=seed, dt=dt, checkpoints=checkpoints * dt, initial=initial,
                      target=target)
    counts = record.counts["exc"]
    at = {c: k for k, c in enumerate(checkpoints)}
    window_counts = counts[[at[e] for e in ends]] - counts[at[start]]
    p = np.where(silent, 0.0, softmax(z))
    return SoftmaxRun(kind, T, window_counts, checkpoints * step, counts, p, per_second,
                      start * step, trials, record)


def predicted_tv(p: np.ndarray, spikes) -> np.ndarray:
    """Leading-order E[TV] of a multinomial histogram: 1/2 sqrt(2/(pi N)) sum_j sqrt(p_j(1-p_j))."""
    spikes = np.asarray(spikes, float)
    return 0.5 * np.sqrt(2 / (np.pi * spikes)) * np.sqrt(p * (1 - p)).sum(-1)


def _distances(counts: np.ndarray, expected: np.ndarray, p: np.ndarray) -> dict:
    """Histogram and circuit-normalised errors of counts (K, trials, n); ``expected`` (K,) is
    the spike count the circuit holds over each window (rate x window)."""
    spikes = counts.sum(-1)
    p_hat = counts / np.maximum(spikes, 1)[..., None]
    r = counts / expected[:, None, None]
    p = np.broadcast_to(p, counts.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p_hat > 0, p_hat * np.log(p_hat / np.where(p > 0, p, 1)), 0).sum(-1)
    return {"N": spikes.ravel(), "tv": 0.5 * np.abs(p_hat - p).sum(-1).ravel(),
            "tv_circuit": 0.5 * np.abs(r - p).sum(-1).ravel(), "kl": kl.ravel(),
            "max_abs": np.abs(p_hat - p).max(-1).ravel()}


def _with_trials(run: SoftmaxRun, columns: dict, first: str, values) -> pd.DataFrame:
    per_trial = pd.concat([run.trials] * len(values), ignore_index=True)
    frame = pd.DataFrame({first: np.repeat(values, len(run.trials)), **columns})
    return pd.concat([per_trial, frame], axis=1).assign(kind=run.kind)


def errors(run: SoftmaxRun) -> pd.DataFrame:
    """One row per (T, trial) of the read-out windows: N, both TVs, KL(p_hat || p), max-abs,
    and the multinomial predictions of the histogram TV (at N) and circuit TV (at T)."""
    columns = _distances(run.counts, run.T.astype(float), run.p)
    columns["predicted_tv"] = predicted_tv(run.p, np.maximum(run.counts.sum(-1), 1)).ravel()
    columns["predicted_tv_circuit"] = predicted_tv(run.p, run.T[:, None].astype(float)).ravel()
    return _with_trials(run, columns, "T", run.T)


def onset_errors(run: SoftmaxRun) -> pd.DataFrame:
    """One row per (checkpoint, trial) of counts from t = 0 (the transient included):
    time_s, T = expected spikes since onset, both TVs and the circuit TV's prediction."""
    expected = run.onset_times * run.per_second
    columns = _distances(run.onset_counts, expected, run.p)
    columns["predicted_tv_circuit"] = predicted_tv(run.p, expected[:, None]).ravel()
    columns["T"] = np.repeat(expected, len(run.trials))
    return _with_trials(run, columns, "time_s", run.onset_times)


def window_rates(totals: np.ndarray, per_second: float) -> np.ndarray:
    """Trial-mean rate / ``per_second`` in windows of SETTLE_WINDOW starting every SETTLE_STEP,
    from cumulative counts ``totals`` (G, trials) at SETTLE_STEP, 2 SETTLE_STEP, ... ."""
    totals = np.concatenate([np.zeros((1, totals.shape[1])), totals])
    width = round(float(SETTLE_WINDOW / SETTLE_STEP))
    spikes = (totals[width:] - totals[:-width]).mean(1)
    return spikes / (per_second * float(SETTLE_WINDOW / second))


def population_rates(run: SoftmaxRun) -> pd.DataFrame:
    """Trial-mean output rate / the rate the circuit holds, per (n, temperature), in windows of
    SETTLE_WINDOW starting every SETTLE_STEP from 0 to the read-out start."""
    settling = run.onset_times <= run.readout_start_s + 1e-9  # the 50 ms grid
    totals = run.onset_counts[settling].sum(-1)  # (G, trials)
    step_s = float(SETTLE_STEP / second)
    frames = [pd.DataFrame({"n": n, "temperature": temperature,
                            "relative_rate": window_rates(totals[:, trials.index],
                                                          run.per_second)})
              for (n, temperature), trials in run.trials.groupby(["n", "temperature"])]
    return pd.concat([f.assign(start_s=np.arange(len(f)) * step_s) for f in frames],
                     ignore_index=True)


def settle_times(rates: pd.DataFrame, tolerance: float = SETTLE_TOLERANCE) -> pd.DataFrame:
    """Per (n, temperature): the first window start from which every later window's relative
    rate lies within ``tolerance`` of 1 (NaN if the last window is still outside)."""
    rows = []
    for (n, temperature), part in rates.groupby(["n", "temperature"]):
        outside = np.abs(part["relative_rate"].to_numpy() - 1) > tolerance
        starts = part["start_s"].to_numpy()
        settled = np.nan if outside[-1] else (starts[np.flatnonzero(outside)[-1] + 1]
                                              if outside.any() else starts[0])
        rows.append(dict(n=n, temperature=temperature, settle_s=float(settled)))
    return pd.DataFrame(rows)
