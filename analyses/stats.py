"""Statistics for rate verdicts: log-log slopes and stratified paired bootstrap CIs."""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_slope", "bootstrap_slope", "bootstrap_ratio", "bootstrap_mean",
           "pairwise_orders"]


def loglog_slope(x, y) -> tuple[float, float]:
    """Least-squares slope and intercept of log(y) on log(x)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def _slopes(lx: np.ndarray, log_means: np.ndarray) -> np.ndarray:
    """Row-wise OLS slopes of log_means (B, K) on lx (K,)."""
    centred = lx - lx.mean()
    return (log_means - log_means.mean(1, keepdims=True)) @ centred / (centred @ centred)


def _resampled_means(errors: np.ndarray, resamples: int, rng) -> np.ndarray:
    """Means over (strata, replicates) of bootstrap resamples: array (resamples, K).

    ``errors`` has shape (K, strata, replicates). Replicates (seeds) are resampled with
    replacement within each stratum (score vector), and the same draw is used for all K
    (the checkpoints are nested in one run, so the design is paired across K).
    """
    k, strata, replicates = errors.shape
    means = np.empty((resamples, k))
    for start in range(0, resamples, 250):
        count = min(250, resamples - start)
        index = rng.integers(0, replicates, (count, strata, replicates))
        picked = np.take_along_axis(errors[:, None], index[None], axis=3)  # (K, c, S, R)
        means[start:start + count] = picked.mean(axis=(2, 3)).T
    return means


def bootstrap_slope(x, errors, *, resamples: int = 2000, seed: int = 0) -> dict:
    """Slope of log(mean error) on log(x) with a stratified, paired bootstrap 95% CI.

    ``errors``: (K, strata, replicates). Returns slope, ci95, per-x means and their CIs.
    """
    errors = np.asarray(errors, float)
    lx = np.log(np.asarray(x, float))
    means = errors.mean(axis=(1, 2))
    boot = _resampled_means(errors, resamples, np.random.default_rng(seed))
    slopes = _slopes(lx, np.log(boot))
    return {"slope": float(_slopes(lx, np.log(means)[None])[0]),
            "ci95": [float(v) for v in np.percentile(slopes, [2.5, 97.5])],
            "mean": means, "mean_ci95": np.percentile(boot, [2.5, 97.5], axis=0).T}


def bootstrap_ratio(numerator, denominator, *, resamples: int = 2000, seed: int = 0) -> dict:
    """Ratio of means with the same stratified bootstrap; inputs (strata, replicates)."""
    both = np.stack([np.asarray(numerator, float), np.asarray(denominator, float)])
    boot = _resampled_means(both, resamples, np.random.default_rng(seed))
    ratios = boot[:, 0] / boot[:, 1]
    return {"ratio": float(both[0].mean() / both[1].mean()),
            "ci95": [float(v) for v in np.percentile(ratios, [2.5, 97.5])]}


def bootstrap_mean(values, *, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of ``values`` (replicates, e.g. images) with a bootstrap 95% CI."""
    values = np.asarray(values, float)
    boot = _resampled_means(values[None, None], resamples, np.random.default_rng(seed))[:, 0]
    return {"mean": float(values.mean()),
            "ci95": [float(v) for v in np.percentile(boot, [2.5, 97.5])]}


def pairwise_orders(x, means) -> np.ndarray:
    """Observed orders ln(E_{i+1}/E_i) / ln(x_{i+1}/x_i) between neighbouring points."""
    return np.diff(np.log(np.asarray(means, float))) / np.diff(np.log(np.asarray(x, float)))
