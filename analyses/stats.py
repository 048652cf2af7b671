"""Statistics for rate verdicts: log-log slopes and stratified paired bootstrap CIs."""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_slope", "bootstrap_slope", "bootstrap_ratio", "bootstrap_mean", "t_interval",
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


def t_interval(values) -> list:
    """[mean, [low, high]]: the mean of independent replicates (e.g. training seeds) and its
    95% Student-t interval; NaN bounds for fewer than two."""
    from scipy import stats

    values = np.asarray(values, float)
    if len(values) < 2:
        return [float(values.mean()), [np.nan, np.nan]]
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return [float(values.mean()), [float(values.mean() - half), float(values.mean() + half)]]


def hierarchical_bootstrap(groups, *, resamples: int = 2000, seed: int = 0,
                           unbiased_seeds: bool = True) -> dict:
    """Mean over models of each model's mean over training seeds of its mean over images, with
    a two-stage bootstrap: images, then training seeds.

    ``groups``: lists of per-model arrays (seeds, images); the models of a group are scored on
    the same images, so one image draw per resample serves every model of the group (their
    image noise is shared, not independent). Image stage: each model's seed-averaged
    per-image values, resampled by that draw. Seed stage: each model's seed means' deviations
    from their mean (from the data, not the image draw), resampled with replacement and
    scaled to the seed variance component: s^2 - MS_E / images (the ANOVA estimator; MS_E the
    seed x image residual mean square, i.e. the image noise a seed mean carries, which the
    image stage already counts), averaged over every model with several seeds (one training
    recipe; per model, 2 degrees of freedom would make its clipping at 0 a large upward bias)
    and clipped at 0, times S / (S - 1) so that the resample's variance is unbiased (a plain
    resample of S = 3 seeds has 2/3 of it; ``unbiased_seeds=False`` leaves that factor out).
    A model with one seed has no seed stage. Every model weighs the same. Returns mean, se
    (bootstrap s.d.), ci95, resampled (resamples,), seed_variance (the component), and per
    model in the order given model_means and model_resampled (resamples, models)."""
    if not groups or any(not group for group in groups):
        raise ValueError("groups must be non-empty lists of arrays (seeds, images)")
    rng = np.random.default_rng(seed)
    columns, means, seed_parts = [], [], []
    for group in groups:
        models = [np.asarray(m, float) for m in group]
        images = models[0].shape[1] if models[0].ndim == 2 else 0
        if any(m.ndim != 2 or m.shape[1] != images or not m.size for m in models):
            raise ValueError("groups must be non-empty lists of arrays (seeds, images) over "
                             "the same images")
        counts = rng.multinomial(images, np.full(images, 1 / images), size=resamples)
        for values in models:
            columns.append(counts @ values.mean(axis=0) / images)  # the image stage
            means.append(values.mean())
            seed_parts.append(_seed_deviations(values))
    usable = [part for part in seed_parts if part is not None]
    component = max(0.0, float(np.mean([spread - noise for _, spread, noise in usable]))) \
        if usable else 0.0
    for column, part in zip(columns, seed_parts):
        if part is None or part[1] <= 0:
            continue
        deviation, spread, _ = part
        seeds = len(deviation)
        scale = np.sqrt(component / spread * (seeds / (seeds - 1) if unbiased_seeds else 1.0))
        column += scale * deviation[rng.integers(0, seeds, (resamples, seeds))].mean(axis=1)
    model_resampled = np.stack(columns, axis=1)
    boot = model_resampled.mean(axis=1)
    return {"mean": float(np.mean(means)), "se": float(boot.std(ddof=1)),
            "ci95": [float(v) for v in np.percentile(boot, [2.5, 97.5])], "resampled": boot,
            "seed_variance": component, "model_means": np.array(means),
            "model_resampled": model_resampled}


def _seed_deviations(values: np.ndarray):
    """For one model's (seeds, images) values: its seed means' deviations from their mean,
    their sample variance and the image noise in it (MS_E / images); None for one seed."""
    seeds, images = values.shape
    if seeds < 2:
        return None
    per_seed = values.mean(axis=1)
    residual = values - per_seed[:, None] - values.mean(axis=0)[None] + values.mean()
    noise = (residual ** 2).sum() / ((seeds - 1) * (images - 1)) / images if images > 1 else 0.0
    return per_seed - per_seed.mean(), per_seed.var(ddof=1), noise


def detectable_difference(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """How far a true mean must lie beyond a one-sided test's bound for the test (level
    ``alpha``, normal approximation, standard error ``se``) to pass with probability
    ``power``: (z_(1-alpha) + z_power) se."""
    from scipy import stats

    return float((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * se)


def pairwise_orders(x, means) -> np.ndarray:
    """Observed orders ln(E_{i+1}/E_i) / ln(x_{i+1}/x_i) between neighbouring points."""
    return np.diff(np.log(np.asarray(means, float))) / np.diff(np.log(np.asarray(x, float)))
