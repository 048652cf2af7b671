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
           "minimal_T_indices", "minimal_T_on_curve", "crossing_T_many", "crossing_T"]


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


def _checked_candidates(candidates) -> np.ndarray:
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or len(candidates) == 0 or np.any(np.diff(candidates) <= 0) \
            or candidates[0] < 1:
        raise ValidationError("candidates", "parameter 'candidates' must be a non-empty increasing "
                                            "1-D sequence of time-step counts >= 1")
    return candidates


def minimal_T(error_at: Callable[[int], float], eps: float, candidates) -> int | None:
    """The smallest candidate T with error_at(T) <= eps: doubling, then bisection.

    ``candidates``: increasing time-step counts (e.g. the checkpoints of one run). Doubling
    tries the first candidate, then the first candidate >= twice the last one tried, until the
    criterion holds (or the largest candidate fails: None); bisection then searches the
    candidates between the last failure and the first success, assuming the error is monotone
    there.
    """
    eps = float(_positive("eps", eps))
    candidates = _checked_candidates(candidates)
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


def minimal_T_indices(errors, candidates, eps: float) -> np.ndarray:
    """:func:`minimal_T` on many measured curves at once: ``errors[k, j]`` is curve j's error
    at ``candidates[k]``, ``eps`` one criterion or one per curve; the index into
    ``candidates`` of each curve's minimal T, -1 where the largest candidate fails. The same
    doubling and bisection, every curve in step."""
    eps = _positive("eps", eps)
    candidates = _checked_candidates(candidates)
    errors = np.asarray(errors, dtype=float)
    if errors.ndim != 2 or len(errors) != len(candidates):
        raise ValidationError("errors", "parameter 'errors' must be (candidates, curves) with "
                                        f"{len(candidates)} rows, got shape {errors.shape}")
    if eps.ndim > 1 or eps.size not in (1, errors.shape[1]):
        raise ValidationError("eps", "parameter 'eps' must be one value or one per curve "
                                     f"({errors.shape[1]}), got shape {eps.shape}")
    # as minimal_T: a NaN error stops the doubling (it is not > eps) but fails in bisection
    stops, reached = ~(errors > eps), errors <= eps
    path = [0]  # the doubling visits the same candidates whatever the curve
    while path[-1] < len(candidates) - 1:
        path.append(min(int(np.searchsorted(candidates, 2 * candidates[path[-1]])),
                        len(candidates) - 1))
    hit = stops[path]  # (doubling steps, curves)
    first = hit.argmax(axis=0)
    found = hit.any(axis=0)
    path = np.asarray(path)
    high = path[first]
    low = np.where(first > 0, path[first - 1], -1)
    curves = np.arange(errors.shape[1])
    while np.any(searching := found & (high - low > 1)):
        middle = (low + high) // 2
        ok = reached[np.where(searching, middle, 0), curves]
        high = np.where(searching & ok, middle, high)
        low = np.where(searching & ~ok, middle, low)
    return np.where(found, high, -1)


def minimal_T_on_curve(errors, candidates, eps: float) -> int | None:
    """:func:`minimal_T` on a measured curve: ``errors[k]`` is the error at ``candidates[k]``."""
    errors, candidates = np.asarray(errors, dtype=float), np.asarray(candidates)
    if errors.shape != candidates.shape:
        raise ValidationError("errors", "parameter 'errors' must have the shape of 'candidates' "
                                        f"{candidates.shape}, got {errors.shape}")
    index = int(minimal_T_indices(errors[:, None], candidates, eps)[0])
    return None if index < 0 else int(candidates[index])


def crossing_T_many(errors, candidates, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, censored) per curve of ``errors`` (candidates, curves): where each error curve first
    reaches ``eps`` (doubling + bisection over the checkpoints, :func:`minimal_T_indices`),
    interpolated log-log between that checkpoint and the one before; censored if the first
    checkpoint already reaches it; T is NaN where it is never reached."""
    errors, candidates = np.asarray(errors, float), np.asarray(candidates)
    k = minimal_T_indices(errors, candidates, eps)
    curves = np.arange(errors.shape[1])
    inside = k > 0
    before = np.maximum(k - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = np.log(errors[before, curves])
        below = np.log(np.maximum(errors[np.maximum(k, 0), curves], 1e-12))
        share = (above - np.log(eps)) / (above - below)
        ratio = candidates[np.maximum(k, 0)] / candidates[before]
        between = np.exp(np.log(candidates[before]) + share * np.log(ratio))
    T = np.where(inside, between, np.where(k == 0, candidates[0], np.nan)).astype(float)
    return T, k == 0


def crossing_T(errors, candidates, eps: float) -> tuple:
    """(T, censored) of one error curve (see :func:`crossing_T_many`); (None, False) if it
    never reaches ``eps``."""
    T, censored = crossing_T_many(np.asarray(errors, float)[:, None], candidates, eps)
    return (None, False) if np.isnan(T[0]) else (float(T[0]), bool(censored[0]))
