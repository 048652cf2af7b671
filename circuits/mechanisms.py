"""Published spiking self-attention mechanisms as explicit neuron circuits.

Each builder returns a :class:`Mechanism`: a Circuit of discrete-time neurons with
SpikingJelly semantics (``evsim.models.discrete_lif``: H = (1 - 1/tau) V + X / tau, spike if
H >= V_th, hard reset to 0), the operands it takes and where its output is. Operands are
tensors of shape (trials, T, N, D): T time steps, N tokens, D channels, split into ``heads``
contiguous groups of d = D / heads channels. Every synaptic hop costs one step, so the output
of step t appears ``depth`` steps later; converging paths are equalised with synaptic delays.
Equations and wiring: docs/mechanisms.md (sections 1.3 and 3):

* :func:`ssa` Spikformer SSA: SN(s Q K^T V), s = 0.125, SN with V_th = 0.5; each product term
  Q[i,e] K[j,e] V[j,c] is a 3-input coincidence unit (N^2 d^2 units per head).
* :func:`sdsa` Spike-driven Transformer SDSA (released code): Q AND SN(sum_j K[j] AND V[j]),
  SN with V_th = 0.5 (the token sum is the neuron's dendritic sum).
* :func:`qkta` QKFormer token attention: K AND SN(sum over a head's channels of Q), V_th = 0.5.
* :func:`dssa` SpikingResformer DSSA: A = SN(c1 Y1^T X), O = SN(c2 Y2 A), Y = W X (+ b) a
  patch-p linear map of the spikes, V_th = 1; the bilinear form in X is built from pair
  coincidence units.
* :func:`a2os2a` A²OS²A: binary Q, real ReLU K (graded events), ternary V as + and -
  populations, Y = Q K^T V without softmax or scale into an SN (V_th = 0.5 by default; the
  paper's neuron parameters are not public, see docs/mechanisms.md section 3.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evsim import Circuit, models, simulate
from evsim.errors import ValidationError
from evsim.models import check_integer

from .arithmetic import STEP, coincidence, connect_pairs, tensor_index

__all__ = ["Mechanism", "ssa", "sdsa", "qkta", "dssa", "a2os2a",
           "run_mechanism", "sj_lif"]


def sj_lif(v_th: float = 1.0) -> models.NeuronModel:
    """The LIF of these models: SpikingJelly, tau = 2, hard reset to 0."""
    return models.discrete_lif(tau=2.0, v_th=v_th)


@dataclass(frozen=True)
class Mechanism:
    """A mechanism circuit with its operands, output population and pipeline depth."""

    name: str
    circuit: Circuit
    operands: dict  # operand -> "spikes" | "ternary" | "real>=0"
    output: str  # population holding the output spikes, laid out (N, D) row-major
    tokens: int
    channels: int
    depth: int  # output of input step t appears in step t + depth
    ports: dict = field(default_factory=dict)  # operand -> [(port, transform)]
    heads: int = 1
    parameters: dict = field(default_factory=dict)  # e.g. DSSA's weights and patch

    def inputs(self, operands: dict, steps: int) -> dict:
        """Time-varying circuit inputs (steps, trials, size) from operand tensors."""
        _check_operands(self, operands)
        inputs = {}
        for operand, routes in self.ports.items():
            x = np.asarray(operands[operand], dtype=float)
            trials, T = x.shape[:2]
            flat = np.moveaxis(x.reshape(trials, T, -1), 1, 0)
            padded = np.zeros((steps, trials, flat.shape[-1]))
            padded[:T] = flat
            for port, transform in routes:
                inputs[port] = transform(padded)
        return inputs


def _check_operands(mechanism: Mechanism, operands: dict) -> None:
    missing = set(mechanism.operands) - set(operands)
    if missing or set(operands) - set(mechanism.operands):
        raise ValidationError("operands", "parameter 'operands' must have exactly the keys "
                                          f"{sorted(mechanism.operands)} for {mechanism.name}, got "
                                          f"{sorted(operands)}")
    shapes = {np.shape(x) for x in operands.values()}
    expected = (mechanism.tokens, mechanism.channels)
    for name, x in operands.items():
        x = np.asarray(x, dtype=float)
        if x.ndim != 4 or x.shape[2:] != expected or x.shape[1] < 1 or x.shape[0] < 1:
            raise ValidationError("operands", f"operand '{name}' must have shape (trials, T >= 1, "
                                              f"N, D) with (N, D) = {expected}, got {x.shape}")
        kind = mechanism.operands[name]
        allowed = {"spikes": (0, 1), "ternary": (-1, 0, 1)}.get(kind)
        if allowed is not None and not np.all(np.isin(x, allowed)):
            raise ValidationError("operands", f"operand '{name}' must be {kind} (values in "
                                              f"{allowed}), got values such as "
                                              f"{x[~np.isin(x, allowed)][:3].tolist()}")
        if kind == "real>=0" and not (np.all(np.isfinite(x)) and np.all(x >= 0)):
            raise ValidationError("operands", f"operand '{name}' must be real, finite and >= 0")
    if len(shapes) != 1:
        raise ValidationError("operands", "all operands must have the same shape, got "
                                          f"{sorted(shapes)}")


def _identity(x):
    return x


def _from_step(value: np.ndarray, first: int, shape: tuple) -> np.ndarray:
    """A constant input ``value`` (size,) switched on from step ``first``: (steps, trials, size)."""
    out = np.zeros(shape)
    out[first:] = value
    return out


def _check_sizes(tokens: int, channels: int, heads: int) -> int:
    check_integer("tokens", tokens, 1)
    check_integer("channels", channels, 1)
    check_integer("heads", heads, 1)
    if channels % heads:
        raise ValidationError("heads", f"parameter 'heads' must divide channels = {channels}, got "
                                       f"{heads}")
    return channels // heads


def _sources(circuit: Circuit, names, size: int, model=None) -> None:
    for name in names:
        circuit.add_population(name, model or models.spike_source(), size)
        circuit.add_input(name, name)


def _product_terms(tokens: int, channels: int, heads: int) -> tuple:
    """Index algebra of the terms Q[i,e] K[j,e] V[j,c] (e, c in one head): (number of terms,
    and the term numbers with the neuron numbers of their Q, K, V operands and output (i, c)
    in populations laid out (N, D))."""
    d = channels // heads
    shape = (heads, tokens, tokens, d, d)
    h, i, j, e, c = np.indices(shape)
    channel = (tokens, channels)
    return int(np.prod(shape)), dict(
        terms=tensor_index(shape, h, i, j, e, c), Q=tensor_index(channel, i, h * d + e),
        K=tensor_index(channel, j, h * d + e), V=tensor_index(channel, j, h * d + c),
        out=tensor_index(channel, i, h * d + c))


def ssa(tokens: int = 8, channels: int = 8, heads: int = 2, *, scale: float = 0.125,
        v_th: float = 0.5, positional_bias=None, operand_model=None) -> Mechanism:
    """Spikformer SSA: attn[i, c] = SN(scale * sum_{j, e in head(c)} Q[i,e] K[j,e] V[j,c]).

    ``positional_bias`` (N,) adds a constant input to token i's attention neurons: a
    deliberately non-equivariant variant (a negative control for equivariance tests).
    ``operand_model`` (every builder but :func:`a2os2a`): the neuron model of the operand
    populations, default a spike source; a LIF lets a larger circuit drive them by synapses
    (:mod:`circuits.trained`).
    """
    _check_sizes(tokens, channels, heads)
    n = tokens
    circuit = Circuit("spikformer_ssa")
    _sources(circuit, "QKV", n * channels, operand_model)
    count, index = _product_terms(n, channels, heads)
    circuit.add_population("triple", coincidence(3), count)
    circuit.add_population("attn", sj_lif(v_th), n * channels)
    for operand in "QKV":
        connect_pairs(circuit, operand, "triple", index[operand], index["terms"], name=operand)
    connect_pairs(circuit, "triple", "attn", index["terms"], index["out"], scale, name="scale")
    circuit.add_output("attention", "attn")
    ports = {k: [(k, _identity)] for k in "QKV"}
    if positional_bias is not None:
        bias = np.repeat(np.asarray(positional_bias, dtype=float), channels)
        if bias.shape != (n * channels,) or not np.all(np.isfinite(bias)):
            raise ValidationError("positional_bias", "parameter 'positional_bias' must be finite "
                                                     f"with shape (N,) = ({n},), got shape "
                                                     f"{np.shape(positional_bias)}")
        circuit.add_input("bias", "attn")
        ports["Q"] = ports["Q"] + [("bias", lambda x: _from_step(bias, 2, x.shape))]
    return Mechanism("ssa", circuit, dict.fromkeys("QKV", "spikes"), "attn", n, channels, 2,
                     ports, heads, dict(scale=scale, v_th=v_th))


def sdsa(tokens: int = 8, channels: int = 8, heads: int = 1, *, v_th: float = 0.5,
         operand_model=None) -> Mechanism:
    """SDSA (Spike-driven Transformer V1 code): Z[i,c] = Q[i,c] AND SN(sum_j K[j,c] V[j,c]).

    Channel-wise, so heads do not change it. Q is delayed 2 steps to meet the mask.
    """
    _check_sizes(tokens, channels, heads)
    n = tokens
    circuit = Circuit("sdt_sdsa")
    _sources(circuit, "QKV", n * channels, operand_model)
    circuit.add_population("kv", coincidence(2), n * channels)
    circuit.add_population("mask", sj_lif(v_th), channels)
    circuit.add_population("out", coincidence(2), n * channels)
    circuit.connect("K", "kv", 1.0, connectivity="one_to_one")
    circuit.connect("V", "kv", 1.0, connectivity="one_to_one")
    j, c = np.indices((n, channels))
    connect_pairs(circuit, "kv", "mask", tensor_index((n, channels), j, c), c, name="token_sum")
    connect_pairs(circuit, "mask", "out", c, tensor_index((n, channels), j, c), name="mask")
    circuit.connect("Q", "out", 1.0, connectivity="one_to_one", delay=2 * STEP)
    circuit.add_output("attention", "out")
    return Mechanism("sdsa", circuit, dict.fromkeys("QKV", "spikes"), "out", n, channels, 3,
                     {k: [(k, _identity)] for k in "QKV"}, heads, dict(v_th=v_th))


def qkta(tokens: int = 8, channels: int = 8, heads: int = 2, *, v_th: float = 0.5,
         operand_model=None) -> Mechanism:
    """QKFormer token attention: Z[i,c] = K[i,c] AND SN(sum_{e in head(c)} Q[i,e])."""
    d = _check_sizes(tokens, channels, heads)
    n = tokens
    circuit = Circuit("qkformer_qkta")
    _sources(circuit, "QK", n * channels, operand_model)
    circuit.add_population("token_mask", sj_lif(v_th), heads * n)
    circuit.add_population("out", coincidence(2), n * channels)
    i, c = np.indices((n, channels))
    flat = tensor_index((n, channels), i, c)
    mask = tensor_index((heads, n), c // d, i)
    connect_pairs(circuit, "Q", "token_mask", flat, mask, name="channel_sum")
    connect_pairs(circuit, "token_mask", "out", mask, flat, name="mask")
    circuit.connect("K", "out", 1.0, connectivity="one_to_one", delay=1 * STEP)
    circuit.add_output("attention", "out")
    return Mechanism("qkta", circuit, dict.fromkeys("QK", "spikes"), "out", n, channels, 2,
                     {k: [(k, _identity)] for k in "QK"}, heads, dict(v_th=v_th))


def dssa(weights: dict, tokens: int = 8, channels: int = 8, heads: int = 2, *, patch: int = 1,
         v_th: float = 1.0, operand_model=None) -> Mechanism:
    """SpikingResformer DSSA on spikes X (N, D) with a patch-``patch`` linear map.

    ``weights``: ``W1``, ``W2`` (D, D, patch) and ``b1``, ``b2`` (D,) give
    Y[e, a] = sum_{k, o} W[e, k, o] X[a patch + o, k] + b[e] on N' = N / patch positions, and
    ``c1``, ``c2`` the scales (folded firing-rate constants). Per head h (channels e in h):
    A_h[a, n] = SN(c1 sum_e Y1[e, a] X[n, e]),  O[n, e] = SN(c2 sum_a Y2[e, a] A_h[a, n]).
    The products X X are pair coincidence units; A meets X (delayed 2 steps) in AND units.
    """
    d = _check_sizes(tokens, channels, heads)
    check_integer("patch", patch, 1)
    n, D = tokens, channels
    if n % patch:
        raise ValidationError("patch", f"parameter 'patch' must divide tokens = {n}, got {patch}")
    w1, w2, b1, b2, c1, c2 = _dssa_weights(weights, D, patch)
    positions = n // patch
    circuit = Circuit("spikingresformer_dssa")
    _sources(circuit, "X", n * D, operand_model)
    xs = (n, D)
    pair_shape = (n, D, n, D)  # (pos, k, token, e): X[pos, k] AND X[token, e]
    circuit.add_population("pair", coincidence(2), int(np.prod(pair_shape)))
    circuit.add_population("A", sj_lif(v_th), heads * positions * n)
    and_shape = (heads, n, D, n)  # (h, pos, k, token): X[pos, k] AND A_h[pos // patch, token]
    circuit.add_population("xa", coincidence(2), int(np.prod(and_shape)))
    circuit.add_population("O", sj_lif(v_th), n * D)

    pos, k, tok, e = np.indices(pair_shape)
    pair = tensor_index(pair_shape, pos, k, tok, e)
    a_unit = tensor_index((heads, positions, n), e // d, pos // patch, tok)
    connect_pairs(circuit, "X", "pair", tensor_index(xs, pos, k), pair, name="left")
    connect_pairs(circuit, "X", "pair", tensor_index(xs, tok, e), pair, name="right")
    connect_pairs(circuit, "pair", "A", pair, a_unit, c1 * w1[e, k, pos % patch], name="Y1X")
    a_pos, tok2, e2 = np.indices((positions, n, D))
    connect_pairs(circuit, "X", "A", tensor_index(xs, tok2, e2),
                  tensor_index((heads, positions, n), e2 // d, a_pos, tok2), c1 * b1[e2],
                  delay=1 * STEP, name="b1X")

    h, pos, k, tok = np.indices(and_shape)
    xa = tensor_index(and_shape, h, pos, k, tok)
    connect_pairs(circuit, "X", "xa", tensor_index(xs, pos, k), xa, delay=2 * STEP, name="X")
    connect_pairs(circuit, "A", "xa", tensor_index((heads, positions, n), h, pos // patch, tok),
                  xa, name="A")
    h, pos, k, tok, el = np.indices(and_shape + (d,))
    e = h * d + el
    connect_pairs(circuit, "xa", "O", tensor_index(and_shape, h, pos, k, tok),
                  tensor_index(xs, tok, e), c2 * w2[e, k, pos % patch], name="Y2A")
    h, a_pos, tok, el = np.indices((heads, positions, n, d))
    connect_pairs(circuit, "A", "O", tensor_index((heads, positions, n), h, a_pos, tok),
                  tensor_index(xs, tok, h * d + el), c2 * b2[h * d + el], delay=1 * STEP,
                  name="b2A")
    circuit.add_output("attention", "O")
    return Mechanism("dssa", circuit, {"X": "spikes"}, "O", n, D, 4, {"X": [("X", _identity)]},
                     heads, dict(weights=weights, patch=patch, v_th=v_th))


def _dssa_weights(weights: dict, D: int, patch: int):
    required = {"W1": (D, D, patch), "W2": (D, D, patch), "b1": (D,), "b2": (D,), "c1": (),
                "c2": ()}
    if not isinstance(weights, dict) or set(weights) != set(required):
        raise ValidationError("weights", "parameter 'weights' must be a dict with keys "
                                         f"{sorted(required)}")
    arrays = []
    for key, shape in required.items():
        value = np.asarray(weights[key], dtype=float)
        if value.shape != shape or not np.all(np.isfinite(value)):
            raise ValidationError("weights", f"weights['{key}'] must be finite with shape {shape}, "
                                             f"got {value.shape}")
        arrays.append(value)
    return arrays


def a2os2a(tokens: int = 8, channels: int = 8, heads: int = 2, *, v_th: float = 0.5) -> Mechanism:
    """A²OS²A: attn[i, c] = SN(sum_{j, e in head(c)} Q[i,e] K[j,e] V[j,c]), no softmax/scale.

    Q binary spikes; K real >= 0 (ReLU) sent as graded events; V ternary as two spike
    populations V+ and V-. Each term is a gated unit that fires when Q[i,e] and V+-[j,c]
    coincide and carries K[j,e]; V- terms reach the SN through inhibitory synapses.
    """
    _check_sizes(tokens, channels, heads)
    n = tokens
    circuit = Circuit("a2os2a")
    _sources(circuit, ["Q", "V_pos", "V_neg"], n * channels)
    _sources(circuit, ["K"], n * channels, models.graded_source())
    count, index = _product_terms(n, channels, heads)
    units = index["terms"]
    circuit.add_population("attn", sj_lif(v_th), n * channels)
    for sign, label in ((1.0, "pos"), (-1.0, "neg")):
        gate = f"gate_{label}"
        circuit.add_population(gate, models.gated_graded(2), count)
        connect_pairs(circuit, "Q", gate, index["Q"], units, name=f"Q->{label}")
        connect_pairs(circuit, f"V_{label}", gate, index["V"], units, name=f"V->{label}")
        connect_pairs(circuit, "K", gate, index["K"], units, variable="amplitude",
                      name=f"K->{label}")
        connect_pairs(circuit, gate, "attn", units, index["out"], sign, name=f"{label}->attn")
    circuit.add_output("attention", "attn")
    ports = {"Q": [("Q", _identity)], "K": [("K", _identity)],
             "V": [("V_pos", lambda x: (x == 1).astype(float)),
                   ("V_neg", lambda x: (x == -1).astype(float))]}
    return Mechanism("a2os2a", circuit, {"Q": "spikes", "K": "real>=0", "V": "ternary"}, "attn",
                     n, channels, 2, ports, heads, dict(v_th=v_th))


def run_mechanism(mechanism: Mechanism, operands: dict, *, seed: int | None = None,
                  target: str | None = None):
    """Simulate ``mechanism`` on operand tensors (trials, T, N, D).

    Returns (spikes, record): output spikes as a bool array (trials, T, N, D), aligned with
    the input steps (the pipeline depth removed), and the evsim SpikeRecord of the run.
    ``target``: the backend (default: the enclosing :func:`evsim.backends.using` block's).
    """
    trials, T = np.shape(next(iter(operands.values())))[:2]
    steps = T + mechanism.depth
    record = simulate(mechanism.circuit, mechanism.inputs(operands, steps), steps * STEP,
                      dt=STEP, trials=trials, seed=seed, record_spikes=True, target=target)
    spikes = record.raster(mechanism.output)
    # spikes before the pipeline depth cannot come from the operands (they would be a bug)
    if spikes[:, :mechanism.depth].any():
        raise RuntimeError(f"{mechanism.name}: output spikes before the pipeline depth")
    return spikes[:, mechanism.depth:].reshape(trials, T, mechanism.tokens,
                                               mechanism.channels), record
