"""A claim that takes milliseconds, for testing verify's plumbing (CLI, seeds, reports,
reproducibility) without the real claims' work: 8 Bernoulli sources at p = 0.3 per step
simulated through the claim context for 200 steps; the claim "the rate is 0.3 per step" is
judged by the binomial 95% interval of the observed rate against the band 0.3 +- 0.05.

``use_stub_claim(monkeypatch)`` adds it to the registered claims as ``stub.rate``.
"""

import numpy as np
import pandas as pd
from brian2 import ms

from analyses.claims import Basis, Claim, ClaimResult, Rule, interval_verdict
from evsim import simulate

P, NEURONS, STEPS = 0.3, 8, 200


BAND = 0.05


def stub_rule(ci: list, band: float = BAND) -> str:
    """supported if the interval lies within P +- band, refuted if it misses it."""
    return interval_verdict(ci, P - band, P + band)


def measure(context) -> ClaimResult:
    from circuits import bernoulli_encoder

    seed = context.seed_for("run")
    record = simulate(bernoulli_encoder(NEURONS), {"values": P}, STEPS * ms,
                              trials=2, dt=1 * ms, seed=seed)
    spikes = int(record.counts["enc"][-1].sum())
    n = 2 * NEURONS * STEPS
    rate = spikes / n
    half = 1.96 * np.sqrt(rate * (1 - rate) / n)
    ci = [rate - half, rate + half]
    table = pd.DataFrame({"spikes": [spikes], "neuron_steps": [n], "rate": [rate]})
    return ClaimResult(stub_rule(ci), rate, ci, {"spikes": spikes}, {"rate": table},
                       [{"choice": "band +- 0.1", "verdict": stub_rule(ci, 0.1)}])


def plot(tables, directory) -> list:
    return []


STUB = Claim("stub.rate", "tests", "Bernoulli sources fire at their probability per step.",
             "8 sources, 2 trials, 200 steps; binomial 95% interval.", P, measure, plot,
             rule=Rule((stub_rule,), {"p": P, "band": BAND}),
             basis=Basis("measured", "a test stub", "the simulated spike count", ()))


class _Module:
    CLAIMS = (STUB,)


def use_stub_claim(monkeypatch) -> str:
    """Register the stub claim (for this test); its id."""
    import analyses.claims as claims

    monkeypatch.setattr(claims, "MODULES", claims.MODULES + (_Module,))
    return STUB.id
