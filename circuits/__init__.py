"""Concrete circuits, each a function returning an evsim Circuit."""

from .basic import shared_inhibition, single_lif

#: name -> factory (keyword arguments only); used by ``evsim list`` and ``evsim graph``.
CIRCUITS = {"single_lif": single_lif, "shared_inhibition": shared_inhibition}

__all__ = ["CIRCUITS", "shared_inhibition", "single_lif"]
