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
higher-order residual, is what only deeper, nonlinear token mixing can predict. The attention
and moments targets have one; the network's read-out must predict part of it on held-out sets.

The approximator is :func:`circuits.set_network.set_network` (spike-coded inputs, mean-pooling
and spike-driven (SDSA) attention layers and two token-wise LIF layers per width), simulated
once per network draw for all targets and widths, and again with SDSA as its only second
mixing path and with none (path networks); only a ridge read-out (weights shared by every
token) is trained. The rule pools each trend over its units (targets x network draws) and
Holm-adjusts the checks that one unit could fail (:func:`universal_evidence`); supported needs
every SDSA-only unit's residual to fall with width (intersection-union) and the SDSA-only
networks to predict at least half of the residual's variance (:func:`sdsa_carries`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from circuits.arithmetic import STEP
from circuits.set_network import (MIXING, equivariance_mismatches, network_inputs,
                                  readout_features, set_network)
from evsim import simulate
from evsim.errors import ValidationError

from ..plots import figure, legend_beside, log_log, paper_style, save_figure
from .base import (Basis, Claim, ClaimResult, EarlierRule, Rule, Sizes, bootstrap_p_values,
                   holm, number_list)

__all__ = ["SIZES", "CLAIMS", "FAMILIES", "HIGHER_ORDER", "PATHS", "draw_target",
           "target_values", "equivariant_projection", "others_given_sum",
           "first_order_projection", "ridge_fit", "ridge_many", "Ridge", "universal_fits",
           "residual_fits", "pooled_trend", "universal_evidence",
           "SUPPORT", "sdsa_carries", "universal_rule", "universal_verdict", "universal_judge",
           "per_unit_verdict", "universal_sensitivity"]

PAPER = ("arXiv:2604.15769 (Closing the Theory-Practice Gap in Spiking Transformers via "
         "Effective Dimension), abstract")

SIZES = Sizes(quick=dict(n=4, d=2, widths=(4, 16, 64), T=(16, 32, 64, 128, 256),
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
RATE_SLOPE = -0.1  # sensitivity: pooled error slopes must be below this, not just below 0
ALPHA = 0.05  # family-wise error rate (Holm, one-sided) of checks that any one unit can fail
#: supported needs the SDSA-only networks' residual NRMSE^2 at the largest width (the share of
#: the residual's variance left unexplained, mean over units) to have its CI below this
HALF_VARIANCE = 0.5
#: what supported needs of the SDSA-only networks (:func:`sdsa_carries`): today's rule first,
#: then its two halves alone and b42268f's pooled-slope condition (sensitivity rows)
SUPPORT = ("every unit falls and half the variance", "every unit falls", "half the variance",
           "pooled slope")
ATTENTION_SHARE = 0.5  # sensitivity: share of the residual trend SDSA alone must carry
#: second-layer mixing paths (set_network's ``mixing``) every network draw is simulated with:
#: the network, SDSA as the only path (does the published attention carry higher-order
#: mixing?) and none (power check: then nothing may predict more of the residual with width)
PATHS = {"full": MIXING, "sdsa": ("sdsa",), "none": ()}
MEAN_ONLY = ("mean",)  # details: network draw 1 with mean pooling as its only second path


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
    return Ridge(train_features, test_features).fit(targets, lambdas)


class Ridge:
    """Ridge regressions on one set of features, with an unpenalised intercept: the SVD of the
    centred training features, made once for every fit of any targets and penalties."""

    def __init__(self, train_features, test_features):
        F = np.asarray(train_features, dtype=float)
        self.rows, self.mean_f = len(F), F.mean(0)
        self.U, self.S, self.Vt = np.linalg.svd(F - self.mean_f, full_matrices=False)
        self.test = np.asarray(test_features, dtype=float) - self.mean_f

    def fit(self, targets, lambdas=LAMBDAS) -> list:
        """[(test predictions, chosen penalty), ...] of each (rows, outputs) array in
        ``targets``, the penalty chosen from ``lambdas`` by generalised cross-validation (a
        single value: that penalty)."""
        U, S, Vt, rows = self.U, self.S, self.Vt, self.rows
        lambdas = np.atleast_1d(lambdas)
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
            out.append((self.test @ coef + mean_y, float(best)))
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
    "mean_equivariant": {...}}; each target's "boot" holds arrays (point estimate first, then
    the bootstrap replicates) of its slopes and, for a control, of its NRMSE / floor (1 + B,
    widths, T). Calls with the same ``seed`` and test sets resample the same sets, so the
    arrays of different calls (network draws) are paired."""
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
                     T_slope=float(t_slope[0]), T_slope_ci=_ci(t_slope[1:]),
                     boot=dict(width_slope=w_slope, T_slope=t_slope))
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
            entry["boot"]["ratio_to_floor"] = ratio
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
    predicted), with bootstrap CIs over test sets, paired across widths (and across calls with
    the same ``seed``). Returns {target: {"network": {width: [NRMSE, [low, high]]},
    "width_slope": [slope, [low, high]] (OLS of log NRMSE on log width), "first_layer": [NRMSE,
    [low, high]], "boot": {"width_slope", "first_layer", "level" (NRMSE at the largest width)}:
    arrays, point estimate first, then the replicates}}."""
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
                                     _ci(values["first_layer"][1:])],
                     "boot": {"width_slope": slope, "first_layer": values["first_layer"],
                              "level": values[widths[-1]]}}
    return out


def pooled_trend(units: dict, bound: float = 0.0, between_units: bool = False) -> dict:
    """The mean over ``units`` ({label: array, point estimate first, then bootstrap replicates
    paired across units}) with its 95% CI (percentile bootstrap; with ``between_units`` a
    t-interval over the units' point estimates, treating them as a random sample), and per
    unit its estimate and one-sided p-value of "below ``bound``", raw and Holm-adjusted over
    the units."""
    if not units:
        raise ValidationError("units", "parameter 'units' must not be empty")
    labels = list(units)
    stack = np.stack([np.asarray(units[k], dtype=float) for k in labels])
    mean = stack.mean(0)
    raw = [bootstrap_p_values(row[1:], bound)[0] for row in stack]
    adjusted = holm(raw)
    ci = _ci(mean[1:])
    if between_units:
        half = stats.t.ppf(0.975, len(labels) - 1) * stack[:, 0].std(ddof=1) / \
            np.sqrt(len(labels)) if len(labels) > 1 else np.inf
        ci = [float(mean[0] - half), float(mean[0] + half)]
    return {"estimate": float(mean[0]), "ci": ci,
            "units": {k: {"estimate": float(stack[i, 0]), "p": raw[i],
                          "p_holm": float(adjusted[i])} for i, k in enumerate(labels)}}


def _below_at_alpha(pooled: dict) -> list:
    """Labels of the units of a :func:`pooled_trend` below its bound at family-wise ALPHA."""
    return [label for label, unit in pooled["units"].items() if unit["p_holm"] < ALPHA]


def _residual_units(per_draw: list, key: str, share_of=None, share: float = 0.0) -> dict:
    """{"target / network r": array} of ``key`` ("width_slope", "level", "first_layer") from a
    list of :func:`residual_fits` per network draw; minus ``share`` x the same unit of
    ``share_of`` where given (paired replicates)."""
    units = {}
    for r, per in enumerate(per_draw):
        for name, entry in per.items():
            value = np.asarray(entry["boot"][key], dtype=float)
            if share_of is not None:
                value = value - share * np.asarray(share_of[r][name]["boot"][key], dtype=float)
            units[f"{name} / network {r + 1}"] = value
    return units


def universal_evidence(fits: list, residuals: list, attention: list, plain: list, *,
                       equivariant: bool = True, control_every_width: bool = False,
                       residual_level: bool = False, attention_share: float = 0.0,
                       between_units: bool = False) -> dict:
    """Pooled trends and validity checks over every network draw. ``fits``, ``residuals``: per
    draw, :func:`universal_fits` and :func:`residual_fits` of the network; ``attention``,
    ``plain``: per draw, :func:`residual_fits` of the same draw rebuilt with SDSA as its only
    second mixing path and with no second mixing layer. Units: equivariant targets x draws
    (error width and T slopes), higher-order targets x draws (residual width slopes, or their
    level at the largest width with ``residual_level``), controls x draws (x hidden widths with
    ``control_every_width``). The attention units are the SDSA-only residual slopes minus
    ``attention_share`` x the network's; the SDSA-only units' NRMSE^2 at the largest width (the
    share of the residual's variance they leave) is pooled against :data:`HALF_VARIANCE`.
    ``between_units``: the trends' CIs are t-intervals over the units (:func:`pooled_trend`)."""
    label = lambda name, r: f"{name} / network {r + 1}"  # noqa: E731
    error = {key: {label(name, r): t["boot"][key] for r, f in enumerate(fits)
                   for name, t in f["targets"].items() if t["family"] in EQUIVARIANT}
             for key in ("width_slope", "T_slope")}
    controls = [(label(name, r), t) for r, f in enumerate(fits)
                for name, t in f["targets"].items() if t["family"] not in EQUIVARIANT]
    floor_units = {f"{name} at width {t['widths'][w]}": t["boot"]["ratio_to_floor"][:, w, -1]
                   for name, t in controls
                   for w in range(1 if control_every_width else len(t["widths"]) - 1,
                                  len(t["widths"]))}
    trend = lambda units, bound=0.0: pooled_trend(units, bound, between_units)  # noqa: E731
    pooled = {
        "error width slope": trend(error["width_slope"]),
        "error T slope": trend(error["T_slope"]),
        "higher-order residual": trend(
            _residual_units(residuals, "level" if residual_level else "width_slope"),
            1.0 if residual_level else 0.0),
        "SDSA-only residual width slope": trend(_residual_units(
            attention, "width_slope", share_of=residuals, share=attention_share)),
        "SDSA-only residual variance left at the largest width": trend(
            {k: v ** 2 for k, v in _residual_units(attention, "level").items()}, HALF_VARIANCE),
        "no second mixing: residual width slope": trend(_residual_units(plain, "width_slope"))}
    first = pooled_trend(_residual_units(residuals, "first_layer"), 1.0)
    floor = pooled_trend(floor_units, 1.0)
    checks = {
        "circuit exactly equivariant": bool(equivariant),
        "first layer alone predicts no residual (Holm)": not _below_at_alpha(first),
        "no control below its equivariant floor (Holm)": not _below_at_alpha(floor),
        "every control fitted below its floor by the position-aware read-out": all(
            "position_ratio_to_floor_ci" in t and t["position_ratio_to_floor_ci"][1] < 1.0
            for _, t in controls),
        "no second mixing layer: residual not predicted better with width":
            pooled["no second mixing: residual width slope"]["ci"][1] >= 0.0}
    return {"pooled": pooled, "first_layer": first, "control_floor": floor, "checks": checks,
            "residual_bound": 1.0 if residual_level else 0.0}


def sdsa_carries(unit_p, slope_ci, left_ci, condition: str = SUPPORT[0]) -> bool:
    """Whether the SDSA-only networks carry the higher-order mixing, by ``condition`` (one of
    :data:`SUPPORT`): every unit's residual width slope below 0 at one-sided p < ALPHA
    (``unit_p``, raw: an intersection-union test needs no adjustment) and the pooled share of
    the residual's variance left at the largest width (``left_ci``, mean NRMSE^2) below
    HALF_VARIANCE (today's rule); either alone; or the pooled slope CI (``slope_ci``) below 0
    (b42268f's)."""
    every = all(p < ALPHA for p in unit_p)
    half = left_ci[1] < HALF_VARIANCE
    outcomes = dict(zip(SUPPORT, (every and half, every, half, slope_ci[1] < 0.0)))
    if condition not in outcomes:
        raise ValidationError("condition", f"parameter 'condition' must be one of {SUPPORT}, "
                                           f"got {condition!r}")
    return outcomes[condition]


def universal_rule(error_cis, residual, valid: bool, sdsa: bool,
                   slope_below: float = 0.0) -> str:
    """not-testable unless ``valid`` (every validity check passed); refuted if a pooled
    error slope CI (width, T) does not lie below ``slope_below`` or the pooled higher-order
    residual's CI does not lie below its bound (``residual`` = (CI, bound): width slope below
    0, or level below 1); supported if ``sdsa`` (:func:`sdsa_carries`: the published
    attention carries higher-order mixing), partial otherwise."""
    if not valid:
        return "not-testable"
    ci, bound = residual
    if not all(ci_[1] < slope_below for ci_ in error_cis) or not ci[1] < bound:
        return "refuted"
    return "supported" if sdsa else "partial"


def universal_verdict(evidence: dict, slope_below: float = 0.0,
                      support: str = SUPPORT[0]) -> str:
    """:func:`universal_rule` on a :func:`universal_evidence`, SDSA judged by ``support``."""
    pooled = evidence["pooled"]
    slope = pooled["SDSA-only residual width slope"]
    sdsa = sdsa_carries([u["p"] for u in slope["units"].values()], slope["ci"],
                        pooled["SDSA-only residual variance left at the largest width"]["ci"],
                        support)
    return universal_rule([pooled["error width slope"]["ci"], pooled["error T slope"]["ci"]],
                          (pooled["higher-order residual"]["ci"], evidence["residual_bound"]),
                          all(evidence["checks"].values()), sdsa, slope_below)


def universal_judge(runs: dict, floor: pd.DataFrame, *, seed: int, resamples: int,
                    equivariant: bool = True, network: str = "full", draws=None,
                    at: str = "residual", fit_options=None, slope_below: float = 0.0,
                    support: str = SUPPORT[0], **options) -> tuple:
    """(verdict, evidence) from the runs of every network draw: ``runs`` maps "full", "sdsa",
    "none" (the second mixing paths) to a list per draw of {"errors", "position", "residual",
    "residual_earlier_T"} (:func:`_network_run`); ``network`` is the path judged as the
    network, ``draws`` the draws used (default all), ``at`` the residual fits ("residual":
    largest T, "residual_earlier_T"), ``fit_options`` go to :func:`universal_fits`,
    ``slope_below`` and ``support`` to :func:`universal_verdict`, the rest to
    :func:`universal_evidence`."""
    draws = range(len(runs["full"])) if draws is None else draws
    fits = [universal_fits(runs[network][r]["errors"], floor, runs[network][r]["position"],
                           seed=seed, resamples=resamples, **(fit_options or {}))
            for r in draws]
    picked = {path: [runs[path][r][at] for r in draws] for path in runs}
    evidence = universal_evidence(fits, picked[network], picked["sdsa"], picked["none"],
                                  equivariant=equivariant, **options)
    return universal_verdict(evidence, slope_below, support), {**evidence, "fits": fits}


def per_unit_verdict(fits: list, residuals: list, slope_below: float = 0.0,
                     control_every_width: bool = False, residual_level: bool = False,
                     equivariant: bool = True) -> str:
    """The earlier rules (89af9c6; with ``residual_level`` c8cf59b's, with empty residual
    dicts 7372b39's): every unit judged alone by its 95% CI, no multiplicity control. refuted
    if some equivariant target's error width or T slope CI does not lie below
    ``slope_below``, or some higher-order residual's width slope CI does not lie below 0 (its
    level CI below 1); otherwise not-testable if the circuit is not equivariant, a first-layer
    CI lies below 1, a control's NRMSE / floor CI lies below 1 (at the largest width and T, or
    every width) or a position-aware CI does not; partial otherwise. Never supported."""
    slopes, residual_cis, first_layer_cis, valid = [], [], [], equivariant
    for draw, residual in zip(fits, residuals):
        for t in draw["targets"].values():
            if t["family"] in EQUIVARIANT:
                slopes += [t["width_slope_ci"], t["T_slope_ci"]]
                continue
            picked = t["ratio_to_floor_ci"][1:] if control_every_width else \
                [t["ratio_to_floor_ci"][-1]]
            valid &= all(r[-1][1] >= 1.0 for r in picked)
            valid &= t.get("position_ratio_to_floor_ci", [1.0, 1.0])[1] < 1.0
        for entry in residual.values():
            residual_cis.append((entry["network"][max(entry["network"])][1], 1.0)
                                if residual_level else (entry["width_slope"][1], 0.0))
            first_layer_cis.append(entry["first_layer"][1])
    if not all(ci[1] < slope_below for ci in slopes) or \
            not all(ci[1] < bound for ci, bound in residual_cis):
        return "refuted"
    if not valid or any(ci[1] < 1.0 for ci in first_layer_cis):
        return "not-testable"
    return "partial"


#: sensitivity rows that ARE the earlier rules on today's data (EarlierRule.today)
EARLIER_ROWS = {
    "b42268f": "supported if the SDSA-only networks' pooled residual width slope CI lies below "
               "0 (no per-unit or variance condition; the rule of b42268f)",
    "89af9c6": "each unit alone by its 95% CI, no multiplicity control, residual by its width "
               "slope; never supported (the rule of 89af9c6, before issue 27)",
    "c8cf59b": "each unit alone by its 95% CI, residual by its level at the largest width (CI "
               "below 1); never supported (the rule of c8cf59b)",
    "7372b39": "each unit alone by its 95% CI, error slopes and controls only (no higher-order "
               "test); never supported (the rule of 7372b39)"}


def universal_sensitivity(runs: dict, floor: pd.DataFrame, fits: list, *, seed: int,
                          resamples: int, equivariant: bool = True) -> list[dict]:
    """The verdict under other protocol choices (``runs`` as in :func:`universal_judge`,
    ``fits`` its evidence's fits under the protocol's own options):
    other thresholds, read-out points and penalty, the residual's level or earlier T, CIs over
    units, each draw alone, the path networks judged as the network, the halves of the
    supported condition alone, and the earlier rules (:data:`EARLIER_ROWS`)."""
    errors = runs["full"][0]["errors"]
    widths = np.sort(errors.width[errors.width > 0].unique())
    times = np.sort(errors["T"].unique())
    draws = len(runs["full"])

    def verdict(**options):
        return universal_judge(runs, floor, seed=seed, resamples=resamples,
                               equivariant=equivariant, **options)[0]

    choices = [
        (f"every pooled error slope CI below {RATE_SLOPE} (a rate, not just a decrease)",
         dict(slope_below=RATE_SLOPE)),
        (f"width slope at the second-largest T ({times[-2]:g} steps)",
         dict(fit_options=dict(width_at_T=times[-2]))),
        (f"T slope at the second-largest width ({widths[-2]} units)",
         dict(fit_options=dict(T_at_width=widths[-2]))),
        (f"T slope over the three largest T only ({number_list(times[-3:])} steps)",
         dict(fit_options=dict(T_values=times[-3:]))),
        (f"fixed ridge penalty {FIXED_LAMBDA:g} instead of generalised cross-validation",
         dict(fit_options=dict(penalty="fixed"))),
        ("control judged at every width (largest T), not only the largest",
         dict(control_every_width=True)),
        ("higher-order residual judged by its pooled level at the largest width (mean NRMSE "
         "CI below 1) instead of its pooled trend with width", dict(residual_level=True)),
        (f"higher-order residuals at the second-largest T ({times[-2]:g} steps)",
         dict(at="residual_earlier_T")),
        (f"supported only if each SDSA-only unit's residual slope is also at least "
         f"{ATTENTION_SHARE:g} of the network's (same unit, intersection-union)",
         dict(attention_share=ATTENTION_SHARE)),
        (f"supported if every SDSA-only unit's residual falls with width (one-sided p < "
         f"{ALPHA:g} each), without the half-variance condition",
         dict(support="every unit falls")),
        (f"supported if the SDSA-only networks leave less than {HALF_VARIANCE:g} of the "
         "residual's variance at the largest width (pooled), without the every-unit condition",
         dict(support="half the variance")),
        (EARLIER_ROWS["b42268f"], dict(support="pooled slope")),
        ("CIs of the pooled trends as t-intervals over the units (target and network draws "
         "as a random sample) instead of the test-set bootstrap", dict(between_units=True)),
        ("the SDSA-only networks judged as the network", dict(network="sdsa")),
        ("the networks without a second mixing layer judged as the network (power check: "
         "must be refuted)", dict(network="none"))]
    choices += [(f"network draw {r + 1} alone (of {draws})", dict(draws=[r]))
                for r in range(draws)]
    rows = [{"choice": choice, "verdict": verdict(**options)} for choice, options in choices]
    residuals = [run["residual"] for run in runs["full"]]
    earlier = {"89af9c6": dict(), "c8cf59b": dict(residual_level=True),
               "7372b39": dict(residuals=[{} for _ in residuals])}
    for commit, options in earlier.items():
        options = {"residuals": residuals, **options}
        rows.append({"choice": EARLIER_ROWS[commit], "verdict": per_unit_verdict(
            fits, equivariant=equivariant, **options)})
    return rows


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
    f"{SIZES.text('networks')} independent draws of all random network weights (pooled "
    "units). "
    f"Read-out: ridge (penalty by generalised cross-validation over "
    f"{LAMBDAS[0]:g}..{LAMBDAS[-1]:g}) on every population's counts / T of the token (inputs "
    f"and first mixing layer are the residual path), weights shared by tokens, trained on "
    f"{SIZES.text('train')} random sets X ~ U[-1,1], tested on {SIZES.text('test')} held-out "
    f"sets, at T = {SIZES.text('T', _ranges)} steps (nested checkpoints of one run). Error: "
    "NRMSE = RMSE / std of the target on the test sets; 95% CIs from "
    f"{SIZES.text('resamples')} bootstrap resamples of test sets (paired across widths, T and "
    "targets, and across network draws). Slopes: OLS of log NRMSE on log W at the largest T and on "
    "log T at the largest W. Higher-order test: the read-out at each width (largest T) fitted "
    "to each residual; residual NRMSE (1 = nothing predicted) and its width slope; the first "
    "layer alone (inputs, first mean-pool, first LIF layer at the largest W) must predict "
    "nothing. Control: NRMSE / floor at the largest W and T, and the same spikes through a "
    "position-aware (non-shared, non-equivariant) ridge read-out. Path networks: every draw "
    "is simulated again with SDSA as its only second mixing path (no mean pooling of hidden "
    "units) and with no second mixing layer (then nothing can predict more of a residual "
    "with width: the power check). Rule (issue 27; the earlier rules are in rule_history): "
    "units are equivariant targets x network draws (error width and T slopes), attention and "
    "moments targets x draws (residual width slopes, first layer alone) and controls x draws. "
    "Each trend is judged pooled: the mean over its units, with a 95% CI from the same "
    "resampled test sets for every unit (paired), so one flat unit cannot decide alone while "
    "a flat or rising trend shared by the units still refutes; per unit, a one-sided "
    "bootstrap p-value, Holm-adjusted over the units, is reported, and the checks that one "
    f"unit could fail use it at family-wise {ALPHA:g}. Not-testable first (the test is not "
    "valid) if the circuit is not exactly equivariant, "
    "the first layer alone predicts part of some residual (Holm: NRMSE below 1), some "
    "control's NRMSE / floor lies below 1 (Holm: an equivariant network cannot beat its "
    "floor), the position-aware read-out's CI does not lie below 1 for every control (the "
    "control could not tell), or the draws without a second mixing layer predict more of the "
    "residuals with width (pooled slope CI below 0: the first-order floor leaks). Otherwise "
    "refuted if the pooled error width slope CI or the pooled error T slope CI does not lie "
    "below 0, or the pooled residual width slope CI does not lie below 0 (more units must "
    "predict more of what E[y_i | x_i, mean_j x_j] misses): a pooled trend that is not shown "
    "to fall refutes, since the claim predicts a falling error and each trend pools 8-12 "
    "units; a stricter reading (refuted only when a trend is shown not to fall) would turn "
    "such a case into partial. Otherwise supported if the published spiking attention "
    "itself carries mixing beyond the token mean, which universality needs, in every unit and to a size that matters: every "
    "SDSA-only unit (attention and moments targets x draws) predicts more of its residual with "
    f"width (one-sided bootstrap p < {ALPHA:g} for each unit's width slope below 0: an "
    "intersection-union test, which needs no adjustment), AND the SDSA-only networks predict "
    "at least half of the residual's variance at the largest width (pooled: the mean over "
    f"units of the residual NRMSE^2 has its 95% CI below {HALF_VARIANCE:g}); partial if not "
    "(the error falls, but SDSA carries too little of the higher-order part or not in every "
    "unit). Supported means every implication this finite experiment can test holds at these "
    "sizes; it does not prove universality (error -> 0 for every continuous equivariant map). "
    "The rule was written after the quick-run numbers were seen; the rule it replaced could "
    "not reach supported by design (the per-unit rule before issue 27; b42268f's pooled-slope "
    "condition, written after that and replaced after a referee's review, is in "
    "rule_history). Sensitivity rows include the earlier rules, each half of the supported "
    "condition alone, CIs over units instead of test sets, each draw alone, and the SDSA-only "
    "and no-mixing draws judged as the network; network draw 1 with mean pooling only is "
    "reported beside (which path carries the residual)."
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
    record = simulate(network.circuit, network_inputs(network, spikes=np.concatenate(
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
            ridge = Ridge(F[:train].reshape(train * n, -1), F[train:].reshape(test * n, -1))
            for penalty, lambdas in (("gcv", LAMBDAS), ("fixed", FIXED_LAMBDA)):
                fitted = ridge.fit([y[:train].reshape(train * n, d) for y in Y.values()],
                                   lambdas)
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
    record = simulate(network.circuit, network_inputs(network, X), T[-1] * STEP,
                              trials=train + test, seed=context.seed_for(f"run {label}"),
                              dt=STEP, checkpoints=T * STEP)
    errors, chosen = _readout_errors(network, record.counts, Y, families, T, train)
    features = {w: readout_features(network, record.counts, w, T) for w in widths}
    flat = features[max(widths)][-1].reshape(train + test, -1)  # all tokens, position order
    position, ridge = [], Ridge(flat[:train], flat[train:])
    for name in Y:
        if families[name] not in EQUIVARIANT:
            fitted = ridge.fit([Y[name][:train, i] for i in range(n)])
            predicted = np.stack([prediction for prediction, _ in fitted], axis=1)
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
    runs = {path: [_network_run(context, str(r + 1), *arguments, mixing=mixing)
                   for r in range(size["networks"])] for path, mixing in PATHS.items()}
    mean_only = _network_run(context, "1", *arguments, mixing=MEAN_ONLY)
    check = _equivariance_check(context, size)
    equivariant = check["mismatches"] == 0
    verdict, evidence = universal_judge(runs, floor, seed=seed, resamples=resamples,
                                        equivariant=equivariant)
    fits, residual_by_network = evidence["fits"], [run["residual"] for run in runs["full"]]
    rounded = lambda ci: [round(x, 4) for x in ci]  # noqa: E731

    def residual_summary(per: dict) -> dict:
        return {name: {"nrmse_by_width": {w: [round(v[0], 4), rounded(v[1])]
                                          for w, v in entry["network"].items()},
                       "width_slope": [round(entry["width_slope"][0], 3),
                                       rounded(entry["width_slope"][1])],
                       "first_layer_alone": [round(entry["first_layer"][0], 4),
                                             rounded(entry["first_layer"][1])]}
                for name, entry in per.items()}

    def pooled_slope(run: dict) -> list:
        slope = pooled_trend(_residual_units([run["residual"]], "width_slope"))
        return [round(slope["estimate"], 4), rounded(slope["ci"])]

    def units_summary(pooled: dict) -> dict:
        return {label: {"estimate": round(u["estimate"], 4), "p": round(u["p"], 4),
                        "p_holm": round(u["p_holm"], 4)} for label, u in pooled["units"].items()}

    mean = fits[0]["mean_equivariant"]
    chosen = [lam for run in runs["full"] for lam in run["chosen"]]
    share = {k: _nrmse(projection[k][train:], Y[k][train:]) for k in higher}
    pooled = evidence["pooled"]
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
        "pooled": {name: [round(p["estimate"], 4), rounded(p["ci"])]
                   for name, p in pooled.items()},
        "checks": evidence["checks"],
        "multiplicity": "trends judged pooled (mean over units, paired test-set bootstrap); "
                        "per unit: one-sided bootstrap p-value of 'below the bound' (slopes "
                        f"below 0, first layer and control ratios below 1), Holm-adjusted over "
                        f"the units of each family; the first-layer and control-floor checks "
                        f"fail only at family-wise {ALPHA:g}; supported needs every SDSA-only "
                        f"unit's raw p below {ALPHA:g} (intersection-union: no adjustment)",
        "supported_needs": _support_summary(pooled),
        "residual_variance_predicted_at_largest_width": {
            "the network (mean pooling and SDSA)": _variance_predicted(residual_by_network),
            "SDSA only": _variance_predicted([run["residual"] for run in runs["sdsa"]]),
            "mean pooling only (network draw 1)": _variance_predicted([mean_only["residual"]]),
            "no second mixing layer": _variance_predicted(
                [run["residual"] for run in runs["none"]])},
        "units": {name: units_summary(p) for name, p in
                  [*pooled.items(), ("first layer alone (NRMSE below 1)",
                                     evidence["first_layer"]),
                   ("control NRMSE / floor (below 1)", evidence["control_floor"])]},
        "units_falling_at_family_wise_alpha": {
            name: f"{len(_below_at_alpha(p))} of {len(p['units'])}"
            for name, p in pooled.items()},
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
        "mixing_path_ablations": {
            "SDSA only (no mean pooling of hidden units), every draw": [
                residual_summary(run["residual"]) for run in runs["sdsa"]],
            "no second mixing layer, every draw": [
                residual_summary(run["residual"]) for run in runs["none"]],
            "mean pooling only (no SDSA), network draw 1": residual_summary(
                mean_only["residual"])},
        "pooled_residual_width_slope_by_path_network_1": {
            text: pooled_slope(run) for text, run in (
                ("mean pooling and SDSA (the network)", runs["full"][0]),
                ("mean pooling only", mean_only), ("SDSA only", runs["sdsa"][0]),
                ("no second mixing layer", runs["none"][0]))},
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
        "estimate_is": "the pooled width slope of the higher-order residual's NRMSE (mean over "
                       "attention and moments targets x network draws), 95% CI from the "
                       "paired bootstrap of test sets",
        "not_shown": "universality itself (error -> 0 for every continuous equivariant "
                     "function); softmax or dot-product spiking attention; trained hidden "
                     "weights; the randomness of the target and network draws in the CIs "
                     "(they are the pooled units, not resampled)",
    }
    sensitivity = universal_sensitivity(runs, floor, fits, seed=seed, resamples=resamples,
                                        equivariant=equivariant)
    tables = {"summary": pd.concat([_summary_table(f).assign(network=r + 1)
                                    for r, f in enumerate(fits)], ignore_index=True),
              "residual": _residual_table(residual_by_network)}
    headline = pooled["higher-order residual"]
    return ClaimResult(verdict, headline["estimate"], headline["ci"], details, tables,
                       sensitivity)


def _support_summary(pooled: dict) -> dict:
    """The two conditions supported needs of the SDSA-only networks, with their numbers."""
    slope = pooled["SDSA-only residual width slope"]
    worst = max(slope["units"], key=lambda k: slope["units"][k]["p"])
    left = pooled["SDSA-only residual variance left at the largest width"]
    holds = lambda condition: sdsa_carries(  # noqa: E731
        [u["p"] for u in slope["units"].values()], slope["ci"], left["ci"], condition)
    return {
        f"every SDSA-only unit's residual width slope below 0 (one-sided p < {ALPHA:g} each, "
        "intersection-union)": {
            "holds": holds("every unit falls"),
            "largest p": [worst, round(slope["units"][worst]["p"], 4),
                          round(slope["units"][worst]["estimate"], 4)]},
        f"SDSA-only networks predict at least {1 - HALF_VARIANCE:g} of the residual's variance "
        "at the largest width (pooled, 95% CI)": {
            "holds": holds("half the variance"),
            "predicted": [round(1 - left["estimate"], 4),
                          [round(1 - left["ci"][1], 4), round(1 - left["ci"][0], 4)]]}}


def _variance_predicted(per_draw: list) -> dict:
    """Share of each higher-order residual's variance predicted on the test sets at the
    largest width (1 - NRMSE^2) per unit (target x draw), and its mean over the units."""
    units = {}
    for r, per in enumerate(per_draw):
        for name, entry in per.items():
            nrmse = entry["network"][max(entry["network"])][0]
            units[f"{name} / network {r + 1}"] = round(1 - nrmse ** 2, 4)
    return {"mean": round(float(np.mean(list(units.values()))), 4), "units": units}


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


def _pooled_slopes(tables) -> dict:
    """The point estimates of the pooled trends the rule judges, from the tables (every
    network draw): the mean over equivariant targets x draws of the error's width slope (at
    the largest T) and T slope (at the largest width), and the mean over higher-order
    targets x draws of the residual's width slope (the claim's estimate)."""
    summary, residual = tables["summary"], tables["residual"]
    width_slopes, T_slopes, residual_slopes = [], [], []
    for _, rows in summary[summary.family.isin(EQUIVARIANT)].groupby(["network", "target"]):
        hidden = rows[rows.width > 0]
        by_w = hidden[hidden["T"] == hidden["T"].max()].sort_values("width")
        by_T = hidden[hidden.width == hidden.width.max()].sort_values("T")
        width_slopes.append(_slope(by_w.width, np.log(by_w.nrmse.to_numpy())))
        T_slopes.append(_slope(by_T["T"], np.log(by_T.nrmse.to_numpy())))
    for _, rows in residual[residual.width > 0].groupby(["network", "target"]):
        rows = rows.sort_values("width")
        residual_slopes.append(_slope(rows.width, np.log(rows.nrmse.to_numpy())))
    return {"width": float(np.mean(width_slopes)), "T": float(np.mean(T_slopes)),
            "residual": float(np.mean(residual_slopes))}


def plot(tables, directory) -> list[str]:
    from matplotlib.ticker import NullFormatter

    pooled = _pooled_slopes(tables)
    table = tables["summary"]
    table = table[table.network == 1]
    T_max = table["T"].max()
    hidden = table[table.width > 0]
    w_max = hidden.width.max()
    colours = {"deep_sets": "C0", "attention": "C1", "moments": "C2", "control": "C3",
               "mean": "k"}
    with paper_style():
        fig, (left, middle, right) = figure("double", 2.8, ncols=3,
                                            gridspec_kw=dict(wspace=0.45))
        labelled, labelled_right = set(), set()
        for name, rows in hidden.groupby("target", sort=False):
            family = rows.family.iloc[0]
            style = dict(color=colours[family], lw=1.6 if family == "mean" else 0.8,
                         ls="--" if family == "control" else "-", marker="o", ms=2.5)
            # one legend entry per family: its targets are exchangeable draws, one colour
            label = ("mean of equivariant targets" if family == "mean" else
                     f"{family} (each target)" if family not in labelled else "_nolegend_")
            labelled.add(family)
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
        left.legend(fontsize=4.5, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.28))
        # the rule judges pooled slopes (mean over units and draws; their CIs are in the
        # claim's details): each panel's title states the one it shows
        left.set_title("network draw 1; dotted: control's equivariant floor\n"
                       f"pooled width slope {pooled['width']:.2f} (rule: CI below 0)",
                       fontsize=6)
        middle.set_title(f"pooled T slope {pooled['T']:.2f}\n(rule: CI below 0)", fontsize=6)
        residual = tables["residual"]
        for (name, draw), rows in residual.groupby(["target", "network"], sort=False):
            rows = rows[rows.width > 0].sort_values("width")
            family = name.rsplit("_", 1)[0]
            right.errorbar(rows.width, rows.nrmse, [rows.nrmse - rows.ci_low,
                                                    rows.ci_high - rows.nrmse],
                           color=colours[family], lw=0.8, marker="o", ms=2.5, capsize=1.5,
                           label=f"{family} (each target and network)"
                           if family not in labelled_right else "_nolegend_")
            labelled_right.add(family)
        first = residual[residual.width == 0]
        right.scatter(np.full(len(first), residual.width.max()), first.nrmse, marker="x",
                      color="0.4", s=10, label="first layer alone")
        right.axhline(1.0, color="k", lw=0.6, ls=":", label="1: nothing predicted (first "
                                                           "layer: rule, not below)")
        right.set_xscale("log")
        widths = np.sort(residual.width[residual.width > 0].unique())
        right.set_xticks(widths, [f"{w:g}" for w in widths])
        right.xaxis.set_minor_formatter(NullFormatter())
        right.set_xlabel("width (x: first layer alone)")
        right.set_ylabel("residual NRMSE")
        right.set_title(f"higher-order residual, T = {T_max}: pooled width slope\n"
                        f"{pooled['residual']:.2f} (decides; rule: CI below 0)", fontsize=6)
        legend_beside(right, fontsize=4)
        return save_figure(fig, directory, "attention_universal")


HISTORY = (
    EarlierRule("one softmax-attention head (Bernoulli Q, K, V, lateral-inhibition softmax, "
                "replicas as width) against its own softmax output: partial if every T slope "
                "CI of its rate error lies below 0 and the error ratio width 1 / largest width "
                "CI above 1, refuted otherwise; never supported", replaced_in="7372b39",
                changed_after_data=True,
                note="a different experiment (one head approximating softmax attention, no "
                     "random target class), no longer run: today's data cannot answer it"),
    EarlierRule("each target draw alone: refuted if some equivariant target's error width or "
                "T slope CI does not lie below 0; not-testable if the circuit is not "
                "equivariant or a control fails; partial otherwise; never supported",
                replaced_in="c8cf59b", changed_after_data=True, today=EARLIER_ROWS["7372b39"],
                note="then one network draw and no higher-order test; applied today to every "
                     "draw (a referee showed that such slopes fall for any random-feature "
                     "model)"),
    EarlierRule("as 7372b39's, and refuted if some higher-order residual's NRMSE CI at the "
                "largest width does not lie below 1; not-testable if the first layer alone "
                "has a CI below 1; every unit alone; never supported", replaced_in="89af9c6",
                changed_after_data=True, today=EARLIER_ROWS["c8cf59b"],
                note="its first-order floor was a fitted NumPy model; today's residual is the "
                     "exact conditional Monte Carlo one"),
    EarlierRule("every unit alone by its 95% CI: refuted if some equivariant target's error "
                "width or T slope CI, or some higher-order residual's width slope CI, does not "
                "lie below 0 in some network draw (one flat interval of 8 refuted it under "
                "seed 3); never supported", replaced_in="issue 27", changed_after_data=True,
                today=EARLIER_ROWS["89af9c6"]),
    EarlierRule("pooled trends as today (refuted unless the pooled error slopes and the pooled "
                "higher-order residual width slope fall; Holm for the validity checks); "
                "supported if the SDSA-only networks' pooled residual width slope CI lies below "
                "0, partial otherwise (supported at seeds 1 and 3 with one SDSA-only unit flat "
                "and SDSA-only networks predicting 0-43 % of the residual's variance)",
                replaced_in="issue 27 (referee)", changed_after_data=True,
                today=EARLIER_ROWS["b42268f"]),
)

CLAIMS = (
    Claim("attention.universal", PAPER,
          "spiking attention with LIF neurons is a universal approximator of continuous "
          "permutation-equivariant functions", PROTOCOL, None, measure, plot,
          rule=Rule(functions=(_slope, _ci, universal_fits, residual_fits, bootstrap_p_values,
                               pooled_trend, _below_at_alpha, _residual_units,
                               universal_evidence, sdsa_carries, universal_rule,
                               universal_verdict, universal_judge),
                    thresholds={"slope_below": 0.0, "residual_slope_below": 0.0,
                                "residual_level_below": 1.0, "first_layer_below": 1.0,
                                "control_floor_ratio": 1.0, "alpha_holm": ALPHA,
                                "ci_level": 0.95, "rate_slope_sensitivity": RATE_SLOPE,
                                "sdsa_unit_alpha_iut": ALPHA,
                                "sdsa_variance_left_below": HALF_VARIANCE,
                                "attention_share_sensitivity": ATTENTION_SHARE,
                                "mc_samples": MC_SAMPLES, "lambdas": LAMBDAS,
                                "fixed_lambda": FIXED_LAMBDA},
                    history=HISTORY),
          basis=Basis("measured",
                      "the spiking Deep-Sets network with SDSA built here (n = 4 tokens, d = 2 "
                      "channels, fixed random hidden weights and a ridge read-out, widths up to "
                      "64 [128] units per token, T up to 256 [1,024] steps) on random targets "
                      "of three families; not the papers' trained spiking transformers, not "
                      "softmax or dot-product spiking attention, and not universality itself "
                      "(error -> 0 for every continuous equivariant map)",
                      "the pooled trends of the held-out error with width and T and of the "
                      "higher-order residual with width (refuted unless they fall), and "
                      "whether the networks with SDSA as their only second mixing path predict "
                      "more of that residual with width in every unit (intersection-union) and, "
                      "pooled, at least half its variance at the largest width (supported) or "
                      "not (partial)",
                      ci_leaves_out=("target draw (targets are pooled units, not resampled)",
                                     "network weight draw (draws are pooled units, not "
                                     "resampled)",
                                     "training sets and read-out fit (only test sets are "
                                     "resampled)",
                                     "Monte Carlo error of the first-order projection "
                                     "(reported beside)"))),
)
