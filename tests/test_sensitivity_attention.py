"""The attention claims' sensitivity lists: alternatives on synthetic tables can flip the
headline verdict (every claim's list is checked at toy scale in test_claims_provenance)."""

import pandas as pd

from analyses.claims.attention import (equivariance_sensitivity, equivariance_verdict,
                                       mechanisms_rule, mechanisms_sensitivity)


def _verdicts(sensitivity) -> dict:
    """{first word(s) of the choice: verdict} for readable assertions."""
    return {entry["choice"].split(" (")[0]: entry["verdict"] for entry in sensitivity}


# -- attention.mechanisms --------------------------------------------------------------------

def _comparisons(reference=(30, 40, 30, 40), pitfall=(5, 7, 5, 7)):
    """Two mechanisms at N = 4 and 16, 100 outputs each, no mismatch."""
    return pd.DataFrame({"mechanism": ["ssa", "dssa", "ssa", "dssa"], "N": [4, 4, 16, 16],
                         "mismatches": 0, "outputs": 100, "reference_spikes": reference,
                         "mismatches_vs_pitfall": pitfall})


def test_mechanisms_alternatives_can_flip_the_verdict():
    sparse = _comparisons(reference=(5, 40, 30, 40))  # 5% spikes: vacuous only at 10%
    assert mechanisms_rule(sparse) == "supported"
    assert _verdicts(mechanisms_sensitivity(sparse))[
        "vacuous at <= 10% or >= 90% reference spikes instead of 1% / 99%"] == "not-testable"

    small_insensitive = _comparisons(pitfall=(0, 7, 5, 7))  # ssa at N = 4 could not fail
    assert mechanisms_rule(small_insensitive) == "not-testable"
    flipped = _verdicts(mechanisms_sensitivity(small_insensitive))
    assert flipped["pitfall control per mechanism"] == "supported"
    assert flipped["only the largest size"] == "supported"


# -- attention.equivariance ------------------------------------------------------------------

def _equivariance_tables(head_p=0.005, control_p=0.001, patch2_mismatches=12):
    table = pd.DataFrame({"mechanism": ["ssa", "dssa", "dssa", "ssa"], "patch": [1, 1, 2, 1],
                          "control": [False, False, False, True],
                          "mismatches": [0, 0, patch2_mismatches, 40]})
    head = pd.DataFrame({"control": [False] * 4 + [True] * 4, "query": [0, 1, 2, 3] * 2,
                         "p": [head_p, 0.5, 0.6, 0.7, control_p, 0.5, 0.6, 0.7]})
    return table, head


def test_equivariance_alternatives_can_flip_the_verdict():
    table, head = _equivariance_tables()
    assert equivariance_verdict(table, head) == "supported"  # 0.005, 0.001 vs 0.01 / 4
    assert _verdicts(equivariance_sensitivity(table, head)) == {
        "alpha 0.05 instead of 0.01": "refuted",  # the head's 0.005 < 0.0125
        "alpha 0.001 instead of 0.01": "not-testable",  # the control's 0.001 > 0.00025
        "no Bonferroni correction": "refuted",
        "DSSA with patch 2 counted among the equivariant mechanisms": "refuted"}


# attention.universal's alternatives are tested on synthetic tables in test_universal.py.
