"""Statistics for rate verdicts: log-log slopes and stratified paired bootstrap CIs."""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_slope", "bootstrap_slope", "bootstrap_ratio", "bootstrap_mean",
           "hierarchical_bootstrap", "detectable_difference", "pairwise_orders"]


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


def hierarchical_bootstrap(groups, *, resamples: int = 2000, seed: int = 0,
                           unbiased_seeds: bool = True) -> dict:
    """Mean over models of each model's mean over training seeds of its mean over images, with
    a two-level bootstrap: images, then training seeds.

    ``groups``: one array (models, seeds, images) per image set (e.g. per task): the models of
    a group are scored on the same images, so one image draw per resample serves every model
    and seed of the group (their image noise is shared, not independent). Seeds are drawn with
    replacement per model; the drawn seed means are spread about the model's mean by
    sqrt(S / (S - 1)), so that the seed level's bootstrap variance is the unbiased sample
    variance (a plain resample of S = 3 seeds has 2/3 of it and under-covers;
    ``unbiased_seeds=False`` gives that plain resample). Every model weighs the same. Returns
    mean, se (bootstrap s.d.), ci95 and the resampled means."""
    groups = [np.asarray(g, float) for g in groups]
    if not groups or any(g.ndim != 3 or min(g.shape) < 1 for g in groups):
        raise ValueError("groups must be non-empty arrays (models, seeds, images)")
    rng = np.random.default_rng(seed)
    model_means, estimate = [], []
    for g in groups:
        models, seeds, images = g.shape
        # per resample: image counts (shared by the group), then seed picks per model
        counts = rng.multinomial(images, np.full(images, 1 / images), size=resamples)
        per_seed = np.einsum("msi,bi->bms", g, counts) / images  # (B, models, seeds)
        picks = rng.integers(0, seeds, (resamples, models, seeds))
        drawn = np.take_along_axis(per_seed, picks, axis=2)
        centre = per_seed.mean(axis=2, keepdims=True)
        inflate = np.sqrt(seeds / (seeds - 1)) if seeds > 1 and unbiased_seeds else 1.0
        model_means.append((centre + inflate * (drawn - centre)).mean(axis=2))
        estimate.append(g.mean(axis=(1, 2)))
    boot = np.concatenate(model_means, axis=1).mean(axis=1)
    return {"mean": float(np.concatenate(estimate).mean()), "se": float(boot.std(ddof=1)),
            "ci95": [float(v) for v in np.percentile(boot, [2.5, 97.5])], "resampled": boot}


def detectable_difference(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """How far a true mean must lie beyond a one-sided test's bound for the test (level
    ``alpha``, normal approximation, standard error ``se``) to pass with probability
    ``power``: (z_(1-alpha) + z_power) se."""
    from scipy import stats

    return float((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * se)


def pairwise_orders(x, means) -> np.ndarray:
    """Observed orders ln(E_{i+1}/E_i) / ln(x_{i+1}/x_i) between neighbouring points."""
    return np.diff(np.log(np.asarray(means, float))) / np.diff(np.log(np.asarray(x, float)))
