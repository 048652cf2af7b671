"""The five attention claims: registered, and (slow) verified end to end with figures."""

import json

import pytest

from analyses.claims import select
from evsim.cli import app

IDS = ("attention.mechanisms", "attention.equivariance", "attention.universal",
       "energy.ratio", "a2os2a.capacity")


def test_attention_claims_are_registered():
    assert [claim.id for claim in select(list(IDS))] == list(IDS)


@pytest.mark.slow
def test_attention_claims_verify_end_to_end(tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["verify", "--quick", "--out", str(out), "--only",
                                      ",".join(IDS)])
    assert result.exit_code == 0, result.output
    claims = {c["id"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}
    assert claims["attention.mechanisms"]["details"]["mismatches_total"] == 0
    assert claims["attention.equivariance"]["details"]["negative_control_mismatches"] > 0
    assert claims["attention.universal"]["details"]["equivariance_check"]["mismatches"] == 0
    for name in ("attention_universal", "energy_ratio"):
        assert (out / "figures" / f"{name}.pdf").exists()
