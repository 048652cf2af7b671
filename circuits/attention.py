"""A spiking softmax-attention head as one explicit neuron graph, and a multi-head block.

For token values q, k, v in [0, 1]^(n x d) (rates per time step) the head approximates the
target  y_i = sum_j softmax_j(beta q_i . k_j) v_j  (softmax attention with fixed projections):

1. ``Q``, ``K``, ``V``: Bernoulli sources, ``replicas`` independent copies of every value
   (Q and K fire with probability p_max q, p_max k per step, V with probability v).
2. ``qk``: AND units Q[r,i,e] AND K[r,j,e]; their spike rate summed over e and r is
   replicas p_max^2 (q_i . k_j): the score as a coincidence count.
3. ``exc``/``inh``: per replica and query row, the lateral-inhibition softmax S
   (circuits.softmax): escape-noise neurons whose membrane filters the coincidence spikes of
   their (i, j) score (the mean membrane is beta q_i . k_j in units of the hazard's delta) and
   one inhibitory interneuron per row. Neuron (r, i, j) fires at a rate proportional to
   softmax_j(beta q_i . k_j).
4. ``av``: AND units exc[r,i,j] AND V[r,j,c]; ``out``: counters summing them over r and j.
   out[i,c] / (replicas x rate x window) estimates y_ic: each attention spike samples v_jc
   once, and each row's integral controller holds its spike count at rate x window, so the
   normalisation is the circuit's own (no division by a measured count).

The head starts cold (controllers and membranes at 0, whatever the values): each row's
controller finds its normaliser within about a second, so :func:`run_head` reads out after a
settling period.

Errors: the softmax sampling and V sampling noise shrink as 1/sqrt(spikes) (longer T or more
replicas); the shot noise of the coincidence drive biases the exponential (Jensen) by about
beta^2 (q.k) / (2 replicas p_max^2 tau_m / dt), which shrinks with more replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Hz, ms, mV, second

from evsim import Circuit, models, simulate
from evsim.errors import ValidationError
from evsim.models import check_integer, check_quantity

from .arithmetic import coincidence, connect_pairs, counter, tensor_index
from .softmax import DELTA, MAX_RATE_DT, RESISTANCE, TAU_M, limit_dt, relay, stochastic_unit

__all__ = ["Head", "MultiHead", "attention_head", "multi_head_attention", "head_inputs",
           "head_estimate", "run_head", "multi_head_inputs", "multi_head_estimate",
           "attention_target", "HEAD_SETTLE"]

#: Settling period before the head's read-out window (seconds), as for the softmax claims.
HEAD_SETTLE = 3.0


def attention_target(q, k, v, beta: float) -> np.ndarray:
    """The target: softmax_j(beta q_i . k_j) v_j for arrays (..., n, d) -> (..., n, d)."""
    scores = beta * np.einsum("...ie,...je->...ij", q, k)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return np.einsum("...ij,...jc->...ic", weights, v)


@dataclass(frozen=True)
class Head:
    """An attention-head circuit and the parameters its inputs and read-out need."""

    circuit: Circuit
    tokens: int
    dim: int
    replicas: int
    beta: float
    p_max: float
    rate: object
    dt: object


def attention_head(tokens: int = 4, dim: int = 4, *, replicas: int = 1, beta: float = 1.0,
                   p_max: float = 0.5, rate=80 * Hz, dt=0.1 * ms) -> Head:
    """A spiking softmax-attention head: Q AND K scores, lateral-inhibition softmax, AND V.

    See the module text. ``rate`` is the spike rate of each softmax row (replica); rate x dt
    <= 0.01. Input ports Q, K, V (probabilities per step) and ``key_bias`` (extra drive of the
    softmax neurons: zero for the head itself)."""
    check_integer("tokens", tokens, 2)
    check_integer("dim", dim, 1)
    check_integer("replicas", replicas, 1)
    if not (isinstance(beta, (int, float)) and np.isfinite(beta) and beta > 0):
        raise ValidationError("beta", f"parameter 'beta' must be a number > 0, got {beta!r}")
    if not (isinstance(p_max, (int, float)) and 0 < p_max <= 1):
        raise ValidationError("p_max", f"parameter 'p_max' must lie in (0, 1], got {p_max!r}")
    check_quantity("rate", rate, Hz, positive=True)
    check_quantity("dt", dt, ms, positive=True)
    if float(rate * dt) > MAX_RATE_DT:
        raise ValidationError("rate", f"parameter 'rate' x dt must be <= {MAX_RATE_DT}, got "
                                      f"{float(rate * dt):g}")
    n, d, m = tokens, dim, replicas
    circuit = Circuit("attention_head")
    for name in "QKV":
        circuit.add_population(name, models.bernoulli_source(), m * n * d)
        circuit.add_input(name, name)
    values = (m, n, d)
    qk_shape, exc_shape, av_shape = (m, n, n, d), (m, n, n), (m, n, n, d)
    circuit.add_population("qk", coincidence(2), int(np.prod(qk_shape)))
    model, feedback = stochastic_unit(rate)
    circuit.add_population("exc", model, int(np.prod(exc_shape)))
    circuit.add_population("inh", relay(), m * n)
    circuit.add_population("av", coincidence(2), int(np.prod(av_shape)))
    circuit.add_population("out", counter(), n * d)
    circuit.add_input("key_bias", "exc")

    r, i, j, e = np.indices(qk_shape)
    qk = tensor_index(qk_shape, r, i, j, e)
    connect_pairs(circuit, "Q", "qk", tensor_index(values, r, i, e), qk, name="Q->qk")
    connect_pairs(circuit, "K", "qk", tensor_index(values, r, j, e), qk, name="K->qk")
    # every exc (r', i, j) listens to the score units of (i, j) of all replicas
    decay = np.exp(-float(dt / TAU_M))
    jump = beta * float(DELTA / mV) * (1 - decay) / (decay * m * p_max ** 2)
    r2, i2, j2, e2, r3 = np.indices(qk_shape + (m,))
    connect_pairs(circuit, "qk", "exc", tensor_index(qk_shape, r2, i2, j2, e2),
                  tensor_index(exc_shape, r3, i2, j2), jump, unit=mV, name="score")
    r, i, j = np.indices(exc_shape)
    exc, row = tensor_index(exc_shape, r, i, j), tensor_index((m, n), r, i)
    connect_pairs(circuit, "exc", "inh", exc, row, 1.0, unit=mV, name="exc->inh")
    for weight, variable, label in feedback:
        connect_pairs(circuit, "inh", "exc", row, exc, -float(weight / mV), unit=mV,
                      variable=variable, name=f"inh->exc {label}")
    r, i, j, c = np.indices(av_shape)
    av = tensor_index(av_shape, r, i, j, c)
    connect_pairs(circuit, "exc", "av", tensor_index(exc_shape, r, i, j), av, name="A->av")
    connect_pairs(circuit, "V", "av", tensor_index(values, r, j, c), av, name="V->av")
    connect_pairs(circuit, "av", "out", av, tensor_index((n, d), i, c), name="sum")
    circuit.add_output("attention", "exc")
    circuit.add_output("output", "out")
    limit_dt(circuit, rate, MAX_RATE_DT)
    return Head(circuit, n, d, m, float(beta), float(p_max), rate, dt)


def head_inputs(head: Head, q, k, v, *, key_bias=None) -> dict:
    """Inputs for values q, k, v of shape (trials, n, d) in [0, 1]; the head starts cold.

    ``key_bias`` (n,): extra drive (units of delta) of every softmax neuron attending to key
    position j, the same for every query: a position-dependent, non-equivariant control.
    """
    n, d, m = head.tokens, head.dim, head.replicas
    arrays = []
    for name, x in (("q", q), ("k", k), ("v", v)):
        x = np.asarray(x, dtype=float)
        if x.ndim != 3 or x.shape[1:] != (n, d):
            raise ValidationError(name, f"parameter '{name}' must have shape (trials, n, d) = "
                                        f"(trials, {n}, {d}), got {x.shape}")
        if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
            raise ValidationError(name, f"parameter '{name}' must be finite and lie in [0, 1]")
        arrays.append(x)
    q, k, v = arrays
    if not len(q) == len(k) == len(v):
        raise ValidationError("v", "parameters 'q', 'k', 'v' must have the same number of trials")
    trials = len(q)
    bias = np.zeros(n) if key_bias is None else np.asarray(key_bias, dtype=float)
    if bias.shape != (n,) or not np.all(np.isfinite(bias)):
        raise ValidationError("key_bias", "parameter 'key_bias' must be finite with shape (n,) = "
                                          f"({n},)")

    def tile(x):  # (trials, ...) -> (trials, replicas * ...)
        return np.broadcast_to(x[:, None], (trials, m) + x.shape[1:]).reshape(trials, -1)

    drive = np.broadcast_to(bias, (trials, m, n, n)).reshape(trials, -1)
    return {"Q": tile(q * head.p_max), "K": tile(k * head.p_max), "V": tile(v),
            "key_bias": drive * DELTA / RESISTANCE}


def head_estimate(head: Head, record, start: int = 0) -> np.ndarray:
    """Output estimates out[i, c] / (replicas x rate x window) over the windows from
    checkpoint ``start`` to every later checkpoint: (checkpoints - start - 1, trials, n, d)."""
    return _estimate(head, record, "", start)


def _estimate(head: Head, record, prefix: str, start: int) -> np.ndarray:
    n, d = head.tokens, head.dim
    out = record.counts[prefix + "out"].reshape(-1, record.trials, n, d)
    windows = np.asarray(record.checkpoints / second)
    expected = head.replicas * float(head.rate / Hz) * (windows[start + 1:] - windows[start])
    return (out[start + 1:] - out[start]) / expected[:, None, None, None]


def run_head(q, k, v, *, replicas: int, beta: float, checkpoints, seed: int | None = None,
             key_bias=None, target: str | None = None, record_spikes: bool = False,
             settle: float = HEAD_SETTLE):
    """Simulate the softmax attention head on values (trials, n, d) in [0, 1] from a cold
    start, reading it out over windows of ``checkpoints`` seconds (increasing) that start
    after ``settle`` seconds.

    Returns (estimates (K, trials, n, d), targets (trials, n, d), record, head); the record's
    first checkpoint is the end of the settling period. ``target``: the backend (default: the
    enclosing :func:`evsim.backends.using` block's).
    """
    trials, n, d = np.shape(q)
    head = attention_head(n, d, replicas=replicas, beta=beta)
    inputs = head_inputs(head, q, k, v, key_bias=key_bias)
    if not (isinstance(settle, (int, float)) and settle > 0):
        raise ValidationError("settle", f"parameter 'settle' must be a number > 0 (seconds), "
                                        f"got {settle!r}")
    times = np.concatenate([[settle], settle + np.asarray(checkpoints, dtype=float)]) * second
    record = simulate(head.circuit, inputs, times[-1], trials=trials, seed=seed,
                      checkpoints=times, dt=head.dt, target=target, record_spikes=record_spikes)
    return head_estimate(head, record), attention_target(q, k, v, beta), record, head


@dataclass(frozen=True)
class MultiHead:
    """``heads`` attention heads on contiguous channel groups, in one circuit."""

    circuit: Circuit
    heads: tuple  # Head per group; its ports and populations are prefixed "h<k>/"


def multi_head_attention(tokens: int = 4, dim: int = 8, heads: int = 2, **head_options):
    """A multi-head block: head k attends with channels k d .. (k+1) d - 1 (d = dim / heads)
    and writes the same channels of the output; ``head_options`` go to every head."""
    check_integer("heads", heads, 1)
    check_integer("dim", dim, 1)
    if dim % heads:
        raise ValidationError("heads", f"parameter 'heads' must divide dim = {dim}, got {heads}")
    circuit = Circuit("multi_head_attention")
    parts = []
    for k in range(heads):
        head = attention_head(tokens, dim // heads, **head_options)
        circuit.include(head.circuit, f"h{k}")
        parts.append(head)
    return MultiHead(circuit, tuple(parts))


def multi_head_inputs(block: MultiHead, q, k, v, **options) -> dict:
    """Inputs of a multi-head block for values (trials, n, dim); it starts cold."""
    inputs = {}
    d = block.heads[0].dim
    for index, head in enumerate(block.heads):
        part = slice(index * d, (index + 1) * d)
        own = head_inputs(head, np.asarray(q)[..., part], np.asarray(k)[..., part],
                          np.asarray(v)[..., part], **options)
        inputs.update({f"h{index}/{port}": value for port, value in own.items()})
    return inputs


def multi_head_estimate(block: MultiHead, record, start: int = 0) -> np.ndarray:
    """Concatenated head estimates over the windows from checkpoint ``start``:
    (checkpoints - start - 1, trials, n, dim)."""
    return np.concatenate([_estimate(head, record, f"h{index}/", start)
                           for index, head in enumerate(block.heads)], axis=-1)
