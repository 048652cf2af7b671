"""Claim model.deff: the effective dimension of trained spiking transformers' token features
and Q/K/V activity, per layer, against the paper's 47-89 of d = 384."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evsim.train import ARCHITECTURES, TASKS

from .. import effective_dim as ed
from ..plots import (category_ticks, figure_legend, log_log, panel_grid, paper_style,
                     rule_band, save_figure)
from ..stats import t_interval
from .trained_runs import (TRAINED_RUNS, SIZES, WIDTH_SIZES, rates, shared_runs,
                           shared_width_runs)
from .base import Basis, Claim, ClaimResult, Rule, interval_verdict

PAPER = ("arXiv:2604.15769 (Closing the Theory-Practice Gap in Spiking Transformers via "
         "Effective Dimension), abstract")
PAPER_RANGE, PAPER_D = (47, 89), 384
#: the paper's range as a fraction of its width d = 384: 0.122-0.232
RATIO_RANGE = (PAPER_RANGE[0] / PAPER_D, PAPER_RANGE[1] / PAPER_D)
RULE_ESTIMATOR = "pr"
#: rows (image, token samples) the U-corrected participation ratio uses (its cost ~ rows^2)
CORRECTED_SAMPLES = 2000
RESAMPLES = 400

PROTOCOL = (
    "From the shared run of the eight trained models (see model.t4), every token-wise layer's "
    f"features: each token's firing rates over T_max = {SIZES.text('T_max')} steps, one sample "
    "per (image, token), d = the layer's width (16; 64 for the MLP's hidden layer); the input's "
    "tokens (4 values) beside them. Every estimator of analyses.effective_dim (participation "
    "ratio plug-in and U-corrected, effective rank, k90/k95/k99, water-filling at 0.1 x RMS, "
    "MLE k = 10, TwoNN). The paper's 47-89 is of d = 384; at width 16 it is compared as a "
    f"fraction of d: {RATIO_RANGE[0]:.3f}-{RATIO_RANGE[1]:.3f}. Rule (before the run): the "
    f"participation ratio of the attention's operands (Q, K, V; QKFormer Q, K; DSSA's input "
    f"X), d_eff / d averaged over the operands, 95% CI by {RESAMPLES} bootstrap resamples of "
    "images; per model supported if the CI lies inside the range, refuted if it misses it, "
    "partial otherwise; supported if every model is, refuted if every model is, partial "
    "otherwise. Silent layers (no variance) are reported, not estimated. Comparing fractions "
    "of d assumes d_eff grows with the width; if it follows the task instead, a width-16 "
    "model cannot show the paper's value. The set task's label thresholds one number per "
    "point (its coordinate sum), so a low d_eff there is partly the task's. Width (reported, "
    "and sensitivity rows): QKFormer and the Spike-driven Transformer trained at widths "
    "16, 32 and 64 with training seeds 0, 1 and 2 (every shipped one), T = 4 models run for "
    f"{WIDTH_SIZES.text('T_max')} steps on "
    f"{WIDTH_SIZES.text('images', lambda v: 'all' if v is None else str(v))} test images "
    "(the same for every width and seed): the operands' d_eff / d per width with a 95% "
    "t-interval over training seeds, and the OLS slope b of log d_eff on log d through the "
    "per-width means (b = 0: d_eff stays put as d grows; b = 1: it grows in proportion; "
    "t-intervals with widths - 2 degrees of freedom, a lack-of-fit F test of the power law) "
    "with d_eff / d extrapolated along it to the paper's d = 384."
)


def token_layers(model) -> list[str]:
    """SpikingJelly layers laid out per token (N, width): the token features."""
    N = model.meta["tokens"]
    return [name for name, (_, layout, _) in model.layers.items()
            if len(layout) == 2 and layout[0] == N and layout[1] > 1]


def operand_layers(model) -> list[str]:
    """The layers holding the attention's operands."""
    operands = set(model.operands.values())
    return [name for name, (population, _, _) in model.layers.items() if population in operands]


def token_features(raster: np.ndarray, T: int) -> np.ndarray:
    """Rates over the first T steps of a layer raster (T_max, images, N, D) -> (images, N, D)."""
    return rates(raster, T)


def dimension_ratio(features: np.ndarray, estimator: str = RULE_ESTIMATOR, rng=None) -> float:
    """d_eff / d of features (images, N, D) pooled over tokens; NaN for a silent layer.
    ``estimator``: one of :data:`analyses.effective_dim.ESTIMATORS`, or "pr_uncentred" (the
    participation ratio of the second-moment matrix: spikes are non-negative, and a mean
    firing pattern is a direction the code must carry too)."""
    X = features.reshape(-1, features.shape[-1])
    if not np.any(X.std(axis=0) > 0):
        return np.nan
    if estimator == "pr_uncentred":
        value = ed.participation_ratio(np.linalg.svd(X, compute_uv=False) ** 2 / len(X))
    elif estimator == "pr":
        value = ed.participation_ratio(ed.spectrum(X))
    elif estimator == "pr_corrected":  # U-statistic PR on the first CORRECTED_SAMPLES rows
        value = ed.participation_ratio(X=X[:CORRECTED_SAMPLES], corrected=True)
    else:
        value = ed.all_estimates(X, rng or np.random.default_rng(0))[estimator]
    return value / X.shape[1]


def operand_ratio_ci(features: list, seed: int) -> tuple[float, list]:
    """Mean over operand layers of the PR ratio, with a bootstrap CI over images."""
    def mean_ratio(rows):
        return float(np.nanmean([dimension_ratio(f[rows]) for f in features]))
    images = len(features[0])
    rng = np.random.default_rng(seed)
    boot = [mean_ratio(rng.integers(0, images, images)) for _ in range(RESAMPLES)]
    return mean_ratio(np.arange(images)), [float(v) for v in np.nanpercentile(boot, [2.5, 97.5])]


def deff_rule(cis, low: float = RATIO_RANGE[0], high: float = RATIO_RANGE[1]) -> str:
    """Per-model CIs of d_eff / d against [low, high]: supported or refuted if every model
    says so, else partial."""
    verdicts = {interval_verdict(ci, low, high) for ci in cis}
    if not verdicts:
        return "not-testable"
    return verdicts.pop() if len(verdicts) == 1 else "partial"


def layer_table(runs: dict, T: int, seed: int) -> pd.DataFrame:
    """Every estimator on every token layer (and the input) of every model."""
    rng = np.random.default_rng(seed)
    rows = []
    for (arch, task), run in runs.items():
        operands = operand_layers(run.model)
        layers = [("input", run.tokens)] + [(name, token_features(run.layers[name], T))
                                            for name in token_layers(run.model)]
        for name, features in layers:
            X = features.reshape(-1, features.shape[-1])
            silent = not np.any(X.std(axis=0) > 0)
            values = dict.fromkeys(ed.ESTIMATORS, np.nan) if silent else \
                ed.all_estimates(X, rng)
            rows.append(dict(arch=arch, task=task, layer=name, operand=name in operands,
                             d=X.shape[1], silent=silent, rate=float(X.mean()), **values))
    return pd.DataFrame(rows)


def _model_rule(table: pd.DataFrame, estimator: str, layers: str = "operand") -> str:
    """Point estimates of an estimator's d_eff / d (mean over the chosen layers per model)."""
    rows = table[table.operand] if layers == "operand" else table[table.layer != "input"]
    ratios = (rows[estimator] / rows.d).groupby([rows.arch, rows.task]).mean()
    return deff_rule([(v, v) for v in ratios])


def width_table(runs: dict, T: int) -> pd.DataFrame:
    """One row per model of :func:`~.trained_runs.shared_width_runs` (architecture, task,
    width d, training seed): the operands' mean participation ratio as d_eff / d and as
    d_eff, from rates over the first T steps, its U-corrected version (no 1/samples bias,
    which at a fixed number of samples grows with d) and the operands' mean rate."""
    rows = []
    for (arch, task, width, seed), run in runs.items():
        features = [token_features(run.layers[name], T) for name in operand_layers(run.model)]
        ratio = float(np.nanmean([dimension_ratio(f) for f in features]))
        corrected = float(np.nanmean([dimension_ratio(f, "pr_corrected") for f in features]))
        rows.append(dict(arch=arch, task=task, d=width, seed=seed, ratio=ratio,
                         d_eff=ratio * width, d_eff_corrected=corrected * width,
                         rate=float(np.mean([f.mean() for f in features]))))
    return pd.DataFrame(rows, columns=["arch", "task", "d", "seed", "ratio", "d_eff",
                                       "d_eff_corrected", "rate"])


def width_trend(table: pd.DataFrame, d_target: int = PAPER_D) -> pd.DataFrame:
    """Per architecture and task: the slope b of log d_eff on log d (b = 0: d_eff stays put as
    d grows, b = 1: it grows in proportion) and d_eff / d extrapolated to ``d_target``, both
    fitted to the per-width means of log d_eff (training seeds average within a width, so
    the widths, not the models, are the replicates: 95% t-intervals with widths - 2 degrees
    of freedom, NaN below three widths), and the lack-of-fit p-value of a power law (F test
    of the all-model fit against the seeds' spread within widths; NaN without replicates).
    Models with a silent operand (non-finite d_eff) are left out and counted."""
    columns = ["arch", "task", "models", "left_out", "widths", "slope", "slope_low",
               "slope_high", "ratio_at_target", "ratio_low", "ratio_high", "lack_of_fit_p"]
    rows = []
    for (arch, task), group in table.groupby(["arch", "task"], sort=False):
        finite = group[np.isfinite(group.d_eff) & (group.d_eff > 0)]
        x, y = np.log(finite.d.to_numpy(float)), np.log(finite.d_eff.to_numpy(float))
        means = pd.Series(y).groupby(x).mean()
        k, n = len(means), len(y)
        row = dict.fromkeys(columns, np.nan) | dict(arch=arch, task=task, models=n,
                                                    left_out=len(group) - n, widths=k)
        if k >= 2:
            fit = stats.linregress(means.index.to_numpy(), means.to_numpy())
            x0, centre = np.log(d_target), fit.intercept + fit.slope * np.log(d_target)
            row.update(slope=fit.slope, ratio_at_target=float(np.exp(centre) / d_target))
        if k >= 3:
            t = stats.t.ppf(0.975, k - 2)
            xm = means.index.to_numpy()
            residual = np.sqrt(np.sum((means.to_numpy() - fit.intercept - fit.slope * xm) ** 2)
                               / (k - 2))
            se_mean = residual * np.sqrt(1 / k + (x0 - xm.mean()) ** 2 /
                                         np.sum((xm - xm.mean()) ** 2))
            row.update(slope_low=fit.slope - t * fit.stderr,
                       slope_high=fit.slope + t * fit.stderr,
                       ratio_low=float(np.exp(centre - t * se_mean) / d_target),
                       ratio_high=float(np.exp(centre + t * se_mean) / d_target))
        pure = float(np.sum((y - means.reindex(x).to_numpy()) ** 2))
        if k >= 3 and n > k and pure > 0:
            every = stats.linregress(x, y)
            lack = float(np.sum((y - every.intercept - every.slope * x) ** 2)) - pure
            F = (lack / (k - 2)) / (pure / (n - k))
            row["lack_of_fit_p"] = float(stats.f.sf(F, k - 2, n - k))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _exponents(trend: pd.DataFrame) -> dict:
    """{architecture/task: [b, [low, high]]} of a :func:`width_trend` table."""
    return {f"{r.arch}/{r.task}": [round(r.slope, 3), [round(r.slope_low, 3),
                                                       round(r.slope_high, 3)]]
            for r in trend.itertuples()}


def measure(context) -> ClaimResult:
    runs = shared_runs(context)
    seed = context.seed_for("bootstrap")
    T_max = SIZES.at(context.scale)["T_max"]
    table = layer_table(runs, T_max, seed)
    summary = []
    for (arch, task), run in runs.items():
        features = [token_features(run.layers[name], T_max) for name in
                    operand_layers(run.model)]
        ratio, ci = operand_ratio_ci(features, seed)
        summary.append(dict(arch=arch, task=task, ratio=ratio, ci_low=ci[0], ci_high=ci[1],
                            d=features[0].shape[-1], d_eff=ratio * features[0].shape[-1],
                            verdict=interval_verdict(ci, *RATIO_RANGE)))
    summary = pd.DataFrame(summary)
    verdict = deff_rule(summary[["ci_low", "ci_high"]].values)
    trained_T = next(iter(runs.values())).trained_T
    at_trained_T = layer_table(runs, trained_T, seed)
    sensitivity = [{"choice": f"{e} instead of the participation ratio (point estimates)",
                    "verdict": _model_rule(table, e)} for e in ed.ESTIMATORS if e != "pr"]
    uncentred = [np.mean([dimension_ratio(token_features(run.layers[name], T_max),
                                          "pr_uncentred") for name in operand_layers(run.model)])
                 for run in runs.values()]
    sensitivity += [
        {"choice": "participation ratio of the uncentred second moment (spikes are "
                   "non-negative; point estimates)",
         "verdict": deff_rule([(v, v) for v in uncentred])},
        {"choice": "participation ratio, point estimates instead of CIs",
         "verdict": _model_rule(table, "pr")},
        {"choice": "digits models only (a 64-pixel image task)",
         "verdict": deff_rule(summary[summary.task == "digits"][["ci_low", "ci_high"]].values)},
        {"choice": "set models only (the label is a threshold on one number per point)",
         "verdict": deff_rule(summary[summary.task == "sets"][["ci_low", "ci_high"]].values)},
        {"choice": f"features over the trained T = {trained_T} steps instead of T_max",
         "verdict": _model_rule(at_trained_T, "pr")},
        {"choice": "every token layer (stream, attention output, MLP) instead of the operands",
         "verdict": _model_rule(table, "pr", layers="all")},
        {"choice": "the paper's absolute 47-89 instead of a fraction of d (impossible at "
                   "d = 16: no estimate can exceed d)",
         "verdict": deff_rule([(v, v) for v in summary.d_eff], *PAPER_RANGE)}]
    widths = width_table(shared_width_runs(context), WIDTH_SIZES.at(context.scale)["T_max"])
    trend = width_trend(widths)
    trend_corrected = width_trend(widths.assign(d_eff=widths.d_eff_corrected))
    by_width = widths.groupby(["arch", "task", "d"], sort=False)
    per_width = {(a, t, d): t_interval(g.ratio) for (a, t, d), g in by_width}
    with_seeds = {key: ci for key, (_, ci) in per_width.items() if not np.isnan(ci[0])}
    widest = {(a, t): max(d for (a2, t2, d) in with_seeds if (a2, t2) == (a, t))
              for (a, t, _) in with_seeds}
    if widest:
        sensitivity.append({
            "choice": "the wide architectures (QKFormer, Spike-driven Transformer) at their "
                      "largest width trained with two or more seeds (d = "
                      f"{', '.join(map(str, sorted(set(widest.values()))))}), 95% CI over "
                      "training seeds, instead of width 16 (still a fraction of that width "
                      "against the paper's fraction of 384, as if d_eff / d did not depend "
                      "on d)",
            "verdict": deff_rule([with_seeds[a, t, d] for (a, t), d in widest.items()])})
    extrapolated = trend.dropna(subset=["ratio_low"])
    if len(extrapolated):
        sensitivity.append({
            "choice": f"d_eff / d extrapolated to the paper's d = {PAPER_D} along each wide "
                      "architecture and task's log d_eff - log d line through its per-width "
                      "means (95% interval of the fitted mean, widths - 2 degrees of freedom, "
                      "so with three widths supported is nearly out of reach; a power law "
                      "assumed, see width_lack_of_fit_p)",
            "verdict": deff_rule(extrapolated[["ratio_low", "ratio_high"]].values)})
    spikes = table[table.layer != "input"]
    details = {
        "widths": sorted(int(d) for d in widths.d.unique()) if len(widths) else [],
        "training_seeds": {f"{a}/{t}/d={d}": sorted(int(v) for v in g.seed)
                           for (a, t, d), g in by_width},
        "operand_ratio_by_width": {f"{a}/{t}/d={d}": [round(m, 3), [round(v, 3) for v in ci]]
                                   for (a, t, d), (m, ci) in per_width.items()},
        "operand_deff_by_width": {f"{a}/{t}/d={d}": round(float(g.d_eff.mean()), 2)
                                  for (a, t, d), g in by_width},
        "width_exponent": _exponents(trend),
        "width_exponent_pr_corrected": _exponents(trend_corrected),
        "width_lack_of_fit_p": {f"{r.arch}/{r.task}": round(r.lack_of_fit_p, 4)
                                for r in trend.itertuples()},
        "width_fit_is": "log d_eff on log d through the per-width means of log d_eff (widths "
                        "are the replicates); lack of fit: F test of the all-model fit against "
                        "the seeds' spread within widths (small p: not a power law)",
        f"ratio_extrapolated_to_d_{PAPER_D}": {
            f"{r.arch}/{r.task}": [round(r.ratio_at_target, 4),
                                   [round(r.ratio_low, 4), round(r.ratio_high, 4)]]
            for r in trend.itertuples()},
        "operand_dimension_ratio": {f"{r.arch}/{r.task}": [round(r.ratio, 3),
                                                           [round(r.ci_low, 3),
                                                            round(r.ci_high, 3)]]
                                    for r in summary.itertuples()},
        "paper_ratio_range": [round(v, 3) for v in RATIO_RANGE],
        "pr_by_layer": {f"{a}/{t}": {r.layer: round(r.pr, 2) for r in g.itertuples()}
                        for (a, t), g in table.groupby(["arch", "task"], sort=False)},
        "input_pr_of_4": {f"{r.arch}/{r.task}": round(r.pr, 2)
                          for r in table[table.layer == "input"].itertuples()},
        "estimator_spread": {e: [round(float((spikes[e] / spikes.d).min()), 3),
                                 round(float((spikes[e] / spikes.d).max()), 3)]
                             for e in ed.ESTIMATORS},
        "silent_layers": [f"{r.arch}/{r.task}/{r.layer}" for r in table[table.silent].itertuples()],
        "operand_ratio_uncentred": {run.name: round(float(v), 3)
                                    for run, v in zip(runs.values(), uncentred)},
        "scale": "width 16 models: d_eff / d is compared, not the absolute 47-89",
    }
    return ClaimResult(verdict, float(summary.ratio.median()), None, details,
                       {"summary": summary, "layers": table, "widths": widths,
                        "width_trend": trend}, sensitivity)


def plot(tables, directory) -> list[str]:
    table, summary = tables["layers"], tables["summary"]
    with paper_style():
        fig, axes, panels = panel_grid(TASKS, ARCHITECTURES, 5.2, sharey=True)
        for ax, task, arch in panels:
            rows = table[(table.arch == arch) & (table.task == task)]
            x = np.arange(len(rows))
            for k, estimator in enumerate(("pr", "erank", "k95", "twonn")):
                ax.plot(x, rows[estimator] / rows.d, "os^D"[k], ms=3, color=f"C{k}",
                        label=estimator)
            rule_band(ax, *RATIO_RANGE, f"rule: the paper's {PAPER_RANGE[0]}-{PAPER_RANGE[1]} "
                                        f"of {PAPER_D} ({RATIO_RANGE[0]:.2f}-"
                                        f"{RATIO_RANGE[1]:.2f} of d)")
            # what the rule judges: the model's operand participation ratio with its CI,
            # beside the layers; its own verdict in the title
            judged = summary[(summary.arch == arch) & (summary.task == task)]
            labels = [f"{n}{'*' if o else ''}" for n, o in zip(rows.layer, rows.operand)]
            if len(judged):
                judged = judged.iloc[0]
                ax.errorbar(len(rows), judged.ratio, [[max(judged.ratio - judged.ci_low, 0)],
                                                      [max(judged.ci_high - judged.ratio, 0)]],
                            fmt="o", ms=5, mfc="none", capsize=2, color="k",
                            label="judged: operand pr mean, 95% CI (decides)")
                ax.set_title(f"{arch} ({task}): {judged.verdict}", fontsize=6)
                labels.append("judged")
            category_ticks(ax, labels)
        for row in axes:
            row[0].set_ylabel("d_eff / d (* operand)")
        figure_legend(fig, axes[0][0], ncols=5, fontsize=6)
        names = save_figure(fig, directory, "model_deff")
    if "widths" in tables and len(tables["widths"]):
        names += _plot_widths(tables["widths"], tables["width_trend"], directory)
    return names


#: the y range of the width figure (d_eff / d): intervals are drawn within it
Y_RANGE = (1e-3, 1.5)


def _plot_widths(widths: pd.DataFrame, trend: pd.DataFrame, directory) -> list[str]:
    """d_eff / d of the operands against the width d per task: every training seed, the line
    through the per-width means (dashed beyond the widths measured) to the paper's d = 384
    with the 95% interval there, and the paper's range."""
    with paper_style():
        fig, axes, panels = panel_grid(["d_eff / d against width"], TASKS, 2.4, sharey=True)
        for ax, _, task in panels:
            for k, (arch, group) in enumerate(widths[widths.task == task].groupby("arch")):
                ax.plot(group.d, group.ratio, "os"[k % 2], ms=3, mfc="none", color=f"C{k}",
                        label=f"{arch}: one training seed")
                fit = trend[(trend.arch == arch) & (trend.task == task)]
                if not len(fit) or not np.isfinite(fit.slope.iloc[0]):
                    continue
                fit = fit.iloc[0]
                rejected = fit.lack_of_fit_p < 0.05
                for d_line, style in ((np.geomspace(group.d.min(), group.d.max(), 20), "-"),
                                      (np.geomspace(group.d.max(), PAPER_D, 20), "--")):
                    ax.plot(d_line, fit.ratio_at_target * (d_line / PAPER_D) ** (fit.slope - 1),
                            style, lw=0.8 if not rejected else 0.4, color=f"C{k}",
                            label=f"{arch}: d_eff ~ d^b through the per-width means" if
                            style == "-" else f"{arch}: extended to d = {PAPER_D}")
                if rejected:
                    ax.annotate(f"{arch}: power law rejected (lack of fit p = "
                                f"{fit.lack_of_fit_p:.2g})", (0.03, 0.04 + 0.07 * k),
                                xycoords="axes fraction", fontsize=5, color=f"C{k}")
                if np.isfinite(fit.ratio_low):  # drawn within the axes: d_eff <= d
                    low, high = max(fit.ratio_low, Y_RANGE[0]), min(fit.ratio_high, 1.0)
                    ax.errorbar(PAPER_D * (1.04 + 0.04 * k), fit.ratio_at_target,
                                [[fit.ratio_at_target - low], [high - fit.ratio_at_target]],
                                fmt="none", capsize=2, lw=0.8, color=f"C{k}",
                                label=f"{arch}: 95% interval at d = {PAPER_D} (within "
                                      f"[{Y_RANGE[0]:g}, 1])")
            ax.axvline(PAPER_D, color="0.6", lw=0.5, ls=":")
            rule_band(ax, *RATIO_RANGE, f"the paper's {PAPER_RANGE[0]}-{PAPER_RANGE[1]} of "
                                        f"{PAPER_D}")
            log_log(ax, "width d", "operand d_eff / d")
            ax.set_ylim(*Y_RANGE)
        figure_legend(fig, axes[0][0], ncols=3, fontsize=6)
        return save_figure(fig, directory, "model_deff_width")


CLAIMS = (
    Claim("model.deff", PAPER, "the effective dimension of trained spiking transformers' "
          "features is 47-89 of d = 384 (far below d)", PROTOCOL, None, measure, plot,
          shares=TRAINED_RUNS,
          rule=Rule((deff_rule, interval_verdict),
                    {"RATIO_RANGE": RATIO_RANGE, "PAPER_RANGE": PAPER_RANGE, "PAPER_D": PAPER_D,
                     "RULE_ESTIMATOR": RULE_ESTIMATOR, "RESAMPLES": RESAMPLES}),
          basis=Basis(
              "measured",
              "The attention operands of the eight width-16 one-block models here (d = 16), "
              "their d_eff compared as a fraction of d with the paper's 47-89 of 384; not the "
              "papers' width-384 models on CIFAR/ImageNet, whose absolute d_eff no width-16 "
              "model can show.",
              "Per-model participation ratios of the Brian2 runs' operand firing rates, with "
              "bootstrap CIs over images, decide it: all eight models must agree for supported "
              "or refuted, so one model can only make it partial.",
              ci_leaves_out=("training seed", "choice of d_eff estimator (see sensitivity)",
                             "choice of architectures and tasks"))),
)
