"""Effective-dimension estimators (docs/theory.md section 5.1).

Spectral (from eigenvalues lambda_i of a covariance or kernel, or from data X (samples x
features)):

* :func:`participation_ratio`: (sum lambda)^2 / sum lambda^2; from data, optionally
  bias-corrected with U-statistics (unbiased estimates of (tr S)^2 and tr S^2 from distinct
  sample pairs), since the plug-in estimate is biased low when samples are few.
* :func:`effective_rank`: exp(entropy of lambda / sum lambda) (Roy & Vetterli use singular
  values; here the eigenvalues of the covariance, i.e. squared singular values).
* :func:`variance_count`: k_q, the fewest components holding a fraction q of the variance.
* :func:`waterfill_dimension`: number of components above the reverse water-filling level
  at total distortion eps^2 per component (rate-distortion effective dimension).

Nonlinear (from data): :func:`mle_dimension` (Levina-Bickel with the MacKay-Ghahramani
averaging of inverses) and :func:`twonn_dimension` (Facco et al., maximum likelihood).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from evsim.errors import ValidationError

__all__ = ["ESTIMATORS", "spectrum", "participation_ratio", "effective_rank", "variance_count",
           "waterfill_dimension", "mle_dimension", "twonn_dimension", "all_estimates"]

#: every estimator :func:`all_estimates` returns, in report order
ESTIMATORS = ("pr", "pr_corrected", "erank", "k90", "k95", "k99", "waterfill", "mle", "twonn")


def _data(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 4 or X.shape[1] < 1 or not np.all(np.isfinite(X)):
        raise ValidationError("X", "parameter 'X' must be a finite (samples >= 4, features >= 1) "
                                   f"array, got shape {X.shape}")
    return X


def _eigenvalues(values) -> np.ndarray:
    lam = np.asarray(values, dtype=float)
    if lam.ndim != 1 or len(lam) == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0) \
            or lam.sum() <= 0:
        raise ValidationError("eigenvalues", "parameter 'eigenvalues' must be a non-empty 1-D "
                                             "array of finite values >= 0 with a positive sum")
    return np.sort(lam)[::-1]


def spectrum(X) -> np.ndarray:
    """Eigenvalues (descending) of the sample covariance of X (samples x features)."""
    X = _data(X)
    centred = X - X.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return singular ** 2 / (len(X) - 1)


def participation_ratio(eigenvalues=None, *, X=None, corrected: bool = False) -> float:
    """(sum lambda)^2 / sum lambda^2 from ``eigenvalues`` or from data ``X``.

    ``corrected`` (data only): ratio of U-statistics over distinct pairs i != j,
    ``sum |x_i|^2 |x_j|^2 / sum (x_i . x_j)^2`` on centred data, which estimate (tr C)^2 and
    tr C^2 without the 1/samples bias of the plug-in ratio.
    """
    if X is None:
        lam = _eigenvalues(eigenvalues)
        return float(lam.sum() ** 2 / (lam ** 2).sum())
    X = _data(X)
    X = X - X.mean(axis=0)
    if not corrected:
        return participation_ratio(spectrum(X))
    gram = X @ X.T
    norms = np.diag(gram).copy()
    off = ~np.eye(len(X), dtype=bool)
    return float((np.outer(norms, norms)[off]).sum() / (gram[off] ** 2).sum())


def effective_rank(eigenvalues) -> float:
    """exp(H(p)) with p = lambda / sum lambda (natural log)."""
    lam = _eigenvalues(eigenvalues)
    p = lam[lam > 0] / lam.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def variance_count(eigenvalues, q: float) -> int:
    """The fewest leading components whose variance is at least a fraction q of the total."""
    if not 0 < q <= 1:
        raise ValidationError("q", f"parameter 'q' must lie in (0, 1], got {q!r}")
    lam = _eigenvalues(eigenvalues)
    return int(np.searchsorted(np.cumsum(lam) / lam.sum(), q - 1e-12) + 1)


def waterfill_dimension(eigenvalues, eps: float) -> int:
    """Components with lambda_i above the water level D_w, where sum_i min(lambda_i, D_w)
    = len(lambda) eps^2 (reverse water-filling for a total squared error of eps^2 per
    component): the coordinates that cost bits at precision eps."""
    lam = _eigenvalues(eigenvalues)
    if not (np.isfinite(eps) and eps > 0):
        raise ValidationError("eps", f"parameter 'eps' must be finite and > 0, got {eps!r}")
    budget = len(lam) * eps ** 2
    if budget >= lam.sum():
        return 0
    low, high = 0.0, float(lam.max())
    for _ in range(100):
        level = (low + high) / 2
        low, high = (level, high) if np.minimum(lam, level).sum() < budget else (low, level)
    return int((lam > high).sum())


def mle_dimension(X, k: int = 10) -> float:
    """Levina-Bickel maximum-likelihood intrinsic dimension with k neighbours; the per-point
    inverse estimates are averaged (MacKay and Ghahramani's correction)."""
    X = _data(X)
    if not (isinstance(k, (int, np.integer)) and 3 <= k < len(X)):
        raise ValidationError("k", f"parameter 'k' must be an integer in [3, samples), got {k!r}")
    distances, _ = cKDTree(X).query(X, k + 1)
    distances = distances[:, 1:]
    distances = distances[np.all(distances > 0, axis=1)]
    logs = np.log(distances[:, -1:] / distances[:, :-1])
    return float(1 / np.mean(logs.sum(axis=1) / (k - 1)))


def twonn_dimension(X) -> float:
    """TwoNN: d = N / sum log(r2 / r1) over points (maximum likelihood of the Pareto law)."""
    X = _data(X)
    distances, _ = cKDTree(X).query(X, 3)
    r1, r2 = distances[:, 1], distances[:, 2]
    keep = r1 > 0
    return float(keep.sum() / np.log(r2[keep] / r1[keep]).sum())


def all_estimates(X, rng, max_samples: int = 2000) -> dict:
    """Every estimator of :data:`ESTIMATORS` on data X (samples x features): the spectral ones
    on all samples, the sample-based ones (corrected PR, MLE with k = 10, TwoNN) on at most
    ``max_samples`` rows drawn with ``rng``; water-filling at eps = 0.1 x RMS per component."""
    X = _data(X)
    lam = spectrum(X)
    sub = X[rng.permutation(len(X))[:max_samples]]
    return dict(pr=participation_ratio(lam),
                pr_corrected=participation_ratio(X=sub, corrected=True),
                erank=effective_rank(lam), k90=variance_count(lam, 0.9),
                k95=variance_count(lam, 0.95), k99=variance_count(lam, 0.99),
                waterfill=waterfill_dimension(lam, 0.1 * np.sqrt(lam.mean())),
                mle=mle_dimension(sub, 10), twonn=twonn_dimension(sub))
