"""Claim attention.universal: a spiking equivariant network approximates random continuous
permutation-equivariant functions it was not built to compute, and cannot fit a function
outside that class.

Targets f: [-1, 1]^(n x d) -> R^(n x d), fixed random weights drawn per target (NumPy):

* ``deep_sets``: y_i = tanh(U tanh(A x_i + B mean_j x_j + c) + e);
* ``attention``: z_i = x_i + sum_j softmax_j((Q x_i).(K x_j)) V x_j, then
  y_i = tanh(U tanh(P z_i + c) + e) (one random softmax-attention layer and a tanh MLP);
* ``moments``: y_i = tanh(U tanh(A x_i + B mean_j tanh(G x_j + g) + c) + e), a map of x_i and
  a NONLINEAR moment of the set (Deep Sets with a nonlinear phi);
* ``control`` (NOT equivariant): y_i = tanh(G x_{(i+1) mod n} + H x_i + c), a map that depends
  on token positions. Its best equivariant approximation is its average over the symmetric
  group (the L2 projection onto equivariant maps, since the sets are drawn i.i.d. per token),
  computed exactly in NumPy over all n! permutations: no equivariant network can beat that
  floor.

Power check (the "first-order floor"): a network that mixes tokens only through mean_j x_j
(Bernoulli noise aside) cannot fit more of a target than the best function of (x_i, mean_j x_j).
That function, E[y_i | x_i, mean_j x_j], is computed in NumPy by conditional Monte Carlo
(:func:`first_order_projection`: the other tokens drawn given their sum); what it leaves, the
higher-order residual, is what only deeper, nonlinear token mixing can predict. The attention and moments
targets have one; the network's read-out must predict part of it on held-out sets.

The approximator is :func:`circuits.set_network.set_network` (spike-coded inputs, mean-pooling
and spike-driven (SDSA) attention layers and two token-wise LIF layers per width), simulated
once per network draw for all targets and widths; only a ridge read-out (weights shared by
every token) is trained.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from circuits.arithmetic import STEP
from circuits.set_network import (MIXING, equivariance_mismatches, network_inputs,
                                  readout_features, set_network)
from evsim.errors import ValidationError

from ..plots import figure, log_log, paper_style, save_figure
from .base import Claim, ClaimResult, Sizes, number_list

__all__ = ["SIZES", "CLAIMS", "FAMILIES", "HIGHER_ORDER", "draw_target", "target_values",
           "equivariant_projection", "others_given_sum", "first_order_projection", "ridge_fit", "ridge_many",
           "universal_fits", "residual_fits", "universal_rule", "universal_verdict",
           "universal_sensitivity"]

PAPER = ("arXiv:2604.15769 (Closing the Theory-Practice Gap in Spiking Transformers via "
         "Effective Dimension), abstract")

SIZES = Sizes(quick=dict(n=4, d=2, widths=(4, 16, 64), T=(16, 32, 64, 128, 256, 512),
                         train=300, test=150, draws=2, networks=2, resamples=400),
              full=dict(n=4, d=2, widths=(4, 16, 64, 128), T=(16, 32, 64, 128, 256, 512, 1024),
                        train=600, test=300, draws=3, networks=3, resamples=1000),
              toy=dict(n=3, d=2, widths=(2, 4), T=(8, 16, 32), train=24, test=12, draws=1,
                       networks=2, resamples=50))
#: target families; the last is the control outside the class
FAMILIES = ("deep_sets", "attention", "moments", "control")
EQUIVARIANT = FAMILIES[:3]
#: families with a part no function of (x_i, mean_j x_j) explains
HIGHER_ORDER = ("attention", "moments")
MC_SAMPLES = 1000  # conditional Monte Carlo draws per token of the first-order projection
TARGET_HIDDEN = 8  # hidden units of the targets' tanh MLPs
LAMBDAS = np.logspace(-4, 4, 17)  # ridge penalties searched by generalised cross-validation
FIXED_LAMBDA = 1.0  # the sensitivity's fixed penalty
RATE_SLOPE = -0.1  # sensitivity: slopes must be below this, not just below 0
#: sensitivity: network draw 1 with other second-layer mixing paths (set_network's ``mixing``)
ABLATIONS = ((("mean",), "mean pooling only (no SDSA)"),
             (("sdsa",), "SDSA only (no mean pooling of hidden units)"),
             ((), "no second mixing layer (power check: must be refuted)"))


# -- targets ---------------------------------------------------------------------------------

def draw_target(family: str, d: int, rng) -> dict:
    """Random weights of one target of ``family`` for d channels."""
    h = TARGET_HIDDEN
    g = lambda *shape, scale=1.0: rng.normal(0, scale, shape)  # noqa: E731
    if family == "deep_sets":
        return dict(family=family, A=g(h, d, scale=1.5 / np.sqrt(d)),
                    B=g(h, d, scale=1.5 / np.sqrt(d)), c=g(h, scale=0.5),
                    U=g(d, h, scale=1.5 / np.sqrt(h)), e=g(d, scale=0.3))
    if family == "attention":
        return dict(family=family, Q=g(d, d, scale=2.0 / np.sqrt(d)),
                    K=g(d, d, scale=2.0 / np.sqrt(d)), V=g(d, d, scale=1.0 / np.sqrt(d)),
                    P=g(h, d, scale=1.5 / np.sqrt(d)), c=g(h, scale=0.5),
                    U=g(d, h, scale=1.5 / np.sqrt(h)), e=g(d, scale=0.3))
    if family == "moments":
        return dict(family=family, G=g(h, d, scale=2.0 / np.sqrt(d)), g=g(h, scale=0.5),
                    A=g(h, d, scale=1.5 / np.sqrt(d)), B=g(h, h, scale=1.5 / np.sqrt(h)),
                    c=g(h, scale=0.5), U=g(d, h, scale=1.5 / np.sqrt(h)), e=g(d, scale=0.3))
    if family == "control":
        return dict(family=family, G=g(d, d, scale=1.5 / np.sqrt(d)),
                    H=g(d, d, scale=0.5 / np.sqrt(d)), c=g(d, scale=0.3))
    raise ValidationError("family", f"parameter 'family' must be one of {FAMILIES}, got "
                                    f"{family!r}")


def target_values(target: dict, X) -> np.ndarray:
    """f(X) for sets X (..., n, d)."""
    X = np.asarray(X, dtype=float)
    t = target
    if t["family"] == "deep_sets":
        hidden = np.tanh(X @ t["A"].T + X.mean(-2, keepdims=True) @ t["B"].T + t["c"])
        return np.tanh(hidden @ t["U"].T + t["e"])
    if t["family"] == "moments":
        moment = np.tanh(X @ t["G"].T + t["g"]).mean(-2, keepdims=True)
        hidden = np.tanh(X @ t["A"].T + moment @ t["B"].T + t["c"])
        return np.tanh(hidden @ t["U"].T + t["e"])
    if t["family"] == "attention":
        scores = (X @ t["Q"].T) @ (X @ t["K"].T).swapaxes(-1, -2)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        z = X + (scores / scores.sum(-1, keepdims=True)) @ (X @ t["V"].T)
        return np.tanh(np.tanh(z @ t["P"].T + t["c"]) @ t["U"].T + t["e"])
    neighbour = np.roll(X, -1, axis=-2)  # token i sees token (i + 1) mod n
    return np.tanh(neighbour @ t["G"].T + X @ t["H"].T + t["c"])


def equivariant_projection(function, X) -> np.ndarray:
    """The group average (1/n!) sum_P P^-1 f(P X) of ``function`` at sets X (sets, n, d): the
    best equivariant approximation in L2 when the tokens are exchangeable."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    out = None
    perms = list(itertools.permutations(range(n)))
    for p in perms:
        p = list(p)
        value = function(X[..., p, :])
        if out is None:
            out = np.zeros_like(value)
        out[..., p, :] += value  # f(PX)_k belongs to original token p[k]
    return out / len(perms)


def others_given_sum(total, others: int, samples: int, rng) -> np.ndarray:
    """``samples`` draws of ``others`` tokens x_j ~ U[-1, 1]^d conditioned on their sum being
    ``total`` (sets, d): shape (sets, samples, others, d). The channels are independent, so
    each is sampled alone: the first others - 1 values uniform in the box of values that can
    still reach the sum, the last fixed by the sum, rejected unless it lies in [-1, 1] (so the
    accepted draws are uniform on the slice of the cube, the exact conditional law)."""
    total = np.asarray(total, dtype=float)
    sets, d = total.shape
    out = np.empty((sets, samples, others, d))
    for c in range(d):
        s = total[:, c]
        low = np.maximum(-1.0, s - (others - 1))[:, None, None]
        high = np.minimum(1.0, s + (others - 1))[:, None, None]
        filled = np.zeros(sets, dtype=int)
        while (filled < samples).any():
            todo = np.flatnonzero(filled < samples)
            free = low[todo] + (high[todo] - low[todo]) * rng.random((len(todo), 2 * samples,
                                                                      others - 1))
            draws = np.concatenate([free, (s[todo, None] - free.sum(-1))[..., None]], -1)
            ok = np.abs(draws[..., -1]) <= 1.0
            for row, k in enumerate(todo):
                good = draws[row][ok[row]][:samples - filled[k]]
                out[k, filled[k]:filled[k] + len(good), :, c] = good
                filled[k] += len(good)
    return out


def first_order_projection(targets: dict, X, *, rng, samples: int = MC_SAMPLES,
                           chunk: int = 50) -> dict:
    """E[f(X)_i | x_i, mean_j x_j] of each target in ``targets`` (name -> target) at every token
    of the sets ``X`` (sets, n, d), tokens i.i.d. U[-1, 1]^d: the best function of (x_i,
    mean_j x_j) in L2 (conditional Monte Carlo, ``samples`` draws of the other tokens given
    their sum, :func:`others_given_sum`). No model is fitted, so it has no bias; its Monte
    Carlo noise is independent of everything a network sees. Returns ({name: (sets, n, d)},
    {name: the Monte Carlo standard errors, same shape})."""
    X = np.asarray(X, dtype=float)
    sets, n, d = X.shape
    out = {name: np.zeros(X.shape) for name in targets}
    error = {name: np.zeros(X.shape) for name in targets}
    for start in range(0, sets, chunk):
        part = X[start:start + chunk]
        for i in range(n):
            others = others_given_sum(part.sum(1) - part[:, i], n - 1, samples, rng)
            token = np.broadcast_to(part[:, None, i:i + 1], others.shape[:2] + (1, d))
            full = np.concatenate([token, others], axis=2)  # token i first
            for name, target in targets.items():
                values = target_values(target, full)[:, :, 0]
                out[name][start:start + chunk, i] = values.mean(1)
                error[name][start:start + chunk, i] = values.std(1) / np.sqrt(samples)
    return out, error


# -- read-out --------------------------------------------------------------------------------

def ridge_fit(train_features, train_targets, test_features, lambdas=LAMBDAS):
    """Ridge regression with an unpenalised intercept, penalty chosen by generalised
    cross-validation (one penalty per call, pooled over output columns) from ``lambdas``
    (a single value: that penalty). Returns (test predictions, chosen penalty)."""
    return ridge_many(train_features, [train_targets], test_features, lambdas)[0]


def ridge_many(train_features, targets, test_features, lambdas=LAMBDAS) -> list:
    """:func:`ridge_fit` of each (rows, outputs) array in ``targets`` on the same features
    (one SVD for all). Returns [(test predictions, chosen penalty), ...]."""
    F = np.asarray(train_features, dtype=float)
    mean_f = F.mean(0)
    U, S, Vt = np.linalg.svd(F - mean_f, full_matrices=False)
    test = np.asarray(test_features, dtype=float) - mean_f
    lambdas = np.atleast_1d(lambdas)
    rows = len(F)
    out = []
    for Y in targets:
        Y = np.asarray(Y, dtype=float)
        mean_y = Y.mean(0)
        UY = U.T @ (Y - mean_y)
        best, best_gcv = lambdas[0], np.inf
        if len(lambdas) > 1:
            residual0 = ((Y - mean_y) ** 2).sum() - (UY ** 2).sum()
            for lam in lambdas:
                shrink = S ** 2 / (S ** 2 + lam)
                rss = residual0 + (((1 - shrink)[:, None] * UY) ** 2).sum()
                gcv = rows * rss / max(rows - shrink.sum() - 1, 1e-9) ** 2
                if gcv < best_gcv:
                    best, best_gcv = lam, gcv
        coef = Vt.T @ ((S / (S ** 2 + best))[:, None] * UY)
        out.append((test @ coef + mean_y, float(best)))
    return out


# -- statistics and rule ---------------------------------------------------------------------

def _slope(x, logs) -> np.ndarray:
    """OLS slopes of ``logs`` (..., len(x)) on log x."""
    lx = np.log(np.asarray(x, dtype=float))
    lx = lx - lx.mean()
    return (logs - logs.mean(-1, keepdims=True)) @ lx / (lx ** 2).sum()


def _ci(values) -> list:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def universal_fits(errors: pd.DataFrame, floor: pd.DataFrame, position: pd.DataFrame, *,
                   seed: int, resamples: int, penalty: str = "gcv", width_at_T=None,
                   T_at_width=None, T_values=None) -> dict:
    """Bootstrap (test sets resampled, paired across widths, T and targets) of NRMSE =
    sqrt(sum sse / sum sst).

    ``errors``: target, family, penalty, width (0 = no hidden units), T, set, sse, sst.
    ``floor``: target, set, sse (of the equivariant projection), sst. ``position``: target,
    set, sse of a position-aware (non-equivariant) read-out. Width slopes are read at
    ``width_at_T`` (default: the largest T), T slopes at ``T_at_width`` (default: the largest
    width) over ``T_values`` (default: all). Returns {"targets": {target: {...}},
    "mean_equivariant": {...}}."""
    rows = errors[errors.penalty == penalty]
    widths = np.sort(rows.width[rows.width > 0].unique())
    times = np.sort(rows["T"].unique())
    width_at_T = times[-1] if width_at_T is None else width_at_T
    T_at_width = widths[-1] if T_at_width is None else T_at_width
    T_values = times if T_values is None else np.asarray(T_values)
    sets = np.sort(rows.set.unique())
    rng = np.random.default_rng(seed)
    index = np.vstack([np.arange(len(sets)), rng.integers(0, len(sets), (resamples, len(sets)))])
    out, equivariant_nrmse = {}, []
    all_widths = np.sort(rows.width.unique())
    for target, group in rows.groupby("target", sort=False):
        family = group.family.iloc[0]
        cube = group.pivot_table(index=["width", "T"], columns="set", values="sse").reindex(
            columns=sets)
        sst = group[(group.width == group.width.iloc[0]) & (group["T"] == group["T"].iloc[0])] \
            .set_index("set").sst.reindex(sets).to_numpy()
        sse = cube.to_numpy().reshape(len(all_widths), len(times), len(sets))
        nrmse = np.sqrt(sse[..., index].sum(-1) / sst[index].sum(-1))  # (W, T, 1 + B)
        nrmse = np.moveaxis(nrmse, -1, 0)  # (1 + B, W, T)
        hidden = np.searchsorted(all_widths, widths)
        logs = np.log(nrmse)
        w_slope = _slope(widths, logs[:, hidden, np.searchsorted(times, width_at_T)])
        T_pick = np.searchsorted(times, T_values)
        t_slope = _slope(T_values, logs[:, np.searchsorted(all_widths, T_at_width)][:, T_pick])
        entry = dict(family=family, widths=all_widths.tolist(), T=times.tolist(),
                     nrmse=nrmse[0].tolist(),
                     nrmse_ci=[[_ci(nrmse[1:, w, t]) for t in range(len(times))]
                               for w in range(len(all_widths))],
                     width_slope=float(w_slope[0]), width_slope_ci=_ci(w_slope[1:]),
                     T_slope=float(t_slope[0]), T_slope_ci=_ci(t_slope[1:]))
        if family in EQUIVARIANT:
            equivariant_nrmse.append(nrmse)
        else:
            f = floor[floor.target == target].set_index("set").reindex(sets)
            floor_n = np.sqrt(f.sse.to_numpy()[index].sum(-1) / sst[index].sum(-1))
            ratio = nrmse / floor_n[:, None, None]  # (1 + B, W, T)
            entry.update(floor=float(floor_n[0]), floor_ci=_ci(floor_n[1:]),
                         ratio_to_floor=ratio[0].tolist(),
                         ratio_to_floor_ci=[[_ci(ratio[1:, w, t]) for t in range(len(times))]
                                            for w in range(len(all_widths))])
            p = position[position.target == target].set_index("set").reindex(sets)
            if len(p.dropna()):
                pos = np.sqrt(p.sse.to_numpy()[index].sum(-1) / sst[index].sum(-1)) / floor_n
                entry.update(position_ratio_to_floor=float(pos[0]),
                             position_ratio_to_floor_ci=_ci(pos[1:]))
        out[target] = entry
    mean = np.mean(equivariant_nrmse, axis=0) if equivariant_nrmse else None
    summary = {} if mean is None else dict(
        widths=all_widths.tolist(), T=times.tolist(), nrmse=mean[0].tolist(),
        nrmse_ci=[[_ci(mean[1:, w, t]) for t in range(len(times))]
                  for w in range(len(all_widths))])
    return {"targets": out, "mean_equivariant": summary, "width_at_T": float(width_at_T),
            "T_at_width": int(T_at_width)}


def residual_fits(features: dict, residuals: dict, train: int, first_layer: int, *, seed: int,
                  resamples: int) -> dict:
    """How much of each target's higher-order residual (target minus
    :func:`first_order_projection`) the network's read-out predicts on held-out sets.

    ``features``: {width: (sets, n, features)} at one T; ``residuals``: {target: (sets, n, d)};
    the first ``train`` sets train a ridge read-out (GCV), the rest test it. The first
    ``first_layer`` columns of the widest features (inputs, first mean-pool, first LIF layer,
    which see the other tokens only through mean_j x_j) are fitted too: they should predict
    nothing. NRMSE = sqrt(sum sse / sum sst) of the residual on the test sets (1 = nothing
    predicted), with bootstrap CIs over test sets, paired across widths. Returns {target:
    {"network": {width: [NRMSE, [low, high]]}, "width_slope": [slope, [low, high]] (OLS of
    log NRMSE on log width), "first_layer": [NRMSE, [low, high]]}}."""
    widths = sorted(features)
    models = {**{w: features[w] for w in widths},
              "first_layer": features[widths[-1]][..., :first_layer]}
    any_residual = next(iter(residuals.values()))
    n, d = any_residual.shape[1:]
    test = len(any_residual) - train
    rng = np.random.default_rng(seed)
    index = np.vstack([np.arange(test), rng.integers(0, test, (resamples, test))])
    names = list(residuals)
    nrmse = {name: {} for name in names}
    for key, F in models.items():
        fitted = ridge_many(F[:train].reshape(train * n, -1),
                            [residuals[k][:train].reshape(train * n, d) for k in names],
                            F[train:].reshape(test * n, -1))
        for name, (predicted, _) in zip(names, fitted):
            r = residuals[name][train:]
            sse = ((predicted.reshape(test, n, d) - r) ** 2).sum(axis=(1, 2))
            sst = ((r - r.mean(axis=(0, 1))) ** 2).sum(axis=(1, 2))
            nrmse[name][key] = np.sqrt(sse[index].sum(-1) / sst[index].sum(-1))
    out = {}
    for name, values in nrmse.items():
        slope = _slope(widths, np.log(np.stack([values[w] for w in widths], -1)))
        out[name] = {"network": {int(w): [float(values[w][0]), _ci(values[w][1:])]
                                 for w in widths},
                     "width_slope": [float(slope[0]), _ci(slope[1:])],
                     "first_layer": [float(values["first_layer"][0]),
                                     _ci(values["first_layer"][1:])]}
    return out


def universal_rule(width_slope_cis, T_slope_cis, residual_cis, first_layer_cis, control_ok,
                   control_caught, slope_below: float = 0.0, equivariant: bool = True) -> str:
    """refuted if some equivariant target's error does not fall with width or with T (a slope
    CI not below ``slope_below``) or the network's read-out does not predict more and more of
    some higher-order residual as width grows (``residual_cis``: CIs of the residual NRMSE's
    width slope, or of its level, that must lie below 0, or 1, as the caller chose: see
    :func:`universal_verdict`); otherwise not-testable if the circuit is not equivariant, the
    first layer alone predicts part of a residual (``first_layer_cis`` below 1: the depth
    test is void), a control fits below its equivariant floor (``control_ok`` false) or the
    position-aware read-out does not get below it (``control_caught`` false: the control
    cannot discriminate); partial otherwise. Never supported."""
    if not all(ci[1] < slope_below for ci in list(width_slope_cis) + list(T_slope_cis)):
        return "refuted"
    if not all(ci[1] < bound for ci, bound in residual_cis):
        return "refuted"
    if (not equivariant or any(ci[1] < 1.0 for ci in first_layer_cis) or not all(control_ok)
            or not all(control_caught)):
        return "not-testable"
    return "partial"


def universal_verdict(fits: list, residuals: list, slope_below: float = 0.0,
                      control_every_width: bool = False, residual_level: bool = False,
                      equivariant: bool = True) -> str:
    """The rule over every network draw: ``fits`` and ``residuals`` are lists (one entry per
    draw) of :func:`universal_fits` and :func:`residual_fits`. Controls are judged at the
    largest width and T (or at every width, largest T): the equivariant network's error /
    floor CI must reach 1 and the position-aware read-out's must lie below 1. Residuals are
    judged by the width slope of their NRMSE (CI below 0) or, with ``residual_level``, by
    their NRMSE at the largest width (CI below 1)."""
    widths, times, residual_cis, first_layer_cis, ok, caught = [], [], [], [], [], []
    for draw, residual in zip(fits, residuals):
        for t in draw["targets"].values():
            if t["family"] in EQUIVARIANT:
                widths.append(t["width_slope_ci"])
                times.append(t["T_slope_ci"])
                continue
            picked = t["ratio_to_floor_ci"][1:] if control_every_width else \
                [t["ratio_to_floor_ci"][-1]]
            ok.append(all(r[-1][1] >= 1.0 for r in picked))
            caught.append("position_ratio_to_floor_ci" in t and
                          t["position_ratio_to_floor_ci"][1] < 1.0)
        for entry in residual.values():
            residual_cis.append((entry["network"][max(entry["network"])][1], 1.0)
                                if residual_level else (entry["width_slope"][1], 0.0))
            first_layer_cis.append(entry["first_layer"][1])
    return universal_rule(widths, times, residual_cis, first_layer_cis, ok, caught, slope_below,
                          equivariant)


def universal_sensitivity(errors, floor, position, residuals: list, *, seed: int,
                          resamples: int, residuals_earlier_T: list | None = None,
                          equivariant: bool = True) -> list[dict]:
    """The verdict under other protocol choices (each recomputes the bootstrap of every network
    draw; ``errors`` and ``position`` carry a ``network`` column, ``residuals`` is the list of
    :func:`residual_fits` per draw, ``residuals_earlier_T`` the same at the second-largest T)."""
    widths = np.sort(errors.width[errors.width > 0].unique())
    times = np.sort(errors["T"].unique())
    draws = np.sort(errors.network.unique())

    def verdict(only=None, residual_list=None, **options):
        rule = {k: options.pop(k) for k in ("slope_below", "control_every_width",
                                             "residual_level") if k in options}
        picked = draws if only is None else [only]
        residual_list = residuals if residual_list is None else residual_list
        fits = [universal_fits(errors[errors.network == r], floor,
                               position[position.network == r], seed=seed,
                               resamples=resamples, **options) for r in picked]
        return universal_verdict(fits, [residual_list[r] for r in picked],
                                 equivariant=equivariant, **rule)

    choices = [(f"every slope CI below {RATE_SLOPE} (a rate, not just a decrease) instead of 0",
                dict(slope_below=RATE_SLOPE)),
               (f"width slope at the second-largest T ({times[-2]:g} steps)",
                dict(width_at_T=times[-2])),
               (f"T slope at the second-largest width ({widths[-2]} units)",
                dict(T_at_width=widths[-2])),
               (f"T slope over the three largest T only ({number_list(times[-3:])} steps)",
                dict(T_values=times[-3:])),
               (f"fixed ridge penalty {FIXED_LAMBDA:g} instead of generalised cross-validation",
                dict(penalty="fixed")),
               ("control judged at every width (largest T), not only the largest",
                dict(control_every_width=True)),
               ("higher-order residual judged by its level at the largest width (NRMSE CI "
                "below 1) instead of its trend with width", dict(residual_level=True))]
    if residuals_earlier_T is not None:
        choices.append((f"higher-order residual at the second-largest T ({times[-2]:g} steps)",
                        dict(residual_list=residuals_earlier_T)))
    choices += [(f"network draw {r + 1} alone (of {len(draws)})", dict(only=r)) for r in draws]
    return [{"choice": choice, "verdict": verdict(**options)} for choice, options in choices]


# -- measurement -----------------------------------------------------------------------------

def _ranges(values) -> str:
    return ", ".join(str(v) for v in values)


PROTOCOL = (
    "Targets NOT built into the architecture: random continuous permutation-equivariant maps "
    f"f: [-1,1]^(n x d) -> R^(n x d), n = {SIZES.text('n')}, d = {SIZES.text('d')}, fixed "
    f"random weights, {SIZES.text('draws')} draws of each family: deep_sets, y_i = tanh(U "
    "tanh(A x_i + B mean_j x_j + c) + e); attention, z_i = x_i + sum_j softmax_j((Q x_i).(K x_j)) "
    "V x_j then y_i = tanh(U tanh(P z_i + c) + e); moments, y_i = tanh(U tanh(A x_i + B mean_j "
    f"tanh(G x_j + g) + c) + e) ({TARGET_HIDDEN} hidden units). Control outside the class: "
    "y_i = tanh(G x_(i+1 mod n) + H x_i + c); its floor is the NRMSE of its group average over "
    "all n! token permutations (the best equivariant approximation, NumPy). First-order "
    "projection: E[y_i | x_i, mean_j x_j], the best function of (x_i, mean_j x_j), computed in "
    f"NumPy by conditional Monte Carlo ({MC_SAMPLES} draws per token of the other tokens given "
    "their sum: no fitted model); the attention and moments targets minus it are their "
    "higher-order residuals, which a network that mixes tokens only through mean_j x_j cannot "
    "predict. Approximator: a spiking network simulated in Brian2: one Bernoulli source per "
    "x_ic (p = (x+1)/2 per 1 ms step); a uniform-attention layer (counters, weight 1/n from "
    "every token: mean pooling by synaptic integration); a token-wise layer of W discrete LIF "
    "units (tau 2 steps, threshold 1, soft reset, random weights and bias currents); over "
    "those units a second uniform-attention layer and the Spike-driven Transformer's SDSA (Q "
    "AND SN(sum_j K AND V), which at V_th 0.5 and tau 2 is Q_ik AND OR_j (K_jk AND V_jk): a "
    "channel-wide bit gating Q, not a dot-product score); a second token-wise LIF layer "
    "(random fan-in 16 from each); every weight shared by all tokens, so the network is "
    "equivariant by construction (checked: replayed input spikes and their token permutation, "
    "every population's counts compared). "
    f"Width W = distinct hidden units per token per layer, {SIZES.text('widths', _ranges)} "
    f"(independent sub-networks on the same input spikes), W = 0 is the linear baseline; "
    f"{SIZES.text('networks')} independent draws of all random network weights, each judged. "
    f"Read-out: ridge (penalty by generalised cross-validation over "
    f"{LAMBDAS[0]:g}..{LAMBDAS[-1]:g}) on every population's counts / T of the token (inputs "
    f"and first mixing layer are the residual path), weights shared by tokens, trained on "
    f"{SIZES.text('train')} random sets X ~ U[-1,1], tested on {SIZES.text('test')} held-out "
    f"sets, at T = {SIZES.text('T', _ranges)} steps (nested checkpoints of one run). Error: "
    "NRMSE = RMSE / std of the target on the test sets; 95% CIs from "
    f"{SIZES.text('resamples')} bootstrap resamples of test sets (paired across widths, T and "
    "targets), per network draw. Slopes: OLS of log NRMSE on log W at the largest T and on "
    "log T at the largest W. Higher-order test: the read-out at each width (largest T) fitted "
    "to each residual; residual NRMSE (1 = nothing predicted) and its width slope; the first "
    "layer alone (inputs, first mean-pool, first LIF layer at the largest W) must predict "
    "nothing. Control: NRMSE / floor at the largest W and T, and the same spikes through a "
    "position-aware (non-shared, non-equivariant) ridge read-out. Rule (before the run; the "
    "higher-order test was added after a referee showed that error slopes fall for any "
    "random-feature model, and judged by trend after a second referee): refuted if for some "
    "network draw and equivariant target the width slope CI or the T slope CI does not lie "
    "below 0, or the width slope CI of some higher-order residual's NRMSE does not lie below 0 "
    "(more units must predict more of what E[y_i | x_i, mean_j x_j] misses); otherwise "
    "not-testable if the circuit is not exactly equivariant, the first layer alone predicts "
    "part of a residual (CI below 1), a control's NRMSE / floor CI lies below 1 (an "
    "equivariant network cannot beat its floor) or the position-aware read-out's CI does not "
    "lie below 1 (the control could not tell); partial otherwise. The rule cannot reach "
    "supported: finite widths and T can refute universality, not prove it. Sensitivity rows "
    "include network draw 1 rebuilt with mean pooling only, SDSA only, and no second mixing "
    "layer (which must be refuted)."
)


def _equivariance_check(context, size) -> dict:
    """Replay Bernoulli input spikes and their token permutation through the same network;
    count mismatches of every population's counts against the permuted counts."""
    n, d = size["n"], size["d"]
    network = set_network(n, d, size["widths"], rng=context.rng("network 1"), source="replay")
    rng = context.rng("equivariance")
    sets, steps = 3, 32
    X = rng.uniform(-1, 1, (sets, n, d))
    spikes = (rng.random((steps, sets, n, d)) < (X + 1) / 2).astype(float)
    perms = np.stack([rng.permutation(n) for _ in range(sets)])
    permuted = np.stack([spikes[:, s][:, perms[s]] for s in range(sets)], axis=1)
    record = context.simulate(network.circuit, network_inputs(network, spikes=np.concatenate(
        [spikes, permuted], axis=1)), steps * STEP, trials=2 * sets,
        seed=context.seed_for("equivariance run"), dt=STEP)
    mismatches, compared = equivariance_mismatches(network, record.counts, perms)
    return {"mismatches": mismatches, "counts_compared": compared}


def _readout_errors(network, counts, Y: dict, families: dict, T, train: int) -> tuple:
    """Held-out squared errors per (target, penalty, width, T, test set) of a shared ridge
    read-out (width 0: inputs and first mean-pool only), and the penalties GCV chose."""
    widths, n, d = network.widths, network.n, network.d
    test = len(next(iter(Y.values()))) - train
    rows, chosen = [], []
    for width in (0,) + widths:
        full = readout_features(network, counts, max(widths) if width == 0 else width, T)
        features = full[..., :2 * d] if width == 0 else full
        for k, steps in enumerate(T):
            F = features[k]
            F_train, F_test = F[:train].reshape(train * n, -1), F[train:].reshape(test * n, -1)
            for penalty, lambdas in (("gcv", LAMBDAS), ("fixed", FIXED_LAMBDA)):
                fitted = ridge_many(F_train, [y[:train].reshape(train * n, d)
                                              for y in Y.values()], F_test, lambdas)
                for name, (predicted, lam) in zip(Y, fitted):
                    y = Y[name][train:]
                    err = ((predicted.reshape(test, n, d) - y) ** 2).sum(axis=(1, 2))
                    sst = ((y - y.mean(axis=(0, 1))) ** 2).sum(axis=(1, 2))
                    rows += [dict(target=name, family=families[name], penalty=penalty,
                                  width=width, T=int(steps), set=s, sse=float(err[s]),
                                  sst=float(sst[s])) for s in range(test)]
                    if penalty == "gcv":
                        chosen.append(lam)
    return rows, chosen


def _nrmse(predicted, y) -> float:
    return float(np.sqrt(((predicted - y) ** 2).sum() / ((y - y.mean(axis=(0, 1))) ** 2).sum()))


def _network_run(context, label: str, X, Y: dict, families: dict, residuals: dict, size,
                 seed: int, mixing=MIXING) -> dict:
    """Simulate one network draw (weights from ``label``, second-layer ``mixing`` paths) on the
    sets X and fit every read-out: error rows, position-aware control rows, residual fits at
    the largest and second-largest T, and the penalties GCV chose."""
    n, d, widths, T = size["n"], size["d"], tuple(size["widths"]), np.asarray(size["T"])
    train, test = size["train"], size["test"]
    network = set_network(n, d, widths, rng=context.rng(f"network {label}"), mixing=mixing)
    record = context.simulate(network.circuit, network_inputs(network, X), T[-1] * STEP,
                              trials=train + test, seed=context.seed_for(f"run {label}"),
                              dt=STEP, checkpoints=T * STEP)
    errors, chosen = _readout_errors(network, record.counts, Y, families, T, train)
    features = {w: readout_features(network, record.counts, w, T) for w in widths}
    flat = features[max(widths)][-1].reshape(train + test, -1)  # all tokens, position order
    position = []
    for name in Y:
        if families[name] not in EQUIVARIANT:
            predicted = np.stack([ridge_fit(flat[:train], Y[name][:train, i], flat[train:])[0]
                                  for i in range(n)], axis=1)
            err = ((predicted - Y[name][train:]) ** 2).sum(axis=(1, 2))
            position += [dict(target=name, set=s, sse=float(err[s])) for s in range(test)]
    residual = [residual_fits({w: f[k] for w, f in features.items()}, residuals, train,
                              network.first_layer_columns(max(widths)), seed=seed,
                              resamples=size["resamples"]) for k in (-1, -2)]
    return dict(errors=pd.DataFrame(errors), position=pd.DataFrame(position),
                residual=residual[0], residual_earlier_T=residual[1], chosen=chosen)


def measure(context) -> ClaimResult:
    size = context.sizes(SIZES)
    n, d, widths, T = size["n"], size["d"], tuple(size["widths"]), np.asarray(size["T"])
    train, test = size["train"], size["test"]
    X = context.rng("sets").uniform(-1, 1, (train + test, n, d))
    target_rng = context.rng("targets")
    targets = {f"{family}_{k + 1}": draw_target(family, d, target_rng)
               for family in FAMILIES for k in range(size["draws"])}
    families = {name: t["family"] for name, t in targets.items()}
    Y = {name: target_values(t, X) for name, t in targets.items()}
    higher = {k: t for k, t in targets.items() if families[k] in HIGHER_ORDER}
    projection, mc_error = first_order_projection(higher, X, rng=context.rng("first order"))
    residuals = {k: Y[k] - projection[k] for k in higher}
    floor_rows = []
    for name, t in targets.items():
        if families[name] not in EQUIVARIANT:
            projected = equivariant_projection(lambda x: target_values(t, x), X[train:])
            y = Y[name][train:]
            err = ((projected - y) ** 2).sum(axis=(1, 2))
            sst = ((y - y.mean(axis=(0, 1))) ** 2).sum(axis=(1, 2))
            floor_rows += [dict(target=name, set=s, sse=float(err[s]), sst=float(sst[s]))
                           for s in range(test)]
    floor = pd.DataFrame(floor_rows)
    seed, resamples = context.seed_for("bootstrap"), size["resamples"]
    arguments = (X, Y, families, residuals, size, seed)
    runs = [_network_run(context, str(r + 1), *arguments) for r in range(size["networks"])]
    errors = pd.concat([run["errors"].assign(network=r) for r, run in enumerate(runs)],
                       ignore_index=True)
    position = pd.concat([run["position"].assign(network=r) for r, run in enumerate(runs)],
                         ignore_index=True)
    residual_by_network = [run["residual"] for run in runs]
    fits = [universal_fits(errors[errors.network == r], floor, position[position.network == r],
                           seed=seed, resamples=resamples) for r in range(len(runs))]
    check = _equivariance_check(context, size)
    equivariant = check["mismatches"] == 0
    verdict = universal_verdict(fits, residual_by_network, equivariant=equivariant)
    ablations = {}
    for paths, text in ABLATIONS:  # network draw 1's first layer with other mixing paths
        run = _network_run(context, "1", *arguments, mixing=paths)
        ablated = universal_fits(run["errors"], floor, run["position"], seed=seed,
                                 resamples=resamples)
        ablations[text] = dict(verdict=universal_verdict([ablated], [run["residual"]],
                                                         equivariant=equivariant),
                               residual=run["residual"])
    worst = max(((entry["width_slope"], name, r) for r, per in enumerate(residual_by_network)
                 for name, entry in per.items()), key=lambda item: item[0][1][1])
    rounded = lambda ci: [round(x, 4) for x in ci]  # noqa: E731

    def residual_summary(per: dict) -> dict:
        return {name: {"nrmse_by_width": {w: [round(v[0], 4), rounded(v[1])]
                                          for w, v in entry["network"].items()},
                       "width_slope": [round(entry["width_slope"][0], 3),
                                       rounded(entry["width_slope"][1])],
                       "first_layer_alone": [round(entry["first_layer"][0], 4),
                                             rounded(entry["first_layer"][1])]}
                for name, entry in per.items()}

    mean = fits[0]["mean_equivariant"]
    chosen = [lam for run in runs for lam in run["chosen"]]
    share = {k: _nrmse(projection[k][train:], Y[k][train:]) for k in higher}
    details = {
        "target_class": "random continuous permutation-equivariant maps on sets X in "
                        f"[-1,1]^({n}x{d}) with fixed random weights: deep_sets (tanh MLP of "
                        "x_i and mean_j x_j), attention (a random softmax-attention layer with "
                        "residual, then a tanh MLP) and moments (tanh MLP of x_i and mean_j "
                        "tanh(G x_j + g)); none is what the network computes",
        "control": "y_i = tanh(G x_(i+1 mod n) + H x_i + c), not equivariant; floor = NRMSE "
                   "of its exact average over all token permutations (best equivariant "
                   "approximation, NumPy)",
        "network": "Bernoulli inputs -> mean-pool counters -> token-wise LIF layer -> "
                   "mean-pool counters and SDSA attention -> token-wise LIF layer; linear "
                   "read-out of all counts (residual path included)",
        "attention_is": "mean pooling (equal scores) in both mixing layers, plus the Spike-"
                        "driven Transformer's SDSA in the second, which at its parameters "
                        "(V_th 0.5, tau 2) is Q_ik AND OR_j (K_jk AND V_jk): a channel-wide "
                        "bit gating Q; no softmax or dot-product-score attention is built",
        "width_means": "distinct hidden units per token per layer",
        "network_draws": size["networks"],
        "readout": "ridge on spike counts / T (weights shared by tokens; penalty by GCV), "
                   "trained on train sets, error on held-out sets",
        "train_sets": train, "test_sets": test, "widths": list(widths), "T_steps": T.tolist(),
        "equivariance_check": check,
        "first_order_projection": "E[y_i | x_i, mean_j x_j] by conditional Monte Carlo "
                                  f"({MC_SAMPLES} draws of the other tokens given their sum)",
        "higher_order_share_of_target": {k: round(v, 4) for k, v in share.items()},
        "monte_carlo_error_share_of_residual": {
            k: round(float(np.sqrt((mc_error[k] ** 2).mean()) / residuals[k].std()), 4)
            for k in higher},
        "higher_order_residual_by_network": [residual_summary(per)
                                             for per in residual_by_network],
        "target_variance_predicted_beyond_first_order_at_largest_width": {
            k: [round(share[k] ** 2 * (1 - per[k]["network"][max(widths)][0] ** 2), 4)
                for per in residual_by_network] for k in higher},
        "mixing_path_ablations_network_1": {
            text: {"verdict": a["verdict"], "residual": residual_summary(a["residual"])}
            for text, a in ablations.items()},
        "mean_equivariant_nrmse_network_1": {
            "by_width_at_largest_T": {int(w): [round(mean["nrmse"][i][-1], 4),
                                               rounded(mean["nrmse_ci"][i][-1])]
                                      for i, w in enumerate(mean["widths"])},
            "by_T_at_largest_width": {int(t): [round(mean["nrmse"][-1][j], 4),
                                               rounded(mean["nrmse_ci"][-1][j])]
                                      for j, t in enumerate(mean["T"])}},
        "slopes": {f"{k} / network {r + 1}": {
            "width": [round(v["width_slope"], 3), rounded(v["width_slope_ci"])],
            "T": [round(v["T_slope"], 3), rounded(v["T_slope_ci"])],
            "nrmse_largest": round(v["nrmse"][-1][-1], 4)}
            for r, f in enumerate(fits) for k, v in f["targets"].items()},
        "controls": {f"{k} / network {r + 1}": {
            "nrmse": round(v["nrmse"][-1][-1], 4), "floor": round(v["floor"], 4),
            "ratio_to_floor": [round(v["ratio_to_floor"][-1][-1], 3),
                               rounded(v["ratio_to_floor_ci"][-1][-1])],
            "position_aware_ratio_to_floor": [round(v.get("position_ratio_to_floor", np.nan), 3),
                                              rounded(v.get("position_ratio_to_floor_ci",
                                                            [np.nan, np.nan]))]}
            for r, f in enumerate(fits) for k, v in f["targets"].items()
            if v["family"] not in EQUIVARIANT},
        "ridge_penalties_chosen": [float(np.min(chosen)), float(np.max(chosen))],
        "estimate_is": "the worst (largest CI upper end) width slope of a higher-order "
                       f"residual's NRMSE: {worst[1]}, network {worst[2] + 1}",
        "shown": "a spiking network (Bernoulli-coded inputs, mean-pooling and SDSA layers and "
                 "two LIF layers, only a linear read-out trained) approximates random "
                 "equivariant targets it was not built to compute; the held-out error falls "
                 "with width (distinct units) and with T for every network draw; as width "
                 "grows its read-out predicts more of the part of the attention and moments "
                 "targets that E[y_i | x_i, mean_j x_j] misses, which its first layer alone "
                 "cannot; a non-equivariant control stays at its equivariant floor although "
                 "the same spikes fit it below the floor through a position-aware read-out",
        "not_shown": "universality itself (error -> 0 for every continuous equivariant "
                     "function); that attention rather than mean pooling carries the result "
                     "(see the path ablations); softmax or dot-product spiking attention; "
                     "trained hidden weights; the randomness of the target draws in the CIs",
    }
    sensitivity = universal_sensitivity(
        errors, floor, position, residual_by_network, seed=seed, resamples=resamples,
        residuals_earlier_T=[run["residual_earlier_T"] for run in runs], equivariant=equivariant)
    sensitivity += [{"choice": f"network draw 1 with {text}", "verdict": a["verdict"]}
                    for text, a in ablations.items()]
    tables = {"summary": pd.concat([_summary_table(f).assign(network=r + 1)
                                    for r, f in enumerate(fits)], ignore_index=True),
              "residual": _residual_table(residual_by_network)}
    return ClaimResult(verdict, worst[0][0], worst[0][1], details, tables, sensitivity)


def _residual_table(residual_by_network: list) -> pd.DataFrame:
    """Residual NRMSE with CI per (network draw, target, width); width 0 = first layer alone."""
    rows = []
    for r, per in enumerate(residual_by_network):
        for name, entry in per.items():
            for width, (value, ci) in [(0, entry["first_layer"]), *entry["network"].items()]:
                rows.append(dict(network=r + 1, target=name, width=int(width), nrmse=value,
                                 ci_low=ci[0], ci_high=ci[1]))
    return pd.DataFrame(rows)


def _summary_table(fits: dict) -> pd.DataFrame:
    """NRMSE with CI per (target, width, T), the controls' floors, and the equivariant mean."""
    rows = []
    entries = list(fits["targets"].items())
    if fits["mean_equivariant"]:
        entries.append(("mean_equivariant", dict(fits["mean_equivariant"], family="mean")))
    for name, v in entries:
        for i, w in enumerate(v["widths"]):
            for j, t in enumerate(v["T"]):
                rows.append(dict(target=name, family=v["family"], width=w, T=t,
                                 nrmse=v["nrmse"][i][j], ci_low=v["nrmse_ci"][i][j][0],
                                 ci_high=v["nrmse_ci"][i][j][1], floor=v.get("floor")))
    return pd.DataFrame(rows)


def plot(tables, directory) -> list[str]:
    from matplotlib.ticker import NullFormatter

    table = tables["summary"]
    table = table[table.network == 1]
    T_max = table["T"].max()
    hidden = table[table.width > 0]
    w_max = hidden.width.max()
    colours = {"deep_sets": "C0", "attention": "C1", "moments": "C2", "control": "C3",
               "mean": "k"}
    with paper_style():
        fig, (left, middle, right) = figure("double", 2.8, ncols=3)
        for name, rows in hidden.groupby("target", sort=False):
            family = rows.family.iloc[0]
            style = dict(color=colours[family], lw=1.6 if family == "mean" else 0.8,
                         ls="--" if family == "control" else "-", marker="o", ms=2.5)
            label = name if family != "mean" else "mean of equivariant targets"
            by_w = rows[rows["T"] == T_max].sort_values("width")
            left.plot(by_w.width, by_w.nrmse, label=label, **style)
            left.fill_between(by_w.width, by_w.ci_low, by_w.ci_high, color=style["color"],
                              alpha=0.15, lw=0)
            by_T = rows[rows.width == w_max].sort_values("T")
            middle.plot(by_T["T"], by_T.nrmse, **style)
            middle.fill_between(by_T["T"], by_T.ci_low, by_T.ci_high, color=style["color"],
                                alpha=0.15, lw=0)
            if family == "control":
                for ax in (left, middle):
                    ax.axhline(rows.floor.iloc[0], color="C3", lw=0.6, ls=":")
        log_log(left, "hidden units per token per layer (width)",
                f"test NRMSE at T = {T_max} steps")
        log_log(middle, "T (steps)", f"NRMSE (width {w_max})")
        for ax, ticks in ((left, np.sort(hidden.width.unique())),
                          (middle, np.sort(table["T"].unique()))):
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            levels = np.array([0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0])
            low, high = ax.get_ylim()
            shown = levels[(levels >= low) & (levels <= high)]
            ax.set_yticks(shown, [f"{v:g}" for v in shown])
        left.legend(fontsize=4.5, ncols=2)
        left.set_title("network draw 1; dotted: control's equivariant floor", fontsize=7)
        residual = tables["residual"]
        for (name, draw), rows in residual.groupby(["target", "network"], sort=False):
            rows = rows[rows.width > 0].sort_values("width")
            family = name.rsplit("_", 1)[0]
            right.errorbar(rows.width, rows.nrmse, [rows.nrmse - rows.ci_low,
                                                    rows.ci_high - rows.nrmse],
                           color=colours[family], lw=0.8, marker="o", ms=2.5, capsize=1.5,
                           label=f"{name} (net {draw})")
        first = residual[residual.width == 0]
        right.scatter(np.full(len(first), residual.width.max()), first.nrmse, marker="x",
                      color="0.4", s=10, label="first layer alone")
        right.axhline(1.0, color="k", lw=0.6, ls=":")
        right.set_xscale("log")
        widths = np.sort(residual.width[residual.width > 0].unique())
        right.set_xticks(widths, [f"{w:g}" for w in widths])
        right.xaxis.set_minor_formatter(NullFormatter())
        right.set_xlabel("width (x: first layer alone)")
        right.set_ylabel("residual NRMSE")
        right.set_title(f"higher-order residual (1 = none predicted), T = {T_max}",
                        fontsize=6)
        right.legend(fontsize=4)
        return save_figure(fig, directory, "attention_universal")


CLAIMS = (
    Claim("attention.universal", PAPER,
          "spiking attention with LIF neurons is a universal approximator of continuous "
          "permutation-equivariant functions", PROTOCOL, None, measure, plot),
)
