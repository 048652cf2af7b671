"""The verdict rules of bounds.spike_count (Bernoulli codes) and bounds.spike_count.deterministic
(every code, tested with sigma-delta) on synthetic exponent tables, their labels, and the one
experiment both claims read."""

import json

import numpy as np
import pandas as pd
import pytest

from analyses.claims import bounds as claims_bounds
from analyses.claims import ClaimContext, get_claim
from analyses.claims.bounds import (CLAIMED, DETERMINISTIC_UNITS, STOCHASTIC_UNITS, Analysis,
                                    bootstrap_p_values, bounds_rule, class_rule, class_units,
                                    judge_units, lower_bound_exponent)
from analyses.verify import verify

REPLICATES = 200


def synthetic(seed, **shifted) -> Analysis:
    """An Analysis whose replicates are N(claimed, 0.05) for every (code, family, exponent),
    except ``shifted``: {"code/family/exponent": replicates}."""
    rng = np.random.default_rng(seed)
    exponents, draws = [], []
    for code in ("stochastic", "deterministic"):
        for family in ("range", "frequency"):
            for name, claimed in CLAIMED.items():
                values = np.asarray(shifted.get(f"{code}/{family}/{name}",
                                                rng.normal(claimed, 0.05, REPLICATES)), float)
                tested = not np.isnan(values).all()
                low, high = np.nanpercentile(values, [2.5, 97.5]) if tested else (np.nan,) * 2
                exponents.append(dict(code=code, family=family, exponent=name,
                                      estimate=np.nanmean(values) if tested else np.nan,
                                      ci_low=low, ci_high=high, claimed=claimed))
                draws += [dict(code=code, family=family, exponent=name, replicate=r, value=v)
                          for r, v in enumerate(values)]
    return Analysis(pd.DataFrame(), pd.DataFrame(exponents), pd.DataFrame(draws))


def with_above(count: int, threshold: float, seed) -> np.ndarray:
    """REPLICATES values of which exactly ``count`` lie at or above ``threshold``."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(threshold - 0.4, threshold - 0.05, REPLICATES - count),
                           rng.uniform(threshold, threshold + 0.1, count)])


def test_bootstrap_p_values_count_replicates_on_each_side():
    values = [1.0] * 9 + [2.0]
    assert bootstrap_p_values(values, 1.7) == pytest.approx((2 / 11, 10 / 11))
    assert bootstrap_p_values([np.nan, 1.0], 1.7) == pytest.approx((1 / 2, 2 / 2))
    assert np.isnan(bootstrap_p_values([np.nan, np.nan], 1.7)).all()


def test_units_leave_out_the_range_scaled_L_exponent():
    """Its exponent equals 1/eps's by construction: counted once, not twice."""
    assert len(STOCHASTIC_UNITS) == 7 and ("stochastic", "range", "L") not in STOCHASTIC_UNITS
    assert ("stochastic", "frequency", "L") in STOCHASTIC_UNITS
    assert DETERMINISTIC_UNITS == (("deterministic", "range", "1/eps"),
                                   ("deterministic", "frequency", "1/eps"))
    assert len(class_units("deterministic")) == 7


@pytest.mark.parametrize("shifted, verdict", [
    ({}, "supported"),
    # one exponent of one target far below (every replicate under 1.7): refuted even after Holm
    ({"stochastic/frequency/L": np.full(REPLICATES, 1.47)}, "refuted"),
    # an exponent whose CI straddles claim - 0.3: neither shown below nor shown to hold
    ({"stochastic/range/n": np.linspace(0.5, 0.9, REPLICATES)}, "partial"),
    # n and d without spread (one (n, d) cell): the others hold, but not every unit was tested
    ({"stochastic/range/n": np.full(REPLICATES, np.nan),
      "stochastic/frequency/d": np.full(REPLICATES, np.nan)}, "partial"),
    ({f"stochastic/{u[1]}/{u[2]}": np.full(REPLICATES, np.nan) for u in STOCHASTIC_UNITS},
     "not-testable"),
])
def test_class_rule_reaches_each_verdict_for_the_stochastic_code(shifted, verdict, seed):
    units = judge_units(synthetic(seed, **shifted), STOCHASTIC_UNITS)
    assert list(units.p_below_holm.notna()) == list(units.p_below.notna())
    assert class_rule(units) == verdict


def test_one_weak_low_exponent_among_many_no_longer_refutes_alone(seed):
    """4 of 200 replicates at or above claim - 0.3: the CI lies below it (the rule before
    issue 27 refutes) and the raw p = 5/201 < 0.05, but Holm over 7 units gives 0.17: partial.
    With no replicate above (p = 1/201, Holm 7/201 = 0.035) the same unit still refutes."""
    weak = with_above(4, 1.7, seed)
    units = judge_units(synthetic(seed, **{"stochastic/frequency/L": weak}), STOCHASTIC_UNITS)
    row = units[(units.family == "frequency") & (units.exponent == "L")].iloc[0]
    assert row.p_below == pytest.approx(5 / 201) and row.p_below_holm == pytest.approx(35 / 201)
    assert lower_bound_exponent([row.ci_low, row.ci_high], 2.0) == "below"
    assert bounds_rule({("stochastic", "frequency"): {"L": "below"}}) == "refuted"
    assert class_rule(units, adjust=False) == "refuted"
    assert class_rule(units) == "partial"
    strong = judge_units(synthetic(seed, **{"stochastic/frequency/L": with_above(0, 1.7, seed)}),
                         STOCHASTIC_UNITS)
    assert class_rule(strong) == "refuted"


def test_the_deterministic_code_is_judged_on_its_eps_exponents_only(seed):
    """Sigma-delta's eps^-1 refutes 'the bound holds for every code'; its n or d do not enter."""
    sigma_delta = {f"deterministic/{f}/1/eps": np.random.default_rng(seed).normal(
        1.03, 0.01, REPLICATES) for f in ("range", "frequency")}
    assert class_rule(judge_units(synthetic(seed, **sigma_delta), DETERMINISTIC_UNITS)) == \
        "refuted"
    assert class_rule(judge_units(synthetic(seed), DETERMINISTIC_UNITS)) == "supported"
    straddling = {"deterministic/range/1/eps": np.linspace(1.5, 1.9, REPLICATES)}
    assert class_rule(judge_units(synthetic(seed, **straddling), DETERMINISTIC_UNITS)) == \
        "partial"
    low_n = {"deterministic/range/n": np.full(REPLICATES, 0.2)}
    assert class_rule(judge_units(synthetic(seed, **low_n), DETERMINISTIC_UNITS)) == \
        "supported"
    assert class_rule(judge_units(synthetic(seed, **low_n), class_units("deterministic"))) == \
        "refuted"


def test_tolerance_moves_the_threshold(seed):
    units = judge_units(synthetic(seed, **{"stochastic/range/d": np.full(REPLICATES, 0.75)}),
                        STOCHASTIC_UNITS, tolerance=0.2)
    assert units.threshold.tolist() == pytest.approx((units.exponent.map(CLAIMED) - 0.2).tolist())
    assert class_rule(units) == "refuted"  # 0.75 < 1 - 0.2
    assert class_rule(judge_units(synthetic(seed, **{
        "stochastic/range/d": np.full(REPLICATES, 0.75)}), STOCHASTIC_UNITS)) == "supported"


def test_labels_and_rule_history_are_pinned():
    stochastic, deterministic = get_claim("bounds.spike_count"), \
        get_claim("bounds.spike_count.deterministic")
    assert stochastic.basis.decided_by == "measured"
    assert deterministic.basis.decided_by == "derived"
    assert "stochastic (Bernoulli)" in stochastic.basis.scope
    assert "sigma-delta" in deterministic.basis.scope
    assert stochastic.rule.thresholds["ALPHA"] == 0.05
    assert stochastic.rule.thresholds["TOLERANCE"] == 0.3
    assert stochastic.rule.thresholds["HEADLINE"] == "worst"
    assert [(e.replaced_in, e.changed_after_data) for e in stochastic.rule.history] == \
        [("issue 27", True), ("2474f52", True)]
    assert [(e.replaced_in, e.changed_after_data) for e in deterministic.rule.history] == \
        [("issue 27", True)]
    assert "Holm" in stochastic.protocol and "7 units" in stochastic.protocol


def test_toy_verify_writes_both_claims_from_one_experiment(tmp_path, monkeypatch):
    """Both claims come from one sweep and one bootstrap: the experiment runs once per verify
    run, in the first claim's cache folder, and both claims log its runs."""
    calls = []
    real = claims_bounds._run_experiment

    def counted(context):
        calls.append(context.claim_id)
        return real(context)

    monkeypatch.setattr(claims_bounds, "_run_experiment", counted)
    ids = ["bounds.spike_count", "bounds.spike_count.deterministic"]
    entries = verify(tmp_path / "run", scale="toy", only=ids, progress=False,
                     cache_dir=tmp_path / "cache")
    assert calls == ["bounds.spike_count"]
    assert [e["id"] for e in entries] == ids
    assert [e["decided_by"] for e in entries] == ["measured", "derived"]
    assert all(e["target"] and e["scope"] and e["rule_history"] for e in entries)
    written = json.loads((tmp_path / "run" / "claims.json").read_text())["claims"]
    assert [e["id"] for e in written] == ids
    sweeps = tmp_path / "cache" / "sweeps"
    assert [p.name for p in sweeps.iterdir()] == ["bounds.spike_count"]
    assert len(list((sweeps / "bounds.spike_count").glob("*.json"))) == 1  # toy: one (n, d)
    # the deterministic claim alone reads the same cells from the same folder
    context = ClaimContext(scale="toy", cache_dir=str(tmp_path / "cache")).for_claim(ids[1])
    alone = get_claim(ids[1]).run(context)
    assert calls == ids
    assert alone.estimate == entries[1]["estimate"] and context.targets_used
    assert len(list((sweeps / "bounds.spike_count").glob("*.json"))) == 1
