"""Every verdict rule on synthetic tables: each verdict it can reach, in milliseconds.

Rules that cannot reach both "supported" and "refuted" say so in their protocol; that is
checked here too.
"""

import numpy as np
import pandas as pd
import pytest

from analyses.claims import all_or_none, get_claim, interval_verdict, threshold_verdict
from analyses.claims.attention import equivariance_rule, mechanisms_rule
from analyses.claims.bounds import (bounds_rule, judge_exponent, lower_bound_exponent,
                                    tightness_rule)
from analyses.claims.capacity import capacity_rule
from analyses.claims.design import design_rule
from analyses.claims.energy import energy_rule
from analyses.claims.hyper import hyper_rule
from analyses.claims.lif import fi_rule, fi_verdict
from analyses.claims.softmax import (circuit_rate_rule, deterministic_rule, floor_observed,
                                     shift_outcome)
from evsim import ValidationError


# -- generic helpers ----------------------------------------------------------------------------

@pytest.mark.parametrize("ci, verdict", [([0.96, 1.04], "supported"), ([1.06, 1.2], "refuted"),
                                         ([0.8, 0.9], "refuted"), ([0.9, 1.0], "partial")])
def test_interval_verdict(ci, verdict):
    assert interval_verdict(ci, 0.95, 1.05) == verdict


@pytest.mark.parametrize("outcomes, verdict", [([True, True], "supported"),
                                               ([False, False], "refuted"),
                                               ([True, False], "partial")])
def test_all_or_none(outcomes, verdict):
    assert all_or_none(outcomes) == verdict


def test_all_or_none_needs_outcomes():
    with pytest.raises(ValidationError, match="'outcomes' must not be empty"):
        all_or_none([])


@pytest.mark.parametrize("value, verdict", [(3000, "supported"), (2500, "supported"),
                                            (49, "refuted"), (50, "partial"), (400, "partial")])
def test_threshold_verdict(value, verdict):
    assert threshold_verdict(value, supported_at=2500, refuted_below=50) == verdict


# -- per claim ----------------------------------------------------------------------------------

def _fi_table(errors_min, errors_max, below_spikes=0):
    return pd.DataFrame({"analytic_hz": [0.0, 50.0, 80.0], "spikes": [below_spikes, 100, 160],
                         "isi_error_min_steps": [np.nan, *errors_min],
                         "isi_error_max_steps": [np.nan, *errors_max]})


@pytest.mark.parametrize("table, verdict", [
    (_fi_table([-0.7, -0.5], [-0.6, -0.1]), "supported"),
    (_fi_table([-1.5, -0.5], [-0.6, -0.1]), "refuted"),  # an ISI more than a step short
    (_fi_table([-0.7, -0.5], [-0.6, 0.3]), "refuted"),  # an ISI longer than the period
    (_fi_table([-0.7, -0.5], [-0.6, -0.1], below_spikes=2), "refuted"),  # spikes below rheobase
])
def test_fi_rule(table, verdict):
    assert fi_rule(table)[0] == verdict


def test_fi_verdict_needs_the_euler_control_rejected():
    good, bad = _fi_table([-0.7, -0.5], [-0.6, -0.1]), _fi_table([-2.0, -0.5], [-0.6, -0.1])
    assert fi_verdict(good, bad) == "supported"
    assert fi_verdict(bad, bad) == "refuted"
    assert fi_verdict(good, good) == "not-testable"  # the control passes: the rule is blind


HOLDS, OFF = [0.995, 1.004], [1.02, 1.04]  # CIs of mean N / T


@pytest.mark.parametrize("ci, settled, total, verdict", [
    ([-0.52, -0.47], True, HOLDS, "supported"),
    ([-0.52, -0.47], False, HOLDS, "partial"),
    ([-0.52, -0.47], True, OFF, "partial"),
    ([-0.7, -0.6], True, HOLDS, "partial"),
    ([-0.42, -0.30], True, HOLDS, "refuted"),
    ([-0.42, -0.30], False, OFF, "refuted"),
    ([-0.5, -0.4], True, HOLDS, "partial")])
def test_circuit_rate_rule(ci, settled, total, verdict):
    """Supported only inside [-0.55, -0.45], after settling, with the total held within 2%;
    slower than T^-1/2 is refuted; anything else is partial."""
    assert circuit_rate_rule(ci, settled, total) == verdict


@pytest.mark.parametrize("ci, outcome", [([0.97, 1.01], "absorbed"), ([1.11, 1.13], "changed"),
                                         ([0.5, 0.8], "changed"), ([0.95, 1.2], "inconclusive")])
def test_shift_outcome(ci, outcome):
    assert shift_outcome(ci) == outcome


@pytest.mark.parametrize("ci, verdict", [([-1.05, -0.95], "supported"),
                                         ([-0.5, -0.4], "refuted"), ([-0.8, -0.6], "partial")])
def test_deterministic_rule(ci, verdict):
    assert deterministic_rule(ci) == verdict


def test_floor_rule_and_ablation_verdicts():
    assert floor_observed([-0.2, 0.1]) and not floor_observed([-0.6, -0.4])
    predicted = [False, False, True, True]
    assert all_or_none([floor_observed(ci) == p for ci, p in zip(
        [[-0.6, -0.4], [-0.7, -0.45], [-0.1, 0.1], [-0.2, 0.0]], predicted)]) == "supported"
    assert all_or_none([floor_observed(ci) == p for ci, p in zip(
        [[-0.1, 0.1], [-0.2, 0.0], [-0.6, -0.4], [-0.7, -0.5]], predicted)]) == "refuted"


def _comparisons(mismatches=(0, 0), reference=(30, 40), pitfall=(5, 7)):
    return pd.DataFrame({"mismatches": mismatches, "reference_spikes": reference,
                         "outputs": [100, 100], "mismatches_vs_pitfall": pitfall})


@pytest.mark.parametrize("table, verdict", [
    (_comparisons(), "supported"), (_comparisons(mismatches=(0, 1)), "refuted"),
    (_comparisons(reference=(0, 40)), "not-testable"),  # vacuous: no reference spikes
    (_comparisons(reference=(100, 40)), "not-testable"),  # vacuous: every output spikes
    (_comparisons(pitfall=(0, 7)), "not-testable"),  # insensitive: could not have failed
])
def test_mechanisms_rule(table, verdict):
    assert mechanisms_rule(table) == verdict


@pytest.mark.parametrize("mismatches, rejected, caught, verdict", [
    (0, False, True, "supported"), (3, False, True, "refuted"), (0, True, True, "refuted"),
    (0, False, False, "not-testable")])
def test_equivariance_rule(mismatches, rejected, caught, verdict):
    assert equivariance_rule(mismatches, rejected, caught) == verdict


# attention.universal's rule: tests/test_universal.py (it takes the residual and control CIs).


@pytest.mark.parametrize("ci, claimed, judgement", [
    ([1.9, 2.1], 2.0, "agrees"), ([0.9, 1.1], 2.0, "contradicts"),
    ([2.5, 2.6], 2.0, "contradicts"), ([1.8, 2.5], 2.0, "inconclusive")])
def test_judge_exponent(ci, claimed, judgement):
    assert judge_exponent(ci, claimed) == judgement


@pytest.mark.parametrize("groups, verdict", [
    ({("s", "r"): {"L": "holds", "n": "holds"}, ("d", "r"): {"L": "holds", "n": "holds"}},
     "supported"),
    ({("s", "r"): {"L": "holds", "n": "holds"}, ("d", "r"): {"L": "below", "n": "holds"}},
     "refuted"),  # one valid code beats the bound
    ({("s", "r"): {"L": "inconclusive", "n": "holds"},
      ("d", "r"): {"L": "holds", "n": "holds"}}, "partial"),
])
def test_bounds_rule(groups, verdict):
    assert bounds_rule(groups) == verdict


def test_lower_bound_and_tightness_judgements():
    assert lower_bound_exponent([1.0, 1.05], 2.0) == "below"
    assert lower_bound_exponent([1.75, 2.6], 2.0) == "holds"  # faster growth obeys a lower bound
    assert lower_bound_exponent([1.6, 1.9], 2.0) == "inconclusive"
    assert tightness_rule({("s", "r"): {"L": "agrees"}, ("d", "r"): {"L": "contradicts"}}) \
        == "partial"
    assert tightness_rule({("s", "r"): {"L": "contradicts"}, ("d", "r"): {"L": "contradicts"}}) \
        == "refuted"
    assert tightness_rule({("s", "r"): {"L": "agrees"}}) == "supported"


def test_deff_range_says_it_cannot_decide():
    assert "can reach neither supported nor refuted" in get_claim("deff.range").protocol


@pytest.mark.parametrize("ci, r2, wrong, verdict", [([2.0, 2.5], 0.95, 0.8, "supported"),
                                                    ([0.6, 0.8], 0.95, 0.8, "partial"),
                                                    ([2.0, 2.5], 0.95, 0.93, "partial"),
                                                    ([2.0, 2.5], 0.5, 0.3, "refuted"),
                                                    ([2.0, 2.5], np.nan, 0.3, "not-testable")])
def test_design_rule(ci, r2, wrong, verdict):
    """The third case: a wrong form fits the left-out configurations almost as well."""
    assert design_rule(ci, r2, wrong) == verdict


@pytest.mark.parametrize("low, high, verdict", [([40, 60], [50, 70], "supported"),
                                               ([2, 30], [3, 37.9], "refuted"),
                                               ([2, 45], [3, 50], "partial"),
                                               ([36, 40], [41, 45], "partial")])
def test_energy_rule(low, high, verdict):
    """On ratio CIs: all at or above 38 supported, all below refuted, else partial."""
    assert energy_rule(low, high) == verdict


def _codes(binary=(1.0, 0.999, 1.0), ternary=(1.585, 1.584, 1.585), relu=12.0):
    return pd.DataFrame({"capacity_bits": [1.0, np.log2(3), 30.99],
                         "entropy_bits": [binary[0], ternary[0], relu],
                         "ci_low": [binary[1], ternary[1], np.nan],
                         "ci_high": [binary[2], ternary[2], np.nan]})


@pytest.mark.parametrize("codes, verdict", [
    (_codes(), "supported"),
    (_codes(binary=(0.9, 0.89, 0.91)), "refuted"),  # binary code misses its capacity
    (_codes(ternary=(1.7, 1.69, 1.71)), "refuted"),  # above capacity
    (_codes(binary=(1.004, 1.002, 1.006)), "refuted"),  # CI above capacity, within 0.01 of it
    (_codes(relu=1.2), "refuted"),  # order binary < ternary < ReLU broken
])
def test_capacity_rule(codes, verdict):
    assert capacity_rule(codes)[0] == verdict


@pytest.mark.parametrize("outcomes, verdict", [([True] * 4, "supported"),
                                               ([False, False, False, True], "refuted"),
                                               ([False, False, True, True], "partial"),
                                               ([False, True, True, True], "partial")])
def test_hyper_rule(outcomes, verdict):
    assert hyper_rule(outcomes) == verdict


def test_rules_take_the_alternative_choices_their_sensitivity_lists_use():
    assert deterministic_rule([-1.15, -0.85], (-1.2, -0.8)) == "supported"
    assert deterministic_rule([-1.15, -0.85]) == "partial"
    assert circuit_rate_rule([-0.58, -0.5], True, HOLDS, (-0.6, -0.4)) == "supported"
    assert circuit_rate_rule([-0.58, -0.5], True, HOLDS) == "partial"
    assert judge_exponent([1.6, 2.4], 2.0, tolerance=0.5) == "agrees"
    assert judge_exponent([1.6, 2.4], 2.0) == "inconclusive"
    assert energy_rule([40, 60], [45, 70], threshold=57) == "partial"
    assert design_rule([2.0, 2.5], 0.95, 0.8, min_r2=0.97) == "refuted"
