"""The four softmax claims end to end at quick size (minutes) and the rate claim at toy size
(about a minute): marked slow."""

import json

import pytest
from typer.testing import CliRunner

from analyses.claims import VERDICTS
from analyses.claims.softmax import LIF_CHOICE
from analyses.verify import verify
from evsim.cli import app

IDS = ["softmax.stochastic.rate", "softmax.stochastic.prefactor", "softmax.deterministic.rate",
       "softmax.ablations"]


@pytest.mark.slow
def test_quick_softmax_verify_writes_verdicts_and_figures(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["verify", "--quick", "--only", ",".join(IDS), "--out",
                                      str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    claims = {c["id"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}
    assert list(claims) == IDS
    for claim in claims.values():
        assert claim["verdict"] in ("supported", "refuted", "partial", "not-testable")
        for figure in claim["figures"]:
            assert (out / figure).stat().st_size > 1000
    low, high = claims["softmax.stochastic.rate"]["ci95"]
    assert low < claims["softmax.stochastic.rate"]["estimate"] < high
    # the claims.json contract of issue 14: verdicts read from the circuit's own output
    rate = claims["softmax.stochastic.rate"]["details"]
    assert rate["readout"] == "circuit" and rate["initial_state"] == "cold"
    assert 0 <= rate["settle_time_s"] <= rate["readout_start_s"]
    assert rate["slope_tv_histogram_vs_T"] < 0 and len(rate["ci95_tv_histogram_vs_T"]) == 2
    ablations = claims["softmax.ablations"]["details"]
    assert ablations["no_inhibition_floor"] is True  # the total is no longer normalised
    assert ablations["reset_lif_floor"] > 3 * ablations["reset_lif_floor_noise_level"]
    assert rate["ci95_count_over_T"][0] > 0.98 and rate["ci95_count_over_T"][1] < 1.02
    shift = ablations["shift_control"]
    assert [c["outcome"] for c in shift.values()] == ["absorbed", "absorbed", "changed"]
    assert "input encoding" in claims["softmax.deterministic.rate"]["details"]["exponentiation"]
    figures = {f for claim in claims.values() for f in claim["figures"]}
    assert {"figures/softmax_settling.png", "figures/softmax_stochastic_rate.png"} <= figures
    # issue 27: what decides each verdict, and the LIF the paper names under the same rule
    assert [claims[i]["decided_by"] for i in IDS] == ["measured", "measured", "derived",
                                                     "measured"]
    lif = rate["lif_reset_refractory"]
    assert lif["verdict_by_same_rule"] == "refuted" and lif["ci95_tv_circuit_vs_T"][0] > -0.45
    assert lif["settled_before_readout"] and lif["T_values"][-1] <= 640
    assert "says refuted" in claims["softmax.stochastic.rate"]["scope"]
    assert ablations["predictions_matched"] == "10 of 10"


@pytest.mark.slow
def test_toy_rate_verify_has_the_lif_row(tmp_path):
    """The rate claim's sensitivity lists the reset LIF under the same rule, and its scope
    sentence says that verdict."""
    rate, = verify(tmp_path / "toy", scale="toy", only=["softmax.stochastic.rate"],
                   progress=False)
    rows = [row for row in rate["sensitivity"] if row["choice"] == LIF_CHOICE]
    assert len(rows) == 1 and rows[0]["verdict"] in VERDICTS
    assert rows[0]["verdict"] == rate["details"]["lif_reset_refractory"]["verdict_by_same_rule"]
    assert f"the same rule says {rows[0]['verdict']}" in rate["scope"]
    assert rate["decided_by"] == "measured" and rate["ci_leaves_out"]
    assert [h["replaced_in"] for h in rate["rule_history"]] == ["ee9dbea", "c2f0765"]
    assert all(h["verdict_today"] in VERDICTS for h in rate["rule_history"])
