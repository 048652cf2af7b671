"""What decides each verdict (decided_by, scope), the rule history and the rule registry.

A registered rule is pinned by its fingerprint (source + thresholds) in the committed
analyses/claims/rules.json: changing a rule without registering it is flagged by verify and
fails the test that keeps the registry current.
"""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from analyses.claims import DECIDED_BY, VERDICTS, EarlierRule, Rule, all_claims, get_claim
from analyses.claims import registry
from analyses.claims.base import Basis, holm, out_of_reach
from analyses.claims.deff import t4_verdict
from analyses.verify import verify
from evsim import ValidationError
from evsim.cli import app

#: every claim's basis; a change here is a change of what a verdict means, so it is pinned
DECIDED = {
    "lif.fi_curve": "measured",
    "softmax.stochastic.rate": "measured",
    "softmax.stochastic.prefactor": "measured",
    "softmax.deterministic.rate": "derived",
    "softmax.ablations": "measured",
    "attention.mechanisms": "measured",
    "attention.equivariance": "derived",
    "attention.universal": "measured",
    "bounds.spike_count": "measured",
    "bounds.spike_count.deterministic": "derived",
    "deff.range": "fixed",
    "deff.t4": "derived",
    "design.constant": "derived",
    "energy.ratio": "fixed",
    "energy.formula": "measured",
    "a2os2a.capacity": "derived",
    "hyper.monotonic": "measured",
    "model.import": "measured",
    "model.t4": "measured",
    "model.deff": "measured",
    "model.design": "measured",
    "model.energy": "fixed",
}


def test_every_claim_has_a_pinned_basis_and_a_rule():
    claims = {claim.id: claim for claim in all_claims()}
    assert set(claims) == set(DECIDED)
    for claim_id, claim in claims.items():
        assert claim.basis.decided_by == DECIDED[claim_id], claim_id
        assert claim.basis.scope.strip() and claim.basis.why.strip(), claim_id
        assert isinstance(claim.rule, Rule), claim_id


def test_verdicts_fixed_by_arithmetic_or_a_constant_are_not_labelled_measured():
    """The referee's list (issue 27): fixed by a constant or by arithmetic."""
    for claim_id in ("deff.t4", "energy.ratio", "design.constant", "a2os2a.capacity",
                     "softmax.deterministic.rate", "bounds.spike_count.deterministic",
                     "deff.range", "model.energy"):
        assert get_claim(claim_id).basis.decided_by != "measured", claim_id


def test_basis_rejects_an_unknown_label_or_an_empty_scope():
    with pytest.raises(ValidationError, match="decided_by"):
        Basis("guessed", "scope", "why")
    with pytest.raises(ValidationError, match="scope"):
        Basis("measured", " ", "why")
    assert set(DECIDED.values()) <= set(DECIDED_BY)


# -- the registry ---------------------------------------------------------------------------

def _with_thresholds(claim, **changes):
    rule = dataclasses.replace(claim.rule, thresholds={**claim.rule.thresholds, **changes})
    return dataclasses.replace(claim, rule=rule)


def test_the_committed_registry_holds_every_current_rule():
    """Fails when a rule changed without `evsim rules --register` in the same commit."""
    committed = registry.load_registry()
    stale = [claim.id for claim in all_claims()
             if registry.registration(claim, committed)["status"] != "registered"]
    assert not stale, f"rules changed without registration: {stale} (run evsim rules --register)"
    assert set(committed) == {claim.id for claim in all_claims()}, "entries of removed claims"


def test_a_changed_threshold_or_source_is_flagged(tmp_path):
    claim = get_claim("deff.t4")
    path = tmp_path / "rules.json"
    assert registry.registration(claim, {})["status"] == "unregistered"
    assert registry.register([claim], path) == ["deff.t4"]
    assert registry.register([claim], path) == []  # unchanged: nothing to register
    saved = registry.load_registry(path)
    assert registry.registration(claim, saved)["status"] == "registered"
    moved = _with_thresholds(claim, REFUTED_GAIN=40)
    assert registry.registration(moved, saved)["status"] == "changed"
    other_source = dataclasses.replace(claim, rule=dataclasses.replace(
        claim.rule, functions=(out_of_reach,)))
    assert registry.registration(other_source, saved)["status"] == "changed"


@pytest.mark.slow  # a toy verify run (5 s)
def test_verify_marks_an_unregistered_rule_until_it_is_registered(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    claim = get_claim("a2os2a.capacity")
    registry.register([_with_thresholds(claim, ATTAIN_BITS=0.5)], path)  # an older rule
    monkeypatch.setattr(registry, "REGISTRY_FILE", path)
    entry = verify(tmp_path / "run", scale="toy", only=["a2os2a.capacity"], progress=False,
                   cache_dir=tmp_path / "cache")[0]
    assert entry["rule_registration"]["status"] == "changed"
    runner = CliRunner()
    done = runner.invoke(app, ["rules", "--only", "a2os2a.capacity"])
    assert done.exit_code == 0 and "changed" in done.output
    done = runner.invoke(app, ["rules", "--register", "--only", "a2os2a.capacity"])
    assert done.exit_code == 0 and "registered 1 changed rule(s)" in done.output
    entry = verify(tmp_path / "run", scale="toy", only=["a2os2a.capacity"], progress=False,
                   cache_dir=tmp_path / "cache")[0]
    assert entry["rule_registration"]["status"] == "registered"


def test_evsim_rules_names_an_unknown_claim_in_one_line():
    done = CliRunner().invoke(app, ["rules", "--only", "no.such"])
    assert done.exit_code == 2 and "unknown claim id 'no.such'" in done.output
    assert "Traceback" not in done.output


# -- claims.json fields ---------------------------------------------------------------------

def test_verify_writes_basis_scope_history_and_registration(tmp_path):
    verify(tmp_path / "run", scale="toy", only=["deff.t4", "energy.ratio"], progress=False,
           cache_dir=tmp_path / "cache")
    entries = json.loads((tmp_path / "run" / "claims.json").read_text())["claims"]
    for entry in entries:
        assert entry["decided_by"] == DECIDED[entry["id"]]
        assert entry["scope"] and entry["basis"] and isinstance(entry["ci_leaves_out"], list)
        assert entry["rule_registration"]["status"] == "registered"
        history = entry["rule_history"]
        assert history and all(h["changed_after_data"] for h in history)
        assert all(h["verdict_today"] in VERDICTS for h in history)
    energy = next(e for e in entries if e["id"] == "energy.ratio")
    assert energy["verdict"] == "not-testable" and "counted events" in energy["details"]["finding"]


def test_an_earlier_rule_reads_its_verdict_from_todays_sensitivity():
    rows = [{"choice": "old band", "verdict": "refuted"}, {"choice": "other", "verdict": "partial"}]
    earlier = EarlierRule("band [-0.6, -0.4]", "abc1234", True, today="old band")
    assert earlier.on(rows)["verdict_today"] == "refuted"
    unanswerable = EarlierRule("warm start", "abc1234", False, note="needs another experiment")
    entry = unanswerable.on(rows)
    assert entry["verdict_today"] is None and entry["note"] == "needs another experiment"
    with pytest.raises(ValidationError, match="found 0 such rows"):
        EarlierRule("gone", "abc1234", True, today="missing row").on(rows)


def test_holm_matches_the_step_down_procedure_by_hand():
    # sorted p: 0.01 x4 = 0.04; 0.03 x3 = 0.09; 0.04 x2 = 0.08 -> 0.09 (monotone); 0.5 x1
    assert holm([0.01, 0.04, 0.03, 0.5]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.9, 0.8]).tolist() == pytest.approx([1.0, 1.0])


# -- rules of the claims labelled fixed here ----------------------------------------------------

@pytest.mark.parametrize("verdicts, verdict", [
    (["refuted", "refuted"], "refuted"), (["supported", "supported"], "supported"),
    (["partial"], "partial"), (["refuted", "refuted", "supported"], "not-testable")])
def test_deff_t4_rule_needs_every_reading_of_d_to_agree(verdicts, verdict):
    assert t4_verdict(verdicts) == verdict


def test_rules_that_cannot_decide_say_so_in_their_protocol():
    for claim_id in ("energy.ratio", "deff.range"):
        assert out_of_reach in get_claim(claim_id).rule.functions
    assert "can reach neither supported nor refuted" in get_claim("energy.ratio").protocol
    assert "can reach neither supported nor refuted" in get_claim("deff.range").protocol
