"""Claim model.t4: T = 4 suffices on trained spiking transformers (accuracy at T = 4 within a
margin of the large-T accuracy), and how the attention output's error falls with T."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evsim.train import ARCHITECTURES, TASKS

from ..plots import figure, log_log, paper_style, save_figure
from ..stats import bootstrap_mean, bootstrap_slope
from .trained_runs import ATTENTION_LAYER, SIZES, correct, rates, shared_runs
from .base import Claim, ClaimResult

PAPER = ("arXiv:2604.15769 (Closing the Theory-Practice Gap in Spiking Transformers via "
         "Effective Dimension), abstract")
#: accuracy at T = 4 may fall short of the large-T accuracy by at most this (fraction)
MARGIN = 0.02
RULE_T = 4
T_GRID = (1, 2, 4, 8, 16, 32, 64)

PROTOCOL = (
    "The eight trained models (Spikformer, QKFormer, Spike-driven Transformer, "
    "SpikingResformer; digits and generated sets; all trained at T = 4, see model.import) run "
    f"in Brian2 for T_max = {SIZES.text('T_max')} steps on "
    f"{SIZES.text('images', lambda v: 'all' if v is None else str(v))} test images drawn by "
    "the seed; the models are deterministic and causal "
    "under direct encoding, so the first T steps are a T-step run (checked spike for spike "
    "against SpikingJelly at T = 4). Accuracy per image (a set: its fraction of correct "
    f"tokens) at T in {{{', '.join(map(str, T_GRID))}}}, 95% CIs by bootstrap over images. "
    f"Rule (before the run), per model: d = accuracy(T = {RULE_T}) - accuracy(T_max), paired "
    f"bootstrap CI over images; the model passes if the CI lies above -{MARGIN:g} (T = 4 at "
    f"most {MARGIN * 100:g} points worse), fails if it lies below -{MARGIN:g}. Supported if "
    "every model passes, refuted if any fails, partial otherwise. Reported beside it: the "
    "attention output's RMS rate error against its T_max rate, with its log-log slope over "
    "T <= T_max / 4 (bootstrap CI over images) beside the O(1/sqrt T) line of the theory (a "
    "deterministic LIF with constant input converges as 1/T)."
)


def t4_rule(ci_low, ci_high, margin: float = MARGIN, every: bool = True) -> str:
    """Per-model CIs of accuracy(T) - accuracy(reference): supported if every CI (``every``;
    else a majority) lies above -margin, refuted if any (else a majority) lies below it,
    partial otherwise."""
    low, high = np.asarray(ci_low), np.asarray(ci_high)
    passes, fails = low >= -margin, high < -margin
    if every:
        return "refuted" if fails.any() else "supported" if passes.all() else "partial"
    half = len(low) / 2
    return "refuted" if fails.sum() > half else "supported" if passes.sum() > half else "partial"


def accuracy_table(runs: dict, seed: int) -> pd.DataFrame:
    """One row per (model, T): accuracy with its CI."""
    rows = []
    for (arch, task), run in runs.items():
        for T in (t for t in T_GRID if t <= run.layers[ATTENTION_LAYER[arch]].shape[0]):
            fit = bootstrap_mean(correct(run, T), seed=seed)
            rows.append(dict(arch=arch, task=task, T=T, accuracy=fit["mean"],
                             ci_low=fit["ci95"][0], ci_high=fit["ci95"][1]))
    return pd.DataFrame(rows)


def differences(runs: dict, T: int, reference, seed: int) -> pd.DataFrame:
    """Per model: accuracy(T) - accuracy(reference) with a paired bootstrap CI over images;
    ``reference`` a step count or "best" (the best accuracy over T >= 8, an upward-biased
    choice)."""
    rows = []
    for (arch, task), run in runs.items():
        T_max = run.layers[ATTENTION_LAYER[arch]].shape[0]
        if reference == "best":
            candidates = [t for t in T_GRID if 8 <= t <= T_max]
            ref_T = max(candidates, key=lambda t: correct(run, t).mean())
        else:
            ref_T = min(reference, T_max)
        fit = bootstrap_mean(correct(run, T) - correct(run, ref_T), seed=seed)
        rows.append(dict(arch=arch, task=task, T=T, reference_T=ref_T, difference=fit["mean"],
                         ci_low=fit["ci95"][0], ci_high=fit["ci95"][1]))
    return pd.DataFrame(rows)


def error_table(runs: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attention-output RMS rate error against the T_max rate per (model, T < T_max), and
    per model the log-log slope over T <= T_max / 4 with its bootstrap CI over images."""
    rows, slopes = [], []
    for (arch, task), run in runs.items():
        raster = run.layers[ATTENTION_LAYER[arch]]
        T_max = raster.shape[0]
        limit = rates(raster, T_max)
        images = limit.shape[0]
        steps = np.arange(1, T_max)
        squared = np.array([((rates(raster, T) - limit) ** 2).reshape(images, -1).mean(axis=1)
                            for T in steps])  # (T, images)
        for T, per_image in zip(steps, squared):
            rows.append(dict(arch=arch, task=task, T=int(T), rms_error=np.sqrt(per_image.mean()),
                             rate=float(limit.mean())))
        fit_steps = steps[steps <= T_max // 4]
        usable = squared[:len(fit_steps)].mean(axis=1) > 0
        if usable.sum() >= 2:
            fit = bootstrap_slope(fit_steps[usable], squared[:len(fit_steps)][usable][:, None],
                                  seed=seed)
            slope, ci = fit["slope"] / 2, [v / 2 for v in fit["ci95"]]  # RMS = sqrt(MSE)
        else:
            slope, ci = np.nan, [np.nan, np.nan]
        slopes.append(dict(arch=arch, task=task, slope=slope, ci_low=ci[0], ci_high=ci[1],
                           fitted_T=f"1-{int(fit_steps[-1])}"))
    return pd.DataFrame(rows), pd.DataFrame(slopes)


def measure(context) -> ClaimResult:
    runs = shared_runs(context)
    seed = context.seed_for("bootstrap")
    T_max = SIZES.at(context.scale)["T_max"]
    accuracy = accuracy_table(runs, seed)
    headline = differences(runs, RULE_T, T_max, seed)
    errors, slopes = error_table(runs, seed)
    verdict = t4_rule(headline.ci_low, headline.ci_high)
    worst = headline.sort_values("difference").iloc[0]

    def by_task(task):
        rows = headline[headline.task == task]
        return t4_rule(rows.ci_low, rows.ci_high)

    def at(T, reference=T_max):
        rows = differences(runs, T, reference, seed)
        return t4_rule(rows.ci_low, rows.ci_high)

    sensitivity = [
        {"choice": "margin 1 point instead of 2",
         "verdict": t4_rule(headline.ci_low, headline.ci_high, 0.01)},
        {"choice": "margin 5 points instead of 2",
         "verdict": t4_rule(headline.ci_low, headline.ci_high, 0.05)},
        {"choice": f"reference T = {T_max // 2} instead of {T_max}", "verdict": at(RULE_T,
                                                                                  T_max // 2)},
        {"choice": "reference: the best accuracy over T >= 8 (upward-biased)",
         "verdict": at(RULE_T, "best")},
        {"choice": "a majority of models instead of every model",
         "verdict": t4_rule(headline.ci_low, headline.ci_high, every=False)},
        {"choice": "point estimates instead of CIs",
         "verdict": t4_rule(headline.difference, headline.difference)},
        {"choice": "digits models only", "verdict": by_task("digits")},
        {"choice": "set models only", "verdict": by_task("sets")},
        {"choice": "T = 2 instead of 4", "verdict": at(2)},
        {"choice": "T = 1 instead of 4 (a control that can fail)", "verdict": at(1)}]
    details = {
        "accuracy_by_T": {f"{r.arch}/{r.task}": {int(t): round(a, 4) for t, a in
                                                 zip(g["T"], g.accuracy)}
                          for r, g in ((g.iloc[0], g) for _, g in
                                       accuracy.groupby(["arch", "task"], sort=False))},
        f"difference_T{RULE_T}_vs_T{T_max}": {
            f"{r.arch}/{r.task}": [round(r.difference, 4), [round(r.ci_low, 4),
                                                             round(r.ci_high, 4)]]
            for r in headline.itertuples()},
        "attention_error_slope": {f"{r.arch}/{r.task}": [round(r.slope, 3),
                                                         [round(r.ci_low, 3), round(r.ci_high, 3)]]
                                  for r in slopes.itertuples()},
        "theory_slope": -0.5, "deterministic_slope": -1.0,
        "images": int(len(next(iter(runs.values())).index)),
        "spikingjelly_check": {f"{run.name}": f"{run.reference_mismatches} of "
                                              f"{run.reference_compared} neuron-steps differ "
                                              f"at T = {RULE_T}" for run in runs.values()},
        "trained_at": "T = 4 only; no model was trained at another T",
        "estimate_is": f"the worst accuracy(T = {RULE_T}) - accuracy(T = {T_max}): "
                       f"{worst.arch}/{worst.task}",
    }
    return ClaimResult(verdict, float(worst.difference), [float(worst.ci_low),
                                                          float(worst.ci_high)], details,
                       {"accuracy": accuracy, "differences": headline, "errors": errors,
                        "error_slopes": slopes}, sensitivity)


def plot(tables, directory) -> list[str]:
    accuracy, errors = tables["accuracy"], tables["errors"]
    with paper_style():
        fig, axes = figure("double", 5.4, ncols=2, nrows=2,
                           gridspec_kw=dict(hspace=0.45))
        for column, task in enumerate(TASKS):
            top, bottom = axes[0][column], axes[1][column]
            for k, arch in enumerate(ARCHITECTURES):
                rows = accuracy[(accuracy.task == task) & (accuracy.arch == arch)]
                top.errorbar(rows["T"], rows.accuracy, [rows.accuracy - rows.ci_low,
                                                        rows.ci_high - rows.accuracy],
                             fmt="o-", color=f"C{k}", ms=3, capsize=2, label=arch)
                rows = errors[(errors.task == task) & (errors.arch == arch)]
                bottom.plot(rows["T"], rows.rms_error, "-", color=f"C{k}", label=arch)
            top.axvline(RULE_T, color="0.6", ls=":", lw=0.8)
            top.set(xscale="log", xlabel="T (steps)", ylabel="test accuracy",
                    title=f"{task}: trained at T = 4")
            steps = np.sort(errors["T"].unique())
            anchor = errors[(errors.task == task) & (errors["T"] == 1)].rms_error.mean()
            bottom.plot(steps, anchor / np.sqrt(steps), "k--", lw=0.8, label="O(1/sqrt T)")
            bottom.plot(steps, anchor / steps, "k:", lw=0.8, label="O(1/T)")
            log_log(bottom, "T (steps)", "attention output RMS error")
        axes[0][0].legend(fontsize=5)
        axes[1][0].legend(fontsize=5)
        return save_figure(fig, directory, "model_t4")


CLAIMS = (
    Claim("model.t4", PAPER, "T = 4 time steps suffice on trained spiking transformers (their "
          "accuracy at T = 4 is that of large T)", PROTOCOL, 0.0, measure, plot),
)
