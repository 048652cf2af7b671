"""Claim hyper.monotonic: a third-party hyperparameter note on effective dimension and spiking.

The note says d_eff(spiking) = d_eff(continuous) x R with R = R_threshold R_reset R_refractory
in (0, 1], R -> 1 as V_th -> 0, R -> 0 as V_th -> infinity, R falling with t_ref, d_eff rising
with tau_m and falling with V_th and the reset value, and closed forms for each factor. We
measure it on one layer: digits (standardised, 64-d) -> random weights -> h exact LIF neurons
driven by a constant current for 200 ms. d_eff is the participation ratio of a kernel's
eigenvalues (the note's definition) for two kernels:

* counts: the Gram matrix of the spike-count features (continuous reference: ReLU of the drive);
* tangent: the surrogate-gradient tangent kernel of the layer's weights,
  Theta(x, x') = sum_h s_h(x) s_h(x') x . x', with s the derivative of the analytic LIF rate
  (central difference over +-1 mV; the rate itself is checked by lif.fi_curve); continuous
  reference: ReLU, s = 1[u > 0].
Every setting of (V_th, reset, t_ref, tau_m) is one trial of the same Brian2 run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from brian2 import Mohm, ms, mV, second
from scipy import stats

from circuits.softmax import deterministic_softmax, score_inputs, softmax
from evsim import Circuit, models, simulate

from .. import effective_dim as ed
from ..datasets import load
from ..fi_curve import analytic_period
from ..plots import figure, paper_style, save_figure
from .base import Claim, ClaimResult, Sizes

BASE = dict(v_th=20.0, beta=0.0, t_ref=0.0, tau_m=20.0)  # mV, v_reset / V_th, ms, ms
SWEEPS = {"v_th": (1.25, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0),
          "beta": (0.0, 0.25, 0.5, 0.75), "t_ref": (0.0, 1.0, 2.0, 5.0, 10.0),
          "tau_m": (5.0, 10.0, 20.0, 40.0, 80.0)}
COMBINED = dict(v_th=40.0, beta=0.5, t_ref=5.0, tau_m=20.0)
DRIVE_SCALE = 30.0  # mV of drive per unit of w . x
DURATION = 0.2  # s
KERNELS = ("counts", "tangent")
#: how far each closed form may be from the measured R (the product: relative to R)
TOLERANCES = dict(product=0.2, threshold=0.1, reset=0.05, refractory=0.1)
SIZES = Sizes(quick=dict(samples=200, hidden=48), full=dict(samples=400, hidden=96),
              toy=dict(samples=40, hidden=12))


def settings() -> pd.DataFrame:
    """One row per trial: the base with one knob changed, plus the combined setting."""
    rows = [dict(BASE, knob="base")]
    for knob, values in SWEEPS.items():
        rows += [dict(BASE, knob=knob, **{knob: v}) for v in values if v != BASE[knob]]
    rows.append(dict(COMBINED, knob="combined"))
    return pd.DataFrame(rows)


def _layer(samples: int, hidden: int, seed: int):
    rng = np.random.default_rng(seed)
    X = load("digits")[rng.permutation(1797)[:samples]]
    X = (X - X.mean(0)) / np.maximum(X.std(0), 1e-9)
    W = rng.normal(0, 1 / np.sqrt(X.shape[1]), (X.shape[1], hidden))
    return X, DRIVE_SCALE * X @ W  # inputs, drive u (mV) (samples, hidden)


def analytic_rate(u, v_th, beta, t_ref, tau_m) -> np.ndarray:
    """LIF rate (Hz) for constant drive u (mV), reset to beta v_th, refractory t_ref (ms):
    the f-I curve of analyses.fi_curve in this claim's plain-number units."""
    return 1 / analytic_period(np.asarray(u, float) * mV, tau_m * ms, v_th * mV, t_ref * ms, 1,
                               v_reset=beta * v_th * mV)


def _pr_of_gram(features: np.ndarray) -> float:
    singular = np.linalg.svd(features, compute_uv=False)
    return ed.participation_ratio(singular ** 2) if singular.max() > 0 else np.nan


def _tangent_pr(slopes: np.ndarray, X: np.ndarray) -> float:
    kernel = (slopes @ slopes.T) * (X @ X.T)
    eig = np.clip(np.linalg.eigvalsh(kernel), 0, None)
    return ed.participation_ratio(eig) if eig.sum() > 0 else np.nan


def measure_layer(samples: int, hidden: int, seed: int, simulator=simulate) -> pd.DataFrame:
    """The layer's spike counts for every setting, d_eff of both kernels and the note's
    closed forms; ``seed`` draws the data subset and weights and seeds Brian2; ``simulator``
    runs the circuit (:func:`evsim.simulate` or a claim context's)."""
    X, u = _layer(samples, hidden, seed)
    table = settings()
    circuit = Circuit("layer")
    circuit.add_population("layer", models.lif(reset="value", t_ref=1 * ms), u.size)
    circuit.add_input("drive", "layer")
    per_trial = {"v_th": table.v_th.to_numpy() * mV, "v_reset": (table.beta * table.v_th)
                 .to_numpy() * mV, "t_ref": table.t_ref.to_numpy() * ms,
                 "tau_m": table.tau_m.to_numpy() * ms}
    record = simulator(circuit, {"drive": u.ravel() * mV / (1 * Mohm)}, DURATION * second,
                       trials=len(table), seed=seed, parameters={"layer": per_trial})
    counts = record.counts["layer"][-1].reshape(len(table), *u.shape).astype(float)
    relu_pr = _pr_of_gram(np.maximum(u, 0))
    relu_tangent = _tangent_pr((u > 0).astype(float), X)
    rows = []
    for k, s in table.iterrows():
        rate = lambda v: analytic_rate(v, s.v_th, s.beta, s.t_ref, s.tau_m)  # noqa: E731
        slopes = (rate(u + 1) - rate(u - 1)) / 2
        active = counts[k] > 0
        rows.append(dict(s, rate_hz=float(counts[k].mean() / DURATION),
                         active_fraction=float(active.mean()),
                         isi_ms=float(1000 * DURATION / counts[k][active].mean())
                         if active.any() else np.nan,
                         deff_counts=_pr_of_gram(counts[k]), deff_counts_relu=relu_pr,
                         deff_tangent=_tangent_pr(slopes, X), deff_tangent_relu=relu_tangent))
    out = pd.DataFrame(rows)
    out["R_counts"] = out.deff_counts / out.deff_counts_relu
    out["R_tangent"] = out.deff_tangent / out.deff_tangent_relu
    alpha = (out.v_th - u.mean()) / u.std()
    out["closed_threshold"] = stats.norm.cdf(alpha) * np.exp(-alpha ** 2 / 2)
    return out


def _monotone(values, direction: int) -> bool:
    """Never moves against ``direction`` (+1 rises, -1 falls) and changes by > 1 % in all."""
    values = np.asarray(values, float)
    net = direction * (values[-1] - values[0]) / max(abs(values[0]), 1e-12)
    return bool(np.all(direction * np.diff(values) >= -1e-9) and net > 0.01)


def judge(table: pd.DataFrame, kind: str, loosen: float = 1.0) -> dict:
    """Each statement of the note for R_<kind> ("counts" or "tangent"): holds or fails; the
    closed forms within ``loosen`` x :data:`TOLERANCES`."""
    tol = {name: loosen * value for name, value in TOLERANCES.items()}
    R = f"R_{kind}"
    deff = f"deff_{kind}"
    base = table[table.knob == "base"].iloc[0]
    sweep = {knob: pd.concat([table[table.knob == knob], table[table.knob == "base"]])
             .sort_values(knob) for knob in SWEEPS}
    v = sweep["v_th"]
    ratio = lambda knob, value: float(  # noqa: E731
        sweep[knob][sweep[knob][knob] == value][R].iloc[0] / base[R])
    combined = table[table.knob == "combined"].iloc[0]
    product = base[R] * ratio("v_th", COMBINED["v_th"]) * ratio("beta", COMBINED["beta"]) \
        * ratio("t_ref", COMBINED["t_ref"])
    beta = sweep["beta"]
    relative = (beta[R] / base[R]).to_numpy()
    gamma = max(0.0, float(np.linalg.lstsq((beta.beta.to_numpy() ** 2)[:, None],
                                           1 / relative - 1, rcond=None)[0][0]))
    refr = sweep["t_ref"]
    closed_ref = 1 - refr.t_ref / base.isi_ms
    measured = v[R].dropna()
    results = {
        "R in (0, 1]": bool(((table[R].dropna() > 0) & (table[R].dropna() <= 1.02)).all()),
        "R -> 1 as V_th -> 0": bool(measured.iloc[0] >= 0.9),
        "R -> 0 as V_th -> infinity": bool(len(measured) < len(v) or measured.iloc[-1] <= 0.1),
        "d_eff falls with V_th": _monotone(v[deff].dropna(), -1),
        "d_eff falls with the reset value": _monotone(beta[deff], -1),
        "R falls with t_ref": _monotone(refr[R], -1),
        "d_eff rises with tau_m": _monotone(sweep["tau_m"][deff], +1),
        f"R = R_threshold R_reset R_refractory (within {tol['product']:.0%})":
            bool(abs(combined[R] - product) <= tol["product"] * abs(combined[R])),
        f"R_threshold = Phi(alpha) exp(-alpha^2/2) (within {tol['threshold']:g})":
            bool(np.nanmax(np.abs(v[R] - v.closed_threshold)) <= tol["threshold"]),
        f"R_reset = 1/(1 + gamma beta^2) (within {tol['reset']:g})":
            bool(np.max(np.abs(relative - 1 / (1 + gamma * beta.beta ** 2))) <= tol["reset"]),
        f"R_refractory = 1 - t_ref/T_ISI (within {tol['refractory']:g})":
            bool(np.max(np.abs(refr[R] / base[R] - closed_ref)) <= tol["refractory"]),
    }
    return {"statements": results, "gamma_fit": gamma,
            "product_vs_combined": [round(float(product), 4), round(float(combined[R]), 4)]}


def softmax_knobs(seed: int, simulator=simulate) -> pd.DataFrame:
    """Firing rate and TV error of construction D for its V_th and t_ref (2 s, n = 8)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1.5, (6, 8))
    knobs = [("v_th", v, 0.0) for v in (0.5, 1.0, 2.0)] + \
            [("t_ref", 1.0, t) for t in (0.5, 1.0, 2.0)]
    drive, initial = score_inputs("D", np.tile(scores, (len(knobs), 1)), rng=rng)
    v_th = np.repeat([k[1] for k in knobs], len(scores)) * mV
    t_ref = np.repeat([k[2] for k in knobs], len(scores)) * ms
    record = simulator(deterministic_softmax(8), {"scores": drive}, 2 * second,
                       trials=len(drive), seed=seed, initial=initial,
                       parameters={"exc": {"v_th": v_th, "t_ref": t_ref}})
    counts = record.counts["exc"][-1].reshape(len(knobs), len(scores), 8)
    tv = 0.5 * np.abs(counts / counts.sum(-1, keepdims=True) - softmax(scores)).sum(-1)
    return pd.DataFrame([dict(knob=k, v_th_mv=v, t_ref_ms=t, rate_hz=counts[i].sum(-1).mean() / 2,
                              tv=tv[i].mean()) for i, (k, v, t) in enumerate(knobs)])


PROTOCOL = (
    f"One layer: {SIZES.text('samples')} standardised digits -> random Gaussian weights "
    f"(1/sqrt 64) x {DRIVE_SCALE:g} mV -> {SIZES.text('hidden')} exact LIF neurons, constant "
    f"drive, {DURATION * 1000:g} ms, dt 0.1 ms; base V_th 20 mV, reset 0, t_ref 0, tau_m 20 ms; "
    "one knob at a time: V_th 1.25-160 mV, reset/V_th 0-0.75, t_ref 0-10 ms, tau_m 5-80 ms; "
    "plus V_th 40, reset 0.5 V_th, t_ref 5 ms combined. d_eff = participation ratio of kernel "
    "eigenvalues; kernels: spike-count Gram and surrogate tangent kernel, each divided by its "
    "ReLU counterpart to give R. Each statement of the note is judged on both kernels by a "
    "fixed criterion (in details). Also construction D's firing rate and TV error for V_th "
    "and t_ref. Rule (before the run): supported if every statement holds for both kernels; "
    "refuted if more than half fail; partial otherwise."
)


def hyper_rule(outcomes, refuted_above: float = 0.5) -> str:
    """supported if no statement fails, refuted if more than ``refuted_above`` of them
    (half) fail, else partial."""
    outcomes = list(outcomes)
    failed = outcomes.count(False)
    return "supported" if failed == 0 else "refuted" if failed > refuted_above * len(outcomes) \
        else "partial"


def _outcomes(table: pd.DataFrame, kinds=KERNELS, loosen: float = 1.0) -> list[bool]:
    return [ok for kind in kinds for ok in judge(table, kind, loosen)["statements"].values()]


def hyper_sensitivity(table: pd.DataFrame) -> list[dict]:
    """The verdict with looser closed-form tolerances, on one kernel only, and with other
    shares of failed statements that refute."""
    outcomes = _outcomes(table)
    return [
        {"choice": "closed forms within twice their stated tolerances",
         "verdict": hyper_rule(_outcomes(table, loosen=2.0))},
        *[{"choice": f"statements judged on the {kind} kernel only",
           "verdict": hyper_rule(_outcomes(table, kinds=(kind,)))} for kind in KERNELS],
        *[{"choice": f"refuted if more than {share} of the statements fail instead of half",
           "verdict": hyper_rule(outcomes, fraction)}
          for share, fraction in (("a third", 1 / 3), ("two thirds", 2 / 3))]]


def measure(context) -> ClaimResult:
    size = context.sizes(SIZES)
    table = measure_layer(size["samples"], size["hidden"], context.seed_for("layer"),
                          simulator=context.simulate)
    judged = {kind: judge(table, kind) for kind in KERNELS}
    outcomes = [ok for j in judged.values() for ok in j["statements"].values()]
    details = {kind: j for kind, j in judged.items()}
    details["statements_failed"] = f"{outcomes.count(False)} of {len(outcomes)}"
    alpha = np.linspace(-10, 10, 20001)
    form = stats.norm.cdf(alpha) * np.exp(-alpha ** 2 / 2)
    details["note_self_consistency"] = (
        f"Phi(alpha) exp(-alpha^2/2) is at most {form.max():.3f} (alpha = "
        f"{alpha[form.argmax()]:.2f}) and tends to 0 as V_th -> 0 (alpha -> -infinity), so the "
        "note's closed form contradicts its own limit R -> 1 as V_th -> 0")
    knobs = softmax_knobs(context.seed_for("softmax knobs"), simulator=context.simulate)
    return ClaimResult(hyper_rule(outcomes), float(outcomes.count(False)), None, details,
                       {"layer": table, "softmax_knobs": knobs}, hyper_sensitivity(table))


def plot(tables, directory) -> list[str]:
    table = tables["layer"]
    base = table[table.knob == "base"]
    with paper_style():
        fig, axes = figure("double", 2.4, ncols=4, sharey=True)
        for ax, knob, label in zip(axes, SWEEPS, ("V_th (mV)", "reset / V_th", "t_ref (ms)",
                                                  "tau_m (ms)")):
            rows = pd.concat([table[table.knob == knob], base]).sort_values(knob)
            ax.plot(rows[knob], rows.R_counts, "o-", ms=3, label="spike counts")
            ax.plot(rows[knob], rows.R_tangent, "s--", ms=3, label="tangent kernel")
            if knob == "v_th":
                ax.plot(rows[knob], rows.closed_threshold, ":", color="0.3", label="note's form")
                ax.set_xscale("log")
            ax.axhline(1, color="0.6", lw=0.6)
            ax.set_xlabel(label)
        axes[0].set_ylabel("R = d_eff(spiking) / d_eff(ReLU)")
        axes[0].legend(fontsize=5)
        return save_figure(fig, directory, "hyper_monotonic")


CLAIMS = (
    Claim("hyper.monotonic", "a third-party note on arXiv:2604.15769 (Spiking Transformers: "
          "Effective Dimension Theory), of uneven reliability",
          "spiking multiplies d_eff by R = R_threshold R_reset R_refractory in (0, 1], with the "
          "stated limits, monotonicities and closed forms", PROTOCOL, 0.0, measure, plot),
)
