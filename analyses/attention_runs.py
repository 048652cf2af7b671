"""Shared experiments of the attention claims: random operands, mechanism runs, head runs."""

from __future__ import annotations

import time

import numpy as np
from brian2 import second

from circuits import mechanisms
from circuits.attention import attention_head, attention_target, head_estimate, head_inputs
from evsim import simulate

from . import attention_reference as reference

__all__ = ["random_operands", "dssa_weights", "default_patch", "build", "compare", "run_head"]


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


def random_operands(name: str, shape: tuple, heads: int, rng, rate: float | None = None) -> dict:
    """Operands (trials, T, N, D) for mechanism ``name``. Default spike probabilities keep the
    outputs active: SSA needs about 8 coincident triples, so p = (8 / (N d))^(1/3)."""
    trials, T, n, D = shape
    d = D // heads
    default = {"ssa": min(0.9, (8 / (n * d)) ** (1 / 3))}.get(name, 0.3)
    p = default if rate is None else rate

    def spikes():
        return (rng.random(shape) < p).astype(float)

    if name == "dssa":
        return {"X": spikes()}
    if name == "qkta":
        return {"Q": spikes(), "K": spikes()}
    if name == "a2os2a":
        active = rng.random(shape) < p
        return {"Q": spikes(), "K": np.maximum(rng.normal(0, 1, shape), 0),
                "V": np.where(active, rng.choice([-1.0, 1.0], shape), 0.0)}
    return {"Q": spikes(), "K": spikes(), "V": spikes()}


def build(name: str, tokens: int, channels: int, heads: int, rng, patch: int | None = None):
    """(Mechanism, reference (operands, tau) -> spikes) for one mechanism and size; ``patch``
    (DSSA only) defaults to :func:`default_patch`."""
    patch = default_patch(name, tokens) if patch is None else patch
    if name == "dssa":
        weights = dssa_weights(tokens, channels, heads, patch, rng)
        return (mechanisms.dssa(weights, tokens, channels, heads, patch=patch),
                lambda ops, tau: reference.dssa(ops["X"], weights, heads, patch, tau=tau))
    mechanism = mechanisms.MECHANISMS[name](tokens, channels, heads)
    if name == "sdsa":
        return mechanism, lambda ops, tau: reference.sdsa(**ops, tau=tau)
    return mechanism, lambda ops, tau: reference.REFERENCES[name](**ops, heads=heads, tau=tau)


def compare(name: str, tokens: int, channels: int, heads: int, T: int, trials: int, rng, *,
            patch: int | None = None) -> dict:
    """Run one mechanism on random operands and compare with its NumPy reference; also
    count mismatches against a reference with the exact-LIF pitfall decay (a sensitivity
    check: the comparison can fail)."""
    mechanism, ref = build(name, tokens, channels, heads, rng, patch)
    operands = random_operands(name, (trials, T, tokens, channels), heads, rng)
    started = time.perf_counter()
    out, record = mechanisms.run_mechanism(mechanism, operands, seed=0)
    expected = ref(operands, 2.0)
    return dict(mechanism=name, N=tokens, D=channels, heads=heads,
                patch=default_patch(name, tokens) if patch is None else patch, T=T,
                trials=trials, outputs=int(expected.size),
                reference_spikes=int(expected.sum()), circuit_spikes=int(out.sum()),
                mismatches=int((out != expected).sum()),
                mismatches_vs_pitfall=int((out != ref(operands, reference.PITFALL_TAU)).sum()),
                neurons=sum(p.size for p in mechanism.circuit.populations),
                synaptic_events=int(sum(e[-1].sum() for e in record.synaptic_events.values())),
                wall_s=round(time.perf_counter() - started, 2))


def run_head(q, k, v, *, replicas: int, beta: float, checkpoints, seed: int,
             key_bias=None, target: str = "numpy", record_spikes: bool = False):
    """Simulate the softmax attention head on values (trials, n, d).

    Returns (estimates (K, trials, n, d), targets (trials, n, d), record, head).
    """
    trials, n, d = np.shape(q)
    head = attention_head(n, d, replicas=replicas, beta=beta)
    inputs, initial = head_inputs(head, q, k, v, key_bias=key_bias)
    checkpoints = np.asarray(checkpoints, dtype=float) * second
    record = simulate(head.circuit, inputs, checkpoints[-1], trials=trials, seed=seed,
                      initial=initial, checkpoints=checkpoints, dt=head.dt, target=target,
                      record_spikes=record_spikes)
    return head_estimate(head, record), attention_target(q, k, v, beta), record, head
