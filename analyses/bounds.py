"""Rate-distortion calculators, maps from bits to spikes, and the minimal-T search.

Bits (rate-distortion, per output coordinate, squared error D = eps^2):

* :func:`gaussian_rate`: N(0, sigma^2) source, R(D) = max(0, 1/2 log2(sigma^2 / D)).
* :func:`uniform_rate_bounds`: uniform source of width a (variance a^2 / 12): Shannon lower
  bound log2(a) - 1/2 log2(2 pi e D) and Gaussian upper bound 1/2 log2(a^2 / (12 D)).
* :func:`lipschitz_bits`: an L-Lipschitz target on inputs of range r has outputs in an interval
  of width L r; covering it with intervals of width 2 eps takes ceil(L r / (2 eps)) of them,
  i.e. log2 of that many bits per coordinate (n d coordinates in all).

Spikes needed per coordinate to reach RMS error eps on a value of range w = L r, one neuron per
coordinate, T time steps, firing probability p per step (docs/theory.md sections 3 and 4.2):

* :func:`stochastic_count_spikes`: Bernoulli bins, count read-out. Cramer-Rao: an unbiased
  estimate of p from T bins has variance >= p (1 - p) / T, and the value error is w times the
  rate error, so T >= p (1 - p) w^2 / eps^2 and spikes = p T  ~  L^2 / eps^2.
* :func:`deterministic_count_spikes`: an IF (sigma-delta) code with reset by subtraction has
  ``|count - p T| < 1``; with a uniformly random initial phase, count - p T is -f or 1 - f
  (f = frac(p T)) with variance f (1 - f), 1/6 on average, so the rate error has RMS
  1 / (sqrt(6) T): T >= w / (sqrt(6) eps) and spikes = p T  ~  L / eps.
* :func:`timing_code_spikes`: one spike per coordinate whose time (T bins) carries the value:
  T >= w / (sqrt(12) eps) bins (uniform rounding error) but 1 spike, whatever eps.

So Omega(L^2 n d / eps^2) is a bound for stochastic count codes, not for all spike codes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from evsim.errors import ValidationError

__all__ = ["gaussian_rate", "uniform_rate_bounds", "lipschitz_bits", "stochastic_count_spikes",
           "deterministic_count_spikes", "timing_code_spikes", "candidate_steps", "minimal_T",
           "minimal_T_on_curve", "crossing_T"]


def _positive(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValidationError(name, f"parameter '{name}' must be finite and > 0, got {value!r}")
    return array


def _nonnegative(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValidationError(name, f"parameter '{name}' must be finite and >= 0, got {value!r}")
    return array


def _probability(p) -> np.ndarray:
    array = np.asarray(p, dtype=float)
    if not np.all((array > 0) & (array < 1)):
        raise ValidationError("p", f"parameter 'p' must lie in (0, 1), got {p!r}")
    return array


def gaussian_rate(variance, distortion) -> np.ndarray:
    """Bits per sample for a Gaussian source at mean squared error ``distortion``."""
    variance, distortion = _positive("variance", variance), _positive("distortion", distortion)
    return np.maximum(0.0, 0.5 * np.log2(variance / distortion))


def uniform_rate_bounds(width, distortion) -> tuple:
    """(Shannon lower bound, Gaussian upper bound) on R(D) of a uniform source of ``width``;
    both clipped at 0."""
    width, distortion = _positive("width", width), _positive("distortion", distortion)
    lower = np.log2(width) - 0.5 * np.log2(2 * np.pi * np.e * distortion)
    upper = 0.5 * np.log2(width ** 2 / (12 * distortion))
    return np.maximum(0.0, lower), np.maximum(0.0, upper)


def lipschitz_bits(lipschitz, input_range, eps) -> np.ndarray:
    """log2 ceil(L r / (2 eps)) bits per output coordinate (covering of the output range)."""
    lipschitz = _nonnegative("lipschitz", lipschitz)
    input_range, eps = _positive("input_range", input_range), _positive("eps", eps)
    return np.log2(np.maximum(1.0, np.ceil(lipschitz * input_range / (2 * eps))))


def stochastic_count_spikes(value_range, eps, p=0.5) -> np.ndarray:
    """Cramer-Rao spikes per coordinate: p T with T = p (1 - p) w^2 / eps^2."""
    w, eps, p = _nonnegative("value_range", value_range), _positive("eps", eps), _probability(p)
    return p * p * (1 - p) * w ** 2 / eps ** 2


def deterministic_count_spikes(value_range, eps, p=0.5) -> np.ndarray:
    """Sigma-delta spikes per coordinate: p T with T = w / (sqrt(6) eps)."""
    w, eps, p = _nonnegative("value_range", value_range), _positive("eps", eps), _probability(p)
    return p * w / (np.sqrt(6) * eps)


def timing_code_spikes(value_range, eps) -> np.ndarray:
    """One spike per coordinate (the value is in its time), whatever the precision."""
    _nonnegative("value_range", value_range), _positive("eps", eps)
    return np.ones(np.broadcast_shapes(np.shape(value_range), np.shape(eps)))


def candidate_steps(T_max: int, per_octave: int = 8) -> np.ndarray:
    """Time-step counts 1 .. T_max, ``per_octave`` per doubling: the checkpoints of one run at
    which a minimal-T search reads the error."""
    return np.unique(np.round(2 ** np.arange(0, np.log2(T_max) + 1e-9, 1 / per_octave)))\
        .astype(int)


def minimal_T(error_at: Callable[[int], float], eps: float, candidates) -> int | None:
    """The smallest candidate T with error_at(T) <= eps: doubling, then bisection.

    ``candidates``: increasing time-step counts (e.g. the checkpoints of one run). Doubling
    tries the first candidate, then the first candidate >= twice the last one tried, until the
    criterion holds (or the largest candidate fails: None); bisection then searches the
    candidates between the last failure and the first success, assuming the error is monotone
    there.
    """
    eps = float(_positive("eps", eps))
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or len(candidates) == 0 or np.any(np.diff(candidates) <= 0) \
            or candidates[0] < 1:
        raise ValidationError("candidates", "parameter 'candidates' must be a non-empty increasing "
                                            "1-D sequence of time-step counts >= 1")
    low, index = -1, 0
    while error_at(int(candidates[index])) > eps:
        if index == len(candidates) - 1:
            return None
        low = index
        index = min(int(np.searchsorted(candidates, 2 * candidates[index])), len(candidates) - 1)
    high = index
    while high - low > 1:
        middle = (low + high) // 2
        if error_at(int(candidates[middle])) <= eps:
            high = middle
        else:
            low = middle
    return int(candidates[high])


def minimal_T_on_curve(errors, candidates, eps: float) -> int | None:
    """:func:`minimal_T` on a measured curve: ``errors[k]`` is the error at ``candidates[k]``."""
    errors, candidates = np.asarray(errors, dtype=float), np.asarray(candidates)
    if errors.shape != candidates.shape:
        raise ValidationError("errors", "parameter 'errors' must have the shape of 'candidates' "
                                        f"{candidates.shape}, got {errors.shape}")
    index = {int(t): k for k, t in enumerate(candidates)}
    return minimal_T(lambda t: errors[index[t]], eps, candidates)


def crossing_T(errors, candidates, eps: float) -> tuple:
    """(T, censored): where the error curve first reaches ``eps`` (doubling + bisection over the
    checkpoints), interpolated log-log between that checkpoint and the one before; censored if
    the first checkpoint already reaches it. (None, False) if it is never reached."""
    errors, candidates = np.asarray(errors, float), np.asarray(candidates)
    found = minimal_T_on_curve(errors, candidates, eps)
    if found is None:
        return None, False
    k = int(np.searchsorted(candidates, found))
    if k == 0:
        return float(found), True
    above, below = np.log(errors[k - 1]), np.log(max(errors[k], 1e-12))
    share = (above - np.log(eps)) / (above - below)
    return float(np.exp(np.log(candidates[k - 1]) + share * np.log(candidates[k] /
                                                                    candidates[k - 1]))), False
