"""The model.* claims on trained spiking transformers: the shared run (truncation is exact,
event counts match Brian2's), the measurements against independent values, and every rule
able to say supported and refuted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.claims import trained_runs
from analyses.energy import E_AC, E_MAC
from analyses.claims import design, model_deff, model_design, model_energy, model_t4
from analyses.claims.base import holm
from circuits import trained
from evsim import simulate
from evsim.train import ARCHITECTURES, task_data

IMAGES = 3


def _model(arch, T, task="digits"):
    meta, weights, _ = trained.load_weights(trained.shipped(arch, task))
    return trained.build(dict(meta, T=T), weights)


@pytest.mark.parametrize("arch", ["sdt", pytest.param("qkformer", marks=pytest.mark.slow)])
def test_the_first_steps_of_a_long_run_are_a_short_run(arch):
    X, _, _, test = task_data("digits")
    tokens = X[test[:IMAGES]]
    short, short_logits = _model(arch, 4).run(tokens, target="numpy")
    long, _ = _model(arch, 12).run(tokens, target="numpy")
    for layer, spikes in short.items():
        assert np.array_equal(long[layer][:4], spikes), layer
    long_model = _model(arch, 12)
    rasters = long_model.population_spikes(tokens, target="numpy", read=long_model.stream)
    meta = dict(long_model.meta, T=4)
    features = trained.stream_rates(meta, rasters, 4)
    assert np.allclose(trained.classify(meta, long_model.weights, features), short_logits)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_event_counts_from_rasters_equal_brian2s(arch):
    """Fan-out x spikes over the whole run equals the synaptic events Brian2 counted."""
    model = _model(arch, 4)
    X, _, _, test = task_data("digits")
    steps = model.meta["T"] + model.depth
    record = simulate(model.circuit, model.inputs(X[test[:IMAGES]]), steps * trained.STEP,
                      dt=trained.STEP, trials=IMAGES, record_spikes=True, target="numpy")
    spikes = {p.name: record.raster(p.name) for p in model.circuit.populations}
    counted = trained_runs.events_in_window(trained_runs.fan_out(model), spikes)
    for name, events in record.synaptic_events.items():
        assert np.array_equal(counted[name], events[-1]), name
    assert sum(e.sum() for e in counted.values()) > 1000


def test_every_population_has_a_lag():
    model = _model("spikformer", 4)
    assert {p.name for p in model.circuit.populations} == set(model.lags)
    assert model.lags["attention/triple"] == model.lags["attention/Q"] + 1


def test_ann_macs_by_hand():
    meta = dict(arch="spikformer", tokens=16, width=16, patch=2, classes=10, task="digits")
    macs = model_energy.ann_macs(meta)
    # embed 16*4*16, q k v 3*16*16*16, Q K^T V 2*16^2*16, proj, MLP 2*4*16^3, head 10*16
    assert sum(macs.values()) == 1024 + 12288 + 8192 + 4096 + 32768 + 160
    sets = model_energy.ann_macs(dict(meta, arch="qkformer", task="sets", classes=2))
    assert sets["v"] == 0 and sets["head"] == 16 * 2 * 16 and sets["attention"] == 2 * 16 * 16


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_projection_is_priced_as_a_layer_of_the_ann(arch):
    model = _model(arch, 4)
    layers = {model_energy.layer_of(model, p.source, p.target)
              for p in model.circuit.projections}
    expected = {"embed", "attention", "proj", "mlp1", "mlp2"} | set(
        trained.OPERANDS[arch])
    assert layers == expected


def _fake_run(copies: int, seed: int = 0):
    """A run whose output features are ``copies`` x the first layer's rates (Lipschitz =
    copies exactly)."""
    rng = np.random.default_rng(seed)
    T, images, N, D = 8, 6, 3, 4
    first = rng.random((T, images, N, D)) < 0.4
    moved = rng.random((T, 2, N, D)) < 0.4

    def stream(raster):
        flat = np.moveaxis(raster, 1, 0).reshape(raster.shape[1], T, N * D)
        return {f"p{c}": flat for c in range(copies)}

    meta = dict(tokens=N, width=D, T=T)
    model = type("Model", (), {"meta": meta})()
    run = trained_runs.ModelRun("sdt", "digits", model, np.arange(images), None, None, {},
                                stream(first), layer_rates={"block_in": first.mean(0)})
    run.perturbed[0.05] = dict(delta=np.zeros((2, N, 4)), layer_rates={"block_in": moved.mean(0)},
                               stream=stream(moved))
    return run


@pytest.mark.parametrize("copies", [1, 2])
def test_lipschitz_of_a_known_map(copies):
    run = _fake_run(copies)
    for quantile in (0.5, 0.9, 1.0):
        assert model_design.lipschitz(run, 0.05, quantile) == pytest.approx(copies)


def test_dimension_ratio_of_known_spectra():
    rng = np.random.default_rng(1)
    features = np.zeros((400, 4, 16))
    features[..., :4] = rng.standard_normal((400, 4, 4))  # isotropic in 4 of 16 dimensions
    assert model_deff.dimension_ratio(features) == pytest.approx(4 / 16, rel=0.05)
    assert np.isnan(model_deff.dimension_ratio(np.ones((10, 4, 16))))


def test_the_earlier_t4_rule_says_all_three():
    assert model_t4.t4_rule([-0.01, 0.0], [0.02, 0.03]) == "supported"
    assert model_t4.t4_rule([-0.01, -0.09], [0.02, -0.03]) == "refuted"
    assert model_t4.t4_rule([-0.01, -0.05], [0.02, 0.01]) == "partial"


def test_one_sided_p_values_by_hand():
    # d = -0.02 + 1.645 SE: non-inferior at p = 0.05; d = -0.02 - 2 SE: worse at p = 0.0228
    worse, fine = model_t4.normal_p_values([-0.02 + 1.6449 * 0.01, -0.04], [0.01, 0.01])
    assert fine[0] == pytest.approx(0.05, abs=1e-4) and worse[1] == pytest.approx(0.02275,
                                                                                   abs=1e-4)
    assert np.allclose(worse + fine, 1)
    # every image alike (SE 0): decided by the sign of d + margin alone
    worse, fine = model_t4.normal_p_values([0.0, -0.05, -0.02], [0.0, 0.0, 0.0])
    assert list(worse) == [1.0, 0.0, 0.5] and list(fine) == [0.0, 1.0, 0.5]


def _eight(difference=0.0, se=0.005, odd=None):
    """Eight models' paired mean differences and standard errors; ``odd`` = (d, se) of the
    last one."""
    d, s = np.full(8, difference), np.full(8, se)
    if odd is not None:
        d[-1], s[-1] = odd
    return d, s


def test_the_holm_t4_rule_says_all_three():
    assert model_t4.holm_t4_rule(*_eight()) == "supported"
    assert model_t4.holm_t4_rule(*_eight(-0.1, 0.01)) == "refuted"
    assert model_t4.holm_t4_rule(*_eight(odd=(-0.01, 0.02))) == "partial"  # one undecided
    assert model_t4.holm_t4_rule(*_eight(-0.02, 0.01)) == "partial"  # all at the margin
    # a majority: five of eight shown worse refute, five of eight non-inferior support
    d, se = np.r_[np.full(5, -0.1), np.zeros(3)], np.full(8, 0.01)
    assert model_t4.holm_t4_rule(d, se, every=False) == "refuted"
    assert model_t4.holm_t4_rule(-d - 0.1, se, every=False) == "supported"
    assert model_t4.holm_t4_rule(np.r_[np.full(4, -0.1), np.zeros(4)], se,
                                 every=False) == "partial"


def test_one_noisy_model_below_the_margin_no_longer_refutes_alone():
    # d = -0.07, SE 0.025: its CI [-0.119, -0.021] lies below -0.02 (the earlier rule refutes),
    # one-sided p = 0.023, Holm over eight: 0.18
    noisy = _eight(odd=(-0.07, 0.025))
    low, high = noisy[0] - 1.96 * noisy[1], noisy[0] + 1.96 * noisy[1]
    assert model_t4.t4_rule(low, high) == "refuted"
    assert model_t4.holm_t4_rule(*noisy) == "partial"
    worse, _ = model_t4.normal_p_values(*noisy)
    assert worse[-1] < 0.05 < holm(worse)[-1]
    # a strongly inferior model still refutes alone: z = -9
    assert model_t4.holm_t4_rule(*_eight(odd=(-0.2, 0.02))) == "refuted"


def _fit(means, se=0.01, resamples=4000):
    """A hierarchical_bootstrap-like fit of models with these mean differences, each with
    normal bootstrap noise of s.d. ``se``."""
    means = np.asarray(means, float)
    rng = np.random.default_rng(0)
    per_model = means + se * rng.standard_normal((resamples, len(means)))
    return {"resampled": per_model.mean(axis=1), "model_means": means,
            "model_resampled": per_model}


def test_the_aggregate_t4_rule_says_all_three_on_one_sided_bounds():
    """Eight models with s.e. 0.01 each (aggregate s.e. 0.0035): supported when the
    aggregate's 5th percentile lies above -0.02 and no model is shown worse, refuted when its
    95th lies below, partial when the bounds straddle the margin."""
    assert model_t4.aggregate_t4_rule(_fit(np.zeros(8))) == "supported"
    assert model_t4.aggregate_t4_rule(_fit(np.full(8, -0.03))) == "refuted"
    assert model_t4.aggregate_t4_rule(_fit(np.full(8, -0.02))) == "partial"
    assert model_t4.aggregate_t4_rule(_fit(np.full(8, -0.005)), margin=0.005) == "partial"
    assert model_t4.aggregate_t4_rule(_fit(np.full(8, -0.005)), margin=0.05) == "supported"
    with pytest.raises(Exception, match="fit"):
        model_t4.aggregate_t4_rule({"resampled": []})


def test_one_model_below_the_margin_keeps_a_good_aggregate_from_support():
    """One model at -0.08 among seven at +0.01: the aggregate (-0.0013) passes, but that
    model's mean is below -0.02, so partial; the tested guard (z = -6) agrees, and without a
    guard it is supported. A model at -0.03 with s.e. 0.01 is below the margin (partial) but
    not shown worse by the Holm-adjusted test (supported under the tested guard)."""
    hidden = _fit(np.r_[np.full(7, 0.01), -0.08])
    assert list(model_t4.models_shown_worse(hidden)) == [False] * 7 + [True]
    assert model_t4.aggregate_t4_rule(hidden) == "partial"
    assert model_t4.aggregate_t4_rule(hidden, guard="tested") == "partial"
    assert model_t4.aggregate_t4_rule(hidden, guard="none") == "supported"
    mild = _fit(np.r_[np.full(7, 0.01), -0.03])
    assert model_t4.aggregate_t4_rule(mild) == "partial"
    assert model_t4.aggregate_t4_rule(mild, guard="tested") == "supported"


def test_architectures_as_a_sample_use_student_t_bounds():
    # mean 0, s.d. 0.0129, n = 4: t_0.95,3 = 2.353, half width 0.0152: lower -0.0152
    assert model_t4.sample_of_architectures([-0.015, -0.005, 0.005, 0.015]) == "supported"
    assert model_t4.sample_of_architectures([-0.02, -0.01, 0.0, 0.01]) == "partial"  # -0.0202
    assert model_t4.sample_of_architectures([-0.06, -0.05, -0.04, -0.03]) == "refuted"  # -0.0298
    assert model_t4.sample_of_architectures([-0.1, -0.05, 0.0, 0.05]) == "partial"
    assert model_t4.sample_of_architectures([0.0]) == "partial"


def _differences(values: dict) -> dict:
    """{(arch, task): {seed: per-image differences}} from {(arch, task, seed): array}."""
    out = {}
    for (arch, task, seed), v in values.items():
        out.setdefault((arch, task), {})[seed] = np.asarray(v, float)
    return out


def test_image_groups_put_models_on_the_same_images_together_and_judge_common_seeds():
    shared, own = np.arange(4), np.arange(10, 14)
    d = _differences({("a", "digits", 0): [0, 0, 1, 0], ("a", "digits", 1): [0, 1, 0, 0],
                      ("b", "digits", 0): [1, 1, 1, 1], ("b", "digits", 1): [0, 0, 0, 0],
                      ("c", "sets", 0): [1, 0, 0, 0]})
    index = {("a", "digits"): shared, ("b", "digits"): shared, ("c", "sets"): own}
    groups, models = model_t4.image_groups(d, index)
    assert [[m.shape for m in g] for g in groups] == [[(2, 4), (2, 4)], [(1, 4)]]
    assert models == [("a", "digits"), ("b", "digits"), ("c", "sets")]
    assert model_t4.common_seeds(d) == [0]
    groups, _ = model_t4.image_groups(d, index, seeds=[0])
    assert [[m.shape for m in g] for g in groups] == [[(1, 4), (1, 4)], [(1, 4)]]
    # a model with fewer seeds stays in its images' group
    d[("b", "digits")].pop(1)
    groups, _ = model_t4.image_groups(d, index)
    assert [[m.shape for m in g] for g in groups] == [[(2, 4), (1, 4)], [(1, 4)]]


def test_deff_rule_says_all_four():
    inside, above = (0.15, 0.2), (0.4, 0.5)
    assert model_deff.deff_rule([inside, inside]) == "supported"
    assert model_deff.deff_rule([above, above]) == "refuted"
    assert model_deff.deff_rule([inside, above]) == "partial"
    assert model_deff.deff_rule([]) == "not-testable"


def test_the_width_trend_recovers_a_known_power_law_and_its_extrapolation():
    """d_eff = 2 d^0.4 times seed noise at four widths: the exponent's interval (over the
    per-width means) holds 0.4, the extrapolated d_eff / d at d = 384 that of the law, the
    power law is not rejected; a saturating d_eff is; one width gives no trend."""
    rng = np.random.default_rng(0)

    def table(law):
        return pd.DataFrame([dict(arch="a", task="t", d=d, seed=s,
                                  d_eff=law(d) * np.exp(rng.normal(0, .03)))
                             for d in (16, 32, 64, 128) for s in range(3)])

    trend = model_deff.width_trend(table(lambda d: 2 * d ** 0.4)).iloc[0]
    assert trend.slope_low < 0.4 < trend.slope_high and trend.slope_high - trend.slope_low < 0.5
    assert trend.ratio_low < 2 * 384 ** 0.4 / 384 < trend.ratio_high
    assert trend.lack_of_fit_p > 0.01
    saturating = model_deff.width_trend(table(lambda d: 20 * (1 - np.exp(-d / 20)))).iloc[0]
    assert saturating.lack_of_fit_p < 0.001
    one_width = model_deff.width_trend(table(lambda d: 5.0).query("d == 16")).iloc[0]
    assert np.isnan(one_width.slope) and np.isnan(one_width.ratio_at_target)
    assert model_deff.width_trend(model_deff.width_table({}, 4)).empty  # no wide models


def test_the_extrapolated_ratio_can_land_inside_above_or_below_the_papers_range():
    """The width sensitivity row can say supported, partial and refuted: d_eff growing in
    proportion to d keeps its ratio, staying put makes it fall with d."""
    rng = np.random.default_rng(1)

    def verdict(b, c):
        rows = [dict(arch="a", task="t", d=d, seed=s,
                     d_eff=c * d ** b * np.exp(rng.normal(0, 0.01)))
                for d in (16, 32, 64, 128) for s in range(3)]
        trend = model_deff.width_trend(pd.DataFrame(rows))
        return model_deff.deff_rule(trend[["ratio_low", "ratio_high"]].values)

    assert verdict(1.0, 0.18) == "supported"  # 18% of d at every width
    assert verdict(0.0, 8.0) == "refuted"  # below: 8 of 384 = 2%
    assert verdict(1.0, 0.5) == "refuted"  # above: half of d at every width
    assert verdict(1.0, 0.232) == "partial"  # on the range's upper edge


def test_one_model_cannot_decide_the_deff_verdict_alone():
    """Supported and refuted need every model; one outlier among eight makes it partial."""
    inside, above = (0.15, 0.2), (0.4, 0.5)
    assert model_deff.deff_rule([inside] * 7 + [above]) == "partial"
    assert model_deff.deff_rule([above] * 7 + [inside]) == "partial"


def _design_cells(C: float, eps_power: float) -> pd.DataFrame:
    """Cells of eight 'models' whose T follows C L^2 d_eff / d / eps^eps_power."""
    rng = np.random.default_rng(2)
    rows = []
    for m in range(8):
        L, d_eff = rng.uniform(1, 4), np.exp(rng.uniform(0, np.log(16)))  # spread like d
        for eps in model_design.EPS:
            T = C * L ** 2 * d_eff / 16 / eps ** eps_power * np.exp(rng.normal(0, 0.05))
            rows.append(dict(model=f"m{m}", d=16, d_eff=d_eff, L=L, eps=eps, T_star=T,
                             censored=False))
    return pd.DataFrame(rows)


def test_the_design_rule_on_models_says_all_four():
    assert design.judge(_design_cells(2.3, 2), 0, hold_out=("model",))[0] == "supported"
    assert design.judge(_design_cells(0.05, 1), 0, hold_out=("model",))[0] == "refuted"
    # the right form with a constant far from the paper's 1.9-2.7
    assert design.judge(_design_cells(50, 2), 0, hold_out=("model",))[0] == "partial"
    one_model = _design_cells(2.3, 2).query("model == 'm0'")
    assert design.judge(one_model, 0, hold_out=("model",))[0] == "not-testable"


def _energy_models(width, low, high):
    return np.full(len(low), width), np.asarray(low, float), np.asarray(high, float)


def test_energy_headline_is_not_testable_below_the_papers_width():
    # width 16: not-testable whatever the ratios (these would be refuted and supported)
    assert model_energy.energy_headline(*_energy_models(16, [1, 5], [2, 6])) == "not-testable"
    assert model_energy.energy_headline(*_energy_models(16, [40, 60], [50, 70])) == \
        "not-testable"


def test_energy_headline_judges_models_of_the_papers_width():
    assert model_energy.energy_headline(*_energy_models(384, [40, 60], [50, 70])) == "supported"
    assert model_energy.energy_headline(*_energy_models(384, [1, 5], [2, 6])) == "refuted"
    assert model_energy.energy_headline(*_energy_models(512, [30, 40], [45, 50])) == "partial"
    # only the wide models are judged: a narrow one with a low ratio does not count
    assert model_energy.energy_headline([16, 384], [1, 40], [2, 50]) == "supported"


def test_energy_rule_reads_model_ratios():
    from analyses.claims.energy import energy_rule
    assert energy_rule([40, 60], [50, 70]) == "supported"
    assert energy_rule([1, 5], [2, 6]) == "refuted"


def test_the_import_rule_says_all_three():
    from analyses.claims.model_import import import_rule
    assert import_rule(0, 0, control_mismatches=12) == "supported"
    assert import_rule(3, 0, control_mismatches=12) == "refuted"
    assert import_rule(0, 1, control_mismatches=12) == "refuted"
    assert import_rule(0, 0, control_mismatches=0) == "not-testable"


@pytest.mark.parametrize("claim_id, decided_by", [
    ("model.import", "measured"), ("model.t4", "measured"), ("model.deff", "measured"),
    ("model.design", "measured"), ("model.energy", "fixed")])
def test_decided_by_is_pinned(claim_id, decided_by):
    from analyses.claims import get_claim

    claim = get_claim(claim_id)
    assert claim.basis.decided_by == decided_by
    assert claim.basis.scope.strip() and claim.basis.ci_leaves_out


def test_model_energy_judged_at_the_papers_width_is_measured():
    assert model_energy.WIDE_BASIS.decided_by == "measured"
    assert "384" in model_energy.WIDE_BASIS.scope


def test_every_earlier_rule_names_a_sensitivity_choice_of_its_claim():
    """model.t4's four earlier rules, model.design's two and model.energy's one are sensitivity
    rows today."""
    from analyses.claims import get_claim

    todays = {c: [r.today for r in get_claim(c).rule.history]
              for c in ("model.t4", "model.design", "model.energy")}
    assert todays == {"model.t4": [model_t4.FIRST_PROTOCOL, model_t4.CI_RULE,
                                   model_t4.HOLM_RULE, model_t4.TESTED_GUARD],
                      "model.design": [model_design.WHOLE_RUN, model_design.WIDTH_16],
                      "model.energy": [model_energy.NARROW_RULE]}
    assert all(r.changed_after_data for c in todays for r in get_claim(c).rule.history)


def test_bad_training_T_is_one_clear_error():
    from evsim.errors import ValidationError
    from evsim.train import train

    with pytest.raises(ValidationError, match="'T'.*4, 16"):
        trained.shipped("sdt", "digits", 8)
    with pytest.raises(ValidationError, match=r"'T' must be an integer in \[1, 64\]"):
        train("sdt", T=0)


@pytest.fixture(scope="module")
def toy_runs():
    """Shared runs of two models at toy size (T_max 8), and their T = 16 twins."""
    from analyses.claims.base import ClaimContext

    context = ClaimContext(scale="toy", target="numpy").for_claim("test")
    size = trained_runs.SIZES.at("toy")
    runs = {(arch, "digits"): trained_runs._run_model(context, arch, "digits", size)
            for arch in ("spikformer", "sdt")}
    twins = {key: trained_runs._run_model(context, key[0], "digits",
                                          dict(size, T_max=16), 16)
             for key in runs}
    return runs, twins


def test_a_run_that_keeps_rates_holds_the_rasters_means_and_the_same_stream():
    """model.design's long runs keep each layer's rates over the whole run instead of its
    raster: the same numbers as the rasters' means, for the clean and perturbed images."""
    from analyses.claims.base import ClaimContext

    context = ClaimContext(scale="toy", target="numpy").for_claim("test")
    size = trained_runs.DESIGN_SIZES.at("toy")
    full, kept = (trained_runs._run_model(context, "sdt", "digits", size, rasters=rasters)
                  for rasters in (True, False))
    T_max = size["T_max"]
    assert kept.layers == {} and set(kept.layer_rates) == set(full.layers)
    assert kept.model.meta["T"] == T_max  # what model.design reads as the run's length
    for name, raster in full.layers.items():
        assert np.array_equal(kept.layer_rates[name], trained_runs.rates(raster, T_max))
    for sigma, part in full.perturbed.items():
        assert "layers" not in kept.perturbed[sigma]
        for name, raster in part["layers"].items():
            assert np.array_equal(kept.perturbed[sigma]["layer_rates"][name],
                                  trained_runs.rates(raster, T_max))
        for population, spikes in part["stream"].items():
            assert np.array_equal(kept.perturbed[sigma]["stream"][population], spikes)
    for population, spikes in full.stream.items():
        assert np.array_equal(kept.stream[population], spikes)


def test_the_formula_equals_the_counted_events_of_every_linear_layer(toy_runs):
    """fr_in T MACs equals the counted events where every input neuron drives all outputs
    (a residual sum of two populations included); the shortcut model applies its
    projection twice, and pricing it once removes exactly half."""
    runs, _ = toy_runs
    for (arch, _), run in runs.items():
        table = model_energy.energy_table(run).set_index("layer")
        linear = ["q", "k", "v", "mlp1", "mlp2"] + (["proj"] if arch == "spikformer" else [])
        assert np.allclose(table.loc[linear, "formula_ops"], table.loc[linear, "snn_events"])
    sdt = runs[("sdt", "digits")]
    table = model_energy.energy_table(sdt).set_index("layer")
    assert table.loc["proj", "snn_events"] == pytest.approx(2 * table.loc["proj", "formula_ops"])
    assert np.allclose(model_energy.projection_once(sdt),
                       -0.5 * E_AC * model_energy.layer_events(sdt, "proj"))


def test_the_papers_head_prices_by_hand(toy_runs):
    """SDT: the head LIF's copy of the projection goes (half the projection's events, the
    other half feeds the MLP) and the classifier costs at most E_AC T D classes instead of
    E_MAC D classes; Spikformer's head is the papers'; a set model has no pooled head."""
    runs, _ = toy_runs
    sdt, spikformer = runs[("sdt", "digits")], runs[("spikformer", "digits")]
    T, D, classes = sdt.trained_T, sdt.model.meta["width"], sdt.model.meta["classes"]
    by_hand = (E_AC * T * D * classes - E_MAC * D * classes
               - 0.5 * E_AC * model_energy.layer_events(sdt, "proj"))
    assert np.allclose(model_energy.papers_head(sdt), by_hand)
    assert model_energy.layer_events(sdt, "proj").sum() > 0
    assert not model_energy.papers_head(spikformer).any()
    sets = trained_runs.ModelRun(**{**sdt.__dict__, "task": "sets"})
    assert not model_energy.papers_head(sets).any()


def test_the_reference_models_are_paired_by_image(toy_runs):
    runs, twins = toy_runs
    table = model_t4.differences(runs, 4, None, 0, reference_runs=twins)
    assert set(table.reference_T) == {16}
    run, twin = runs[("sdt", "digits")], twins[("sdt", "digits")]
    expected = (trained_runs.correct(run, 4) - trained_runs.correct(twin, 16)).mean()
    assert table.set_index("arch").loc["sdt", "difference"] == pytest.approx(expected)
    shuffled = dict(twins)
    shuffled[("sdt", "digits")] = trained_runs.ModelRun(**{**twin.__dict__,
                                                           "index": twin.index[::-1]})
    with pytest.raises(RuntimeError, match="other test images"):
        model_t4.differences(runs, 4, None, 0, reference_runs=shuffled)
    # the seed runs: one training seed of each model against its twin, paired by image
    seed_runs = {(arch, task, 16, 0): (run, twins[arch, task])
                 for (arch, task), run in runs.items()}
    per_model = model_t4.seed_differences(seed_runs)
    assert per_model[("sdt", "digits", 16)][0] == pytest.approx(
        trained_runs.correct(run, 4) - trained_runs.correct(twin, 16))
    seed_runs[("sdt", "digits", 16, 0)] = (run, shuffled[("sdt", "digits")])
    with pytest.raises(RuntimeError, match="other test images"):
        model_t4.seed_differences(seed_runs)


def test_disjoint_reference_errors_vanish_for_a_constant_code():
    """A stream that fires the same pattern in every step has zero error at every T against
    either reference."""
    run = _fake_run(1)
    pattern = run.stream["p0"][:, :1]
    run.stream = {"p0": np.repeat(pattern, 8, axis=1)}
    for disjoint in (True, False):
        curves = model_design.error_curves(run, disjoint)
        assert np.array_equal(curves["T"], [1, 2]) and not curves["rms"].any()


@pytest.mark.parametrize("disjoint", [True, False])
def test_error_curves_are_the_distance_of_early_rates_to_the_reference(disjoint):
    """Per T: the rms and 95th percentile of |stream_rates over steps 0 .. T - 1 - the
    reference rates|, from the definition on random streams of three populations."""
    run = _fake_run(1, seed=5)
    rng = np.random.default_rng(5)
    run.stream = {f"p{c}": rng.random((6, 16, 12)) < 0.3 for c in range(3)}
    meta = run.model.meta = dict(run.model.meta, T=16)
    limit = trained_runs.stream_rates(meta, run.stream, 16, start=8 if disjoint else 0)
    curves = model_design.error_curves(run, disjoint)
    errors = [np.abs(trained_runs.stream_rates(meta, run.stream, T) - limit) for T in (1, 2, 3, 4)]
    assert np.array_equal(curves["T"], [1, 2, 3, 4])
    assert np.array_equal(curves["rms"], [np.sqrt((e ** 2).mean()) for e in errors])
    assert np.array_equal(curves["coverage95"], [np.quantile(e, 0.95) for e in errors])


def test_uncentred_participation_ratio_of_a_single_direction():
    """Features along one direction with a non-zero mean: one uncentred dimension."""
    rng = np.random.default_rng(3)
    features = rng.uniform(1, 2, (50, 4, 1)) * np.array([1.0, 2.0, 0, 0])
    assert model_deff.dimension_ratio(features, "pr_uncentred") == pytest.approx(1 / 4)


@pytest.mark.slow
def test_the_model_claims_run_with_their_basis_and_rule_history(tmp_path):
    """At toy size every model.* claim runs with a basis, and each earlier rule finds its
    sensitivity row (model.energy: not-testable and fixed at width 16)."""
    from analyses.claims import get_claim
    from analyses.claims.base import ClaimContext

    context = ClaimContext(scale="toy", target="numpy", cache_dir=str(tmp_path))
    results = {claim_id: get_claim(claim_id).run(context.for_claim(claim_id))
               for claim_id in ("model.import", "model.t4", "model.deff", "model.design",
                                "model.energy")}
    for claim_id, result in results.items():
        assert result.basis is get_claim(claim_id).basis, claim_id
        assert all(entry["verdict_today"] for entry in result.rule_history), claim_id
    assert len(results["model.t4"].rule_history) == 4
    assert "rule_history" not in results["model.t4"].details
    energy = results["model.energy"]
    assert energy.verdict == "not-testable" and energy.basis.decided_by == "fixed"
    assert energy.rule_history[0]["verdict_today"] == "refuted"
    assert "At width 16" in energy.details["finding"]


def test_exponent_tests_say_whether_the_ci_excludes_the_rule_and_zero():
    free = {"L": [2.0, [1.5, 2.5]], "d_eff/d": [0.1, [-0.2, 0.4]], "1/eps": [1.3, [1.2, 1.4]]}
    said = model_design.exponent_tests(free)
    assert (said["L"]["excludes_rule"], said["L"]["excludes_zero"]) == (False, True)
    assert (said["d_eff/d"]["excludes_rule"], said["d_eff/d"]["excludes_zero"]) == (True, False)
    assert (said["1/eps"]["excludes_rule"], said["1/eps"]["excludes_zero"]) == (True, True)
    assert [v["rule"] for v in said.values()] == [2, 1, 2]


def test_a_constant_per_cell_fits_exactly_when_only_the_constant_differs():
    # the rule's form times a different constant in each cell: R^2 1 with a constant per cell,
    # while one constant for all leaves the spread of the constants
    cells = _design_cells(2.3, 2)
    exact = cells.assign(T_star=[design.rule_form(r.L, r.d_eff, r.d, r.eps)
                                 * (1 + int(r.model[1:])) for r in cells.itertuples()])
    assert model_design.r2_with_free_constants(exact) == pytest.approx(1.0)
    # errors falling as 1/T instead of 1/sqrt(T): T ~ 1/eps, which no constant repairs
    wrong = exact.assign(T_star=exact.T_star * exact.eps.astype(float))
    assert model_design.r2_with_free_constants(wrong) < 0.9


def test_free_exponents_within_groups_remove_a_confounded_intercept():
    # L's exponent is 2 inside each of four groups, but the groups' constants fall as L
    # rises between them: the pooled fit is pulled far below 2, the within-group fit is not
    rows = []
    for g in range(4):
        for m in range(3):
            L = (1 + g) * (1 + 0.2 * m)
            for eps in model_design.EPS:
                rows.append(dict(group=g, model=f"g{g}m{m}", d=16, d_eff=8.0, L=L, eps=eps,
                                 T_star=L ** 2 / eps ** 2 / (1 + g) ** 3, censored=False))
    cells = pd.DataFrame(rows)
    pooled = design.free_exponents(cells, configuration=("model",), resamples=200)
    within = design.free_exponents(cells, configuration=("model",), resamples=200,
                                   within=("group",))
    assert pooled["L"][0] < 0.5
    assert within["L"][0] == pytest.approx(2.0) and within["1/eps"][0] == pytest.approx(2.0)


def test_merged_seeds_take_geometric_means_and_keep_an_unreached_seed_unreached():
    base = dict(cell="c", arch="a", task="t", d=16, criterion="rms", censored=False)
    table = pd.DataFrame([dict(base, model="c s0", seed=0, eps=0.1, T_star=2.0, L=1.0, d_eff=4.0),
                          dict(base, model="c s1", seed=1, eps=0.1, T_star=8.0, L=4.0, d_eff=9.0),
                          dict(base, model="c s0", seed=0, eps=0.05, T_star=np.nan, L=1.0,
                               d_eff=4.0),
                          dict(base, model="c s1", seed=1, eps=0.05, T_star=30.0, L=4.0,
                               d_eff=9.0)])
    merged = model_design.seeds_merged(table).set_index("eps")
    assert merged.loc[0.1, ["T_star", "L", "d_eff"]].tolist() == pytest.approx([4.0, 2.0, 6.0])
    assert np.isnan(merged.loc[0.05, "T_star"]) and len(merged) == 2


def test_design_models_are_the_shipped_ones_with_every_width_of_the_wide_architectures():
    every = trained_runs.design_models()
    assert every and all(trained.shipped(a, t, 4, w, s).is_file() for a, t, w, s in every)
    assert {w for a, _, w, _ in every if a not in trained_runs.WIDE_ARCHITECTURES} == {16}
    assert {w for a, _, w, _ in every if a in trained_runs.WIDE_ARCHITECTURES} == \
        set(trained_runs.WIDTHS)
    assert {s for *_, s in trained_runs.design_models(1)} == {0}
    structures = [key[:3] for key in every]  # one structure's seeds in a row
    for k in set(structures):
        where = [i for i, s in enumerate(structures) if s == k]
        assert where == list(range(where[0], where[0] + len(where)))


def test_wider_models_are_paired_with_their_twins_on_the_same_images(monkeypatch):
    """shared_seed_runs adds every wider model whose T = 4 and T = 16 twins are shipped for
    every training seed: the T = 4 run of the width runs and a T = 16 run on its images (stub
    runs and a stub list of shipped twins: the plumbing); a model with a seed missing is left
    out."""
    from analyses.claims.base import ClaimContext

    calls = []

    def stub(context, arch, task, size, trained_T=4, training_seed=0, width=16):
        calls.append((arch, task, width, training_seed, trained_T, dict(size)))
        return trained_runs.ModelRun(arch, task, None, np.arange(size["images"]), None, None,
                                     {}, {})

    twins = {("qkformer", "digits", 32): [0, 1, 2], ("sdt", "sets", 64): [0, 1]}
    monkeypatch.setattr(trained_runs, "_run_model", stub)
    monkeypatch.setattr(trained_runs, "shipped_seeds",
                        lambda arch, task, width=16: twins.get((arch, task, width),
                                                                [0] if width == 16 else []))
    monkeypatch.setattr(trained_runs, "shipped_widths", lambda: [
        (a, t, w, s) for a in ("qkformer", "sdt") for t in ("digits", "sets")
        for w in (16, 32, 64) for s in (0, 1, 2)])
    context = ClaimContext(scale="toy", target="numpy").for_claim("model.t4")
    pairs = trained_runs.shared_seed_runs(context)
    assert {key for key in pairs if key[2] != 16} == {("qkformer", "digits", 32, s)
                                                      for s in (0, 1, 2)}
    for key in pairs:
        run, twin = pairs[key]
        assert np.array_equal(run.index, twin.index)
    width_images = trained_runs.WIDTH_SIZES.at("toy")["images"]
    assert sorted(c[3] for c in calls if c[2] == 32 and c[4] == trained_runs.REFERENCE_T) == \
        [0, 1, 2]
    assert all(c[5]["T_max"] == trained_runs.REFERENCE_T and c[5]["images"] == width_images
               for c in calls if c[2] != 16 and c[4] == trained_runs.REFERENCE_T)


def test_an_import_row_reads_every_reference_image_when_asked_for_all():
    """model.import at full size runs the models after the first eight on all the images
    their reference holds (images None): every one is compared, none differs."""
    from analyses.claims.base import ClaimContext
    from analyses.claims.model_import import _model_rows, shipped_cells

    cell = next(c for c in shipped_cells() if c.arch == "qkformer" and c.seed == 1)
    reference = trained.load_weights(trained.shipped(cell.arch, cell.task, cell.T, cell.width,
                                                     cell.seed))[2]
    context = ClaimContext(scale="toy", target="numpy").for_claim("model.import")
    summary, rows, _ = _model_rows(context, cell, None, controls=False)
    assert summary["images"] == summary["images_compared"] == len(reference["test_index"])
    assert summary["neuron_steps_compared"] > 0 and summary["mismatches"] == 0
