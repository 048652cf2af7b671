"""Block-dense projections propagated as one matrix product a step (Brian2's runtime targets).

A token-wise linear layer connects token ``b`` of its source only to token ``b`` of its
target, every input of a token to every output: its synapses fill ``B`` dense blocks of
``in x out``. A :class:`BlockPathway` (an :class:`evsim.pathways.Pathway`: delays, payloads
and refractory targets as Brian2's ``Synapses``) delivers a step's spikes as one batched BLAS
product of the step's spike vector with the blocks. Sums over the same synapses are formed in
another order (``v + (w1 + w2)`` where Brian2 adds ``(v + w1) + w2``), so a membrane can
differ from Brian2's by a rounding of ~1e-16 (see :mod:`evsim.pathways`).

:func:`block_layout` decides which projections qualify; the compiled targets keep Synapses
(a network operation runs in Python only).
"""

from __future__ import annotations

import math

import numpy as np

from .pathways import Pathway

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


class BlockPathway(Pathway):
    """A :class:`evsim.pathways.Pathway` adding a step's spikes by one batched product with
    the blocks of ``layout`` (``trials`` block-diagonal copies)."""

    def __init__(self, source, target, variable: str, payload: str | None, layout: BlockLayout,
                 trials: int, delay_steps: int, clock, name: str):
        super().__init__(source, target, variable, payload, trials, delay_steps, clock, name)
        self.layout = layout
        self._source_size = layout.blocks * layout.rows * trials
        self._matrices = None  # (blocks, rows, columns)

    def _weights_changed(self) -> None:
        self._matrices = self.layout.matrices(self._weights)

    def _add(self, spiking: np.ndarray) -> None:
        layout = self.layout
        x = self._dense_spikes(spiking, self._source_size, spiking)
        x = x.reshape(self.trials, layout.blocks, layout.rows).transpose(1, 0, 2)
        out = np.matmul(x, self._matrices)  # one (trials x rows) @ (rows x columns) per block
        self._add_dense(out.transpose(1, 0, 2).reshape(-1), self._writable())
