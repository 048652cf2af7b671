"""energy.formula: counted synaptic events against the events the papers' formula prices, read
from the one run of the mechanism circuits that energy.ratio reads too."""

import json

import numpy as np
import pandas as pd
import pytest

from analyses.claims import ClaimContext, get_claim
from analyses.claims.energy import (FORMULA_BAND, against_dense, formula_verdict,
                                    judge_cells, pricing)
from analyses.verify import verify
from evsim import ValidationError


def _cells(**ci_by_mechanism) -> pd.DataFrame:
    """A synthetic table: per mechanism, a list of (ci_low, ci_high) cells."""
    return pd.DataFrame([dict(mechanism=name, priced=(low + high) / 2, priced_low=low,
                              priced_high=high)
                         for name, cis in ci_by_mechanism.items() for low, high in cis])


def test_a_mechanism_is_priced_mispriced_or_mixed_by_every_cell_ci():
    table = _cells(exact=[(0.9, 1.1), (0.8, 1.25)], above=[(1.7, 3.0), (13, 105)],
                   below=[(0.1, 0.3), (0.5, 0.79)], both_sides=[(0.1, 0.3), (2, 3)],
                   one_inside=[(2, 3), (0.9, 1.1)], straddles=[(1.1, 1.4), (1.0, 1.2)])
    assert pricing(table.mechanism, table.priced_low, table.priced_high) == {
        "exact": "priced", "above": "mispriced", "below": "mispriced",
        "both_sides": "mispriced", "one_inside": "mixed", "straddles": "mixed"}


@pytest.mark.parametrize("cis, verdict", [
    (dict(ssa=[(0.9, 1.1)], sdsa=[(0.85, 1.2), (0.95, 1.05)]), "supported"),
    (dict(ssa=[(5.3, 6.7)], sdsa=[(1.55, 3.0)], a2os2a=[(13, 107)]), "refuted"),
    (dict(ssa=[(0.9, 1.1)], sdsa=[(1.55, 3.0)]), "partial"),
    (dict(ssa=[(5.3, 6.7)], sdsa=[(1.2, 1.4), (1.6, 3.0)]), "partial"),
])
def test_the_rule_reaches_every_verdict(cis, verdict):
    table = _cells(**cis)
    assert formula_verdict(pricing(table.mechanism, table.priced_low,
                                   table.priced_high)) == verdict
    assert judge_cells(table) == verdict


def test_the_band_and_point_estimates_change_what_is_priced():
    table = _cells(ssa=[(1.1, 1.4)], sdsa=[(0.7, 0.9)])
    assert judge_cells(table) == "partial"
    assert judge_cells(table, band=(0.67, 1.5)) == "supported"
    assert judge_cells(table, point=True) == "supported"  # 1.25 and 0.8: on the band's edges
    assert FORMULA_BAND == (0.8, 1.25)


def test_an_empty_judgement_is_an_error():
    with pytest.raises(ValidationError, match="per_mechanism"):
        formula_verdict({})


def test_the_dense_mac_count_scales_the_ratio_and_its_ci():
    """2 N D matched against 2 N^2 D dense MACs (N = 8): the formula prices 8x more events."""
    table = _cells(sdsa=[(1.6, 3.0)]).assign(matched_macs=128, dense_macs=1024)
    dense = against_dense(table)
    assert dense[["priced", "priced_low", "priced_high"]].iloc[0].tolist() == \
        pytest.approx([2.3 / 8, 0.2, 3.0 / 8])
    assert judge_cells(dense) == "refuted"


def test_the_claims_basis_and_rule():
    claim = get_claim("energy.formula")
    assert claim.basis.decided_by == "measured"
    assert get_claim("energy.ratio").basis.decided_by == "fixed"
    assert "N = 8 and 16, T = 4" in claim.basis.scope
    assert claim.rule.thresholds["FORMULA_BAND"] == (0.8, 1.25)
    assert claim.rule.history == ()


def test_the_shared_run_keeps_energy_ratios_seeds():
    """The shared experiment takes the seed purposes energy.ratio had alone: same numbers."""
    context = ClaimContext(seed=1)
    alone = context.for_claim("energy.ratio")
    for purpose in ("operands and weights", "runs", "bootstrap"):
        for reader in ("energy.ratio", "energy.formula"):
            assert context.for_claim(reader).seed_for(f"energy.ratio/{purpose}", shared=True) \
                == alone.seed_for(purpose)


@pytest.mark.slow  # a toy verify of two claims
def test_both_claims_read_one_run_of_the_mechanisms(tmp_path, monkeypatch):
    import circuits.mechanisms

    calls, run = [], circuits.mechanisms.run_mechanism

    def counted(mechanism, *args, **kwargs):
        calls.append(mechanism.name)
        return run(mechanism, *args, **kwargs)

    monkeypatch.setattr(circuits.mechanisms, "run_mechanism", counted)
    entries = verify(tmp_path / "run", scale="toy", only=["energy.ratio", "energy.formula"],
                     progress=False)
    assert sorted(calls) == sorted(["ssa", "sdsa", "qkta", "dssa", "a2os2a"])
    ratio, formula = (pd.read_csv(tmp_path / "run" / "tables" / claim / f"{name}.csv")
                      for claim, name in (("energy.ratio", "energy"),
                                          ("energy.formula", "formula")))
    pd.testing.assert_frame_equal(ratio, formula)
    priced = formula.synaptic_events / (formula.fr * formula["T"] * formula.matched_macs)
    assert np.allclose(formula.priced, priced)
    assert np.allclose(formula.priced, formula.paper_formula_ratio / formula.ratio)
    assert (formula.priced_low <= formula.priced).all()
    assert (formula.priced <= formula.priced_high).all()
    by_id = {entry["id"]: entry for entry in entries}
    assert by_id["energy.formula"]["decided_by"] == "measured"
    assert by_id["energy.formula"]["verdict"] in ("supported", "refuted", "partial")
    assert "energy.formula" in by_id["energy.ratio"]["details"]["finding"]
    claims = json.loads((tmp_path / "run" / "claims.json").read_text())["claims"]
    assert "figures/energy_formula.pdf" in {c["id"]: c for c in claims}["energy.formula"][
        "figures"]
    assert (tmp_path / "run" / "figures" / "energy_formula.pdf").exists()
