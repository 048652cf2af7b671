"""Sensitivity of the deff claims: the reading of d decides deff.t4, the estimator deff.range."""

import pandas as pd

from analyses.claims.deff import (ESTIMATORS, d_needed_to_close_gap, estimator_verdict,
                                  gain_by_d, t4_verdict)


def _verdict_at(rows, d):
    return next(row["verdict"] for row in rows if row["d"] == d)


def test_reading_of_d_flips_the_t4_verdict():
    rows = gain_by_d(384 / 47, 384)  # ideal pooling over d_eff = 47 copies at d = 384
    assert _verdict_at(rows, 384) == "refuted"  # 8.2x
    assert _verdict_at(rows, 3072) == "partial"  # 65x
    assert _verdict_at(rows, 150528) == "supported"  # 3,203x >= 2,500x
    # the rule reads d per token: the per-token rows agree (refuted), the pixel rows do not
    per_token = [row["verdict"] for row in rows if row["per_token"]]
    assert t4_verdict(per_token) == "refuted"
    assert t4_verdict(row["verdict"] for row in rows) == "not-testable"


def test_d_needed_to_close_gap_by_hand():
    # 10,000 / 4 = 2,500 = d / d_eff  =>  d = 2,500 * d_eff
    assert d_needed_to_close_gap(47) == 117_500
    assert d_needed_to_close_gap(89) == 222_500
    rows = gain_by_d(1.0, 47)  # gain d / 47 at every d: closes the gap exactly at 117,500
    assert all((row["verdict"] == "supported") == (row["d"] >= 117_500) for row in rows)


def test_estimator_choice_decides_range_on_the_image_proxy():
    table = pd.DataFrame([dict(dataset="image_patches", **{e: 10.0 for e in ESTIMATORS}),
                          dict(dataset="digits", **{e: 60.0 for e in ESTIMATORS})])
    table.loc[0, "waterfill"] = 72.0
    assert estimator_verdict(table, "waterfill") == "supported"
    assert estimator_verdict(table, "pr") == "refuted"  # digits are no proxy
    assert estimator_verdict(table[table.dataset == "digits"], "pr") == "not-testable"
