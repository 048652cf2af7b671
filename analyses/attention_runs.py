"""Mechanism circuits compared with their NumPy references on random operands."""

from __future__ import annotations

import time

from circuits.mechanism_registry import default_patch, get_spec
from circuits.mechanisms import run_mechanism
from circuits.reference import PITFALL_TAU

__all__ = ["compare"]


def compare(name: str, tokens: int, channels: int, heads: int, T: int, trials: int, rng, *,
            patch: int | None = None, seed: int | None = None,
            target: str | None = None) -> dict:
    """Run one mechanism on random operands and compare with its NumPy reference; also
    count mismatches against a reference with the exact-LIF pitfall decay (a sensitivity
    check: the comparison can fail). ``seed`` seeds Brian2; ``target`` is the backend
    (default: the enclosing :func:`evsim.backends.using` block's)."""
    spec = get_spec(name)
    mechanism = spec.build(tokens, channels, heads, rng, patch)
    operands = spec.sample_operands((trials, T, tokens, channels), heads, rng)
    started = time.perf_counter()
    out, record = run_mechanism(mechanism, operands, seed=seed, target=target)
    expected = spec.reference(mechanism, operands)
    pitfall = spec.reference(mechanism, operands, PITFALL_TAU)
    return dict(mechanism=name, N=tokens, D=channels, heads=heads,
                patch=default_patch(name, tokens) if patch is None else patch, T=T,
                trials=trials, outputs=int(expected.size),
                reference_spikes=int(expected.sum()), circuit_spikes=int(out.sum()),
                mismatches=int((out != expected).sum()),
                mismatches_vs_pitfall=int((out != pitfall).sum()),
                neurons=sum(p.size for p in mechanism.circuit.populations),
                synaptic_events=int(sum(e[-1].sum() for e in record.synaptic_events.values())),
                ran_on=record.metadata["target"],
                wall_s=round(time.perf_counter() - started, 2))
