"""The claims evsim verifies, one module per claim family.

:data:`MODULES` is the only list of claims: each module defines a ``CLAIMS`` tuple, and the
order of the modules (then of each tuple) is the order of every report. Adding a claim means
writing it in its family's module, or adding a new module to this tuple.
"""

from __future__ import annotations

from evsim.errors import ValidationError

from . import (attention, bounds, capacity, deff, design, energy, hyper, lif, model_deff,
               model_design, model_energy, model_import, model_t4, softmax, universal)
from .base import (DECIDED_BY, SCALES, VERDICTS, Basis, Claim, ClaimContext, ClaimResult,
                   EarlierRule, Rule, Sizes, all_or_none, interval_verdict, threshold_verdict)

__all__ = ["MODULES", "all_claims", "select", "get_claim", "Claim", "ClaimContext",
           "ClaimResult", "Sizes", "Basis", "Rule", "EarlierRule", "VERDICTS", "SCALES",
           "DECIDED_BY", "interval_verdict", "all_or_none", "threshold_verdict"]

#: Claim modules in report order (that of DESIGN.md's claims table).
MODULES = (lif, softmax, attention, universal, bounds, deff, design, energy, capacity, hyper,
           model_import, model_t4, model_deff, model_design, model_energy)


def all_claims() -> tuple[Claim, ...]:
    """Every claim, in report order."""
    return tuple(claim for module in MODULES for claim in module.CLAIMS)


def get_claim(claim_id: str) -> Claim:
    """The claim with id ``claim_id`` (one clear error for an unknown id)."""
    for claim in all_claims():
        if claim.id == claim_id:
            return claim
    raise ValidationError("only", f"unknown claim id '{claim_id}'; accepted: "
                                  f"{[c.id for c in all_claims()]}")


def select(only=None) -> list[Claim]:
    """The claims to run: all of them in report order, or those named in ``only`` (in the
    given order)."""
    return list(all_claims()) if not only else [get_claim(claim_id) for claim_id in only]
