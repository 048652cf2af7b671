"""The four softmax claims end to end at quick size (about 100 s: marked slow)."""

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
