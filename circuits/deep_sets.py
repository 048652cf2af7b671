"""A spiking equivariant Deep-Sets layer: h_ic = (x_ic + mean_j x_jc) / 2 from spike-coded inputs.

Inputs x in [-1, 1]^(n x d) are count-coded by one neuron each (population ``enc``, a Bernoulli
or sigma-delta encoder of p = (x + 1) / 2 per step). One counter neuron per coordinate
(population ``mix``) receives its own input with weight 1/2 + 1/(2n) and the inputs of the other
tokens in the same channel with weight 1/(2n); it fires once per unit of input, so its rate is
(p_ic + mean_j p_jc) / 2 = (h_ic + 1) / 2 and :func:`decode_layer` reads h back as
2 count / T - 1. At most one unit arrives per step, so the counter never lags by more than one
spike; a spike reaches it one step after it was emitted (one hop of latency).
"""

from __future__ import annotations

import numpy as np

from evsim import Circuit, models
from evsim.errors import ValidationError
from evsim.models import check_integer

from .arithmetic import connect_pairs
from .encoders import bernoulli_encoder, encoder_inputs, sigma_delta_encoder

__all__ = ["CODES", "deep_sets_layer", "layer_inputs", "decode_layer"]

#: Input codes: "stochastic" (Bernoulli sources) or "deterministic" (sigma-delta IF encoders).
CODES = ("stochastic", "deterministic")


def deep_sets_layer(code: str = "stochastic", n: int = 4, d: int = 2) -> Circuit:
    """Input port ``values`` (population ``input/enc``, coordinate i * d + c), output port
    ``spikes`` (population ``mix``, same layout)."""
    check_integer("n", n, 1)
    check_integer("d", d, 1)
    if code not in CODES:
        raise ValidationError("code", f"parameter 'code' must be one of {CODES}, got {code!r}")
    circuit = Circuit(f"deep_sets_{code}")
    encoder = bernoulli_encoder if code == "stochastic" else sigma_delta_encoder
    circuit.include(encoder(n * d), "input")
    circuit.add_population("mix", models.discrete_counter(), n * d)
    token, channel, other = np.meshgrid(np.arange(n), np.arange(d), np.arange(n), indexing="ij")
    weight = np.where(token == other, 0.5 + 0.5 / n, 0.5 / n)
    connect_pairs(circuit, "input/enc", "mix", other * d + channel, token * d + channel, weight,
                  name="mixing")
    circuit.add_output("spikes", "mix")
    return circuit


def layer_inputs(code: str, X, dt, rng) -> tuple:
    """(input value, initial state) of :func:`deep_sets_layer` for sets ``X`` (trials, n, d) in
    [-1, 1]: the encoder's value for p = (x + 1) / 2 and its initial state, and a random
    initial phase in [0, 1) for every counter (``rng`` draws both)."""
    if code not in CODES:
        raise ValidationError("code", f"parameter 'code' must be one of {CODES}, got {code!r}")
    X = np.asarray(X, dtype=float)
    p = ((X + 1) / 2).reshape(len(X), -1)
    values, state = encoder_inputs("bernoulli" if code == "stochastic" else "sigma_delta", p,
                                   dt, rng=rng)
    initial = {"mix": {"v": rng.uniform(0, 1, p.shape)}}
    if state:
        initial["input/enc"] = state["enc"]
    return values, initial


def decode_layer(counts, steps) -> np.ndarray:
    """h = 2 count / steps - 1 from the counts of ``mix`` (``steps`` may broadcast, e.g. the
    checkpoints)."""
    return 2 * np.asarray(counts, dtype=float) / np.asarray(steps) - 1
