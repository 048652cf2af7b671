"""Concrete circuits, each a function returning an evsim Circuit."""

import numpy as np

from . import mechanisms
from .arithmetic import spike_matrix_product
from .attention import attention_head, multi_head_attention
from .basic import shared_inhibition, single_lif
from .deep_sets import deep_sets_layer
from .encoders import bernoulli_encoder, sigma_delta_encoder
from .mechanism_registry import MECHANISMS
from .set_network import set_network
from .softmax import deterministic_softmax, stochastic_softmax, windowed_softmax
from .trained import ARCHITECTURES, from_weights


def _circuit_of(factory):
    """A factory returning the Circuit of ``factory(**options)`` (a Head, MultiHead, ...)."""
    def build(**options):
        return factory(**options).circuit
    build.__doc__ = factory.__doc__
    return build


def _mechanism_circuit(spec):
    """A factory of the mechanism's Circuit with keyword sizes (N = D = 8, 2 heads by default)."""
    def build(tokens: int = 8, channels: int = 8, heads: int = 2, **options):
        return spec.build(tokens, channels, heads, **options).circuit
    build.__doc__ = f"{spec.label} as a neuron circuit (tokens, channels, heads keywords)."
    return build


def _set_network_circuit(n: int = 4, d: int = 2, widths=(4,), seed: int = 0, **options):
    """attention.universal's spiking set network (random weights drawn from ``seed``)."""
    return set_network(n, d, widths, rng=np.random.default_rng(seed), **options).circuit


def _trained_circuit(arch: str):
    """A factory of a shipped trained model's Circuit (keyword ``task``: digits or sets)."""
    def build(task: str = "digits"):
        return from_weights(arch, task).circuit
    build.__doc__ = f"the trained {arch} (shipped weights) as a neuron circuit (task keyword)."
    return build


#: name -> factory (keyword arguments only); used by ``evsim list`` and ``evsim graph``.
CIRCUITS = {"single_lif": single_lif, "shared_inhibition": shared_inhibition,
            "stochastic_softmax": stochastic_softmax, "windowed_softmax": windowed_softmax,
            "deterministic_softmax": deterministic_softmax,
            "bernoulli_encoder": bernoulli_encoder, "sigma_delta_encoder": sigma_delta_encoder,
            "spike_matrix_product": spike_matrix_product,
            "attention_head": _circuit_of(attention_head),
            "multi_head_attention": _circuit_of(multi_head_attention),
            "deep_sets_layer": deep_sets_layer, "set_network": _set_network_circuit,
            **{f"mechanism_{name}": _mechanism_circuit(spec) for name, spec in MECHANISMS.items()},
            **{f"trained_{arch}": _trained_circuit(arch) for arch in ARCHITECTURES}}

__all__ = ["CIRCUITS", "attention_head", "bernoulli_encoder", "deep_sets_layer", "mechanisms",
           "multi_head_attention", "set_network", "from_weights",
           "spike_matrix_product", "deterministic_softmax", "shared_inhibition",
           "sigma_delta_encoder", "single_lif", "stochastic_softmax", "windowed_softmax"]
