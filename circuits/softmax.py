"""Lateral-inhibition softmax circuits (constructions S, S' and D of docs/theory.md 2.2-2.4).

Both circuits have ``n`` excitatory neurons (population ``exc``, input port ``scores``) and ONE
inhibitory relay interneuron per trial (population ``inh``): every excitatory spike excites it,
it fires once per received spike (an integrate-and-fire counter with reset by subtraction,
so no spike is lost when several arrive in one step) and its spikes inhibit all excitatory
neurons identically. Because the inhibition is shared, it cancels from every ratio of
excitatory rates: that is what makes the spike histogram converge to softmax(s / temperature).

* :func:`stochastic_softmax` (S): escape-noise neurons, hazard ``rho0 exp(u_j - I(t))``; the
  interneuron's spikes feed a fast decaying trace (a global soft dead time) and a slow
  integrating trace with constant upward drift (an integral controller that holds the
  population rate at ``rate``, so the slow trace finds the log-sum-exp of the scores itself).
  Because it is an integral controller, the population count over any window of length t is
  ``rate x t`` up to the change of the slow trace / its step: n_j / (rate t) is the circuit's
  own normalised output, with no division by a measured total.
* :func:`windowed_softmax` (S'): time is cut into windows; in each window the neurons race
  (hazard rho0 exp(u_j - I)), the first spike drives the interneuron, whose strong fast
  inhibition blocks everyone until the window ends: about one spike per window, whose
  identity is a softmax sample. A slow integral trace holds the fraction of windows with a
  winner at ``fill``, so n_j / windows is the circuit's normalised output.
* :func:`deterministic_softmax` (D): non-leaky integrate-and-fire neurons with reset by
  subtraction, driven by exp((s_j - max s)/temperature) times a shared multiplicative gain that
  the interneuron lowers on every spike and that rises at a constant rate between spikes.

Scores are dimensionless; :func:`score_inputs` turns a (trials, n) score array and a
temperature into the input currents and the COLD initial state of either circuit (membranes,
inhibitory traces and gains at fixed values that do not depend on the scores): the circuit
must find the normaliser itself, which takes of order a second (settle time).
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, Mohm, ms, mV, second

from evsim import Circuit, models
from evsim.errors import ValidationError
from evsim.models import check_integer, check_quantity

__all__ = ["stochastic_softmax", "windowed_softmax", "deterministic_softmax", "score_inputs",
           "softmax", "stochastic_unit", "relay", "limit_dt", "MAX_RATE_DT", "DELTA",
           "RESISTANCE", "TAU_M"]

#: Largest population rate x dt accepted by default: above it, simultaneous spikes and the
#: concavity of 1 - exp(-rho dt) bias the histogram (docs/theory.md section 2.1).
MAX_RATE_DT = 0.01

DELTA = 1 * mV  # one unit of score = one delta of the escape-noise hazard
RESISTANCE = 1 * Mohm
TAU_M = 10 * ms  # membrane time constant of the excitatory neurons


def softmax(scores, temperature: float = 1.0) -> np.ndarray:
    """Exact softmax(scores / temperature) along the last axis (the reference)."""
    z = np.asarray(scores, dtype=float) / temperature
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _check_common(n, rate, dt, max_rate_dt):
    check_integer("n", n, 2)
    check_quantity("rate", rate, Hz, positive=True)
    check_quantity("dt", dt, ms, positive=True)
    if float(rate * dt) > max_rate_dt:
        raise ValidationError("rate", f"parameter 'rate' x dt must be <= {max_rate_dt} (got "
                                      f"{float(rate * dt):g} for rate = {rate}, dt = {dt}); lower "
                                      "the rate or dt, or raise max_rate_dt knowingly (the "
                                      "histogram is then biased)")


def limit_dt(circuit: Circuit, rate, max_rate_dt: float) -> Circuit:
    """Make :func:`evsim.simulate` refuse time steps with ``rate`` x dt > ``max_rate_dt``."""
    circuit.require_dt_at_most(max_rate_dt / rate, f"population rate {rate} x dt must be <= "
                                                   f"{max_rate_dt}")
    return circuit


def relay():
    """An IF counter that fires once per received 1 mV input, keeping any backlog."""
    return models.integrate_and_fire(v_th=0.5 * mV, v_reset=-0.5 * mV, t_ref=0 * ms,
                                     reset="subtract")


def _lateral_inhibition(name: str, model, n: int, feedback: list) -> Circuit:
    """``n`` excitatory neurons (input ``scores``) and, if ``feedback`` is not empty, one relay
    interneuron that every excitatory spike drives and whose spikes inhibit all of them through
    each (weight, target variable, label) of ``feedback``."""
    circuit = Circuit(name)
    circuit.add_population("exc", model, n)
    circuit.add_input("scores", "exc")
    circuit.add_output("spikes", "exc")
    if feedback:
        circuit.add_population("inh", relay(), 1)
        circuit.connect("exc", "inh", 1 * mV)
        for weight, variable, label in feedback:
            circuit.connect("inh", "exc", weight, sign="inhibitory", variable=variable,
                            name=f"inh->exc {label}")
        circuit.add_output("inhibition", "inh")
    return circuit


def stochastic_softmax(n: int = 8, *, rate=80 * Hz, dt=0.1 * ms,
                       fast_weight: float = 5.0, tau_fast=1 * ms, slow_weight: float = 0.05,
                       t_ref=0 * ms, reset: str = "none", v_reset=0 * mV,
                       inhibition: str | None = "subtractive",
                       max_rate_dt: float = MAX_RATE_DT) -> Circuit:
    """Construction S: escape-noise neurons with one shared inhibitory interneuron.

    ``rate`` is the population rate the integral controller holds; ``fast_weight`` and
    ``slow_weight`` are the interneuron's jumps of the fast and slow traces in units of the
    hazard's delta; ``t_ref`` is a per-neuron refractory period (keep it below the global
    dead time ~ tau_fast ln(fast_weight)); ``reset`` is ``"none"`` (the membrane is the filtered
    drive: the construction) or ``"value"`` (membrane reset to ``v_reset`` after each spike: the
    LIF with reset); ``inhibition`` is ``"subtractive"`` (the construction), ``"shunting"``
    (the traces divide the drive: an ablation) or ``None`` (no interneuron: an ablation).
    """
    _check_common(n, rate, dt, max_rate_dt)
    for name, value in (("fast_weight", fast_weight), ("slow_weight", slow_weight)):
        if not (isinstance(value, (int, float)) and value >= 0):
            raise ValidationError(name, f"parameter '{name}' must be a number >= 0, got {value!r}")
    if inhibition not in ("subtractive", "shunting", None):
        raise ValidationError("inhibition", "parameter 'inhibition' must be 'subtractive', "
                                            f"'shunting' or None, got {inhibition!r}")
    model, feedback = stochastic_unit(rate, fast_weight=fast_weight, tau_fast=tau_fast,
                                      slow_weight=slow_weight, t_ref=t_ref, reset=reset,
                                      v_reset=v_reset, inhibition=inhibition)
    return limit_dt(_lateral_inhibition("stochastic_softmax", model, n, feedback), rate,
                    max_rate_dt)


def stochastic_unit(rate, *, fast_weight: float = 5.0, tau_fast=1 * ms, slow_weight: float = 0.05,
                    t_ref=0 * ms, reset: str = "none", v_reset=0 * mV,
                    inhibition: str | None = "subtractive") -> tuple:
    """The excitatory model of construction S and its inhibitory feedback
    [(weight, target variable, label)] (empty without inhibition); see stochastic_softmax."""
    model = models.escape_noise_lif(
        tau_m=TAU_M, rho0=1 * Hz, delta=DELTA, t_ref=t_ref, resistance=RESISTANCE,
        reset=reset, v_reset=v_reset, tau_syn=tau_fast,
        slow_drift=slow_weight * DELTA * rate if inhibition else 0 * mV / second,
        inhibition=inhibition or "subtractive")
    feedback = [(fast_weight * DELTA, "syn_fast", "fast"),
                (slow_weight * DELTA, "syn_slow", "slow")] if inhibition else []
    return model, feedback


def windowed_softmax(n: int = 8, *, window=50 * ms, fill: float = 0.99, dt=0.1 * ms,
                     block_weight: float = 30.0, slow_weight: float = 0.05,
                     max_rate_dt: float = MAX_RATE_DT) -> Circuit:
    """Construction S': one winner spike per ``window`` (a race of escape-noise neurons).

    A slow integral trace (step ``slow_weight`` delta per interneuron spike, drift
    ``slow_weight x fill / window``) holds the fraction of windows with a winner at ``fill``, so
    the race's summed hazard settles at ``-ln(1 - fill) / window`` (4.6 / window for 0.99).
    ``block_weight`` (in units of delta) is the interneuron's inhibition, which lasts until the
    window ends. That race rate x dt must be <= ``max_rate_dt``.
    """
    if not (isinstance(fill, (int, float)) and 0.5 <= fill < 1):
        raise ValidationError("fill", f"parameter 'fill' must lie in [0.5, 1), got {fill!r}")
    check_quantity("window", window, ms, positive=True)
    race_rate = -np.log1p(-fill) / window
    _check_common(n, race_rate, dt, max_rate_dt)
    model = models.escape_noise_lif(tau_m=TAU_M, rho0=1 * Hz, delta=DELTA,
                                    resistance=RESISTANCE, tau_syn=1000 * window, window=window,
                                    slow_drift=slow_weight * fill * DELTA / window)
    feedback = [(block_weight * DELTA, "syn_fast", "block"),
                (slow_weight * DELTA, "syn_slow", "slow")]
    return limit_dt(_lateral_inhibition("windowed_softmax", model, n, feedback), race_rate,
                    max_rate_dt)


def deterministic_softmax(n: int = 8, *, rate=80 * Hz, dt=0.1 * ms,
                          gain_step: float = 0.05, t_ref=0 * ms,
                          max_rate_dt: float = MAX_RATE_DT) -> Circuit:
    """Construction D: IF neurons (reset by subtraction) with a shared multiplicative gain.

    Each interneuron spike lowers every excitatory neuron's log-gain by ``gain_step``; between
    spikes it rises at ``gain_step * rate`` per second, so the population rate settles at
    ``rate`` while the shared gain cancels from every count ratio.
    """
    _check_common(n, rate, dt, max_rate_dt)
    if not (isinstance(gain_step, (int, float)) and gain_step > 0):
        raise ValidationError("gain_step", "parameter 'gain_step' must be a number > 0, got "
                                           f"{gain_step!r}")
    model = models.gain_modulated_if(tau_m=10 * ms, v_th=1 * mV, t_ref=t_ref,
                                     resistance=RESISTANCE, gain_drift=gain_step * rate)
    return limit_dt(_lateral_inhibition("deterministic_softmax", model, n,
                                        [(gain_step, "log_gain", "gain")]), rate, max_rate_dt)


def score_inputs(kind: str, scores, *, temperature: float = 1.0, rng=None,
                 offset=0.0) -> tuple:
    """Input currents (trials, n) and the cold initial state for circuit ``kind`` ("S" or "D").

    S (and S'): drive u_j = s_j/temperature + ``offset`` (units of delta; a number, or one per
    trial with shape (trials, 1); the inhibition must absorb it); membranes and both
    inhibitory traces start at 0, whatever the scores. D: drive exp((s_j - max s)/temperature)
    -- the exponentiation and the max shift are done here, in the input encoding, not by
    neurons; log-gain starts at 0, membranes at random phases in [0, V_th) (drawn from
    ``rng``, independent of the scores) so that count errors average out.
    """
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature)
            and temperature > 0):
        raise ValidationError("temperature", "parameter 'temperature' must be a number > 0, got "
                                             f"{temperature!r}")
    z = np.atleast_2d(np.asarray(scores, dtype=float)) / temperature
    if not np.all(np.isfinite(z)):
        raise ValidationError("scores", "parameter 'scores' must be finite")
    if kind == "S":
        # one slow trace per trial, shape (trials, 1): unambiguous even when trials = n
        initial = {"exc": {"v": np.zeros(z.shape) * mV,
                           "syn_slow": np.zeros((len(z), 1)) * mV}}
        return (z + offset) * DELTA / RESISTANCE, initial
    if kind == "D":
        drive = np.exp(z - z.max(1, keepdims=True)) * DELTA / RESISTANCE
        rng = rng or np.random.default_rng()
        initial = {"exc": {"log_gain": np.zeros((len(z), 1)),
                           "v": rng.uniform(0, 1, z.shape) * mV}}
        return drive, initial
    raise ValidationError("kind", f"parameter 'kind' must be 'S' or 'D', got {kind!r}")
