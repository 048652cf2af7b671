"""Claim design.constant: calibrate C in T = C L^2 d_eff / (d eps^2) on one split, test on
the other.

Experiment (the pooling model of docs/theory.md section 5.2): d Bernoulli neurons code d_eff
distinct values y = L u (u ~ U[-1, 1]), each value copied to d / d_eff neurons; the decoder
averages the copies. The minimal T (mean RMS error over seeds <= eps; doubling + bisection over
8 checkpoints per octave) is measured for every (d, d_eff, L, eps). The rule's constant is then
fitted on a random half of the cells and used to predict the other half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from circuits.arithmetic import STEP
from circuits.encoders import bernoulli_encoder, range_to_rate, rate_to_range

from ..bounds import candidate_steps, minimal_T_on_curve
from ..plots import figure, log_log, paper_style, save_figure
from .base import Claim, ClaimResult, Sizes, number_list

__all__ = ["rule_form", "calibrate", "design_rule", "SIZES", "CLAIMS"]

SIZES = Sizes(quick=dict(d=(16, 64), d_eff=(1, 2, 4, 8, 16), L=(0.5, 1.0, 2.0),
                         eps=(0.2, 0.1, 0.05), seeds=12, T_max=4096, per_octave=8),
              full=dict(d=(16, 32, 64, 128), d_eff=(1, 2, 4, 8, 16, 32), L=(0.5, 1.0, 2.0),
                        eps=(0.2, 0.1, 0.05, 0.025), seeds=16, T_max=16384,
                        per_octave=8),
              toy=dict(d=(4,), d_eff=(1, 2), L=(1.0,), eps=(0.2, 0.1), seeds=2, T_max=64,
                       per_octave=2))
PAPER_C, PAPER_CI, PAPER_R2 = 2.3, (1.9, 2.7), 0.97
#: the form holds if the held-out R^2 of log T reaches this
MIN_R2 = 0.9


def rule_form(L, d_eff, d, eps) -> np.ndarray:
    """L^2 d_eff / (d eps^2): the design rule without its constant."""
    return np.asarray(L, float) ** 2 * np.asarray(d_eff, float) / (
        np.asarray(d, float) * np.asarray(eps, float) ** 2)


def calibrate(table: pd.DataFrame, *, seed: int = 0, resamples: int = 2000,
              floor: int = 1) -> dict:
    """Fit log C = mean(log T - log form) on a random half of the cells; R^2 of log T
    in-sample and on the held-out half, residual standard error, bootstrap CI of C.

    Cells whose minimal T is the smallest candidate ``floor`` are censored (the true minimum
    may be lower) and left out, as are cells that never reached eps."""
    rng = np.random.default_rng(seed)
    cells = table.dropna(subset=["T_star"])
    cells = cells[cells.T_star > floor].reset_index(drop=True)
    fit = rng.permutation(len(cells)) < len(cells) // 2
    log_T = np.log(cells.T_star.to_numpy(float))
    log_form = np.log(rule_form(cells.L, cells.d_eff, cells.d, cells.eps))
    offset = log_T - log_form
    log_C = offset[fit].mean()
    boot = [offset[fit][rng.integers(0, fit.sum(), fit.sum())].mean() for _ in range(resamples)]

    def r_squared(mask):
        residual = log_T[mask] - (log_C + log_form[mask])
        return float(1 - (residual ** 2).sum() / ((log_T[mask] - log_T[mask].mean()) ** 2).sum()), \
            float(np.sqrt((residual ** 2).mean()))

    (r2_in, rse_in), (r2_out, rse_out) = r_squared(fit), r_squared(~fit)
    return dict(C=float(np.exp(log_C)), censored=int(len(table) - len(cells)),
                ci95=[float(np.exp(np.percentile(boot, 2.5))),
                      float(np.exp(np.percentile(boot, 97.5)))],
                r2_in_sample=r2_in, r2_held_out=r2_out, rse_log_in_sample=rse_in,
                rse_log_held_out=rse_out, cells_fit=int(fit.sum()),
                cells_held_out=int((~fit).sum()), split=fit.tolist())


def _minimal_T_table(context) -> pd.DataFrame:
    size = context.sizes(SIZES)
    rows = []
    T = candidate_steps(size["T_max"], size["per_octave"])
    rng = context.rng("values")
    for d in size["d"]:
        combos = [(e, L) for e in size["d_eff"] if e <= d for L in size["L"]]
        seeds = size["seeds"]
        u = [rng.uniform(-1, 1, (seeds, e)) for e, _ in combos]
        p = np.concatenate([range_to_rate(np.tile(values, d // e), 1.0) for values, (e, _) in
                            zip(u, combos)])  # (combos x seeds, d): copies of each value
        record = context.simulate(bernoulli_encoder(d), {"values": p}, T[-1] * STEP,
                                  trials=len(p), seed=context.seed_for(f"code d={d}"), dt=STEP,
                                  checkpoints=T * STEP)
        counts = record.counts["enc"].reshape(len(T), len(combos), seeds, d)
        for c, (e, L) in enumerate(combos):
            pooled = counts[:, c].reshape(len(T), seeds, d // e, e).mean(axis=2)
            decoded = rate_to_range(pooled, T[:, None, None], L)
            error = np.sqrt(((decoded - L * u[c]) ** 2).mean(axis=(1, 2)))  # RMS, (K,)
            for eps in size["eps"]:
                rows.append(dict(d=d, d_eff=e, L=L, eps=eps,
                                 T_star=minimal_T_on_curve(error, T, eps)))
    return pd.DataFrame(rows)


PROTOCOL = (
    "Pooling model: d Bernoulli neurons code d_eff distinct values L u (u ~ U[-1,1]) with "
    f"d/d_eff copies each, decoder averages the copies; d in {{{SIZES.text('d', number_list)}}}, "
    f"d_eff in {{{SIZES.text('d_eff', number_list)}}} (<= d), L in "
    f"{{{SIZES.text('L', number_list)}}}, eps in {{{SIZES.text('eps', number_list)}}}, "
    f"{SIZES.text('seeds')} seeds, T <= {SIZES.text('T_max')} ({SIZES.text('per_octave')} "
    "checkpoints per octave). Minimal T (RMS over values and "
    "seeds <= eps); cells already within eps at T = 1 are censored and left out. Rule "
    "T = C L^2 d_eff / (d eps^2): log C fitted on a random half of the cells, 95% CI by 2000 "
    "bootstrap resamples of those cells; R^2 of log T on the fitted and on the held-out half. "
    f"Rule (before the run): supported if the CI overlaps [{PAPER_CI[0]}, {PAPER_CI[1]}] and "
    f"the held-out R^2 >= {MIN_R2}; partial if R^2 >= {MIN_R2} but the CI misses "
    f"[{PAPER_CI[0]}, {PAPER_CI[1]}] (the form holds, the constant is code-dependent); refuted "
    f"if held-out R^2 < {MIN_R2}."
)


def design_rule(ci, r2_held_out: float, min_r2: float = MIN_R2) -> str:
    """The design rule's verdict from the CI of C and the held-out R^2 (see PROTOCOL)."""
    if r2_held_out < min_r2:
        return "refuted"
    overlaps = ci[0] <= PAPER_CI[1] and ci[1] >= PAPER_CI[0]
    return "supported" if overlaps else "partial"


def measure(context) -> ClaimResult:
    table = _minimal_T_table(context)
    result = calibrate(table, seed=context.seed_for("split and bootstrap"))
    table = table.dropna(subset=["T_star"])
    table = table[table.T_star > 1].reset_index(drop=True)
    table["split"] = np.where(result.pop("split"), "fit", "held-out")
    table["predicted"] = result["C"] * rule_form(table.L, table.d_eff, table.d, table.eps)
    details = {**result, "paper": {"C": PAPER_C, "ci95": list(PAPER_CI), "R2": PAPER_R2},
               "theory_C": round(4 / 6, 3),
               "note": "theory for this code: RMSE^2 = (2L)^2 p(1-p) d_eff/(d T) with "
                       "E[p(1-p)] = 1/6 for u ~ U[-1,1], so C = 2/3; C depends on the code, "
                       "the value distribution and the error norm, which the paper does not "
                       "state"}
    sensitivity = [
        {"choice": f"held-out R^2 >= {PAPER_R2} (the paper's value) instead of >= {MIN_R2}",
         "verdict": design_rule(result["ci95"], result["r2_held_out"], PAPER_R2)},
        {"choice": "in-sample R^2 instead of held-out",
         "verdict": design_rule(result["ci95"], result["r2_in_sample"])}]
    return ClaimResult(design_rule(result["ci95"], result["r2_held_out"]), result["C"],
                       result["ci95"], details, {"calibration": table}, sensitivity)


def plot(tables, directory) -> list[str]:
    table = tables["calibration"]
    with paper_style():
        fig, ax = figure("single", 2.6)
        for split, marker in (("fit", "o"), ("held-out", "s")):
            rows = table[table.split == split]
            ax.plot(rows.predicted, rows.T_star, marker, ms=3, label=split, alpha=0.7)
        span = np.array([table.predicted.min(), table.predicted.max()])
        ax.plot(span, span, "k-", lw=0.8, label="T = prediction")
        log_log(ax, "C L^2 d_eff / (d eps^2)", "measured minimal T").legend(fontsize=6)
        return save_figure(fig, directory, "design_constant")


CLAIMS = (
    Claim("design.constant", "arXiv:2604.15769, abstract",
          "design rule constant C = 2.3 (95% CI [1.9, 2.7]) with R^2 = 0.97", PROTOCOL, PAPER_C,
          measure, plot),
)
