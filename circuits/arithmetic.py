"""Spike arithmetic from neurons: coincidence (AND), OR, counters and spike matrix products.

All units are discrete-time neurons (one Brian2 step = one time step, dimensionless), so every
synaptic hop costs exactly one step: a spike emitted in step t is integrated in step t + 1.

* :func:`coincidence` (:func:`evsim.models.coincidence`): fires in step t + 1 iff at least
  ``k`` unit-weight spikes arrived in step t (a memoryless LIF with tau = 1, i.e. the
  membrane is cleared every step).
* :func:`or_unit`: the special case k = 1.
* :func:`counter`: counts its inputs; after the inputs stop it has fired once per input.
* :func:`spike_matrix_product`: C = A B^T of two spike matrices, one AND unit per product term
  feeding one counter per entry: exact in counts (per step and summed over time).

Helpers wire tensors: :func:`tensor_index` maps multi-indices to neuron numbers and
:func:`connect_signed` splits a real weight matrix into an excitatory and an inhibitory
projection (a synapse has one sign).
"""

from __future__ import annotations

import numpy as np
from brian2 import ms

from evsim import Circuit, models
from evsim.models import check_integer, coincidence  # AND of k binary inputs

__all__ = ["coincidence", "or_unit", "counter", "tensor_index", "connect_pairs",
           "connect_signed", "spike_matrix_product", "STEP"]

#: The time step of every discrete circuit (its value is arbitrary; one step = one hop).
STEP = 1 * ms


def or_unit() -> models.NeuronModel:
    """OR: fires iff at least one input spike arrived in the previous step."""
    return coincidence(1)


def counter() -> models.NeuronModel:
    """A counter neuron (see :func:`evsim.models.discrete_counter`)."""
    return models.discrete_counter()


def tensor_index(shape: tuple, *index) -> np.ndarray:
    """Neuron numbers (flattened) of a population laid out as a C-ordered tensor of ``shape``.

    ``index`` are broadcastable integer arrays, one per axis (e.g. from ``np.indices``).
    """
    return np.ravel_multi_index(np.broadcast_arrays(*index), shape).ravel()


def connect_pairs(circuit: Circuit, source: str, target: str, pre, post, weights=1.0, *,
                  unit=1, delay=0 * ms, variable: str | None = None, name: str) -> None:
    """Synapses pre[k] -> post[k] with real ``weights`` (numbers in ``unit``; a scalar or one
    per pair), split by sign: an excitatory projection ``name+`` and an inhibitory ``name-``.

    Repeated (pre, post) pairs are merged into one synapse with the summed weight and pairs
    whose weight is zero make no synapse. Sparse: memory grows with the number of pairs, not
    with source size x target size.
    """
    pre, post = np.asarray(pre).ravel(), np.asarray(post).ravel()
    weights = np.asarray(weights, dtype=float)
    weights = weights.ravel() if weights.size == pre.size else np.broadcast_to(weights, pre.shape)
    size_post = circuit.population(target).size
    # merge repeated pairs, ordered by (pre, post) as a dense matrix's np.nonzero would be
    keys = pre.astype(np.int64) * size_post + post
    if np.all(keys[1:] > keys[:-1]):  # already in that order, no pair twice: nothing to merge
        summed = weights
    else:
        keys, slot = np.unique(keys, return_inverse=True)
        summed = np.bincount(slot.ravel(), weights=weights, minlength=len(keys))
    for sign, part, suffix in (("excitatory", summed, "+"), ("inhibitory", -summed, "-")):
        chosen = part > 0
        if chosen.any():
            circuit.connect(source, target, part[chosen] * unit, connectivity="pairs",
                            pairs=(keys[chosen] // size_post, keys[chosen] % size_post),
                            delay=delay, sign=sign, variable=variable, name=name + suffix)


def connect_signed(circuit: Circuit, source: str, target: str, weights, *, unit=1,
                   delay=0 * ms, variable: str | None = None, name: str) -> None:
    """Connect with a real (source size, target size) matrix of numbers in ``unit``: positive
    entries become an excitatory projection ``name+``, negative ones an inhibitory one ``name-``."""
    weights = np.asarray(weights, dtype=float)
    pre, post = np.nonzero(weights)
    connect_pairs(circuit, source, target, pre, post, weights[pre, post], unit=unit,
                  delay=delay, variable=variable, name=name)


def spike_matrix_product(rows: int = 4, cols: int = 4, inner: int = 4) -> Circuit:
    """C = A B^T for spike matrices A (rows x inner) and B (cols x inner).

    Populations: sources ``A`` and ``B`` (input ports ``A``, ``B``: binary (steps, trials,
    size) arrays, row-major), AND units ``and`` (rows x cols x inner; unit (i, j, e) fires in
    step t + 1 iff A[i, e] and B[j, e] both fire in step t) and counters ``C`` (rows x cols)
    that receive every AND spike of their entry: C[i, j] fires once per product term, so its
    spike count over a run (plus ``inner`` drain steps) is sum_t (A_t B_t^T)[i, j].
    """
    for name, value in (("rows", rows), ("cols", cols), ("inner", inner)):
        check_integer(name, value, 1)
    circuit = Circuit("spike_matrix_product")
    circuit.add_population("A", models.spike_source(), rows * inner)
    circuit.add_population("B", models.spike_source(), cols * inner)
    shape = (rows, cols, inner)
    circuit.add_population("and", coincidence(2), rows * cols * inner)
    circuit.add_population("C", counter(), rows * cols)
    i, j, e = np.indices(shape)
    units = tensor_index(shape, i, j, e)
    connect_pairs(circuit, "A", "and", tensor_index((rows, inner), i, e), units, name="A->and")
    connect_pairs(circuit, "B", "and", tensor_index((cols, inner), j, e), units, name="B->and")
    connect_pairs(circuit, "and", "C", units, tensor_index((rows, cols), i, j), name="and->C")
    circuit.add_input("A", "A")
    circuit.add_input("B", "B")
    circuit.add_output("products", "C")
    return circuit
