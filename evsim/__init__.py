"""evsim: spiking circuits as explicit neuron graphs, simulated exactly in Brian2."""

from . import models
from .errors import EvsimError, ValidationError
from .graph import Circuit, Population, Projection
from .record import SpikeRecord, SpikeTrains
from .simulate import TARGETS, simulate

__version__ = "0.1.0"
__all__ = ["Circuit", "Population", "Projection", "SpikeRecord", "SpikeTrains", "simulate",
           "models", "TARGETS", "EvsimError", "ValidationError", "__version__"]
