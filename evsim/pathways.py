"""Projections delivered by NumPy instead of Brian2's ``Synapses`` (Brian2's runtime targets).

A :class:`Pathway` is a NetworkOperation in the ``synapses`` slot that does what
``Synapses(source, target, on_pre="variable_post += w * payload_pre")`` does for ``trials``
block-diagonal copies of one trial's synapses, all with the same weights: the spikes of a step
arrive ``delay_steps`` steps later, the source's payload (graded sources) is read when they
arrive (as Brian2 reads ``payload_pre`` then), and a variable held while refractory is left
untouched in refractory neurons (Brian2's conditional write). Delays must be whole steps
(Brian2's queues round half-steps differently). Two ways to add a step's spikes:

* :class:`evsim.blocks.BlockPathway`: one batched matrix product of the step's spike vectors
  with dense blocks (a token-wise linear layer).
* :class:`EventPathway` (the numpy target only): the synapses of the step's spiking neurons,
  found in a table of each neuron's synapses (CSR), and their weights added to their targets:
  Brian2's events without its spike queue. Brian2's numpy target pushes every event through a
  C++ spike queue, copies it out and adds the weights with ``np.add.at``; here the events of a
  step are a few vectorised NumPy operations and one ``np.add.at`` in Brian2's order (the
  spiking neurons in ascending order, each one's synapses in the plan's order), so a step's
  sums are Brian2's. Where every target neuron has at most :data:`GATHER_MAX_SYNAPSES`
  synapses, a step with many events gathers instead (see the class), with the same sums.

Pathways run in the order of Brian2's Synapses (by name, ``s<k>_...``). A block pathway forms
its sums in another order than Brian2's (``v + (w1 + w2)`` where Brian2 adds ``(v + w1) +
w2``), so a membrane can differ from Brian2's by a rounding of ~1e-16, and one that lands on
its threshold within that rounding can fire in one and not in the other. An event pathway's
sums are those of Brian2's numpy target; Brian2's cython target compiles ``v + w * payload``
into one fused multiply-add (one rounding), so evsim runs event pathways on numpy only. The
tests check spikes against Brian2's, NEST's and SpikingJelly's, and an event pathway's
membranes against Brian2's numpy target bit for bit. Weights are float64 whatever Brian2's
``core.default_float_dtype``.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from brian2 import NetworkOperation

__all__ = ["Pathway", "EventPathway", "GATHER_MAX_SYNAPSES", "GATHER_SHARE"]

#: an event pathway whose target neurons have at most this many synapses each may gather
#: (:class:`EventPathway`): one pass over the targets of every trial per synapse a neuron
GATHER_MAX_SYNAPSES = 4
#: ... and gathers in a step whose events exceed this share of its synapses in all trials:
#: ~1.5 ns a gathered synapse (np.take of 2M from a spike matrix 1.4 ms, the product and the
#: sum ~0.6 ms) against ~9 ns an event (5-13 ns measured), on this 2-core machine
GATHER_SHARE = 1 / 6


class Pathway(NetworkOperation):
    """The spikes of ``source`` added to ``variable`` of ``target`` ``delay_steps`` steps
    later (module docstring); a subclass adds one step's spikes in :meth:`_add`. ``w`` holds
    one weight per synapse of every trial (the plan's order, trial by trial), the same in
    every trial."""

    def __init__(self, source, target, variable: str, payload: str | None, trials: int,
                 delay_steps: int, clock, name: str):
        super().__init__(self._deliver, clock=clock, when="synapses", name=name)
        self.trials, self.delay_steps = trials, delay_steps
        self._spikespace = source.variables["_spikespace"]
        self._payload = source.variables[payload] if payload else None
        self._target = target.variables[variable]
        # Brian2 writes a variable held while refractory ("unless refractory") only where
        # its condition (not_refractory) holds, from synapses too
        self._condition = self._target.conditional_write
        self._weights = None
        self._pending = deque()  # spiking neurons of the last delay_steps steps, oldest first

    @property
    def w(self) -> np.ndarray:
        """One weight per synapse of every trial (SI), as assigned."""
        return np.tile(self._weights, self.trials)

    @w.setter
    def w(self, value) -> None:
        weights = np.asarray(value, dtype=float).reshape(self.trials, -1)
        if np.any(weights != weights[0]):
            raise ValueError(f"{self.name}: a NumPy pathway takes the same weights in every "
                             "trial")
        self.weights_of_every_trial = weights[0]

    @property
    def weights_of_every_trial(self) -> np.ndarray:
        """One trial's weights (SI), which every trial takes."""
        return self._weights

    @weights_of_every_trial.setter
    def weights_of_every_trial(self, value) -> None:
        self._weights = np.asarray(value, dtype=float).copy()
        self._weights_changed()

    def _weights_changed(self) -> None:
        """Hook: derive what :meth:`_add` needs from ``self._weights``."""

    def _deliver(self) -> None:
        spikespace = self._spikespace.get_value()
        self._pending.append(spikespace[:spikespace[-1]].copy())
        if len(self._pending) <= self.delay_steps:
            return
        spiking = self._pending.popleft()
        if len(spiking):
            self._add(spiking)

    def _add(self, spiking: np.ndarray) -> None:
        raise NotImplementedError

    def _payload_of(self, spiking: np.ndarray):
        """The payload the ``spiking`` neurons carry now, or None (spikes weigh 1)."""
        return None if self._payload is None else self._payload.get_value()[spiking]

    def _writable(self):
        """A bool mask of the target neurons that may be written, or None (all)."""
        if self._condition is None:
            return None
        return self._condition.get_value().astype(bool, copy=False)

    def _dense_spikes(self, spiking: np.ndarray, shape, at) -> np.ndarray:
        """Zeros of ``shape`` with the ``spiking`` neurons' payload (1 without one) at
        ``at`` (their places in that array)."""
        spikes = np.zeros(shape)
        payload = self._payload_of(spiking)
        spikes[at] = 1.0 if payload is None else payload
        return spikes

    def _add_dense(self, added: np.ndarray, writable) -> None:
        """Add ``added`` (every target neuron of every trial, in any shape of that size; a
        scratch array, overwritten) to the target variable where ``writable`` (a mask from
        :meth:`_writable`, or None). Elsewhere it adds 0 (``added`` is finite: weights times
        spikes or payloads), which leaves a value as it was (a -0.0 becomes 0.0, which no
        comparison tells apart); a masked ``np.add`` took ~5x a product and an add (2.9 ms
        against 0.6 ms for 460,800 neurons)."""
        target = self._target.get_value().reshape(added.shape)
        if writable is not None:
            np.multiply(added, writable.reshape(added.shape), out=added)
        np.add(target, added, out=target)

    def _full_state(self) -> dict:
        return {"pending": [p.copy() for p in self._pending]}

    def _restore_from_full_state(self, state: dict) -> None:
        self._pending = deque(p.copy() for p in state["pending"])


class EventPathway(Pathway):
    """The events of the step's spiking neurons (module docstring). ``pre``, ``post``: one
    trial's synapses in the plan's order, sorted by ``pre``; ``source_size``,
    ``target_size``: one trial's neurons.

    Where no target neuron has more than :data:`GATHER_MAX_SYNAPSES` synapses, a step with many
    events (more than :data:`GATHER_SHARE` of the synapses of all trials) gathers instead: the
    k-th synapse of every target neuron (in the plan's order) reads its source's spike (or
    payload, 0 if silent) from a dense spike matrix, times its weight, and the columns are
    added one after another. A neuron's synapses are added in Brian2's order (its sources in
    ascending order), and a silent one adds 0, so the sums are the events' to the last bit."""

    def __init__(self, source, target, variable: str, payload: str | None, pre, post,
                 source_size: int, target_size: int, trials: int, delay_steps: int, clock,
                 name: str):
        super().__init__(source, target, variable, payload, trials, delay_steps, clock, name)
        pre = np.asarray(pre, dtype=np.int64)
        if np.any(pre[1:] < pre[:-1]):
            raise ValueError(f"{name}: an event pathway takes synapses sorted by pre")
        self.source_size, self.target_size = source_size, target_size
        self._first = np.searchsorted(pre, np.arange(source_size + 1))  # CSR row pointers
        self._post = np.asarray(post, dtype=np.int64)
        self._columns = _synapse_columns(self._post, target_size)  # (k, target) or None
        if self._columns is not None:
            present = self._columns >= 0
            self._sources = np.where(present, pre[self._columns], source_size)  # silent column
            self._gather_from = len(pre) * trials * GATHER_SHARE
        self._column_weights = None

    def _weights_changed(self) -> None:
        if self._columns is not None:
            self._column_weights = np.where(self._columns >= 0, self._weights[self._columns], 0.0)

    def _add(self, spiking: np.ndarray) -> None:
        trial, neuron = np.divmod(spiking, self.source_size)
        first = self._first[neuron]
        counts = self._first[neuron + 1] - first
        ends = np.cumsum(counts)
        if not ends[-1]:  # (called with at least one spiking neuron)
            return
        if self._columns is not None and ends[-1] > self._gather_from:
            self._gather(spiking, trial, neuron)
            return
        # the spiking neurons' synapses, neuron after neuron, each in the plan's order
        synapse = np.arange(ends[-1]) + np.repeat(first - ends + counts, counts)
        post = self._post[synapse] + np.repeat(trial * self.target_size, counts)
        values = self._weights[synapse]
        payload = self._payload_of(spiking)
        if payload is not None:
            values = values * np.repeat(payload, counts)
        writable = self._writable()
        if writable is not None:
            keep = writable[post]
            post, values = post[keep], values[keep]
        np.add.at(self._target.get_value(), post, values)

    def _gather(self, spiking, trial, neuron) -> None:
        """Add the step's spikes column by column (class docstring)."""
        # + a silent source, which the columns of neurons with fewer synapses read
        spikes = self._dense_spikes(spiking, (self.trials, self.source_size + 1),
                                    (trial, neuron))
        writable = self._writable()
        for sources, weights in zip(self._sources, self._column_weights):
            added = np.take(spikes, sources, axis=1)
            added *= weights  # w * payload, as Brian2's numpy code forms it
            self._add_dense(added, writable)


def _synapse_columns(post: np.ndarray, target_size: int):
    """(k, target_size) synapse numbers: the k-th synapse of each target neuron in the plan's
    order (-1 where it has fewer), or None when a neuron has more than
    :data:`GATHER_MAX_SYNAPSES` or none has any."""
    in_degree = np.bincount(post, minlength=target_size)
    most = int(in_degree.max()) if len(post) else 0
    if not 0 < most <= GATHER_MAX_SYNAPSES:
        return None
    by_target = np.argsort(post, kind="stable")  # each target's synapses in the plan's order
    rank = np.arange(len(post)) - np.repeat(np.cumsum(in_degree) - in_degree, in_degree)
    columns = np.full((most, target_size), -1, dtype=np.int64)
    columns[rank, post[by_target]] = by_target
    return columns
