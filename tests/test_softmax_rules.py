"""The four softmax claims' verdict rules on synthetic tables (every verdict each can reach),
their decided_by labels, their rule histories, and the LIF row that softmax.stochastic.rate
reads from the ablations' shared run (stubbed here: no simulation, milliseconds)."""

import numpy as np
import pandas as pd
import pytest

from analyses.claims import ClaimContext, get_claim
from analyses.claims import softmax
from analyses.claims.softmax import (ABLATIONS, ARITHMETIC_FLOORS, DATA_DECIDED,
                                     FLOOR_PREDICTED, RESET_LIF,
                                     ablation_rule, circuit_rate_rule, deterministic_rule,
                                     floor_observed, prefactor_rule)

HOLDS, OFF = [0.995, 1.004], [1.02, 1.04]  # CIs of mean N / T


@pytest.mark.parametrize("ci, settled, total, verdict", [
    ([-0.52, -0.47], True, HOLDS, "supported"),
    ([-0.52, -0.47], False, HOLDS, "partial"),  # read before settling
    ([-0.52, -0.47], True, OFF, "partial"),  # total off by more than 2%
    ([-0.7, -0.6], True, HOLDS, "partial"),  # faster than T^-1/2
    ([-0.5, -0.4], True, HOLDS, "partial"),  # straddles the band's upper end
    ([-0.42, -0.30], True, HOLDS, "refuted"),  # slower than T^-1/2 (a floor)
    ([-0.42, -0.30], False, OFF, "refuted")])
def test_circuit_rate_rule_reaches_every_verdict(ci, settled, total, verdict):
    assert circuit_rate_rule(ci, settled, total) == verdict


def test_circuit_rate_rule_without_the_total_is_the_rule_before_c2f0765():
    assert circuit_rate_rule([-0.52, -0.47], True, OFF) == "partial"
    assert circuit_rate_rule([-0.52, -0.47], True, OFF,
                             total_band=(-np.inf, np.inf)) == "supported"


@pytest.mark.parametrize("ci, verdict", [([0.97, 1.03], "supported"), ([1.06, 1.2], "refuted"),
                                         ([0.8, 0.94], "refuted"), ([0.99, 1.08], "partial")])
def test_prefactor_rule_reaches_every_verdict(ci, verdict):
    assert prefactor_rule(ci) == verdict


@pytest.mark.parametrize("ci, verdict", [([-1.05, -0.95], "supported"),
                                         ([-0.5, -0.4], "refuted"),  # not faster than 1/sqrt T
                                         ([-0.93, -0.88], "partial")])  # faster, outside band
def test_deterministic_rule_reaches_every_verdict(ci, verdict):
    assert deterministic_rule(ci) == verdict


def test_floor_observed():
    assert floor_observed([-0.3, 0.1]) and not floor_observed([-0.6, -0.4])


def _observed(misses=()):
    """Observed floors: each prediction met, except the conditions in ``misses``."""
    return {c: floor != (c in misses) for c, floor in FLOOR_PREDICTED.items()}


@pytest.mark.parametrize("misses, verdict", [
    ((), "supported"), ((RESET_LIF,), "partial"), (tuple(ABLATIONS), "refuted")])
def test_ablation_rule_reaches_every_verdict(misses, verdict):
    assert ablation_rule(_observed(misses)) == verdict


def test_the_headline_judges_the_seven_predictions_the_data_decide():
    """The three arithmetic predictions (controls) would block refuted, so the headline rule
    leaves them out; with them in (the rule before issue 27) misses of all the others give only
    partial. One miss decides at most partial either way."""
    assert set(DATA_DECIDED) == set(ABLATIONS) - set(ARITHMETIC_FLOORS) and len(DATA_DECIDED) == 7
    all_data_miss = _observed(tuple(DATA_DECIDED))
    assert ablation_rule(all_data_miss) == "partial"
    assert ablation_rule(all_data_miss, DATA_DECIDED) == "refuted"
    assert ablation_rule(_observed((RESET_LIF,)), DATA_DECIDED) == "partial"
    assert ablation_rule(_observed(), DATA_DECIDED) == "supported"


@pytest.mark.parametrize("claim_id, decided_by", [
    ("softmax.stochastic.rate", "measured"), ("softmax.stochastic.prefactor", "measured"),
    ("softmax.deterministic.rate", "derived"), ("softmax.ablations", "measured")])
def test_decided_by_labels(claim_id, decided_by):
    claim = get_claim(claim_id)
    assert claim.basis.decided_by == decided_by
    assert claim.basis.ci_leaves_out and claim.rule.functions


def test_scopes_name_what_they_leave_out():
    assert "not the LIF with reset" in get_claim("softmax.stochastic.rate").basis.scope
    deterministic = get_claim("softmax.deterministic.rate").basis
    assert "input encoding" in deterministic.scope and "floor()" in deterministic.why


def test_earlier_rules_name_existing_sensitivity_rows():
    """Each earlier rule's `today` is a choice text the claim's measure writes."""
    written = {softmax.HISTOGRAM_AT_MOST_CHOICE, softmax.NO_TOTAL_CHOICE,
               softmax.PREFACTOR_HISTOGRAM_CHOICE, softmax.DETERMINISTIC_HISTOGRAM_CHOICE,
               softmax.ABLATIONS_BEFORE_EE9DBEA_CHOICE, softmax.ALL_TEN_CHOICE}
    for claim in softmax.CLAIMS:
        assert claim.rule.history, claim.id
        for earlier in claim.rule.history:
            assert earlier.changed_after_data
            assert earlier.today in written or (earlier.today is None and earlier.note)


def _lif_table(floor: float, seed: int = 0) -> pd.DataFrame:
    """A synthetic errors table (rows ordered T, vector, seed) whose mean error is
    0.3/sqrt(T) + ``floor`` and whose count holds N = T."""
    rng = np.random.default_rng(seed)
    rows = [dict(T=T, vector=v, seed=s, N=T,
                 tv_circuit=(0.3 / np.sqrt(T) + floor) * rng.uniform(0.9, 1.1))
            for T in (16, 45, 128, 362, 609) for v in range(4) for s in range(5)]
    return pd.DataFrame(rows).assign(settle_s=1.0)


@pytest.fixture
def stub_runs(monkeypatch):
    """install(floor) replaces the ablation simulations by synthetic tables (the reset LIF's
    error with that floor) and returns the list of conditions run."""
    def install(floor: float = 0.1) -> list:
        calls = []

        def run(context, condition):
            calls.append(condition)
            return _lif_table(floor if condition == RESET_LIF else 0.0), pd.DataFrame()

        monkeypatch.setattr(softmax, "_run_condition", run)
        return calls
    return install


def test_rate_claim_reads_the_ablations_lif_run_without_running_it_again(stub_runs):
    calls = stub_runs()
    verify_run = ClaimContext(scale="toy")
    ablations = softmax.ablation_run(verify_run.for_claim("softmax.ablations"), RESET_LIF)
    rate = softmax.ablation_run(verify_run.for_claim("softmax.stochastic.rate"), RESET_LIF)
    assert rate is ablations and calls == [RESET_LIF]


def test_the_ablation_seeds_are_the_ablations_claims_own_stream():
    verify_run = ClaimContext(seed=7)
    own = verify_run.for_claim("softmax.ablations").seed_for("ablation runs")
    read_by_rate = softmax._ablation_seed(verify_run.for_claim("softmax.stochastic.rate"),
                                          "ablation runs")
    assert read_by_rate == own


@pytest.mark.parametrize("floor, verdict", [(0.1, "refuted"), (0.0, "supported")])
def test_lif_row_applies_the_same_rule(stub_runs, floor, verdict):
    """A floor (as the reset LIF shows) is refuted by the rate rule; 1/sqrt T passes."""
    stub_runs(floor)
    row = softmax._lif_rate(ClaimContext(scale="toy"), seed=0)
    assert row["verdict_by_same_rule"] == verdict
    assert row["settled_before_readout"] and row["ci95_count_over_T"] == [1.0, 1.0]
    assert "n = 8, temperature 1" in row["differs_from_S_protocol"]
