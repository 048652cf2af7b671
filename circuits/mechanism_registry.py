"""One registry of the published attention mechanisms: :data:`MECHANISMS` maps a name to a
:class:`MechanismSpec` holding everything code needs to run, check and cost it.

A spec bundles its circuit builder, its NumPy tensor reference (:mod:`circuits.reference`),
a sampler of random operands that keeps the circuit active, and the multiply-accumulate count
of the dense (ANN) form it replaces. Code that loops over mechanisms uses the specs instead of
switching on names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from evsim.errors import ValidationError

from . import mechanisms
from . import reference as ref

__all__ = ["MechanismSpec", "MECHANISMS", "get_spec", "default_patch", "dssa_weights",
           "attention_macs", "dssa_macs", "masking_macs"]


def default_patch(name: str, tokens: int) -> int:
    """The patch size our runs give a mechanism: 2 for DSSA with 8 or more (even) tokens (its
    patch stages), else 1 (no patching)."""
    return 2 if name == "dssa" and tokens >= 8 and tokens % 2 == 0 else 1


def dssa_weights(tokens: int, channels: int, heads: int, patch: int, rng,
                 rate: float = 0.3) -> dict:
    """Random DSSA weights; c1, c2 follow SpikingResformer's 1/sqrt(fr d), 1/sqrt(fr_A N')
    with fr = ``rate`` and fr_A = 0.2, and W is scaled so that the attention map is active."""
    d = channels // heads
    sigma = 3 / np.sqrt(rate * channels * patch)
    return dict(W1=rng.normal(0, sigma, (channels, channels, patch)),
                W2=rng.normal(0, sigma, (channels, channels, patch)),
                b1=rng.normal(0, 0.3, channels), b2=rng.normal(0, 0.3, channels),
                c1=1 / np.sqrt(rate * d), c2=1 / np.sqrt(0.2 * tokens / patch))


def attention_macs(tokens: int, channels: int, patch: int = 1) -> int:
    """Dense self-attention on given Q, K, V: Q K^T (N^2 D) then (.) V (N^2 D) MACs."""
    return 2 * tokens ** 2 * channels


def dssa_macs(tokens: int, channels: int, patch: int) -> int:
    """Dense DSSA on given X: the two patch maps (2 D^2 patch N') and the two products
    Y1^T X and Y2 A (D N' N each)."""
    positions = tokens // patch
    return 2 * channels ** 2 * patch * positions + 2 * channels * positions * tokens


def masking_macs(tokens: int, channels: int, patch: int = 1) -> int:
    """The same algebra as SDSA and QKTA on real-valued operands: one reduction over tokens (or
    a head's channels) of N D terms, then an element-wise mask of N D: 2 N D MACs (additions
    counted as MACs: that raises the ANN's energy, which favours the spiking side)."""
    return 2 * tokens * channels


def _spikes(shape: tuple, rng, p: float) -> np.ndarray:
    return (rng.random(shape) < p).astype(float)


def _qkv_spikes(keys: str, default_rate: Callable[[int, int], float]):
    """A sampler of binary operands ``keys`` with spike probability default_rate(N, d)."""
    def sample(shape: tuple, heads: int, rng, rate: float | None = None) -> dict:
        p = default_rate(shape[2], shape[3] // heads) if rate is None else rate
        return {key: _spikes(shape, rng, p) for key in keys}
    return sample


def _a2os2a_operands(shape: tuple, heads: int, rng, rate: float | None = None) -> dict:
    """Binary Q (probability ``rate``), K = ReLU(N(0, 1)), ternary V (P(+-1) = ``rate``)."""
    p = 0.3 if rate is None else rate
    active = rng.random(shape) < p
    return {"Q": _spikes(shape, rng, p), "K": np.maximum(rng.normal(0, 1, shape), 0),
            "V": np.where(active, rng.choice([-1.0, 1.0], shape), 0.0)}


def _fixed_rate(n: int, d: int) -> float:
    return 0.3


def _ssa_rate(n: int, d: int) -> float:
    """SSA needs about 8 coincident triples per output, so p = (8 / (N d))^(1/3)."""
    return min(0.9, (8 / (n * d)) ** (1 / 3))


def _plain(builder):
    """A builder (tokens, channels, heads, rng, patch) for a mechanism without weights."""
    def build(tokens: int, channels: int, heads: int, rng=None, patch: int | None = None):
        return builder(tokens, channels, heads)
    return build


def _build_dssa(tokens: int, channels: int, heads: int, rng=None, patch: int | None = None):
    patch = default_patch("dssa", tokens) if patch is None else patch
    rng = np.random.default_rng(0) if rng is None else rng
    return mechanisms.dssa(dssa_weights(tokens, channels, heads, patch, rng), tokens, channels,
                           heads, patch=patch)


def _with_heads(function):
    """A reference (mechanism, operands, tau) for functions taking ``heads``."""
    def reference(mechanism, operands: dict, tau: float = 2.0) -> np.ndarray:
        return function(**operands, heads=mechanism.heads, tau=tau,
                        **{k: v for k, v in mechanism.parameters.items()})
    return reference


def _sdsa_reference(mechanism, operands: dict, tau: float = 2.0) -> np.ndarray:
    return ref.sdsa(**operands, tau=tau, **mechanism.parameters)


def _dssa_reference(mechanism, operands: dict, tau: float = 2.0) -> np.ndarray:
    parameters = mechanism.parameters
    return ref.dssa(operands["X"], parameters["weights"], mechanism.heads, parameters["patch"],
                    v_th=parameters["v_th"], tau=tau)


@dataclass(frozen=True)
class MechanismSpec:
    """What code needs to run, check and cost one mechanism.

    Attributes
    ----------
    name, label : registry name and the label figures show.
    build : (tokens, channels, heads, rng=None, patch=None) -> Mechanism; ``rng`` draws the
        weights of mechanisms that have them (DSSA), ``patch`` defaults to
        :func:`default_patch`.
    reference : (mechanism, operands, tau=2) -> bool spikes (trials, T, N, D), the NumPy tensor
        form; ``tau`` is SpikingJelly's LIF time constant in steps.
    sample_operands : (shape (trials, T, N, D), heads, rng, rate=None) -> operand dict;
        ``rate`` None keeps the circuit's outputs active.
    dense_macs : (tokens, channels, patch) -> multiply-accumulates of dense softmax-free
        attention (2 N^2 D; DSSA: its own dense form).
    matched_macs : (tokens, channels, patch) -> multiply-accumulates of the mechanism's own
        algebra on real-valued operands (its ANN counterpart).
    """

    name: str
    label: str
    build: Callable
    reference: Callable
    sample_operands: Callable
    dense_macs: Callable[[int, int, int], int]
    matched_macs: Callable[[int, int, int], int]


#: name -> spec, in the order reports list the mechanisms.
MECHANISMS: dict[str, MechanismSpec] = {spec.name: spec for spec in (
    MechanismSpec("ssa", "Spikformer SSA", _plain(mechanisms.ssa), _with_heads(ref.ssa),
                  _qkv_spikes("QKV", _ssa_rate), attention_macs, attention_macs),
    MechanismSpec("sdsa", "SDT SDSA", _plain(mechanisms.sdsa), _sdsa_reference,
                  _qkv_spikes("QKV", _fixed_rate), attention_macs, masking_macs),
    MechanismSpec("qkta", "QKFormer QKTA", _plain(mechanisms.qkta), _with_heads(ref.qkta),
                  _qkv_spikes("QK", _fixed_rate), attention_macs, masking_macs),
    MechanismSpec("dssa", "SpikingResformer DSSA", _build_dssa, _dssa_reference,
                  _qkv_spikes("X", _fixed_rate), dssa_macs, dssa_macs),
    MechanismSpec("a2os2a", "A²OS²A", _plain(mechanisms.a2os2a), _with_heads(ref.a2os2a),
                  _a2os2a_operands, attention_macs, attention_macs),
)}


def get_spec(name: str) -> MechanismSpec:
    """The spec of mechanism ``name`` (one clear error for an unknown name)."""
    if name not in MECHANISMS:
        raise ValidationError("name", f"unknown mechanism '{name}'; accepted: {list(MECHANISMS)}")
    return MECHANISMS[name]
