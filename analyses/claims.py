"""The registry of paper claims: id -> protocol -> measurement -> verdict.

A claim's ``measure`` runs the pre-registered protocol and returns a :class:`ClaimResult`
with tables; its ``plot`` redraws the figures from those tables alone, so ``evsim plot`` can
redo figures without simulating. The verdict is decided inside ``measure`` by the rule stated
in ``protocol`` before the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from evsim.errors import ValidationError

__all__ = ["VERDICTS", "ClaimContext", "ClaimResult", "Claim", "REGISTRY", "PLANNED",
           "register", "select"]

VERDICTS = ("supported", "refuted", "partial", "not-testable")

#: Every claim id of DESIGN.md; those not in REGISTRY yet are reported as not implemented.
PLANNED = (
    "lif.fi_curve", "softmax.stochastic.rate", "softmax.stochastic.prefactor",
    "softmax.deterministic.rate", "softmax.ablations", "attention.mechanisms",
    "attention.equivariance", "attention.universal", "bounds.spike_count", "deff.range",
    "deff.t4", "design.constant", "energy.ratio", "a2os2a.capacity", "hyper.monotonic",
)


@dataclass(frozen=True)
class ClaimContext:
    """What a measurement may depend on: size (quick or full), seed, codegen target, where
    sweep cells run (local worker processes or a dask scheduler) and the root of their
    resumable cell caches."""

    quick: bool = True
    seed: int = 1
    target: str = "numpy"
    workers: int = 1
    scheduler: str | None = None  # dask.distributed address; None: local processes
    cache_dir: str | None = None  # default: $EVSIM_CACHE_DIR or ~/.cache/evsim, + /sweeps

    def sweep_cache(self, claim_id: str):
        """The directory where claim ``claim_id`` caches finished sweep cells."""
        import os
        from pathlib import Path

        root = self.cache_dir or os.environ.get("EVSIM_CACHE_DIR",
                                                Path.home() / ".cache" / "evsim")
        return Path(root) / "sweeps" / claim_id


@dataclass
class ClaimResult:
    """Outcome of one claim's protocol."""

    verdict: str
    estimate: float | None
    ci95: list | None
    details: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)  # name -> pandas DataFrame

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValidationError("verdict", f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper (or of the framework) with its pre-registered protocol."""

    id: str
    source: str
    statement: str
    protocol: str
    expected: float | None
    measure: Callable[[ClaimContext], ClaimResult]
    plot: Callable[[dict, object], list]  # (tables, figure directory) -> figure file names


REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to the registry (ids must be unique and planned in DESIGN.md)."""
    if claim.id not in PLANNED:
        raise ValidationError("id", f"claim id '{claim.id}' is not one of the DESIGN.md ids {PLANNED}")
    if claim.id in REGISTRY:
        raise ValidationError("id", f"claim id '{claim.id}' is already registered")
    REGISTRY[claim.id] = claim
    return claim


def select(only=None) -> list[Claim]:
    """The claims to run: all registered ones (in DESIGN.md order), or those named in
    ``only`` (in the given order)."""
    _load_registry()
    if not only:  # in the order of DESIGN.md's claims table
        return sorted(REGISTRY.values(), key=lambda claim: PLANNED.index(claim.id))
    chosen = []
    for claim_id in only:
        if claim_id in REGISTRY:
            chosen.append(REGISTRY[claim_id])
        elif claim_id in PLANNED:
            raise ValidationError("only", f"claim '{claim_id}' is planned but not implemented yet; "
                             f"implemented: {sorted(REGISTRY)}")
        else:
            raise ValidationError("only", f"unknown claim id '{claim_id}'; accepted: {sorted(REGISTRY)}")
    return chosen


def _load_registry() -> None:
    """Import the modules that register claims (kept here so the registry has one entry point)."""
    from . import (  # noqa: F401
        attention_claims,
        deff_claims,
        design_rules,
        fi_curve,
        hyper_claims,
        softmax_claims,
        spike_bounds,
    )
