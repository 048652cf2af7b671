"""NumPy tensor references of the published spiking attention mechanisms.

Written from the equations in docs/mechanisms.md (sections 1.1 and 3),
independently of the circuits: every function maps operand tensors (trials, T, N, D) to the
output spike tensor (trials, T, N, D), with the SpikingJelly LIF (decay_input, hard reset to 0)
run over T. ``tau`` is SpikingJelly's time constant in steps (2 in every model); the
exact-LIF pitfall of the reference, tau_m = 2 dt, corresponds to tau = 1 / (1 - e^(-1/2)).
"""

from __future__ import annotations

import numpy as np

#: SpikingJelly tau equivalent to an exact LIF with tau_m = 2 dt (the pitfall of section 1.2).
PITFALL_TAU = 1 / (1 - np.exp(-0.5))

__all__ = ["PITFALL_TAU", "sj_lif", "ssa", "sdsa", "qkta", "dssa", "a2os2a", "REFERENCES"]


def sj_lif(x: np.ndarray, v_th: float, tau: float = 2.0) -> np.ndarray:
    """Multi-step LIF over axis 1 (T): H = V + (X - V)/tau, S = H >= v_th, V = H (1 - S)."""
    v = np.zeros(x.shape[:1] + x.shape[2:])
    out = np.zeros(x.shape, bool)
    for t in range(x.shape[1]):
        h = v + (x[:, t] - v) / tau
        out[:, t] = h >= v_th
        v = np.where(out[:, t], 0.0, h)
    return out


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    """(trials, T, N, D) -> (trials, T, heads, N, d)."""
    trials, T, n, D = x.shape
    return x.reshape(trials, T, n, heads, D // heads).transpose(0, 1, 3, 2, 4)


def _merge(x: np.ndarray) -> np.ndarray:
    """(trials, T, heads, N, d) -> (trials, T, N, D)."""
    trials, T, heads, n, d = x.shape
    return x.transpose(0, 1, 3, 2, 4).reshape(trials, T, n, heads * d)


def ssa(Q, K, V, heads: int, scale: float = 0.125, v_th: float = 0.5,
        tau: float = 2.0) -> np.ndarray:
    """Spikformer: SN(scale * Q K^T V) per head."""
    q, k, v = (_heads(np.asarray(a, float), heads) for a in (Q, K, V))
    scores = np.einsum("bthie,bthje->bthij", q, k)
    return sj_lif(_merge(scale * np.einsum("bthij,bthjc->bthic", scores, v)), v_th, tau)


def sdsa(Q, K, V, v_th: float = 0.5, tau: float = 2.0) -> np.ndarray:
    """Spike-driven Transformer V1 (released code): Q * SN(sum over tokens of K * V)."""
    mask = sj_lif(np.sum(np.asarray(K, float) * np.asarray(V, float), axis=2), v_th, tau)
    return np.asarray(Q, bool) & mask[:, :, None, :]


def qkta(Q, K, heads: int, v_th: float = 0.5, tau: float = 2.0) -> np.ndarray:
    """QKFormer token attention: K * SN(sum over the head's channels of Q)."""
    q = _heads(np.asarray(Q, float), heads).sum(axis=4)  # (trials, T, heads, N)
    mask = sj_lif(q, v_th, tau)
    d = np.shape(Q)[3] // heads
    return np.asarray(K, bool) & np.repeat(mask.transpose(0, 1, 3, 2), d, axis=3)


def _patch_map(X, W, b, patch):
    """Y[e, a] = sum_{k, o} W[e, k, o] X[a patch + o, k] + b[e]: (trials, T, D, N')."""
    trials, T, n, D = X.shape
    patches = X.reshape(trials, T, n // patch, patch, D)  # (.., a, o, k)
    return np.einsum("ekq,btaqk->btea", W, patches) + b[None, None, :, None]


def dssa(X, weights: dict, heads: int, patch: int = 1, v_th: float = 1.0,
         tau: float = 2.0) -> np.ndarray:
    """SpikingResformer DSSA: A_h = SN(c1 Y1_h^T X_h), O_h = SN(c2 Y2_h A_h)."""
    X = np.asarray(X, float)
    trials, T, n, D = X.shape
    d = D // heads
    y1 = _patch_map(X, weights["W1"], weights["b1"], patch)  # (b, t, D, N')
    y2 = _patch_map(X, weights["W2"], weights["b2"], patch)
    y1h = y1.reshape(trials, T, heads, d, -1)
    y2h = y2.reshape(trials, T, heads, d, -1)
    xh = _heads(X, heads)  # (b, t, h, N, d)
    A = sj_lif(weights["c1"] * np.einsum("bthea,bthne->bthan", y1h, xh), v_th, tau)
    O = sj_lif(weights["c2"] * np.einsum("bthea,bthan->bthne", y2h, A.astype(float)), v_th, tau)
    return _merge(O)


def a2os2a(Q, K, V, heads: int, v_th: float = 0.5, tau: float = 2.0) -> np.ndarray:
    """A²OS²A: SN(Q K^T V) per head; Q binary, K real >= 0, V ternary; no softmax, no scale."""
    q, k, v = (_heads(np.asarray(a, float), heads) for a in (Q, K, V))
    scores = np.einsum("bthie,bthje->bthij", q, k)
    return sj_lif(_merge(np.einsum("bthij,bthjc->bthic", scores, v)), v_th, tau)


REFERENCES = {"ssa": ssa, "sdsa": sdsa, "qkta": qkta, "dssa": dssa, "a2os2a": a2os2a}
