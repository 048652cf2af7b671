"""Provenance: every claim measures inside its context, which gives every simulation the
user's target and seeds derived from --seed; claims.json and manifest.json record the target
each claim actually used.

Spy backends registered as cython and cpp_standalone (every road to Brian2 passes through
the backend seam) record the target and seed of every run, then run it on numpy, so these
tests need no compiler. Claims run at toy sizes.
"""

import json

import numpy as np
import pytest
from brian2 import ms, nA

from analyses.claims import ClaimContext, all_claims
from analyses.claims.base import ClaimContext as BaseContext
from analyses.verify import verify
from circuits import shared_inhibition, single_lif
from evsim import backends, simulate
from evsim.backends import RunResult
from evsim.record import SpikeTrains

NOT_SIMULATING = {"deff.range"}  # computes estimators on datasets, simulates nothing


#: claims that cannot run on the spy's silent answer (they check the spikes against a
#: reference or fit them): their spy simulates on numpy; slow, so in test-slow only
NEED_SPIKES = {"design.constant", "hyper.monotonic", "model.import", "model.t4", "model.deff",
               "model.design", "model.energy"}


class _Spy:
    """A backend registered under ``name`` that records (name, seed) and answers without
    simulating (or on numpy, if ``simulating``)."""

    def __init__(self, name, seen, simulating=False):
        self.name, self.seen, self.simulating = name, seen, simulating

    def supports(self, spec):
        return None

    def estimate(self, spec):
        return 0.0

    def is_cached(self, spec):
        return True

    def run(self, spec):
        """No spikes at all (the claims' numbers are meaningless here; only the road to the
        simulator is checked)."""
        self.seen.append((self.name, spec.seed))
        if self.simulating:
            return backends.get("numpy").run(spec)
        shape = (len(spec.checkpoint_steps), spec.trials)
        counts = {p.name: np.zeros(shape + (p.size,), np.int64)
                  for p in spec.circuit.populations}
        trains = {p.name: SpikeTrains.from_group([], [], p.size)
                  for p in spec.circuit.populations}
        return RunResult(counts, trains if spec.record_spikes else None, {})


@pytest.fixture
def spy(monkeypatch, request):
    """Records (target, seed) of every simulation on cython or cpp_standalone; spies answer
    with silence, or simulate on numpy where the test's claim needs spikes."""
    seen = []
    callspec = getattr(request.node, "callspec", None)
    claim = callspec.params.get("claim") if callspec else None
    simulating = getattr(claim, "id", None) in NEED_SPIKES
    backends.registered()
    for name in ("cython", "cpp_standalone"):
        monkeypatch.setitem(backends._BACKENDS, name, _Spy(name, seen, simulating))
    return seen


@pytest.fixture
def issued(monkeypatch):
    """Records every seed a context hands out."""
    seeds = set()
    real = BaseContext.seed_for

    def seed_for(self, purpose, *, shared=False):
        value = real(self, purpose, shared=shared)
        seeds.add(value)
        return value

    monkeypatch.setattr(BaseContext, "seed_for", seed_for)
    return seeds


@pytest.mark.parametrize("claim", [pytest.param(c, marks=pytest.mark.slow) if c.id in NEED_SPIKES
                                   else c for c in all_claims()], ids=lambda claim: claim.id)
def test_every_claim_runs_on_the_context_target_with_context_seeds(claim, spy, issued,
                                                                   tmp_path, monkeypatch):
    context = ClaimContext(scale="toy", seed=3, target="cython",
                           cache_dir=str(tmp_path)).for_claim(claim.id)
    read, shared = [], BaseContext.shared
    monkeypatch.setattr(BaseContext, "shared",
                        lambda self, key, compute: read.append(key) or shared(self, key, compute))
    result = claim.run(context)
    # a claim that reads a shared experiment says so, so a parallel verify keeps it in the
    # process of the others that read it (Claim.shares)
    assert not read or claim.shares, f"{claim.id} reads {read} but declares no 'shares'"
    verdicts = ("supported", "refuted", "partial", "not-testable")
    assert result.verdict in verdicts
    # every claim says how its verdict changes under the other reasonable protocol choices
    assert result.sensitivity and all(set(item) == {"choice", "verdict"} and item["choice"]
                                      and item["verdict"] in verdicts
                                      for item in result.sensitivity)
    if claim.id in NOT_SIMULATING:
        assert spy == [] and context.runs == [] and context.targets_used is None
        return
    assert spy, f"{claim.id} simulated nothing"
    assert {target for target, _ in spy} == {"cython"}
    assert context.targets_used == "cython"
    assert all(isinstance(seed, int) for _, seed in spy)
    logged = [run["seed"] for run in context.runs]
    assert logged and set(logged) <= issued  # every run's seed came from seed_for
    if not any(run["what"].startswith("sweep cell") for run in context.runs):
        # direct runs: Brian2 saw exactly the seeds the context handed out
        assert {seed for _, seed in spy} <= issued


def test_sweep_cells_derive_their_brian2_seed_from_the_cell_seed(spy):
    from analyses.claims.bounds import bounds_cell

    for seed in (11, 12):
        bounds_cell(2, 2, "toy", seed, "cython")
    (first_target, first), (second_target, second) = spy
    assert first_target == second_target == "cython" and first != second


def test_a_claim_that_names_another_target_is_an_error(spy):
    context = ClaimContext(target="cython").for_claim("x")
    with context.running():
        simulate(shared_inhibition(), {"drive": 30 * nA}, 1 * ms, seed=2)
        with pytest.raises(RuntimeError, match="claim x ran a simulation on target 'numpy', "
                                               "not the context's 'cython'"):
            simulate(shared_inhibition(), {"drive": 30 * nA}, 1 * ms, seed=2, target="numpy")
    assert context.runs == [{"what": "simulate shared_inhibition", "target": "cython",
                             "seed": 2}]


def test_a_fallback_reruns_the_whole_measure_and_logs_only_the_kept_runs():
    """on_target_or: the user's backend refuses part of measure(); all of it reruns on the
    fallback, and only those runs are logged, each with the reason."""
    pytest.importorskip("nest")
    import dataclasses

    from evsim import models

    def measure():
        exact = simulate(single_lif(), {"drive": 30 * nA}, 5 * ms, seed=1)
        euler = simulate(single_lif(dataclasses.replace(models.lif(), method="euler")),
                         {"drive": 30 * nA}, 5 * ms, seed=2)
        return exact.metadata["target"], euler.metadata["target"]

    context = ClaimContext(target="nest").for_claim("x")
    with context.running():
        assert context.on_target_or("numpy", measure) == ("numpy", "numpy")
    assert [(run["target"], run["seed"]) for run in context.runs] == [("numpy", 1),
                                                                      ("numpy", 2)]
    assert all("NEST runs only exact lif" in run["why"] for run in context.runs)


def test_context_seeds_depend_on_the_user_seed_and_the_claim():
    a = ClaimContext(seed=1).for_claim("x")
    assert a.seed_for("runs") == ClaimContext(seed=1).for_claim("x").seed_for("runs")
    assert a.seed_for("runs") != ClaimContext(seed=2).for_claim("x").seed_for("runs")
    assert a.seed_for("runs") != ClaimContext(seed=1).for_claim("y").seed_for("runs")
    assert a.seed_for("runs") != a.seed_for("bootstrap")
    # shared experiments: the same seed whichever claim asks
    assert a.seed_for("s", shared=True) == \
        ClaimContext(seed=1).for_claim("y").seed_for("s", shared=True)
    assert 0 <= a.seed_for("runs") < 2 ** 31


def test_shared_experiments_run_once_and_keep_their_provenance():
    context = ClaimContext(target="cython")
    calls = []

    def compute():
        calls.append(1)
        first.runs.append({"what": "simulate c", "target": "cython", "seed": 5})
        return "value"

    first = context.for_claim("a")
    second = context.for_claim("b")
    assert first.shared("k", compute) == second.shared("k", compute) == "value"
    assert len(calls) == 1
    assert second.runs == first.runs == [{"what": "simulate c", "target": "cython", "seed": 5}]


def test_claims_that_read_one_experiment_must_declare_one_group(monkeypatch):
    """Two registered claims reading one shared key with different ``shares`` would run in
    two processes of a parallel verify: the second read is an error naming both groups."""
    import analyses.claims as registry
    from analyses.claims.base import Claim

    claims = [Claim(i, "s", "x", "p", None, None, None, rule=None, basis=None, shares=group)
              for i, group in (("a", "g"), ("b", "g"), ("c", "other"))]
    monkeypatch.setattr(registry, "all_claims", lambda: claims)
    context = ClaimContext()
    assert context.for_claim("a").shared("k", lambda: 1) == 1
    assert context.for_claim("b").shared("k", lambda: 2) == 1
    with pytest.raises(RuntimeError, match="declares shares='other', not 'g'"):
        context.for_claim("c").shared("k", lambda: 3)


def test_claims_json_and_manifest_record_the_target_each_claim_used(spy, tmp_path):
    out = tmp_path / "run"
    verify(out, scale="toy", only=["lif.fi_curve", "deff.range"], target="cpp_standalone",
           progress=False, cache_dir=tmp_path / "cache")
    data = json.loads((out / "claims.json").read_text())
    targets = {claim["id"]: claim["target"] for claim in data["claims"]}
    assert targets == {"lif.fi_curve": "cpp_standalone", "deff.range": None}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["targets_used"] == targets and manifest["target"] == "cpp_standalone"
    assert {target for target, _ in spy} == {"cpp_standalone"}


def _tables(claim, seed, cache):
    context = ClaimContext(scale="toy", seed=seed, cache_dir=str(cache)).for_claim(claim.id)
    result = claim.run(context)
    return {name: table.drop(columns=["wall_s"], errors="ignore")
            for name, table in result.tables.items()}


#: claims with nothing to draw: deterministic models on fixed images, whose tables must not
#: change with the seed
SEED_FREE = {"model.import": "deterministic models on the images with reference spikes"}


def _check_reproducible_and_seed_dependent(claim, cache):
    first, again, other = (_tables(claim, seed, cache) for seed in (3, 3, 4))
    for name in first:
        assert first[name].equals(again[name]), f"{claim.id}/{name}: same seed, other numbers"
    changed = any(not first[name].equals(other[name]) for name in first)
    if claim.id in SEED_FREE:
        assert not changed, f"{claim.id} ({SEED_FREE[claim.id]}): the seed changed its tables"
    else:
        assert changed, f"{claim.id}: a different --seed changed nothing"


@pytest.mark.parametrize("claim_id", ["lif.fi_curve", "a2os2a.capacity",
                                      pytest.param("attention.mechanisms", marks=pytest.mark.slow),
                                      pytest.param("energy.ratio", marks=pytest.mark.slow)])
def test_same_seed_reproduces_and_another_seed_changes_the_tables(claim_id, tmp_path):
    from analyses.claims import get_claim

    _check_reproducible_and_seed_dependent(get_claim(claim_id), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("claim", all_claims(), ids=lambda claim: claim.id)
def test_every_claim_is_reproducible_and_seed_dependent(claim, tmp_path):
    _check_reproducible_and_seed_dependent(claim, tmp_path)
