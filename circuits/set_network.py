"""A spiking permutation-equivariant set network: uniform-attention (mean-pooling) layers, a
spike-driven (SDSA) attention layer and two token-wise LIF layers, with random fixed weights
(only a linear read-out is trained).

Inputs X in [-1, 1]^(n x d) are spike-coded by one Bernoulli source per x_ic (population
``input``, firing probability (x_ic + 1) / 2 per step; ``source="replay"`` replays a given
binary spike tensor instead, for exact tests). Per token i, every layer is the same:

* ``mix0`` (n x d counters): token i's counter of channel c receives weight 1/n from channel c
  of EVERY token's input, so its rate is mean_j p_jc: an attention layer whose scores are all
  equal (mean pooling), computed by synaptic integration.
* ``hidden1_w<W>`` (n x W discrete LIF units, soft reset): unit k of token i sees token i's
  inputs (weights A[k]) and its mix0 counters (weights B[k]) and a constant bias current b1[k]
  (input port ``bias1_w<W>``).
* ``mix1_w<W>`` (n x W counters): uniform attention over the hidden units: token i's counter k
  receives weight 1/n from unit k of every token.
* ``kv_w<W>``, ``mask_w<W>``, ``attn_w<W>``: spike-driven self-attention (SDSA, Spike-driven
  Transformer; :func:`circuits.mechanisms.sdsa`) over layer 1 with Q = hidden1 unit k, K and V
  = hidden1 units key[k] and value[k] (random): kv[j, k] = K[j, k] AND V[j, k], the channel
  mask[k] = SN(sum_j kv[j, k]) (SpikingJelly LIF, tau 2, V_th 0.5, one per channel, shared by
  the tokens) and attn[i, k] = Q[i, k] (delayed 2 steps) AND mask[k]. With these parameters
  and integer inputs the mask's membrane carries nothing over, so mask[k] = OR_j kv[j, k]: a
  channel-wide bit that gates Q (as in the Spike-driven Transformer); no value and no
  dot-product score passes through.
* ``hidden2_w<W>`` (n x W discrete LIF units): unit k of token i sees ``fan_in`` random units
  each of token i's hidden1 (weights C), mix1 counters (weights E) and attn units (weights S),
  plus a bias b2[k] (port ``bias2_w<W>``).

``mixing`` chooses which second-layer mixing paths exist (``"mean"``: mix1, ``"sdsa"``: kv,
mask, attn); without one, hidden2 does not see it (ablations; with neither, the network mixes
tokens only through mix0).

Every weight is shared by all tokens (the same A, B, C, E, b1, b2 for every i), so the circuit
is permutation-equivariant by construction: permuting the tokens of the input spikes permutes
every population's spikes. Several widths W are independent sub-networks of one circuit fed by
the same input spikes; width means DISTINCT hidden units per token per layer (each with its
own random weights), never replicas. :func:`readout_features` collects, per token, the counts
a shared linear read-out sees: inputs, mix0 (the residual path), hidden1, mix1, attn, hidden2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evsim import Circuit, models
from evsim.errors import ValidationError
from evsim.models import check_integer

from .arithmetic import STEP, coincidence, connect_pairs, tensor_index
from .mechanisms import sj_lif

__all__ = ["SetNetwork", "set_network", "network_inputs", "readout_features",
           "equivariance_mismatches", "SOURCES"]

#: Input codes: Bernoulli sources of p = (x + 1) / 2, or replay of a given binary spike tensor.
SOURCES = ("bernoulli", "replay")
#: Second-layer mixing paths: uniform attention (mean pooling) and SDSA.
MIXING = ("mean", "sdsa")


@dataclass
class SetNetwork:
    """The circuit and the random weights it was built with (per width)."""

    circuit: Circuit
    n: int
    d: int
    widths: tuple
    weights: dict = field(default_factory=dict)  # width -> {"b1", "b2", ...}
    mixing: tuple = MIXING

    def populations_of(self, width: int) -> tuple:
        """The names of the populations a read-out of width ``width`` sees, in feature order."""
        paths = {"mean": f"mix1_w{width}", "sdsa": f"attn_w{width}"}
        return ("input", "mix0", f"hidden1_w{width}",
                *(paths[m] for m in MIXING if m in self.mixing), f"hidden2_w{width}")

    @staticmethod
    def shared(population: str) -> bool:
        """Whether ``population`` has one neuron per channel shared by all tokens (SDSA's mask)
        rather than one per token and channel."""
        return population.startswith("mask_")

    def first_layer_columns(self, width: int) -> int:
        """How many leading read-out features (inputs, mix0, hidden1) see the other tokens only
        through mix0, i.e. (Bernoulli noise aside) through mean_j x_j. (The spread of mix0's
        summed Bernoulli input also depends on sum_j p_j^2, a second moment, which a read-out
        of counts barely sees.)"""
        return 2 * self.d + width


def set_network(n: int, d: int, widths=(4, 16, 64), *, rng, tau: float = 2.0,
                fan_in: int = 16, weight_scale: float = 3.0, bias_range=(0.5, 1.5),
                source: str = "bernoulli", mixing=MIXING) -> SetNetwork:
    """Build the network for sets of ``n`` tokens with ``d`` channels at every width in
    ``widths``; ``rng`` draws the random weights (N(0, weight_scale^2 / fan-in)) and biases
    (uniform in ``bias_range``, units of the threshold 1). LIF units: discrete, tau ``tau``
    steps, threshold 1, soft reset."""
    check_integer("n", n, 1)
    check_integer("d", d, 1)
    check_integer("fan_in", fan_in, 1)
    widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 for w in widths) or len(set(widths)) != len(widths):
        raise ValidationError("widths", f"parameter 'widths' must be distinct integers >= 1, "
                                        f"got {widths}")
    if source not in SOURCES:
        raise ValidationError("source", f"parameter 'source' must be one of {SOURCES}, got "
                                        f"{source!r}")
    mixing = tuple(mixing)
    if not set(mixing) <= set(MIXING) or len(set(mixing)) != len(mixing):
        raise ValidationError("mixing", f"parameter 'mixing' must be distinct entries of "
                                        f"{MIXING}, got {mixing}")
    circuit = Circuit("set_network")
    model = models.bernoulli_source() if source == "bernoulli" else models.spike_source()
    circuit.add_population("input", model, n * d)
    circuit.add_input("values", "input")
    circuit.add_population("mix0", models.discrete_counter(), n * d)
    token, channel, other = np.meshgrid(np.arange(n), np.arange(d), np.arange(n), indexing="ij")
    connect_pairs(circuit, "input", "mix0", tensor_index((n, d), other, channel),
                  tensor_index((n, d), token, channel), 1.0 / n, name="mix0")
    network = SetNetwork(circuit, n, d, widths, mixing=mixing)
    lif = models.discrete_lif(tau=tau, v_th=1.0, reset="soft")
    for width in widths:
        h1, m1, h2 = f"hidden1_w{width}", f"mix1_w{width}", f"hidden2_w{width}"
        scale1 = weight_scale / np.sqrt(2 * d)
        A = rng.normal(0, scale1, (width, d))
        B = rng.normal(0, scale1, (width, d))
        b1 = rng.uniform(*bias_range, width)
        circuit.add_population(h1, lif, n * width)
        circuit.add_population(h2, lif, n * width)
        circuit.add_input(f"bias1_w{width}", h1)
        circuit.add_input(f"bias2_w{width}", h2)
        # token-wise layer 1: own inputs (A) and own mix0 counters (B)
        i, k, c = np.meshgrid(np.arange(n), np.arange(width), np.arange(d), indexing="ij")
        post = tensor_index((n, width), i, k)
        for source_population, matrix, name in (("input", A, "A"), ("mix0", B, "B")):
            connect_pairs(circuit, source_population, h1, tensor_index((n, d), i, c), post,
                          matrix[k, c], name=f"{name}_w{width}")
        sources = [(h1, "C")]
        if "mean" in mixing:  # uniform attention: counter (i, k) gets 1/n from unit k of all
            circuit.add_population(m1, models.discrete_counter(), n * width)
            i, k, j = np.meshgrid(np.arange(n), np.arange(width), np.arange(n), indexing="ij")
            connect_pairs(circuit, h1, m1, tensor_index((n, width), j, k),
                          tensor_index((n, width), i, k), 1.0 / n, name=f"mix1_w{width}")
            sources.append((m1, "E"))
        if "sdsa" in mixing:
            sdsa_units = _sdsa_over(circuit, h1, n, width, rng)
            sources.append((f"attn_w{width}", "S"))
        # token-wise layer 2: fan_in random units of own hidden1 (C), mix1 (E) and attn (S)
        fan = min(fan_in, width)
        scale2 = weight_scale / np.sqrt(len(sources) * fan)
        picks = {name: np.stack([rng.choice(width, fan, replace=False) for _ in range(width)])
                 for _, name in sources}
        values = {name: rng.normal(0, scale2, (width, fan)) for _, name in sources}
        b2 = rng.uniform(*bias_range, width)
        i, k, f = np.meshgrid(np.arange(n), np.arange(width), np.arange(fan), indexing="ij")
        for source_population, name in sources:
            connect_pairs(circuit, source_population, h2,
                          tensor_index((n, width), i, picks[name][k, f]),
                          tensor_index((n, width), i, k), values[name][k, f],
                          name=f"{name}_w{width}")
        network.weights[width] = dict(A=A, B=B, b1=b1, b2=b2, **values,
                                      **{f"{k}_from": v for k, v in picks.items()})
        if "sdsa" in mixing:
            network.weights[width].update(zip(("key", "value"), sdsa_units))
    return network


def _sdsa_over(circuit, hidden: str, n: int, width: int, rng) -> tuple:
    """SDSA over population ``hidden`` (n x width): populations kv, mask and attn of the width;
    returns the random key and value unit of every channel."""
    suffix = hidden.split("_")[-1]
    kv, mask, attn = f"kv_{suffix}", f"mask_{suffix}", f"attn_{suffix}"
    key, value = rng.integers(0, width, width), rng.integers(0, width, width)
    circuit.add_population(kv, coincidence(2), n * width)
    circuit.add_population(mask, sj_lif(0.5), width)
    circuit.add_population(attn, coincidence(2), n * width)
    j, k = np.indices((n, width))
    cell = tensor_index((n, width), j, k)
    for unit, name in ((key, "K"), (value, "V")):  # a unit used as both K and V gives weight 2
        connect_pairs(circuit, hidden, kv, tensor_index((n, width), j, unit[k]), cell,
                      name=f"{name}_{suffix}")
    connect_pairs(circuit, kv, mask, cell, k, name=f"token_sum_{suffix}")
    connect_pairs(circuit, mask, attn, k, cell, name=f"mask_{suffix}")
    connect_pairs(circuit, hidden, attn, cell, cell, delay=2 * STEP, name=f"Q_{suffix}")
    return key, value


def network_inputs(network: SetNetwork, X=None, spikes=None) -> dict:
    """Inputs of :func:`set_network` for sets ``X`` (trials, n, d) in [-1, 1] (Bernoulli
    sources) or a binary spike tensor ``spikes`` (steps, trials, n, d) (replay), plus every
    width's bias currents tiled over trials."""
    n, d = network.n, network.d
    if (X is None) == (spikes is None):
        raise ValidationError("X", "give exactly one of 'X' (Bernoulli) and 'spikes' (replay)")
    if X is not None:
        X = np.asarray(X, dtype=float)
        if X.ndim != 3 or X.shape[1:] != (n, d) or np.abs(X).max() > 1:
            raise ValidationError("X", f"parameter 'X' must be (trials, {n}, {d}) in [-1, 1], "
                                       f"got shape {X.shape}")
        trials = len(X)
        inputs = {"values": ((X + 1) / 2).reshape(trials, n * d)}
    else:
        spikes = np.asarray(spikes, dtype=float)
        trials = spikes.shape[1]
        inputs = {"values": spikes.reshape(spikes.shape[0], trials, n * d)}
    for width, w in network.weights.items():
        inputs[f"bias1_w{width}"] = np.tile(np.tile(w["b1"], n), (trials, 1))
        inputs[f"bias2_w{width}"] = np.tile(np.tile(w["b2"], n), (trials, 1))
    return inputs


def readout_features(network: SetNetwork, counts: dict, width: int, steps) -> np.ndarray:
    """Per-token read-out features at every checkpoint: counts / steps of ``input``, ``mix0``,
    ``hidden1``, ``mix1``, ``hidden2`` of ``width``, shape (checkpoints, trials, n, features).
    ``counts`` maps population -> (checkpoints, trials, size) (a SpikeRecord's counts);
    ``steps`` (checkpoints,) is the number of steps at each checkpoint."""
    steps = np.asarray(steps, dtype=float)[:, None, None, None]
    parts = []
    for name in network.populations_of(width):
        c = np.asarray(counts[name], dtype=float)
        parts.append(c.reshape(c.shape[0], c.shape[1], network.n, -1) / steps)
    return np.concatenate(parts, axis=-1)


def equivariance_mismatches(network: SetNetwork, counts: dict, perms) -> tuple[int, int]:
    """Compare the final ``counts`` (population -> (checkpoints, 2 x sets, size)) of sets whose
    second half is the first half with tokens permuted by ``perms`` (sets, n): token populations
    must come out permuted, shared ones (SDSA's mask) equal. Returns (mismatches, compared)."""
    perms = np.asarray(perms)
    sets = len(perms)
    mismatches, compared = 0, 0
    for name, c in counts.items():
        c = np.asarray(c)[-1]
        if network.shared(name):
            first, expected = c[sets:], c[:sets]
        else:
            c = c.reshape(2 * sets, network.n, -1)
            first, expected = c[sets:], np.stack([c[s][perms[s]] for s in range(sets)])
        mismatches += int((first != expected).sum())
        compared += int(expected.size)
    return mismatches, compared
