"""Concrete circuits, each a function returning an evsim Circuit."""

from .basic import shared_inhibition, single_lif
from .encoders import bernoulli_encoder, sigma_delta_encoder
from .softmax import deterministic_softmax, stochastic_softmax, windowed_softmax

#: name -> factory (keyword arguments only); used by ``evsim list`` and ``evsim graph``.
CIRCUITS = {"single_lif": single_lif, "shared_inhibition": shared_inhibition,
            "stochastic_softmax": stochastic_softmax, "windowed_softmax": windowed_softmax,
            "deterministic_softmax": deterministic_softmax,
            "bernoulli_encoder": bernoulli_encoder, "sigma_delta_encoder": sigma_delta_encoder}

__all__ = ["CIRCUITS", "bernoulli_encoder", "deterministic_softmax", "shared_inhibition",
           "sigma_delta_encoder", "single_lif", "stochastic_softmax", "windowed_softmax"]
