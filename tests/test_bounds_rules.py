"""The verdict rules of bounds.spike_count (Bernoulli codes) and bounds.spike_count.deterministic
(every code, tested with sigma-delta) on synthetic exponent tables, their labels, and the one
experiment both claims read."""

import json

import numpy as np
import pandas as pd
import pytest

from analyses.claims import bounds as claims_bounds
from analyses.claims import ClaimContext, get_claim
from analyses.claims.base import bootstrap_p_values
from analyses.claims.bounds import (CLAIMED, CRITERIA, DETERMINISTIC_UNITS, L_VALUES,
                                    STOCHASTIC_UNITS, Analysis, bounds_rule,
                                    class_rule, class_units, judge_units, lower_bound_exponent,
                                    refutation_resolution, rms_L_exponent_predicted, seed_error,
                                    stochastic_basis)
from analyses.verify import verify
from evsim.errors import ValidationError

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


@pytest.mark.parametrize("replicates, units, most_above, most_below", [
    (200, 7, 0, 9), (400, 7, 1, 19), (1000, 7, 6, 49), (200, 2, 4, 9), (100, 7, -1, 4)])
def test_refutation_resolution_counts_the_replicates_a_verdict_allows(replicates, units,
                                                                      most_above, most_below):
    """Holm over 7 units refutes at 200 replicates only if none reaches the threshold
    (7/201 = 0.035; one gives 14/201 = 0.070); at 100 no unit can refute at all (7/101)."""
    found = refutation_resolution(replicates, units)
    assert found["refutes_if_at_most_this_many_replicates_reach_the_threshold"] == most_above
    assert found["holds_if_at_most_this_many_replicates_fall_below"] == most_below
    assert found["smallest_p_below_holm"] == pytest.approx(units / (replicates + 1), abs=1e-5)
    assert found["an_exact_test_would_allow"] == pytest.approx(0.05 / units * replicates, abs=0.01)


def test_the_rule_refutes_exactly_up_to_the_stated_resolution(seed):
    """The counts refutation_resolution states are the ones class_rule acts on."""
    stated = refutation_resolution(REPLICATES, len(STOCHASTIC_UNITS))
    most = stated["refutes_if_at_most_this_many_replicates_reach_the_threshold"]
    for above, verdict in ((most, "refuted"), (most + 1, "partial")):
        units = judge_units(synthetic(seed, **{"stochastic/frequency/L": with_above(
            above, 1.7, seed)}), STOCHASTIC_UNITS)
        assert class_rule(units) == verdict
    holds = stated["holds_if_at_most_this_many_replicates_fall_below"]
    for below, verdict in ((holds, "supported"), (holds + 1, "partial")):
        values = with_above(REPLICATES - below, 1.7, seed)
        units = judge_units(synthetic(seed, **{"stochastic/frequency/L": values}),
                            STOCHASTIC_UNITS)
        assert class_rule(units) == verdict


def test_seed_error_orders_the_criteria_by_how_extreme_they_are():
    """Per-seed sup-norm errors 1..5 (and per-seed RMS 1..5) at one checkpoint and one target:
    median 3, 90th percentile 4.6, worst 5, RMS sqrt(11)."""
    per_seed = np.arange(1.0, 6.0).reshape(1, 1, 5)
    cell = {"rms_stochastic": per_seed, "worst_stochastic": per_seed}
    found = {c: float(seed_error(cell, "stochastic", c)[0, 0]) for c in CRITERIA}
    assert found == pytest.approx({"rms": np.sqrt(11), "median": 3.0, "q90": 4.6, "worst": 5.0})
    assert float(seed_error(cell, "stochastic", "worst", [0, 0, 1])[0, 0]) == 2.0
    with pytest.raises(ValidationError):
        seed_error(cell, "stochastic", "max")


def test_rms_predicts_an_L_exponent_below_the_threshold_for_sin(seed):
    """To first order the RMS cost of sin(L h) goes as L^2 E[cos^2(L h)]: E[cos^2] falls from
    near 1 towards 1/2 over L = 0.5-4, so the L exponent fitted on that grid lies below
    2 - 0.3 though spikes / bound stays bounded below (the reason RMS does not decide)."""
    found = rms_L_exponent_predicted((2, 4, 8), np.random.default_rng(seed), draws=20_000)
    weights = [found["E_cos2_by_L"][f"{L:g}"] for L in L_VALUES]
    assert weights[0] > 0.9 and np.all(np.diff(weights) < 0) and 0.35 < weights[-1] < 0.55
    assert 1.5 < found["L_exponent"] < CLAIMED["L"] - 0.3


def test_the_stochastic_scope_says_what_rms_gives(seed):
    assert "sensitivity rows" in stochastic_basis().scope
    rms = judge_units(synthetic(seed, **{"stochastic/frequency/L": np.full(REPLICATES, 1.47)}),
                      STOCHASTIC_UNITS)
    basis = stochastic_basis(rms)
    assert "under RMS the same rule says refuted (sin(L h) L exponent 1.47)" in basis.scope
    assert basis.decided_by == "measured" and basis.why == stochastic_basis().why


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
    assert "docs/theory.md section 4.2" in stochastic.basis.why
    assert "the abstract names no code class" in stochastic.statement
    assert deterministic.source == "arXiv:2604.15769, abstract (its unqualified statement)"
    assert "as the abstract states it" in deterministic.statement
    assert stochastic.rule.thresholds["ALPHA"] == 0.05
    assert stochastic.rule.thresholds["TOLERANCE"] == 0.3
    assert stochastic.rule.thresholds["HEADLINE"] == "worst"
    assert [(e.replaced_in, e.changed_after_data) for e in stochastic.rule.history] == \
        [("a65bdee", True), ("2474f52", True), ("issue 27", True)]
    assert [(e.replaced_in, e.changed_after_data) for e in deterministic.rule.history] == \
        [("issue 27", True)]
    assert "Holm" in stochastic.protocol and "7 units" in stochastic.protocol
    assert "refutes only if at most 0 [1] of its replicates" in stochastic.protocol


@pytest.mark.slow  # a toy verify of two claims
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
    for entry in entries:  # the criteria from least to most extreme, as sensitivity rows
        choices = [row["choice"] for row in entry["sensitivity"]]
        for start in ("RMS error over", "median over seeds", "90th percentile over seeds"):
            assert sum(c.startswith(start) and "instead of the worst case" in c
                       for c in choices) == 1, start
        assert list(entry["details"]["by_criterion"]) == list(CRITERIA)
        assert entry["details"]["bootstrap_resolution"]["replicates"] == 4  # toy size
    assert "under RMS the same rule says" in entries[0]["scope"]
    assert "E_cos2_by_L" in entries[0]["details"]["rms_L_exponent_predicted"]
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


@pytest.mark.parametrize("criterion", ["rms", "q90"])
def test_bootstrap_of_all_draws_at_once_is_the_replicate_by_replicate_refit(criterion):
    """The bootstrap computes each cell's curves for every draw that picked it at once; its
    replicates are those of resampling cells and seeds and refitting one replicate at a time,
    curve by curve (the error over the picked seeds, where it first reaches eps, the spikes
    interpolated there; OLS per code and family), number for number, from the same random
    numbers."""
    from analyses.bounds import crossing_T
    from analyses.claims.bounds import CODES, COMBOS, _bootstrap_draws, fit_exponents

    rng = np.random.default_rng(4)
    T, seeds = 2 ** np.arange(10), 5
    cells = []
    for n, d in ((2, 2), (4, 2), (2, 4)):
        cell = {"n": n, "d": d, "T": T}
        for code in CODES:
            scale = rng.uniform(0.2, 1, (1, len(COMBOS), seeds)) * np.sqrt(n * d) / 2
            cell[f"rms_{code}"] = scale / np.sqrt(T)[:, None, None]
            cell[f"worst_{code}"] = 2 * cell[f"rms_{code}"] * rng.uniform(1, 1.5, cell[
                f"rms_{code}"].shape)
            cell[f"spikes_{code}"] = T[:, None] * rng.uniform(5, 10, seeds) * n * d
        cells.append(cell)
    cells, eps, resamples = pd.DataFrame(cells), (0.5, 0.2, 0.1), 6
    got = _bootstrap_draws(cells, eps, seeds, resamples, np.random.default_rng(9), criterion)
    draw, rows = np.random.default_rng(9), []
    for replicate in range(resamples):
        drawn = cells.iloc[draw.integers(0, len(cells), len(cells))]
        picks = [draw.integers(0, seeds, seeds) for _ in range(len(drawn))]
        table = []
        for (_, cell), pick in zip(drawn.iterrows(), picks):
            for code in CODES:
                error = seed_error(cell, code, criterion, pick)  # (K, combos)
                spikes = np.log(np.maximum(cell[f"spikes_{code}"][:, pick].mean(axis=1), 1e-9))
                for c, (L, family) in enumerate(COMBOS):
                    for e in eps:
                        T_star = crossing_T(error[:, c], T, e)[0]
                        T_star = np.nan if T_star is None else T_star
                        table.append(dict(code=code, family=family, L=L, n=cell["n"],
                                          d=cell["d"], eps=e, spikes=np.exp(np.interp(
                                              np.log(T_star), np.log(T), spikes))))
        for (code, family), group in pd.DataFrame(table).groupby(["code", "family"]):
            fit = fit_exponents(group)
            rows += [dict(code=code, family=family, exponent=name, replicate=replicate,
                          value=fit[name]) for name in ("L", "n", "d", "1/eps")]
    expected = pd.DataFrame(rows)
    assert expected.value.notna().sum() > len(expected) / 2
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
