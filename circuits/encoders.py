"""Encoders of real matrices into spike trains, and decoders back to values.

Values x in [0, 1] (one per neuron and trial) become spike trains over T time steps:

* :func:`bernoulli_encoder`: a spike in each step with probability x (rate code; the decoded
  value count / T is unbiased with variance x (1 - x) / T).
* :func:`sigma_delta_encoder`: a non-leaky integrate-and-fire neuron with reset by
  subtraction gaining x per step (deterministic; ``|count - x T| <= 1`` from v(0) in [0, 1)).

Both are circuits with input port ``values`` and output port ``spikes`` (population ``enc``);
:func:`encoder_inputs` gives the matching inputs and initial state, :func:`decode` the values.
"""

from __future__ import annotations

import numpy as np
from brian2 import Mohm, ms, mV

from evsim import Circuit, models
from evsim.errors import ValidationError
from evsim.models import check_integer

__all__ = ["bernoulli_encoder", "sigma_delta_encoder", "encoder_inputs", "decode",
           "range_to_rate", "rate_to_range"]

_THRESHOLD = 1 * mV
_TAU = 10 * ms  # no leak: only sets the current scale; dt must stay below it


def _encoder(name: str, model, n: int) -> Circuit:
    check_integer("n", n, 1)
    circuit = Circuit(name)
    circuit.add_population("enc", model, n)
    circuit.add_input("values", "enc")
    circuit.add_output("spikes", "enc")
    return circuit


def bernoulli_encoder(n: int = 4) -> Circuit:
    """``n`` Bernoulli sources: neuron j fires in each step with probability x_j."""
    return _encoder("bernoulli_encoder", models.bernoulli_source(), n)


def sigma_delta_encoder(n: int = 4) -> Circuit:
    """``n`` IF neurons (reset by subtraction) that integrate x_j per step: a sigma-delta code."""
    model = models.integrate_and_fire(tau_m=_TAU, v_th=_THRESHOLD, t_ref=0 * ms,
                                      reset="subtract")
    return _encoder("sigma_delta_encoder", model, n)


def encoder_inputs(kind: str, values, dt, *, rng=None) -> tuple:
    """(input value, initial state) that make encoder ``kind`` code ``values`` in [0, 1].

    ``values``: (trials, n). ``kind`` is "bernoulli" or "sigma_delta"; the latter starts each
    membrane at a random phase in [0, V_th) drawn from ``rng``.
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
        raise ValidationError("values", "parameter 'values' must be finite and lie in [0, 1]")
    if kind == "bernoulli":
        return x, {}
    if kind == "sigma_delta":
        # dv per step = R I dt / tau = x V_th  =>  I = x V_th tau / (R dt)
        current = x * _THRESHOLD * _TAU / (1 * Mohm * dt)
        rng = rng or np.random.default_rng()
        return current, {"enc": {"v": rng.uniform(0, 1, x.shape) * _THRESHOLD}}
    raise ValidationError("kind", "parameter 'kind' must be 'bernoulli' or 'sigma_delta', got "
                                  f"{kind!r}")


def decode(counts, steps: int) -> np.ndarray:
    """Decoded values count / steps (the rate per time step)."""
    check_integer("steps", steps, 1)
    return np.asarray(counts, dtype=float) / steps


def range_to_rate(values, half_range) -> np.ndarray:
    """Signed values y in [-R, R] as firing probabilities p = (y + R) / (2R) in [0, 1]."""
    y, R = np.asarray(values, dtype=float), np.asarray(half_range, dtype=float)
    if not np.all(R > 0) or not np.all(np.abs(y) <= R):
        raise ValidationError("values", "parameter 'values' must lie in [-half_range, half_range] "
                                        "with half_range > 0")
    return (y + R) / (2 * R)


def rate_to_range(counts, steps, half_range) -> np.ndarray:
    """The inverse read-out (2 count / steps - 1) R; ``steps`` may be an array broadcasting
    against ``counts`` (e.g. checkpoints)."""
    return (2 * np.asarray(counts) / np.asarray(steps) - 1) * half_range
