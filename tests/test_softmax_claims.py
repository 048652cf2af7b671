"""The four softmax claims end to end at quick size (about 40 s: marked slow)."""

import json

import pytest
from typer.testing import CliRunner

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
