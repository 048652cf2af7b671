"""SpikeRecord: what one simulation returns.

Counts are read at nested checkpoints T1 < T2 < ... of one run: ``counts[population]`` has
shape (checkpoints, trials, neurons) and holds the number of spikes in [0, T_k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from brian2 import Quantity, second

from .errors import ValidationError
from .models import check_steps

__all__ = ["SpikeTrains", "SpikeRecord"]


@dataclass(frozen=True)
class SpikeTrains:
    """Every spike of one population: parallel arrays sorted by time."""

    trial: np.ndarray
    neuron: np.ndarray
    time: Quantity

    @classmethod
    def from_group(cls, index, times_s, size: int) -> "SpikeTrains":
        """From the spikes of a NeuronGroup holding every trial: group index ``index`` (neuron
        ``j`` of trial ``r`` is ``r*size + j``) and times in seconds."""
        index = np.asarray(index)  # divided in its own width (int32 from Brian2: ~10x faster)
        trial = index // size
        neuron = index - trial * size
        return cls(trial.astype(np.int64), neuron.astype(np.int64),
                   Quantity(np.asarray(times_s, dtype=float), dim=second.dim, copy=False))

    @classmethod
    def from_raster(cls, raster, dt) -> "SpikeTrains":
        """From a bool array (trials, steps, neurons) on a grid of step ``dt`` (a Brian2 time):
        a spike in step k is at time k dt."""
        raster = np.asarray(raster)
        if raster.ndim != 3 or raster.dtype != bool:
            raise ValidationError("raster", "parameter 'raster' must be a bool array (trials, "
                                            f"steps, neurons), got {raster.dtype} {raster.shape}")
        trial, step, neuron = np.nonzero(raster)
        order = np.argsort(step, kind="stable")
        return cls(trial[order], neuron[order], step[order] * float(dt / second) * second)

    def to_raster(self, trials: int, steps: int, neurons: int, dt) -> np.ndarray:
        """The spikes as a bool array (trials, steps, neurons) on a grid of step ``dt``."""
        grid = np.zeros((trials, steps, neurons), bool)
        grid[self.trial, self.steps(dt), self.neuron] = True
        return grid

    def steps(self, dt) -> np.ndarray:
        """The step of every spike on a grid of step ``dt`` (a Brian2 time): int64."""
        return np.rint(np.asarray(self.time) / float(dt)).astype(np.int64)

    def of(self, trial: int, neuron: int) -> Quantity:
        """Spike times of one neuron in one trial."""
        mask = (self.trial == trial) & (self.neuron == neuron)
        return self.time[mask]


@dataclass
class SpikeRecord:
    """Spike counts at checkpoints, optional spike times and synaptic event counts.

    Attributes
    ----------
    checkpoints : Quantity
        Read-out durations T_k (seconds), increasing.
    counts : dict
        Population -> int array (checkpoints, trials, neurons).
    synaptic_events : dict
        Projection -> int array (checkpoints, trials): synaptic events triggered by
        presynaptic spikes in [0, T_k) (one per spike and outgoing synapse).
    spikes : dict or None
        Population -> SpikeTrains, or None when spike times were not recorded.
    metadata : dict
        dt, seed, target, schedule, integration methods, wall time.
    states : dict
        Population -> {variable: Quantity (samples, trials, neurons)} recorded with
        ``simulate(..., record_states=...)`` (empty if none); ``state_times`` their times.
    rasters : dict
        Population -> bool (trials, steps, neurons): the spikes of ``simulate(...,
        record_rasters=...)`` (empty if none).
    """

    checkpoints: Quantity
    counts: dict
    synaptic_events: dict
    spikes: dict | None = None
    metadata: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    state_times: Quantity | None = None
    rasters: dict = field(default_factory=dict)

    @property
    def trials(self) -> int:
        return next(iter(self.counts.values())).shape[1]

    def rates(self, population: str, checkpoint: int = -1) -> Quantity:
        """Firing rates (Hz) over [0, T_k): array (trials, neurons)."""
        _check_population(population, self.counts)
        return self.counts[population][checkpoint] / self.checkpoints[checkpoint]

    def raster(self, population: str) -> np.ndarray:
        """Spikes of ``population`` on the time grid: bool array (trials, steps, neurons)
        over the whole run (needs its raster, returned as recorded, or its spike times)."""
        if population in self.rasters:
            return self.rasters[population]
        train = self._train(population, "raster")
        dt = self.metadata["dt_s"] * second
        steps = int(round(float(self.checkpoints[-1] / dt)))
        return train.to_raster(self.trials, steps, self.counts[population].shape[2], dt)

    def population_rate(self, population: str, bin=None) -> Quantity:
        """Spikes per neuron per second of ``population`` in consecutive bins of ``bin`` (a
        multiple of dt; default dt) over the whole run: Quantity (trials, bins) in Hz (a last
        partial bin is dropped). Needs spike times."""
        train = self._train(population, "population_rate")
        dt = self.metadata["dt_s"] * second
        steps = int(round(float(self.checkpoints[-1] / dt)))
        width = 1 if bin is None else check_steps("bin", bin, dt, maximum=steps)
        bins = steps // width
        spike_bins = train.steps(dt) // width
        keep = spike_bins < bins
        per_bin = np.bincount(train.trial[keep] * bins + spike_bins[keep],
                              minlength=self.trials * bins).reshape(self.trials, bins)
        return per_bin / (self.counts[population].shape[2] * width * dt)

    def to_neo(self, population: str):
        """Spike times of ``population`` as a neo.Block: one Segment per trial, one SpikeTrain
        per neuron (annotated with its index), for Elephant and other Neo-based tools.

        Needs spike times (``simulate(..., record_spikes=True)``) and the ``neo`` extra.
        """
        try:
            import neo
            import quantities as pq
        except ImportError as error:
            raise ImportError("to_neo needs the neo package: pip install 'evsim[neo]'") from error
        train = self._train(population, "to_neo")
        size = self.counts[population].shape[2]
        stop = float(self.checkpoints[-1] / second)
        block = neo.Block(name=population)
        # spikes sorted by (trial, neuron), time order kept: one slice per spike train
        unit = train.trial * size + train.neuron
        order = np.argsort(unit, kind="stable")
        times = np.asarray(train.time / second)[order]
        bounds = np.searchsorted(unit[order], np.arange(self.trials * size + 1))
        for trial in range(self.trials):
            segment = neo.Segment(name=f"trial {trial}", index=trial)
            for neuron in range(size):
                k = trial * size + neuron
                segment.spiketrains.append(neo.SpikeTrain(
                    times[bounds[k]:bounds[k + 1]] * pq.s, t_stop=stop * pq.s,
                    name=f"{population}[{neuron}]", neuron=neuron))
            block.segments.append(segment)
        return block

    def spike_table(self, populations=None, trials=None) -> pd.DataFrame:
        """Every spike of ``populations`` (a name or names; default all) in ``trials`` (default
        all) as a row (population, trial, neuron, time_ms), time-sorted within each population:
        the sparse form that plots and files take. Needs spike times."""
        if isinstance(populations, str):
            populations = [populations]
        frames = []
        for population in populations or self._train(None, "spike_table"):
            train = self._train(population, "spike_table")
            keep = (np.ones(len(train.trial), bool) if trials is None
                    else np.isin(train.trial, trials))
            frames.append(pd.DataFrame({"population": population, "trial": train.trial[keep],
                                        "neuron": train.neuron[keep],
                                        "time_ms": np.asarray(train.time / second)[keep] * 1e3}))
        return pd.concat(frames, ignore_index=True)

    def _train(self, population, needed_by: str):
        """The SpikeTrains of ``population`` (None: every population's, as a dict), or one
        clear error if spike times were not recorded or the population is unknown."""
        if self.spikes is None:
            raise ValidationError("record_spikes", f"{needed_by} needs spike times: simulate "
                                                   "with record_spikes=True")
        if population is None:
            return self.spikes
        _check_population(population, self.counts)
        if population not in self.spikes:
            raise ValidationError("record_spikes", f"{needed_by} needs the spike times of "
                                                   f"'{population}', which record_spikes left "
                                                   f"out (it kept {sorted(self.spikes)})")
        return self.spikes[population]

    def to_dataframe(self) -> pd.DataFrame:
        """Long table: one row per (checkpoint, population, trial, neuron) with its count."""
        frames = []
        for population, counts in self.counts.items():
            k, t, n = np.meshgrid(*(np.arange(s) for s in counts.shape), indexing="ij")
            frames.append(pd.DataFrame({
                "checkpoint_s": np.asarray(self.checkpoints / second)[k.ravel()],
                "population": population, "trial": t.ravel(), "neuron": n.ravel(),
                "count": counts.ravel()}))
        return pd.concat(frames, ignore_index=True)


def _check_population(population: str, known) -> None:
    """One clear error unless ``population`` is one of ``known`` (a dict keyed by name)."""
    if population not in known:
        raise ValidationError("population", f"unknown population '{population}'; accepted: "
                              f"{sorted(known)}")
