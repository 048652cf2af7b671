"""Block-dense projections propagated as one matrix product a step (Brian2's runtime targets).

A token-wise linear layer connects token ``b`` of its source only to token ``b`` of its
target, every input of a token to every output: its synapses fill ``B`` dense blocks of
``in x out``. Brian2's ``Synapses`` deliver each spike through a spike queue and an
``add.at`` over the spiking neurons' synapses (~12 ns an event on numpy); a
:class:`BlockPathway` delivers the same spikes as one batched BLAS product of the step's spike
vector with the blocks: same delays, same target variable, the source's payload read when the
spikes arrive (as Brian2 reads ``value_pre`` then), and a variable held while refractory left
untouched in refractory neurons (as Brian2's conditional write leaves it). Sums over the same
synapses are formed in another order (``v + (w1 + w2)`` where Brian2 adds ``(v + w1) + w2``),
so a membrane can differ from Brian2's by a rounding of ~1e-16, and one that lands on its
threshold within that rounding can fire in one and not in the other (the spikes are checked
against Brian2's, NEST's and SpikingJelly's in the tests). Delays must be whole steps
(Brian2's queues round half-steps differently).

:func:`block_layout` decides which projections qualify; the compiled targets keep Synapses
(a network operation runs in Python only).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from brian2 import NetworkOperation

__all__ = ["BlockLayout", "block_layout", "BlockPathway", "MIN_FILL", "MIN_BLOCK"]

#: a projection qualifies when its distinct (pre, post) pairs fill at least this share of
#: its blocks (the product computes every entry, events only the spikes' synapses)
MIN_FILL = 1 / 8
#: ... and its blocks hold at least this many entries (smaller ones are one-to-one maps and
#: the like, which a spike queue handles as cheaply)
MIN_BLOCK = 16


class BlockLayout:
    """``blocks`` dense blocks of ``rows`` source x ``columns`` target neurons (one trial):
    synapse k links row ``row[k]`` of block ``block[k]`` to its column ``column[k]``."""

    def __init__(self, blocks: int, rows: int, columns: int, pre, post):
        self.blocks, self.rows, self.columns = blocks, rows, columns
        self.block, self.row = np.divmod(np.asarray(pre), rows)
        self.column = np.asarray(post) % columns

    def matrices(self, weights: np.ndarray) -> np.ndarray:
        """The blocks (blocks, rows, columns) holding one trial's ``weights`` (one per synapse,
        SI; synapses of the same pair add up)."""
        out = np.zeros((self.blocks, self.rows, self.columns))
        np.add.at(out, (self.block, self.row, self.column), weights)
        return out


def block_layout(pre, post, source_size: int, target_size: int) -> BlockLayout | None:
    """The finest block-diagonal layout of one trial's synapses ``pre -> post`` (the most
    blocks such that every synapse stays inside its block), or None when its blocks hold
    fewer than :data:`MIN_BLOCK` entries or the distinct pairs fill less than
    :data:`MIN_FILL` of them."""
    pre, post = np.asarray(pre, dtype=np.int64), np.asarray(post, dtype=np.int64)
    if not len(pre):
        return None
    common = math.gcd(source_size, target_size)
    blocks = next(b for b in range(common, 0, -1)
                  if common % b == 0 and np.array_equal(pre // (source_size // b),
                                                        post // (target_size // b)))
    rows, columns = source_size // blocks, target_size // blocks
    pairs = len(np.unique(pre * target_size + post))
    if rows * columns < MIN_BLOCK or pairs < MIN_FILL * blocks * rows * columns:
        return None
    return BlockLayout(blocks, rows, columns, pre, post)


class BlockPathway(NetworkOperation):
    """Adds ``w`` (times the source's ``payload``, if any) of every spike of ``source`` to
    ``variable`` of ``target``, ``delay_steps`` steps after the spike, in the ``synapses``
    slot: the effect of ``Synapses(source, target, on_pre="variable_post += w[*payload_pre]")``
    on ``trials`` block-diagonal copies of ``layout``. ``w`` holds one weight per synapse of
    every trial (the plan's order, trial by trial), the same in every trial."""

    def __init__(self, source, target, variable: str, payload: str | None, layout: BlockLayout,
                 trials: int, delay_steps: int, clock, name: str):
        super().__init__(self._deliver, clock=clock, when="synapses", name=name)
        self.layout, self.trials, self.delay_steps = layout, trials, delay_steps
        self._spikespace = source.variables["_spikespace"]
        self._payload = source.variables[payload] if payload else None
        self._target = target.variables[variable]
        # Brian2 writes a variable held while refractory ("unless refractory") only where
        # its condition (not_refractory) holds, from synapses too
        self._condition = self._target.conditional_write
        self._source_size = layout.blocks * layout.rows * trials
        self._matrices = None  # (blocks, rows, columns)
        self._pending = deque()  # spiking neurons of the last delay_steps steps, oldest first

    @property
    def w(self) -> np.ndarray:
        """One weight per synapse of every trial (SI), as assigned."""
        return np.tile(self._weights, self.trials)

    @w.setter
    def w(self, value) -> None:
        weights = np.asarray(value, dtype=float).reshape(self.trials, -1)
        if np.any(weights != weights[0]):
            raise ValueError(f"{self.name}: a block pathway takes the same weights in every trial")
        self.weights_of_every_trial = weights[0]

    @property
    def weights_of_every_trial(self) -> np.ndarray:
        """One trial's weights (SI), which every trial takes."""
        return self._weights

    @weights_of_every_trial.setter
    def weights_of_every_trial(self, value) -> None:
        weights = np.asarray(value, dtype=float)
        self._weights, self._matrices = weights.copy(), self.layout.matrices(weights)

    def _deliver(self) -> None:
        spikespace = self._spikespace.get_value()
        self._pending.append(spikespace[:spikespace[-1]].copy())
        if len(self._pending) <= self.delay_steps:
            return
        spiking = self._pending.popleft()
        if not len(spiking):
            return
        x = np.zeros(self._source_size)
        x[spiking] = 1.0 if self._payload is None else self._payload.get_value()[spiking]
        layout = self.layout
        x = x.reshape(self.trials, layout.blocks, layout.rows).transpose(1, 0, 2)
        out = np.matmul(x, self._matrices)  # one (trials x rows) @ (rows x columns) per block
        added = out.transpose(1, 0, 2).reshape(-1)
        target = self._target.get_value()
        if self._condition is None:
            target += added
        else:
            np.add(target, added, out=target, where=self._condition.get_value().astype(bool))

    def _full_state(self) -> dict:
        return {"pending": [p.copy() for p in self._pending]}

    def _restore_from_full_state(self, state: dict) -> None:
        self._pending = deque(p.copy() for p in state["pending"])
