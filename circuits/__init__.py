"""Concrete circuits, each a function returning an evsim Circuit."""

from . import mechanisms
from .arithmetic import spike_matrix_product
from .attention import attention_head, multi_head_attention
from .basic import shared_inhibition, single_lif
from .encoders import bernoulli_encoder, sigma_delta_encoder
from .mechanism_registry import MECHANISMS
from .softmax import deterministic_softmax, stochastic_softmax, windowed_softmax


def _circuit_of(factory, *arguments, doc: str | None = None):
    """A factory returning the Circuit of ``factory(*arguments, **options)`` (a Head,
    Mechanism, ...), documented by ``doc`` or the factory's docstring."""
    def build(**options):
        return factory(*arguments, **options).circuit
    build.__doc__ = doc or factory.__doc__
    return build


#: name -> factory (keyword arguments only); used by ``evsim list`` and ``evsim graph``.
CIRCUITS = {"single_lif": single_lif, "shared_inhibition": shared_inhibition,
            "stochastic_softmax": stochastic_softmax, "windowed_softmax": windowed_softmax,
            "deterministic_softmax": deterministic_softmax,
            "bernoulli_encoder": bernoulli_encoder, "sigma_delta_encoder": sigma_delta_encoder,
            "spike_matrix_product": spike_matrix_product,
            "attention_head": _circuit_of(attention_head),
            "multi_head_attention": _circuit_of(multi_head_attention),
            **{f"mechanism_{name}": _circuit_of(spec.build, 8, 8, 2,
                                                doc=f"{spec.label} as a neuron circuit "
                                                    "(N = D = 8, 2 heads)")
               for name, spec in MECHANISMS.items()}}

__all__ = ["CIRCUITS", "attention_head", "bernoulli_encoder", "mechanisms", "multi_head_attention",
           "spike_matrix_product", "deterministic_softmax", "shared_inhibition",
           "sigma_delta_encoder", "single_lif", "stochastic_softmax", "windowed_softmax"]
