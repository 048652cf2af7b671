"""attention.universal's rule on synthetic tables: pooled trends with Holm-controlled unit
checks (each verdict every rule function can reach; one flat unit of eight no longer refutes
alone, a flat trend shared by the units still does), supported only if every SDSA-only unit
falls (intersection-union) and the SDSA-only networks predict half the residual's variance,
the sensitivity rows, the earlier rules and the claim's label."""

import numpy as np
import pandas as pd
import pytest

from analyses.claims import get_claim
from analyses.claims.universal import (EARLIER_ROWS, SUPPORT, per_unit_verdict,
                                       pooled_trend, sdsa_carries, universal_fits,
                                       universal_judge, universal_rule, universal_sensitivity,
                                       universal_verdict)
from evsim import ValidationError

WIDTHS, TIMES, SETS, RESAMPLES = (4, 16, 64), (16, 32, 64, 128, 256), 40, 200
TARGETS = ("attention_1", "attention_2", "moments_1", "moments_2")  # x 2 draws = 8 units


# -- pooling and p-values -----------------------------------------------------------------------

def test_pooled_trend_is_the_mean_of_paired_units_with_holm_adjusted_p_values():
    rng = np.random.default_rng(0)
    units = {f"u{k}": np.concatenate([[-0.05], -0.05 + rng.normal(0, 0.02, 400)])
             for k in range(7)}
    units["flat"] = np.concatenate([[0.0], rng.normal(0, 0.02, 400)])
    pooled = pooled_trend(units)
    assert pooled["estimate"] == pytest.approx(-0.05 * 7 / 8)
    assert pooled["ci"][1] < 0  # one flat unit does not lift the pooled CI to 0
    flat = pooled["units"]["flat"]
    assert flat["p"] > 0.2 and flat["p_holm"] >= flat["p"]
    assert all(u["p_holm"] >= u["p"] for u in pooled["units"].values())
    with pytest.raises(ValidationError, match="units"):
        pooled_trend({})


def test_pooled_trend_over_units_widens_with_their_spread():
    """t-interval over the units' estimates: tight bootstraps, but units that disagree."""
    rng = np.random.default_rng(1)
    spread = {f"u{k}": np.concatenate([[v], v + rng.normal(0, 0.002, 400)])
              for k, v in enumerate([-0.2, 0.15, -0.1, 0.12])}
    assert pooled_trend(spread)["ci"][1] < 0  # test sets alone: -0.0075 is significant
    over_units = pooled_trend(spread, between_units=True)
    assert over_units["estimate"] == pytest.approx(-0.0075)
    assert over_units["ci"][0] < -0.1 and over_units["ci"][1] > 0.1


# -- the rule -----------------------------------------------------------------------------------

def test_rule_reaches_every_verdict():
    falls, flat = [-0.3, -0.1], [-0.05, 0.02]

    def rule(error=(falls, falls), residual=(falls, 0.0), valid=True, sdsa=True, **options):
        return universal_rule(list(error), residual, valid, sdsa, **options)
    assert rule() == "supported"
    assert rule(sdsa=False) == "partial"  # the error falls, SDSA does not carry enough of it
    assert rule(error=(flat, falls)) == "refuted"  # no gain from width
    assert rule(error=(falls, flat)) == "refuted"  # no gain from T
    assert rule(residual=(flat, 0.0)) == "refuted"  # no higher-order mixing
    assert rule(residual=([0.9, 1.01], 1.0)) == "refuted"  # the level criterion
    assert rule(residual=([0.9, 0.98], 1.0)) == "supported"
    assert rule(valid=False) == "not-testable"
    assert rule(slope_below=-0.2) == "refuted"
    assert rule(residual=(flat, 0.0), valid=False) == "not-testable"  # an invalid test first
    assert rule(sdsa=False, valid=False) == "not-testable"


def test_sdsa_carries_needs_every_unit_and_half_the_variance():
    """Today's condition: every unit's p below 0.05 (intersection-union) AND the pooled share
    of the residual's variance left below 0.5; each half alone and b42268f's pooled slope."""
    small, one_flat = [0.0025] * 8, [0.0025] * 7 + [0.43]
    falls, half, little = [-0.05, -0.03], [0.30, 0.45], [0.80, 0.95]
    verdicts = lambda p, left: [sdsa_carries(p, falls, left, c) for c in SUPPORT]  # noqa: E731
    assert SUPPORT[0] == "every unit falls and half the variance"  # today's rule
    assert verdicts(small, half) == [True, True, True, True]
    assert verdicts(one_flat, half) == [False, False, True, True]  # one unit blocks it
    assert verdicts(small, little) == [False, True, False, True]  # too small an effect
    assert verdicts(one_flat, little) == [False, False, False, True]  # b42268f: supported
    assert sdsa_carries(small, [-0.05, 0.01], half, "pooled slope") is False
    assert sdsa_carries([0.049] * 8, falls, [0.3, 0.4999]) is True  # the bounds are strict
    assert sdsa_carries([0.05] * 8, falls, half) is False
    assert sdsa_carries(small, falls, [0.3, 0.5]) is False
    with pytest.raises(ValidationError, match="condition"):
        sdsa_carries(small, falls, half, "pooled level")


def _tables(width_slope=-0.3, T_slope=-0.3, control_ratio=1.02, position_ratio=0.3,
            plateau_at=None, fixed_width_slope=None, network=0):
    """Synthetic errors of one network draw: an equivariant target with NRMSE 0.2
    (W/64)^width_slope (T/256)^T_slope (constant beyond ``plateau_at`` in T), a control at
    control_ratio x its floor 0.8, a position-aware read-out at position_ratio x the floor."""
    rng = np.random.default_rng(7 + network)
    sst = 1 + 0.2 * np.random.default_rng(7).random(SETS)
    noise = np.exp(rng.normal(0, 0.05, (len(WIDTHS) + 1, len(TIMES), SETS)))
    rows = []
    for penalty in ("gcv", "fixed"):
        slope = width_slope if penalty == "gcv" or fixed_width_slope is None \
            else fixed_width_slope
        for w_index, width in enumerate((0,) + WIDTHS):
            for t_index, T in enumerate(TIMES):
                t_eff = T if plateau_at is None else min(T, plateau_at)
                equivariant = 0.2 * (max(width, 2) / 64) ** slope * (t_eff / 256) ** T_slope
                for name, family, nrmse in (("deep_sets_1", "deep_sets", equivariant),
                                            ("control_1", "control", 0.8 * control_ratio)):
                    sse = nrmse ** 2 * sst * noise[w_index, t_index]
                    rows += [dict(target=name, family=family, penalty=penalty, width=width, T=T,
                                  set=s, sse=sse[s], sst=sst[s]) for s in range(SETS)]
    position = pd.DataFrame(dict(target="control_1", set=np.arange(SETS),
                                 sse=(0.8 * position_ratio) ** 2 * sst))
    return pd.DataFrame(rows), position


FLOOR = pd.DataFrame(dict(target="control_1", set=np.arange(SETS),
                          sse=0.64 * (1 + 0.2 * np.random.default_rng(7).random(SETS)),
                          sst=1 + 0.2 * np.random.default_rng(7).random(SETS)))


def _residual_entry(slope, level, first, rng, spread=0.015) -> dict:
    """One residual fit with bootstrap arrays (point first) of sd ``spread`` around the values."""
    boot = {key: np.concatenate([[value], value + rng.normal(0, spread, RESAMPLES)])
            for key, value in (("width_slope", slope), ("level", level), ("first_layer", first))}
    ci = {key: [float(np.percentile(b[1:], 2.5)), float(np.percentile(b[1:], 97.5))]
          for key, b in boot.items()}
    return {"network": {16: [0.95, [0.92, 0.98]], 64: [level, ci["level"]]},
            "width_slope": [slope, ci["width_slope"]], "first_layer": [first, ci["first_layer"]],
            "boot": boot}


def _residuals(slopes, level=0.6, first=1.0, seed=0) -> list:
    """Per draw {target: entry} for 2 draws x TARGETS; ``slopes``, ``level`` (NRMSE at the
    largest width) and ``first`` one value or 8 (draw-major)."""
    rng = np.random.default_rng(seed)
    slopes, level, first = (np.broadcast_to(v, 8) for v in (slopes, level, first))
    return [{name: _residual_entry(slopes[4 * r + k], level[4 * r + k], first[4 * r + k], rng)
             for k, name in enumerate(TARGETS)} for r in range(2)]


def _runs(residual=-0.06, attention=-0.04, plain=0.0, first=1.0, level=0.6,
          attention_level=0.65, **table_options) -> dict:
    """Synthetic runs of 2 network draws: the network, SDSA only and no second mixing layer
    (the same error tables; residual width slopes ``residual``, ``attention``, ``plain``; the
    network's and the SDSA-only residual NRMSE at the largest width ``level`` and
    ``attention_level``; the no-mixing networks' 1)."""
    tables = [_tables(network=r, **table_options) for r in range(2)]
    runs = {}
    for k, (path, slopes, at_largest) in enumerate((("full", residual, level),
                                                    ("sdsa", attention, attention_level),
                                                    ("none", plain, 1.0))):
        per_draw = _residuals(slopes, at_largest, first=first if path == "full" else 1.0,
                              seed=k)
        runs[path] = [dict(errors=errors, position=position, residual=per_draw[r],
                           residual_earlier_T=per_draw[r])
                      for r, (errors, position) in enumerate(tables)]
    return runs


def _judge(runs, **options):
    return universal_judge(runs, FLOOR, seed=0, resamples=RESAMPLES, **options)


def test_judge_reaches_every_verdict_on_synthetic_runs():
    assert _judge(_runs())[0] == "supported"
    assert _judge(_runs(attention=0.0))[0] == "partial"  # mean pooling carries it
    assert _judge(_runs(attention_level=0.95))[0] == "partial"  # SDSA predicts only 10 %
    assert _judge(_runs(width_slope=0.0))[0] == "refuted"  # no gain from width
    assert _judge(_runs(T_slope=0.02))[0] == "refuted"  # no gain from T
    assert _judge(_runs(residual=0.0))[0] == "refuted"  # first-order at most
    assert _judge(_runs(residual=0.01))[0] == "refuted"  # a rising trend
    assert _judge(_runs(control_ratio=0.8))[0] == "not-testable"  # beats its floor: a leak
    assert _judge(_runs(position_ratio=1.0))[0] == "not-testable"  # control cannot tell
    assert _judge(_runs(plain=-0.05))[0] == "not-testable"  # the floor leaks without mixing
    assert _judge(_runs(), equivariant=False)[0] == "not-testable"
    assert _judge(_runs(first=0.9))[0] == "not-testable"  # the first layer predicts it


def test_verdict_reads_the_evidence():
    verdict, evidence = _judge(_runs())
    assert universal_verdict(evidence) == verdict == "supported"
    assert evidence["checks"] and all(evidence["checks"].values())
    evidence["checks"]["circuit exactly equivariant"] = False
    assert universal_verdict(evidence) == "not-testable"
    assert universal_verdict(evidence, slope_below=-0.5) == "not-testable"  # validity first
    evidence["checks"]["circuit exactly equivariant"] = True
    assert universal_verdict(evidence, slope_below=-0.5) == "refuted"
    partial = _judge(_runs(attention=0.0))[1]
    assert universal_verdict(partial) == "partial"
    assert universal_verdict(partial, support="half the variance") == "supported"
    left = evidence["pooled"]["SDSA-only residual variance left at the largest width"]
    assert left["estimate"] == pytest.approx(0.65 ** 2, abs=0.01)


def test_one_flat_unit_of_eight_no_longer_refutes_alone():
    """Seed 3's case: one residual interval of eight reaches 0; the per-unit rule (before
    issue 27) refutes, the pooled rule does not; a flat trend shared by all units refutes."""
    slopes = [-0.06] * 7 + [0.0]
    runs = _runs(residual=slopes)
    verdict, evidence = _judge(runs)
    units = evidence["pooled"]["higher-order residual"]["units"]
    assert units["moments_2 / network 2"]["p_holm"] > 0.05  # the flat unit, alone
    assert verdict == "supported"
    fits = evidence["fits"]
    assert per_unit_verdict(fits, [run["residual"] for run in runs["full"]]) == "refuted"
    assert _judge(_runs(residual=[0.0] * 8))[0] == "refuted"
    assert _judge(_runs(residual=[-0.01] * 4 + [0.01] * 4))[0] == "refuted"


def test_one_flat_sdsa_unit_of_eight_blocks_supported_but_does_not_refute():
    """Seed 1's case (moments_2 / network 1: SDSA-only slope -0.001, p = 0.43, NRMSE 1.005):
    the intersection-union test fails, so partial; b42268f's pooled slope said supported."""
    runs = _runs(attention=[-0.04] * 7 + [0.0], attention_level=[0.6] * 7 + [1.0])
    verdict, evidence = _judge(runs)
    slope = evidence["pooled"]["SDSA-only residual width slope"]
    assert slope["units"]["moments_2 / network 2"]["p"] > 0.05
    assert all(u["p"] < 0.05 for k, u in slope["units"].items() if k != "moments_2 / network 2")
    assert slope["ci"][1] < 0  # pooled, the SDSA-only residual falls
    left = evidence["pooled"]["SDSA-only residual variance left at the largest width"]
    assert left["ci"][1] < 0.5  # and more than half its variance is predicted
    assert verdict == "partial"
    assert _judge(runs, support="pooled slope")[0] == "supported"  # b42268f's rule
    assert _judge(runs, support="half the variance")[0] == "supported"
    assert _judge(runs, support="every unit falls")[0] == "partial"


def test_a_small_effect_in_every_unit_is_partial():
    """Seed 3's case: every SDSA-only unit falls, but they predict about a fifth of the
    residual's variance (NRMSE 0.9): the half-variance condition blocks supported."""
    runs = _runs(attention=-0.05, attention_level=0.9)
    assert _judge(runs)[0] == "partial"
    rows = _sensitivity(runs)
    assert rows["supported if every SDSA-only unit's residual falls with width"] == "supported"
    assert rows["supported if the SDSA-only networks leave less than 0.5 of the residual's "
                "variance at the largest width"] == "partial"
    assert rows[EARLIER_ROWS["b42268f"]] == "supported"


def test_one_noisy_first_layer_unit_needs_holm_to_void_the_test():
    """A first-layer NRMSE whose own 95% CI lies just below 1 voided the test before (per
    unit); under Holm over eight units it does not, a clearly predictive one does."""
    barely = [1.0] * 7 + [0.965]
    runs = _runs(first=barely)
    verdict, evidence = _judge(runs)
    unit = evidence["first_layer"]["units"]["moments_2 / network 2"]
    assert unit["p"] < 0.05 < unit["p_holm"]
    assert verdict == "supported"
    assert per_unit_verdict(evidence["fits"],
                            [run["residual"] for run in runs["full"]]) == "not-testable"
    assert _judge(_runs(first=[1.0] * 7 + [0.9]))[0] == "not-testable"


def test_per_unit_rule_reaches_partial_refuted_and_not_testable_only():
    runs = _runs()
    fits = _judge(runs)[1]["fits"]
    residuals = [run["residual"] for run in runs["full"]]
    assert per_unit_verdict(fits, residuals) == "partial"  # never supported
    assert per_unit_verdict(fits, residuals, slope_below=-0.5) == "refuted"
    assert per_unit_verdict(fits, residuals, equivariant=False) == "not-testable"
    flat = [run["residual"] for run in _runs(residual=0.0)["full"]]
    assert per_unit_verdict(fits, flat) == "refuted"
    assert per_unit_verdict(fits, flat, residual_level=True) == "partial"  # level 0.6 < 1
    assert per_unit_verdict(fits, [{}, {}]) == "partial"  # 7372b39: no residual test


def test_fits_report_the_numbers_and_pair_the_draws():
    errors, position = _tables()
    fits = universal_fits(errors, FLOOR, position, seed=0, resamples=RESAMPLES)
    target = fits["targets"]["deep_sets_1"]
    assert target["width_slope"] == pytest.approx(-0.3, abs=0.05)
    assert target["T_slope"] == pytest.approx(-0.3, abs=0.05)
    assert target["boot"]["width_slope"][0] == target["width_slope"]
    assert len(target["boot"]["width_slope"]) == RESAMPLES + 1
    control = fits["targets"]["control_1"]
    assert control["floor"] == pytest.approx(0.8, abs=1e-9)
    assert control["ratio_to_floor"][-1][-1] == pytest.approx(1.02, abs=0.02)
    assert control["position_ratio_to_floor_ci"][1] < 1
    # the same seed resamples the same test sets: identical tables give identical replicates
    again = universal_fits(errors, FLOOR, position, seed=0, resamples=RESAMPLES)
    assert np.array_equal(again["targets"]["deep_sets_1"]["boot"]["T_slope"],
                          target["boot"]["T_slope"])


# -- sensitivity and the earlier rules ----------------------------------------------------------

def _sensitivity(runs) -> dict:
    rows = universal_sensitivity(runs, FLOOR, _judge(runs)[1]["fits"], seed=0,
                                 resamples=RESAMPLES)
    assert len({row["choice"] for row in rows}) == len(rows)
    return {row["choice"].split(" (")[0]: row["verdict"] for row in rows} | \
        {row["choice"]: row["verdict"] for row in rows}


def test_sensitivity_alternatives_can_flip_the_verdict():
    slow = _sensitivity(_runs(width_slope=-0.05))  # falls, but slower than the rate threshold
    assert slow["every pooled error slope CI below -0.1"] == "refuted"
    # T stops helping at 64 steps; the fixed penalty's read-out gains nothing from width
    plateau = _runs(plateau_at=64, fixed_width_slope=0.0)
    assert _judge(plateau)[0] == "supported"
    rows = _sensitivity(plateau)
    assert rows["T slope over the three largest T only"] == "refuted"
    assert rows["fixed ridge penalty 1 instead of generalised cross-validation"] == "refuted"
    rows = _sensitivity(_runs(attention=-0.1))
    assert rows["higher-order residual judged by its pooled level at the largest width"] == \
        "supported"
    share = "supported only if each SDSA-only unit's residual slope is also at least 0.5 of " \
            "the network's"
    assert rows[share] == "supported"
    assert rows["the networks without a second mixing layer judged as the network"] == \
        "refuted"  # the power check
    assert rows["network draw 1 alone"] == rows["network draw 2 alone"] == "supported"
    assert rows["CIs of the pooled trends as t-intervals over the units"] == "supported"
    weak = _runs(residual=-0.1, attention=-0.04)  # SDSA carries 40 % of the network's trend
    assert _judge(weak)[0] == "supported" and _sensitivity(weak)[share] == "partial"


def test_earlier_rules_are_sensitivity_rows_and_one_flat_unit_refutes_them():
    runs = _runs(residual=[-0.06] * 7 + [0.0])
    rows = universal_sensitivity(runs, FLOOR, _judge(runs)[1]["fits"], seed=0,
                                 resamples=RESAMPLES)
    claim = get_claim("attention.universal")
    history = {e["replaced_in"]: e for e in (earlier.on(rows) for earlier in claim.rule.history)}
    assert history["issue 27"]["verdict_today"] == "refuted"  # one flat unit decided it
    assert history["issue 27 (referee)"]["verdict_today"] == "supported"  # b42268f's
    assert history["89af9c6"]["verdict_today"] == "partial"  # judged by level (0.6 < 1)
    assert history["c8cf59b"]["verdict_today"] == "partial"  # no residual test
    assert history["7372b39"]["verdict_today"] is None and history["7372b39"]["note"]
    assert all(e["changed_after_data"] for e in history.values())
    assert set(EARLIER_ROWS.values()) <= {row["choice"] for row in rows}
    assert _judge(runs)[0] == "supported"


# -- the claim ----------------------------------------------------------------------------------

def test_claim_is_measured_and_its_rule_can_reach_supported_and_refuted():
    claim = get_claim("attention.universal")
    assert claim.basis.decided_by == "measured"
    assert "not universality itself" in claim.basis.scope
    assert "network weight draw" in " ".join(claim.basis.ci_leaves_out)
    assert "target draw" in " ".join(claim.basis.ci_leaves_out)
    assert universal_rule in claim.rule.functions and universal_judge in claim.rule.functions
    assert sdsa_carries in claim.rule.functions
    assert claim.rule.thresholds["alpha_holm"] == claim.rule.thresholds["sdsa_unit_alpha_iut"] \
        == 0.05
    assert claim.rule.thresholds["sdsa_variance_left_below"] == 0.5
    assert "Holm" in claim.protocol and "pooled" in claim.protocol
    assert "intersection-union" in claim.protocol and "half of the residual's" in claim.protocol
    assert "written after the quick-run numbers were seen" in claim.protocol
    assert "intersection-union" in claim.basis.why
