"""Sensitivity lists of lif.fi_curve, a2os2a.capacity and hyper.monotonic: each alternative
choice on synthetic tables, where it can disagree with the headline rule (every claim's list is
checked at toy scale in test_claims_provenance)."""

import numpy as np
import pandas as pd
import pytest

from analyses.claims.capacity import capacity_rule, capacity_sensitivity, without_miller_madow
from analyses.claims.hyper import hyper_rule, hyper_sensitivity, settings, statement_outcomes
from analyses.claims.lif import fi_sensitivity, fi_verdict


def _choices(sensitivity) -> dict:
    return {item["choice"]: item["verdict"] for item in sensitivity}


def _verdict(sensitivity, fragment: str) -> str:
    (verdict,) = [v for c, v in _choices(sensitivity).items() if fragment in c]
    return verdict


# -- lif.fi_curve -----------------------------------------------------------------------------

def _fi_table(error_min, error_max, rates=(50.0, 80.0)):
    return pd.DataFrame({"analytic_hz": [0.0, 50.0, 80.0], "spikes": [0, 100, 160],
                         "rate_hz_mean": [0.0, *rates],
                         "isi_error_min_steps": [np.nan, *error_min],
                         "isi_error_max_steps": [np.nan, *error_max]})


def test_fi_alternatives_can_disagree_with_the_headline():
    exact = _fi_table([-0.9, -0.2], [-0.8, -0.1], rates=(50.2, 81.5))  # 1.9 % fast at 80 Hz
    control = _fi_table([-1.5, -1.2], [-1.5, -1.2], rates=(51.0, 82.0))  # within +-2 dt
    assert fi_verdict(exact, control) == "supported"
    sensitivity = fi_sensitivity(exact, control)
    assert _verdict(sensitivity, "+-dt/2") == "refuted"  # -0.9 steps is more than dt/2
    assert _verdict(sensitivity, "+-2 dt") == "not-testable"  # the control passes too
    assert _verdict(sensitivity, "mean rate") == "refuted"
    assert _verdict(sensitivity, "judged alone") == "supported"


def test_fi_rate_readout_can_support_what_the_isi_rule_refutes():
    exact = _fi_table([-1.4, -0.2], [-0.8, -0.1])  # an ISI 1.4 steps short, rates exact
    control = _fi_table([-3.0, -2.5], [-3.0, -2.5], rates=(55.0, 85.0))
    assert fi_verdict(exact, control) == "refuted"
    assert _verdict(fi_sensitivity(exact, control), "mean rate") == "supported"


# -- a2os2a.capacity --------------------------------------------------------------------------

def _entropy(binary=(1.00004, 0.99985, 1.00004), ternary=(1.58503, 1.58459, 1.58505),
             relu=7.9, a2os2a=(6.5, 6.3, 6.51), ssa=(3.4, 3.2, 3.5)):
    rows = [("binary", 1.0, binary, 2), ("ternary", np.log2(3), ternary, 3),
            ("relu_float32", 30.99, (relu, np.nan, np.nan), 9000),
            ("A²OS²A output words", 8.0, a2os2a, 200), ("binary SSA output words", 8.0, ssa, 30)]
    return pd.DataFrame([dict(code=code, capacity_bits=capacity, entropy_bits=e, ci_low=low,
                              ci_high=high, samples=16384, distinct=distinct)
                         for code, capacity, (e, low, high), distinct in rows])


def test_capacity_point_estimates_above_capacity_refute_what_the_rule_supports():
    table = _entropy()
    assert capacity_rule(table.iloc[:3])[0] == "supported"
    sensitivity = _choices(capacity_sensitivity(table))
    assert sensitivity["point estimates (not CI lower ends) held to the capacity"] == "refuted"
    assert sensitivity["plain plug-in entropy (no Miller-Madow correction)"] == "supported"


def test_without_miller_madow_takes_the_correction_off_estimate_and_interval():
    plain = without_miller_madow(_entropy())
    correction = 1 / (2 * 16384 * np.log(2))  # binary: two symbols
    assert plain.entropy_bits[0] == pytest.approx(1.00004 - correction)
    assert plain.ci_high[0] == pytest.approx(1.00004 - correction)
    assert plain.entropy_bits[0] <= 1.0  # the plain plug-in entropy cannot exceed log2 2


def test_capacity_ordering_by_estimates_and_output_words_can_disagree():
    table = _entropy(binary=(1.0, 0.99, 1.0), ternary=(1.58, 0.995, 1.585),  # CIs overlap
                     a2os2a=(3.5, 3.3, 3.6))  # output words no richer than SSA's
    assert capacity_rule(table.iloc[:3])[0] == "refuted"
    sensitivity = capacity_sensitivity(table)
    assert _verdict(sensitivity, "by point estimates") == "supported"
    assert _verdict(sensitivity, "output words") == "refuted"


# -- hyper.monotonic --------------------------------------------------------------------------

def _layer(threshold_miss=0.0, flat_counts=False, t_ref_rises=False):
    """A layer table built from the note's own rules (every kernel alike); the closed form
    for R_threshold off by ``threshold_miss``; the count d_eff flat if ``flat_counts``; R
    rising with t_ref (against the note) if ``t_ref_rises``."""
    table = settings()
    r_th = np.exp(-table.v_th / 40)
    table["isi_ms"] = 50.0
    table["closed_threshold"] = r_th + threshold_miss
    r_ref = 1 + table.t_ref / 50 if t_ref_rises else 1 - table.t_ref / 50
    for kind in ("counts", "sntk", "sntk_2", "sntk_10"):
        table[f"R_{kind}"] = r_th / (1 + 0.5 * table.beta ** 2) * r_ref
        table[f"deff_{kind}"] = 10 * table[f"R_{kind}"] * (1 + table.tau_m / 1000)
    if flat_counts:
        table["deff_counts"] = 5.0
    return table


def test_hyper_looser_closed_forms_support_what_the_rule_calls_partial():
    table = _layer(threshold_miss=0.15)  # within 0.2, not within 0.1
    choices = _choices(hyper_sensitivity([table]))
    assert choices["closed forms within twice their stated tolerances"] == "supported"
    assert choices["refuted if more than a third of the statements fail instead of half"] \
        == "partial"
    assert hyper_sensitivity([_layer()])[0]["verdict"] == "supported"


def test_hyper_count_kernel_can_disagree_with_the_notes_kernel():
    choices = _choices(hyper_sensitivity([_layer(flat_counts=True)]))
    assert choices["spike-count Gram kernel instead of the note's tangent kernel"] == "partial"
    assert choices["surrogate sharpness 2 instead of 5"] == "supported"


def test_hyper_statements_across_draws_majority_or_all():
    """One draw of three breaks 'R falls with t_ref' (and its closed form): the majority
    keeps the statement, requiring every draw does not."""
    tables = [_layer(), _layer(), _layer(t_ref_rises=True)]
    assert all(statement_outcomes(tables).values())
    held = statement_outcomes(tables, need="all")
    assert not held["R falls with t_ref"] and hyper_rule(held.values()) == "partial"
    assert _choices(hyper_sensitivity(tables))[
        "a statement holds only if it holds in every draw"] == "partial"


@pytest.mark.parametrize("failed, share, verdict", [(8, 1 / 3, "refuted"), (8, 0.5, "partial"),
                                                    (14, 0.5, "refuted"),
                                                    (14, 2 / 3, "partial")])
def test_hyper_rule_share_that_refutes(failed, share, verdict):
    assert hyper_rule([False] * failed + [True] * (22 - failed), share) == verdict
