"""Claim bounds.spike_count: measured minimal spike counts against Omega(L_f^2 n d / eps^2).

Each output coordinate of a target f: [-1, 1]^(n x d) -> R^(n x d) is sent by one neuron, as
a stochastic count code (Bernoulli source) or a deterministic count code (sigma-delta IF
encoder), with firing probability p = (y + R) / (2 R) per step for a value y in [-R, R]; the
read-out is y_hat = (2 count / T - 1) R. Targets (h(X) = (x_ic + mean_j x_jc) / 2, an
equivariant Deep-Sets layer with values in [-1, 1]):

* range-scaled: f = L h(X), R = L (L changes the output range and the Lipschitz constant);
* frequency-scaled: f = sin(L h(X)), R = 1 (L changes only the Lipschitz constant).

One sweep cell simulates one (n, d): every (L, family) x seed is a trial, both codes are two
populations of the same run, and counts are read on a grid of 8 checkpoints per octave of T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from circuits.arithmetic import STEP
from circuits.encoders import (bernoulli_encoder, encoder_inputs, range_to_rate, rate_to_range,
                               sigma_delta_encoder)
from evsim import Circuit, simulate
from evsim.errors import ValidationError

from ..bounds import candidate_steps, minimal_T_on_curve
from ..plots import figure, log_log, paper_style, save_figure
from .base import Claim, ClaimResult, Sizes, number_list

__all__ = ["SIZES", "CLAIMS", "bounds_cell", "target_values", "minimal_spikes", "fit_exponents",
           "judge_exponent", "bounds_rule"]

SIZES = Sizes(quick=dict(n=(2, 8), d=(2, 8), eps=(0.2, 0.1, 0.05), seeds=12, T_max=8192,
                         per_octave=8, resamples=300),
              full=dict(n=(2, 4, 8, 16), d=(2, 4, 8, 16), eps=(0.2, 0.1, 0.05, 0.025),
                        seeds=16, T_max=32768, per_octave=8, resamples=400),
              toy=dict(n=(2,), d=(2,), eps=(0.2, 0.1), seeds=2, T_max=64, per_octave=2,
                       resamples=4))
L_VALUES = (0.5, 1.0, 2.0, 4.0)
FAMILIES = ("range", "frequency")
CODES = ("stochastic", "deterministic")
CLAIMED = {"L": 2.0, "n": 1.0, "d": 1.0, "1/eps": 2.0}
TOLERANCE = 0.3


def target_values(X, L: float, family: str) -> np.ndarray:
    """f_L(X) of ``family`` for inputs (..., n, d)."""
    h = (X + X.mean(axis=-2, keepdims=True)) / 2
    if family == "range":
        return L * h
    if family == "frequency":
        return np.sin(L * h)
    raise ValidationError("family", f"parameter 'family' must be one of {FAMILIES}, got {family!r}")


def half_range(L: float, family: str) -> float:
    """R: the code covers [-R, R], the known range of the family's outputs."""
    return L if family == "range" else 1.0


def _lipschitz(L: float, family: str, n: int, d: int, rng, pairs: int = 2000) -> float:
    """Largest ||f(X) - f(Y)||_inf / ||X - Y||_inf over random nearby pairs."""
    X = rng.uniform(-1, 1, (pairs, n, d))
    Y = np.clip(X + rng.normal(0, 1e-3, X.shape), -1, 1)
    change = np.abs(target_values(X, L, family) - target_values(Y, L, family)).max(axis=(1, 2))
    return float((change / np.abs(X - Y).max(axis=(1, 2))).max())


def bounds_cell(n: int, d: int, scale: str, seed: int, target: str) -> dict:
    """Error and spike curves of both codes for one (n, d): lists (K, L x family, seeds).

    A sweep cell: ``seed`` (from the claim context) draws the inputs and seeds Brian2,
    ``target`` is the codegen target."""
    size = SIZES.at(scale)
    rng = np.random.default_rng([seed, n, d])
    combos = [(L, family) for family in FAMILIES for L in L_VALUES]
    seeds = size["seeds"]
    X = rng.uniform(-1, 1, (len(combos), seeds, n, d))
    R = np.array([half_range(L, family) for L, family in combos])[:, None, None, None]
    y = np.stack([target_values(X[c], L, family) for c, (L, family) in enumerate(combos)])
    p = range_to_rate(y, R).reshape(-1, n * d)  # (trials, neurons)
    circuit = Circuit("count_codes")
    circuit.include(bernoulli_encoder(n * d), "stochastic")
    circuit.include(sigma_delta_encoder(n * d), "deterministic")
    current, initial = encoder_inputs("sigma_delta", p, STEP, rng=rng)
    T = candidate_steps(size["T_max"], size["per_octave"])
    record = simulate(circuit, {"stochastic/values": p, "deterministic/values": current},
                      T[-1] * STEP, trials=len(p), seed=int(rng.integers(2 ** 31)),
                      dt=STEP, checkpoints=T * STEP, target=target,
                      initial={"deterministic/enc": initial["enc"]})
    result = {"T": T.tolist(), "ran_on": record.metadata["target"],
              "lipschitz": [_lipschitz(L, family, n, d, rng) for L, family in combos]}
    for code in CODES:
        counts = record.counts[f"{code}/enc"].reshape(len(T), len(combos), seeds, n, d)
        decoded = rate_to_range(counts, T[:, None, None, None, None], R)
        error = np.sqrt(((decoded - y) ** 2).mean(axis=(3, 4)))
        result[f"error_{code}"] = error.round(7).tolist()
        result[f"spikes_{code}"] = counts.sum(axis=(3, 4)).tolist()
    return result


def minimal_spikes(cells: pd.DataFrame, eps_values, seed_index=None) -> pd.DataFrame:
    """Per (code, family, L, n, d, eps): minimal T (RMS error over seeds and coordinates <= eps,
    doubling then bisection over the checkpoints) and the mean actual spike count there.

    ``seed_index``: optional {row: array of seed indices} (a bootstrap resample)."""
    combos = [(L, family) for family in FAMILIES for L in L_VALUES]
    rows = []
    for index, cell in cells.iterrows():
        T = np.asarray(cell["T"])
        pick = slice(None) if seed_index is None else seed_index[index]
        for code in CODES:
            # RMS over seeds and coordinates: sqrt of the mean over seeds of each seed's MSE
            error = np.sqrt((np.asarray(cell[f"error_{code}"])[:, :, pick] ** 2).mean(axis=2))
            spikes = np.asarray(cell[f"spikes_{code}"])[:, :, pick].mean(axis=2)
            for c, (L, family) in enumerate(combos):
                for eps in eps_values:
                    T_star = minimal_T_on_curve(error[:, c], T, eps)
                    rows.append(dict(code=code, family=family, L=L, n=cell["n"], d=cell["d"],
                                     eps=eps, T_star=T_star,
                                     spikes=None if T_star is None
                                     else float(spikes[np.searchsorted(T, T_star), c])))
    return pd.DataFrame(rows)


def fit_exponents(table: pd.DataFrame) -> dict:
    """OLS of log spikes on log L, log n, log d, log(1/eps): {name: exponent}."""
    found = table.dropna(subset=["spikes"])
    design = np.column_stack([np.ones(len(found)), np.log(found.L), np.log(found.n),
                              np.log(found.d), np.log(1 / found.eps)])
    coef, *_ = np.linalg.lstsq(design, np.log(found.spikes.astype(float)), rcond=None)
    return dict(zip(["log_c", "L", "n", "d", "1/eps"], coef.tolist()))


def _bootstrap(cells, eps_values, seeds, resamples, rng) -> dict:
    """Exponent CIs: resample seeds within every cell, then cells within each (code, family)."""
    draws = {key: [] for key in [(c, f) for c in CODES for f in FAMILIES]}
    for _ in range(resamples):
        index = {i: rng.integers(0, seeds, seeds) for i in cells.index}
        table = minimal_spikes(cells, eps_values, index)
        for (code, family), group in table.groupby(["code", "family"]):
            resampled = group.iloc[rng.integers(0, len(group), len(group))]
            draws[(code, family)].append(fit_exponents(resampled))
    return {key: {name: [float(np.percentile([d[name] for d in values], q)) for q in (2.5, 97.5)]
                  for name in CLAIMED} for key, values in draws.items()}


def judge_exponent(ci, claimed: float, tolerance: float = TOLERANCE) -> str:
    """agrees if the CI lies within claimed +- tolerance, contradicts if it misses that
    interval, else inconclusive."""
    low, high = ci[0] - claimed, ci[1] - claimed
    if high < -tolerance or low > tolerance:
        return "contradicts"
    return "agrees" if -tolerance <= low and high <= tolerance else "inconclusive"


def bounds_rule(judgements: dict) -> str:
    """supported if every exponent agrees for every (code, family); refuted if every
    (code, family) has a contradicted exponent; partial otherwise. ``judgements``:
    {(code, family): {exponent: judgement}}."""
    if all(j == "agrees" for group in judgements.values() for j in group.values()):
        return "supported"
    if all("contradicts" in group.values() for group in judgements.values()):
        return "refuted"
    return "partial"


PROTOCOL = (
    "One neuron per output coordinate, stochastic (Bernoulli) or deterministic (sigma-delta "
    "IF, random initial phase) count code with p = (y + R)/(2R), read-out (2 count/T - 1) R. "
    "Targets on X ~ U[-1,1]^(n x d), h = (x_ic + mean_j x_jc)/2: range-scaled L h (R = L) and "
    f"frequency-scaled sin(L h) (R = 1); L in {{{number_list(L_VALUES)}}}; n in "
    f"{{{SIZES.text('n', number_list)}}}, d in {{{SIZES.text('d', number_list)}}}, eps in "
    f"{{{SIZES.text('eps', number_list)}}}, {SIZES.text('seeds')} seeds, T <= "
    f"{SIZES.text('T_max')}. Criterion: RMS error over coordinates and seeds <= eps. Minimal T "
    f"by doubling then bisection over checkpoints ({SIZES.text('per_octave')} per octave, one "
    "run per (n, d), resumable sweep); spikes = mean actual count emitted up to that T. OLS of "
    f"log spikes on log L, log n, log d, log(1/eps) per code and family; 95% CIs from "
    f"{SIZES.text('resamples')} "
    "bootstrap replicates (seeds within cells, then cells). Claimed exponents (2, 1, 1, 2); "
    "the paper calls the bound tight, so deviations in either direction count. Per exponent: "
    f"agrees if its CI lies within claim +- {TOLERANCE}, contradicts if the CI misses that "
    "interval, else inconclusive. Rule (before the run): supported if every exponent agrees "
    "for both codes and families; refuted if every (code, family) has a contradicted "
    "exponent; partial otherwise (details name where the claim holds)."
)


def measure(context) -> ClaimResult:
    size = context.sizes(SIZES)
    cells = context.sweep(bounds_cell, {"n": list(size["n"]), "d": list(size["d"]),
                                        "scale": [context.scale],
                                        "seed": [context.seed_for("cells")]})
    table = minimal_spikes(cells, size["eps"])
    table["bound"] = table.L ** 2 * table.n * table.d / table.eps ** 2
    table["spikes_over_bound"] = table.spikes / table.bound
    cis = _bootstrap(cells, size["eps"], size["seeds"], size["resamples"],
                     context.rng("bootstrap"))
    rows, judgements = [], {}
    for (code, family), group in table.groupby(["code", "family"]):
        fit = fit_exponents(group)
        for name, claimed in CLAIMED.items():
            ci = cis[(code, family)][name]
            judgement = judge_exponent(ci, claimed)
            judgements.setdefault((code, family), {})[name] = judgement
            rows.append(dict(code=code, family=family, exponent=name, estimate=fit[name],
                             ci_low=ci[0], ci_high=ci[1], claimed=claimed, judgement=judgement))
    exponents = pd.DataFrame(rows)
    holds = [f"{c}/{f}" for (c, f), group in judgements.items()
             if all(j == "agrees" for j in group.values())]
    lipschitz = np.array(list(cells["lipschitz"]))
    details = {
        "holds_for": holds,
        "exponents": {f"{r.code}/{r.family}/{r.exponent}":
                      [round(r.estimate, 3), [round(r.ci_low, 3), round(r.ci_high, 3)],
                       r.judgement] for r in exponents.itertuples()},
        "censored_cells": int(table.T_star.isna().sum()),
        "min_spikes_over_bound": _per_group_min(table),
        "empirical_lipschitz_max_over_nominal": float(
            (lipschitz.max(axis=0) / np.tile(L_VALUES, 2)).max()),
        "counterexample": _counterexample(table, float(exponents[
            (exponents.code == "deterministic") & (exponents.family == "range") &
            (exponents.exponent == "1/eps")].estimate.iloc[0])),
    }
    stochastic = exponents[(exponents.code == "stochastic") & (exponents.family == "range") &
                           (exponents.exponent == "1/eps")].iloc[0]
    sensitivity = []
    for tolerance in (0.2, 0.5):
        judged = {}
        for row in exponents.itertuples():
            judged.setdefault((row.code, row.family), {})[row.exponent] = judge_exponent(
                [row.ci_low, row.ci_high], row.claimed, tolerance)
        sensitivity.append({"choice": f"exponent tolerance +-{tolerance} instead of "
                                      f"+-{TOLERANCE}", "verdict": bounds_rule(judged)})
    stochastic_only = {key: value for key, value in judgements.items()
                       if key[0] == "stochastic"}
    sensitivity.append({"choice": "stochastic count codes only (the paper's implicit code)",
                        "verdict": bounds_rule(stochastic_only)})
    return ClaimResult(bounds_rule(judgements), float(stochastic.estimate),
                       [float(stochastic.ci_low), float(stochastic.ci_high)], details,
                       {"minimal": table, "exponents": exponents}, sensitivity)


def _per_group_min(table: pd.DataFrame) -> dict:
    return {f"{c}/{f}": float(g.spikes_over_bound.min())
            for (c, f), g in table.dropna(subset=["spikes"]).groupby(["code", "family"])}


def _counterexample(table: pd.DataFrame, eps_exponent: float) -> str:
    """The hardest range-scaled cell both codes reached, in words."""
    found = table.dropna(subset=["spikes"])
    found = found[found.family == "range"]
    hard = found.sort_values(["eps", "L", "n", "d"], ascending=[True, False, False, False])
    for row in hard.itertuples():
        pair = found[(found.L == row.L) & (found.n == row.n) & (found.d == row.d) &
                     (found.eps == row.eps)].set_index("code")
        if set(CODES) <= set(pair.index):
            det, sto = pair.loc["deterministic"], pair.loc["stochastic"]
            return (f"range-scaled target, L = {row.L:g}, n = {row.n}, d = {row.d}, eps = "
                    f"{row.eps:g}: the deterministic code needs {det.spikes:.0f} spikes (T = "
                    f"{det.T_star}), the stochastic code {sto.spikes:.0f} (T = {sto.T_star}). "
                    f"The deterministic cost grows as eps^-{eps_exponent:.2f}, so for any "
                    "constant c it falls below c L^2 n d / eps^2 once eps is small enough: "
                    "the bound does not hold for deterministic count codes")
    return "no cell was reached by both codes"


def plot(tables, directory) -> list[str]:
    table, exponents = tables["minimal"], tables["exponents"]
    names = []
    with paper_style():
        fig, axes = figure("double", 2.6, ncols=2, sharey=True)
        for ax, family in zip(axes, FAMILIES):
            for k, code in enumerate(CODES):
                rows = table[(table.code == code) & (table.family == family) &
                             (table.n == table.n.max()) & (table.d == table.d.max())]
                for L, group in rows.groupby("L"):
                    ax.plot(1 / group.eps, group.spikes, "o-" if code == "stochastic" else "s--",
                            color=f"C{k}", alpha=0.4 + 0.15 * L_VALUES.index(L),
                            label=f"{code}" if L == L_VALUES[-1] else None)
            ref = table[(table.code == "stochastic") & (table.family == family) &
                        (table.n == table.n.max()) & (table.d == table.d.max()) &
                        (table.L == L_VALUES[-1])].dropna(subset=["spikes"])
            if len(ref):
                x = 1 / np.sort(table.eps.unique())[::-1]
                ax.plot(x, ref.spikes.iloc[0] * (x / x[0]) ** 2, ":", color="0.3",
                        label="claimed eps^-2 slope")
            log_log(ax, "1 / eps", "minimal spike count")
            ticks = np.sort(1 / table.eps.unique())
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.set_title(f"{family}-scaled targets, n = d = {table.n.max()} (darker: larger L)",
                         fontsize=7)
        axes[0].legend(fontsize=6)
        names += save_figure(fig, directory, "bounds_spikes_vs_eps")

        fig, ax = figure("double", 2.4)
        labels = [f"{r.code[:5]}/{r.family[:4]}/{r.exponent}" for r in exponents.itertuples()]
        x = np.arange(len(exponents))
        # a percentile interval need not contain the point estimate: clip the bars at it
        below = np.clip(exponents.estimate - exponents.ci_low, 0, None)
        above = np.clip(exponents.ci_high - exponents.estimate, 0, None)
        ax.errorbar(x, exponents.estimate, yerr=[below, above],
                    fmt="o", ms=3, capsize=2, label="measured, 95% CI")
        ax.plot(x, exponents.claimed, "_", color="C3", ms=10, mew=2, label="claimed")
        ax.set_xticks(x, labels, rotation=90, fontsize=5)
        ax.set_ylabel("exponent")
        ax.legend(fontsize=6)
        names += save_figure(fig, directory, "bounds_exponents")
    return names


CLAIMS = (
    Claim("bounds.spike_count", "arXiv:2604.15769, abstract (and its review's doubts)",
          "an eps-approximation needs Omega(L_f^2 n d / eps^2) spikes", PROTOCOL, 2.0, measure,
          plot),
)
