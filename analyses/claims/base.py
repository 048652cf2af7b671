"""What every claim is made of: Claim, ClaimResult, ClaimContext, Sizes and verdict helpers.

A claim's ``measure(context)`` runs its pre-registered protocol and returns a
:class:`ClaimResult` with tables; its ``plot(tables, directory)`` redraws the figures from
those tables alone, so ``evsim plot`` can redo figures without simulating. The verdict is
decided inside ``measure`` by a small rule function stated in the protocol before the run.

The :class:`ClaimContext` is a claim's only road to the simulator: it hands the codegen target
and seeds derived from ``--seed`` (``numpy.random.SeedSequence``, one stream per claim and
purpose) to every simulation, mechanism run, head run and sweep cell, and logs what each
run used, so claims.json can say which target a claim actually ran on.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from evsim.errors import ValidationError

__all__ = ["VERDICTS", "SCALES", "Sizes", "ClaimContext", "ClaimResult", "Claim",
           "interval_verdict", "all_or_none", "threshold_verdict"]

VERDICTS = ("supported", "refuted", "partial", "not-testable")
#: Protocol sizes: ``toy`` (tests only, seconds), ``quick`` (minutes), ``full`` (papers).
SCALES = ("toy", "quick", "full")


@dataclass(frozen=True)
class Sizes:
    """A claim's protocol sizes at each scale (read-only mappings); ``toy`` defaults to quick.

    Protocol text is rendered from the same object (:meth:`text`), so prose and code cannot
    drift apart.
    """

    quick: Mapping
    full: Mapping
    toy: Mapping | None = None

    def __post_init__(self):
        for scale in SCALES:
            value = getattr(self, scale)
            if value is not None:
                object.__setattr__(self, scale, MappingProxyType(dict(value)))

    def at(self, scale: str) -> Mapping:
        """The sizes of ``scale`` ("toy", "quick" or "full")."""
        if scale not in SCALES:
            raise ValidationError("scale", f"parameter 'scale' must be one of {SCALES}, got "
                                           f"{scale!r}")
        return self.toy if scale == "toy" and self.toy is not None else \
            getattr(self, "quick" if scale == "toy" else scale)

    def text(self, key: str, form: Callable = str) -> str:
        """``quick [full]`` for protocol prose, e.g. "10 [12]" (one value if they agree)."""
        quick, full = form(self.quick[key]), form(self.full[key])
        return quick if quick == full else f"{quick} [{full}]"


def number_list(values) -> str:
    """Values as "a, b, c" with %g formatting (for protocol prose)."""
    return ", ".join(f"{v:g}" for v in values)


@dataclass
class ClaimResult:
    """Outcome of one claim's protocol.

    ``sensitivity`` lists {"choice", "verdict"}: the verdict the same data give under each
    other reasonable protocol choice we know of.
    """

    verdict: str
    estimate: float | None
    ci95: list | None
    details: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)  # name -> pandas DataFrame
    sensitivity: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValidationError("verdict", f"verdict must be one of {VERDICTS}, got "
                                             f"{self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper (or of the framework) with its pre-registered protocol."""

    id: str
    source: str
    statement: str
    protocol: str
    expected: float | None
    measure: Callable[["ClaimContext"], ClaimResult]
    plot: Callable[[dict, object], list]  # (tables, figure directory) -> figure file names


def _stream(seed: int, key: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(key.encode()),))


@dataclass
class ClaimContext:
    """What a measurement may depend on, and its only road to the simulator.

    ``scale`` picks the protocol sizes; ``seed`` is the user's ``--seed``; ``target`` the
    Brian2 codegen target every run uses; ``workers``/``scheduler`` run sweep cells on local
    processes or a dask cluster; ``cache_dir`` roots their resumable cell caches.
    ``runs`` logs every simulation of this claim: {"what", "target", "seed"}.
    """

    scale: str = "quick"
    seed: int = 1
    target: str = "auto"
    workers: int = 1
    scheduler: str | None = None
    cache_dir: str | None = None
    claim_id: str = "claim"
    runs: list = field(default_factory=list)
    _shared: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValidationError("scale", f"parameter 'scale' must be one of {SCALES}, got "
                                           f"{self.scale!r}")

    def for_claim(self, claim_id: str) -> "ClaimContext":
        """A context for claim ``claim_id``: its own seed streams and run log; shared
        experiments (:meth:`shared`) are still computed once per verify run."""
        return dataclasses.replace(self, claim_id=claim_id, runs=[])

    @property
    def quick(self) -> bool:
        return self.scale != "full"

    def sizes(self, sizes: Sizes) -> Mapping:
        """This context's entry of ``sizes``."""
        return sizes.at(self.scale)

    # -- seeds --------------------------------------------------------------------------------
    def seed_for(self, purpose: str, *, shared: bool = False) -> int:
        """A seed (0 <= seed < 2^31) for ``purpose``, derived from ``--seed`` and the claim id
        (or from ``--seed`` alone for a ``shared`` experiment that several claims read)."""
        key = purpose if shared else f"{self.claim_id}/{purpose}"
        return int(_stream(self.seed, key).generate_state(1, np.uint32)[0] % 2 ** 31)

    def rng(self, purpose: str, *, shared: bool = False) -> np.random.Generator:
        """A numpy Generator for ``purpose`` (operands, bootstrap, ...), like :meth:`seed_for`."""
        return np.random.default_rng(self.seed_for(purpose, shared=shared))

    # -- the road to the simulator -------------------------------------------------------------
    def _log(self, what: str, record, seed) -> None:
        """Log a run with the target its SpikeRecord says it ran on."""
        self.runs.append({"what": what, "target": record.metadata["target"], "seed": seed})

    def simulate(self, circuit, inputs=None, duration=None, *, seed: int, **options):
        """:func:`evsim.simulate` on this context's target with ``seed`` (from :meth:`seed_for`)."""
        from evsim import simulate

        record = simulate(circuit, inputs, duration, seed=seed, target=self.target, **options)
        self._log(f"simulate {circuit.name}", record, seed)
        return record

    def run_mechanism(self, mechanism, operands: dict, *, seed: int):
        """:func:`circuits.mechanisms.run_mechanism` on this context's target."""
        from circuits.mechanisms import run_mechanism

        spikes, record = run_mechanism(mechanism, operands, seed=seed, target=self.target)
        self._log(f"mechanism {mechanism.name}", record, seed)
        return spikes, record

    def run_head(self, q, k, v, *, seed: int, **options):
        """:func:`circuits.attention.run_head` on this context's target."""
        from circuits.attention import run_head

        result = run_head(q, k, v, seed=seed, target=self.target, **options)
        self._log("attention head", result[2], seed)
        return result

    def sweep(self, function: Callable[..., dict], grid: dict):
        """:func:`evsim.sweep.run_sweep` of ``function`` over ``grid`` with this context's
        target added to every cell. ``function`` takes ``target`` and ``seed`` (from ``grid``)
        and returns, under "ran_on", the target its simulation reported."""
        from evsim.sweep import run_sweep

        cells = run_sweep(function, {**grid, "target": [self.target]}, self.sweep_cache(),
                          workers=self.workers, scheduler=self.scheduler, progress=False)
        for cell in cells.itertuples():
            self.runs.append({"what": f"sweep cell {function.__name__}",
                              "target": cell.ran_on, "seed": cell.seed})
        return cells

    def shared(self, key: str, compute: Callable[[], object]):
        """``compute()`` once per verify run for ``key`` (e.g. one softmax run that three claims
        read); later calls return the same value and log the same runs. ``compute`` must take
        its seeds with ``shared=True``."""
        if key in self._shared:
            value, runs = self._shared[key]
            self.runs.extend(runs)
            return value
        start = len(self.runs)
        value = compute()
        self._shared[key] = (value, self.runs[start:])
        return value

    @property
    def targets_used(self) -> str | None:
        """The target this claim's runs used (None if it simulated nothing)."""
        targets = sorted({run["target"] for run in self.runs})
        return ", ".join(targets) if targets else None

    def sweep_cache(self) -> Path:
        """The directory where this claim caches finished sweep cells (keys carry a code
        fingerprint, so a cache shared by checkouts never feeds stale cells)."""
        from evsim.store import cache_root

        return Path(self.cache_dir or cache_root()) / "sweeps" / self.claim_id


# -- verdict helpers ---------------------------------------------------------------------------

def interval_verdict(ci, low: float, high: float) -> str:
    """supported if the CI lies within [low, high], refuted if it misses it, else partial."""
    if low <= ci[0] and ci[1] <= high:
        return "supported"
    return "refuted" if ci[1] < low or ci[0] > high else "partial"


def all_or_none(outcomes) -> str:
    """supported if every outcome is true, refuted if none is, else partial."""
    outcomes = [bool(o) for o in outcomes]
    if not outcomes:
        raise ValidationError("outcomes", "parameter 'outcomes' must not be empty")
    return "supported" if all(outcomes) else "refuted" if not any(outcomes) else "partial"


def threshold_verdict(value: float, *, supported_at: float, refuted_below: float) -> str:
    """supported if value >= supported_at, refuted if value < refuted_below, else partial."""
    return "supported" if value >= supported_at else \
        "refuted" if value < refuted_below else "partial"
