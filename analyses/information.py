"""Entropy and representational capacity of spike codes (A²OS²A, Proposition 1).

Proposition 1 of the A²OS²A paper (arXiv:2503.00226): the capacity of a code X is
C(X) = max H(X) = ``log2 |X|``, attained by the uniform distribution. Per element: binary
spikes 1 bit, ternary spikes log2 3 bits, a ReLU activation in float32 log2(number of finite
non-negative float32 values) ~ 31 bits.
"""

from __future__ import annotations

import numpy as np

from evsim.errors import ValidationError

__all__ = ["CAPACITY_BITS", "capacity_bits", "plugin_entropy", "bootstrap_entropy"]

#: Finite non-negative float32 values: bit patterns 0x00000000 .. 0x7F7FFFFF.
_NONNEGATIVE_FLOAT32 = 0x7F800000

CAPACITY_BITS = {"binary": 1.0, "ternary": float(np.log2(3)),
                 "relu_float32": float(np.log2(_NONNEGATIVE_FLOAT32))}


def capacity_bits(states: int) -> float:
    """log2(states): the capacity of a code with ``states`` symbols (Proposition 1)."""
    if not (isinstance(states, (int, np.integer)) and states >= 1):
        raise ValidationError("states", "parameter 'states' must be an integer >= 1, got "
                                        f"{states!r}")
    return float(np.log2(states))


def plugin_entropy(symbols) -> float:
    """Miller-Madow corrected plug-in entropy (bits) of a 1-D sample of hashable symbols.

    Rows of a 2-D array are treated as one symbol each (e.g. spike patterns).
    """
    x = np.asarray(symbols)
    if x.size == 0:
        raise ValidationError("symbols", "parameter 'symbols' must not be empty")
    if x.ndim > 1:
        x = np.ascontiguousarray(x.reshape(len(x), -1)).view(
            np.dtype((np.void, x.dtype.itemsize * int(np.prod(x.shape[1:]))))).ravel()
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + (len(counts) - 1) / (2 * counts.sum() * np.log(2)))


def bootstrap_entropy(symbols, *, resamples: int = 200, rng=None) -> tuple:
    """(estimate, [2.5 %, 97.5 %] percentile bootstrap interval) of :func:`plugin_entropy`.

    Valid when every symbol occurs many times; for samples of mostly distinct values the
    resamples' duplicates bias the interval low.
    """
    x = np.asarray(symbols)
    rng = rng or np.random.default_rng(0)
    estimate = plugin_entropy(x)
    draws = [plugin_entropy(x[rng.integers(0, len(x), len(x))]) for _ in range(resamples)]
    return estimate, [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]
