"""Trained spiking transformers as circuits: spike for spike against SpikingJelly's shipped
reference spikes, negative controls that must mismatch, and one clear error per bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyses.claims.model_import import import_rule, one_step_late, perturbed
from circuits import trained
from evsim.errors import ValidationError
from evsim.train import ARCHITECTURES, REFERENCE_T, TASKS, task_data, weights_hash

IMAGES = 12  # reference images checked in the default run (the claim checks 128)


def _run(meta, weights, reference, k=IMAGES, batch=None):
    X = task_data(meta["task"])[0]
    model = trained.build(meta, weights)
    spikes, logits = model.run(X[reference["test_index"][:k]], target="numpy", batch=batch)
    return model, trained.mismatches(model, spikes, trained.reference_spikes(reference, k)), logits


@pytest.mark.parametrize("T", [4, pytest.param(REFERENCE_T, marks=pytest.mark.slow)])
@pytest.mark.parametrize("task", ["digits", pytest.param("sets", marks=pytest.mark.slow)])
@pytest.mark.parametrize("arch", ["qkformer", "sdt",
                                  pytest.param("spikformer", marks=pytest.mark.slow),
                                  pytest.param("spikingresformer", marks=pytest.mark.slow)])
def test_every_layer_matches_spikingjelly(arch, task, T):
    """Every layer equals SpikingJelly's reference spikes on 12 images (the set models and
    the two largest in test-slow; model.import checks every shipped model in every verify
    run)."""
    meta, weights, reference = trained.load_weights(trained.shipped(arch, task, T))
    assert meta["T"] == T
    model, layers, logits = _run(meta, weights, reference)
    assert set(trained.reference_spikes(reference)) == set(layers)
    assert all(counts["mismatches"] == 0 for counts in layers.values()), layers
    assert sum(counts["reference_spikes"] for counts in layers.values()) > 1000  # not vacuous
    assert np.array_equal(logits.argmax(-1), reference["predicted"][:IMAGES])
    assert np.allclose(logits, reference["logits"][:IMAGES], atol=1e-9)


@pytest.mark.parametrize("arch, T", [("sdt", 4),
                                     pytest.param("spikingresformer", 4, marks=pytest.mark.slow),
                                     pytest.param("qkformer", REFERENCE_T, marks=pytest.mark.slow)])
def test_images_in_windows_of_one_run_match_spikingjelly(arch, T):
    """Images one every T steps in each trial (restarts), each equal to the reference."""
    meta, weights, reference = trained.load_weights(trained.shipped(arch, "digits", T))
    images = 10 if T == 4 else 16  # at T = 16 two trials of 8 windows
    model, layers, logits = _run(meta, weights, reference, images, batch=2)
    assert model.layout(images, 2) == ((1, 10) if T == 4 else (2, 8))
    assert all(counts["mismatches"] == 0 for counts in layers.values()), layers
    assert np.allclose(logits, reference["logits"][:images], atol=1e-9)


@pytest.mark.parametrize("arch", ["spikformer", "sdt"])
def test_a_perturbed_weight_mismatches(arch):
    meta, weights, reference = trained.load_weights(trained.shipped(arch))
    _, layers, _ = _run(meta, perturbed(meta, weights), reference, 4)
    assert layers["embed" if arch == "spikformer" else "block_in"]["mismatches"] == 0
    assert layers["q"]["mismatches"] > 0


def test_the_wrong_decay_mismatches():
    """The exact-LIF pitfall (tau_m = 2 dt in an exact LIF, i.e. SpikingJelly tau 2.54)."""
    from circuits.reference import PITFALL_TAU

    meta, weights, reference = trained.load_weights(trained.shipped("qkformer"))
    X = task_data("digits")[0]
    model = trained.build(meta, weights, tau=PITFALL_TAU)
    spikes, _ = model.run(X[reference["test_index"][:4]], target="numpy")
    layers = trained.mismatches(model, spikes, trained.reference_spikes(reference, 4))
    assert sum(c["mismatches"] for c in layers.values()) > 0


@pytest.mark.slow  # model.import runs this control in every verify
def test_a_one_step_lag_error_mismatches():
    meta, weights, reference = trained.load_weights(trained.shipped("sdt"))
    model, layers, _ = _run(meta, weights, reference, 4)
    X = task_data("digits")[0]
    spikes, _ = model.run(X[reference["test_index"][:4]], target="numpy")
    late = trained.mismatches(model, one_step_late(spikes), trained.reference_spikes(reference, 4))
    assert sum(c["mismatches"] for c in layers.values()) == 0
    assert all(c["mismatches"] > 0 for c in late.values() if c["reference_spikes"] > 0)


def test_a_reference_layer_without_a_circuit_layer_is_an_error():
    meta, weights, reference = trained.load_weights(trained.shipped("sdt"))
    model = trained.build(meta, weights)
    spikes = trained.reference_spikes(reference, 2)
    with pytest.raises(RuntimeError, match="reference layers"):
        trained.mismatches(model, spikes, {**spikes, "extra": spikes["q"]})


@pytest.mark.parametrize("arch", ["spikformer",
                                  pytest.param("spikingresformer", marks=pytest.mark.slow)])
def test_the_set_models_are_equivariant(arch):
    """Permuting a set's points permutes every token layer's spikes and the per-token
    logits (no position embedding; the attention mechanisms are equivariant)."""
    model = trained.from_weights(arch, "sets")
    X = task_data("sets")[0][:3]
    order = np.random.default_rng(0).permutation(16)
    spikes, logits = model.run(X, target="numpy")
    permuted, permuted_logits = model.run(X[:, order], target="numpy")
    for name, (_, layout, _) in model.layers.items():
        if layout[0] == 16 and len(layout) == 2:  # (tokens, channels) layers
            assert np.array_equal(permuted[name], spikes[name][:, :, order]), name
    assert np.allclose(permuted_logits, logits[:, order])


def test_lags_follow_the_hops():
    meta, weights, _ = trained.load_weights(trained.shipped("spikformer"))
    lags = trained.build(meta, weights).lags
    assert (lags["embed"], lags["attention/Q"], lags["attention/attn"], lags["proj"]) == \
        (1, 2, 4, 5)
    assert lags["hidden"] == lags["proj"] + 1  # embed delayed to meet proj


def test_import_rule_says_both():
    assert import_rule(0, 0, 10) == "supported"
    assert import_rule(3, 0, 10) == "refuted"
    assert import_rule(0, 1, 10) == "refuted"
    assert import_rule(3, 0, 10, tolerance=5) == "supported"
    assert import_rule(0, 0, 0) == "not-testable"


# -- bad input ---------------------------------------------------------------------------------

def _rewrite(tmp_path, arch="sdt", **changes):
    """A copy of the shipped file with arrays (or meta keys, under "meta") changed."""
    with np.load(trained.shipped(arch)) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta.update(changes.pop("meta", {}))
    arrays.update(changes)
    path = tmp_path / "weights.npz"
    np.savez(path, meta=json.dumps(meta), **arrays)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        trained.from_weights(tmp_path / "none.npz")


def test_metadata_missing_a_key(tmp_path):
    path = _rewrite(tmp_path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    del meta["task"]
    np.savez(path, meta=json.dumps(meta), **arrays)
    with pytest.raises(ValidationError, match=r"metadata lacks \['task'\]"):
        trained.from_weights(path)


def test_unknown_architecture(tmp_path):
    with pytest.raises(ValidationError, match="parameter 'arch' must be one of"):
        trained.from_weights(_rewrite(tmp_path, meta={"arch": "vit"}))


@pytest.mark.parametrize("change", ["weight", "reference spikes", "decay constant c1"])
def test_hash_mismatch(tmp_path, change):
    with np.load(trained.shipped("spikingresformer")) as data:
        changes = {"weight": {"y1.W": data["y1.W"] + 1e-12},
                   "reference spikes": {"ref.A": ~data["ref.A"]},
                   "decay constant c1": {"meta": {"c1": 0.3}}}[change]
    with pytest.raises(ValidationError, match="hash mismatch"):
        trained.from_weights(_rewrite(tmp_path, "spikingresformer", **changes))


@pytest.mark.parametrize("key, value, message", [
    ("task", "foo", "task must be one of"), ("T", 0, "T must be an integer >= 1"),
    ("c1", float("nan"), "c1 must be finite and > 0")])
def test_bad_metadata(tmp_path, key, value, message):
    with pytest.raises(ValidationError, match=message):
        trained.from_weights(_rewrite(tmp_path, meta={key: value}))


def test_wrong_shape(tmp_path):
    wrong = np.zeros((8, 16))
    with pytest.raises(ValidationError, match=r"weight 'q.W' of sdt must be finite with shape"):
        trained.from_weights(_rewrite(tmp_path, **{"q.W": wrong}))


def test_wrong_architecture_for_the_weights(tmp_path):
    # SDT weights labelled SpikingResformer: y1, y2 missing, q, k, v unsupported
    path = _rewrite(tmp_path, meta={"arch": "spikingresformer"})
    with pytest.raises(ValidationError, match="missing.*y1.W.*unsupported.*k.W"):
        trained.from_weights(path)


def test_unsupported_layer(tmp_path):
    extra = np.zeros((16, 16))
    with np.load(trained.shipped("sdt")) as data:
        arrays = {k: data[k] for k in data.files if k != "meta"}
        meta = json.loads(str(data["meta"]))
    path = _rewrite(tmp_path, meta={"hash": weights_hash({**arrays, "conv.W": extra}, meta)},
                    **{"conv.W": extra})
    with pytest.raises(ValidationError, match=r"unsupported \['conv.W'\]"):
        trained.from_weights(path)


def test_tokens_of_the_wrong_shape_or_none():
    model = trained.from_weights("sdt")
    with pytest.raises(ValidationError, match=r"parameter 'tokens' must be finite with shape"):
        model.inputs(np.zeros((2, 16, 9)))
    with pytest.raises(ValidationError, match=r"at least one image and 'batch' must be >= 1"):
        model.run(np.zeros((0, 16, 4)))
    with pytest.raises(ValidationError, match=r"at least one image and 'batch' must be >= 1"):
        model.run(np.zeros((2, 16, 4)), batch=0)


@pytest.mark.parametrize("images, batch", [(450, None), (450, 64), (7, 3), (5, 5), (1, None)])
def test_layout_holds_every_image_in_the_fewest_windows(images, batch):
    model = trained.from_weights("spikformer")
    trials, windows = model.layout(images, batch)
    limit = batch or trained.BATCH_SYNAPSES // model.size[1]
    assert trials <= limit
    assert trials * windows >= images > trials * (windows - 1)  # no window left empty
    # filling the model (its depth) takes at most FILL_FRACTION of the windows' steps
    assert model.depth <= trained.FILL_FRACTION * windows * model.meta["T"] or trials == 1


def test_images_over_the_recording_budget_run_in_chunks_with_the_same_spikes(monkeypatch):
    model = trained.from_weights("sdt")
    X, _, _, test = task_data("digits")
    tokens = X[test[:5]]
    whole = model.population_spikes(tokens, target="numpy")
    calls = []
    simulate = trained.simulate
    monkeypatch.setattr(trained, "simulate", lambda *a, **k: calls.append(1) or simulate(*a, **k))
    per_image = model.meta["T"] * model.size[0]
    monkeypatch.setattr(trained, "CHUNK_NEURON_STEPS", 2 * per_image)  # 2 images a simulation
    chunked = model.population_spikes(tokens, target="numpy")
    assert len(calls) == 3
    assert chunked.keys() == whole.keys()
    assert all(np.array_equal(chunked[p], whole[p]) for p in whole)
    monkeypatch.setattr(trained, "CHUNK_NEURON_STEPS", 1)  # one image alone over budget: runs
    assert np.array_equal(model.population_spikes(tokens[:1], target="numpy")["block_in"],
                          whole["block_in"][:1])


def test_a_task_with_a_file_is_an_error():
    with pytest.raises(ValidationError, match="parameter 'task' applies to shipped"):
        trained.from_weights(trained.shipped("sdt"), task="sets")


def test_training_without_torch_is_one_clear_error():
    try:
        import torch  # noqa: F401
        pytest.skip("torch is installed")
    except ImportError:
        pass
    from evsim.train import train

    with pytest.raises(ValidationError, match=r"pip install -e '.\[train\]'"):
        train("sdt", epochs=1)


# -- with the extra (slow): SpikingJelly itself ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("T", [4, REFERENCE_T])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_spikingjelly_regenerates_the_reference(arch, task, T):
    """SpikingJelly's float64 forward pass of the shipped (folded) weights gives the shipped
    reference spikes, and Brian2 matches it on 128 images (the claim's set)."""
    pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from evsim.train import spikingjelly_forward

    meta, weights, reference = trained.load_weights(trained.shipped(arch, task, T))
    X = task_data(task)[0]
    k = len(reference["test_index"])
    spikes, logits, _ = spikingjelly_forward(meta, weights, X[reference["test_index"]])
    for name, shipped in trained.reference_spikes(reference, k).items():
        assert np.array_equal(spikes[name], shipped), name
    assert np.array_equal(logits.argmax(-1), reference["predicted"][:k])
    model = trained.build(meta, weights)
    circuit_spikes, _ = model.run(X[reference["test_index"]])
    assert all(c["mismatches"] == 0 for c in
               trained.mismatches(model, circuit_spikes, spikes).values())


def test_the_training_grid_has_three_widths_and_seeds_per_cell_and_names_every_file():
    from collections import Counter

    from evsim.train import GRID, SEEDS, WIDE_ARCHITECTURES, WIDTHS

    assert len(set(GRID)) == len(GRID) == 96
    seeds = Counter((c.arch, c.task, c.T, c.width) for c in GRID)
    assert set(seeds.values()) == {len(SEEDS)} and len(SEEDS) >= 3
    widths = {a: {c.width for c in GRID if c.arch == a} for a in ARCHITECTURES}
    assert [a for a in ARCHITECTURES if widths[a] == set(WIDTHS)] == list(WIDE_ARCHITECTURES)
    assert len(WIDTHS) >= 3 and len(WIDE_ARCHITECTURES) >= 2
    assert {c.T for c in GRID} == {4, REFERENCE_T}
    names = {trained.weights_name(*c) for c in GRID}
    assert len(names) == len(GRID)  # one file per cell
    # the first models keep their names and their 128 reference images
    first = [c for c in GRID if c.width == 16 and c.seed == 0]
    assert {trained.weights_name(*c) for c in first} == {
        f"{a}_{t}{'' if T == 4 else f'_T{T}'}.npz" for a in ARCHITECTURES for t in TASKS
        for T in (4, REFERENCE_T)}
    assert {c.reference_images for c in first} == {128}
    assert {c.reference_images for c in GRID if c not in first} == {32}
    assert trained.shipped("sdt", "sets", 16, 64, 2).name == "sdt_sets_T16_w64_s2.npz"


@pytest.mark.parametrize("args, message", [
    (dict(arch="spikformer", width=32), "'width' must be one of"),
    (dict(arch="sdt", width=48), "'width' must be one of"),
    (dict(arch="sdt", seed=3), "'seed' must be one of"),
])
def test_a_model_outside_the_grid_is_one_clear_error(args, message):
    with pytest.raises(ValidationError, match=message):
        trained.shipped(**args)


def test_train_grid_resumes_and_compares_each_model_with_its_shipped_file(tmp_path,
                                                                          monkeypatch):
    """The grid command trains only the cells not yet in --out (a stub stands in for torch)
    and compares each with its cell's shipped file."""
    from typer.testing import CliRunner

    import evsim.train
    from evsim.cli import app
    from evsim.train import GRID

    trained_cells = []

    def stub(arch, task, T, width, seed, epochs, out, reference_images, progress):
        cell = evsim.train.Cell(arch, task, T, width, seed)
        trained_cells.append(cell)
        meta, _, _ = trained.load_weights(trained.WEIGHTS_DIR / trained.weights_name(*cell)) \
            if (trained.WEIGHTS_DIR / trained.weights_name(*cell)).is_file() else \
            (dict(test_accuracy=0.5, train_seconds=0.0, hash="-"), None, None)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"")
        return meta

    monkeypatch.setattr(evsim.train, "train", stub)
    for cell in GRID[:90]:
        (tmp_path / trained.weights_name(*cell)).write_bytes(b"")
    done = CliRunner().invoke(app, ["train", "grid", "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert trained_cells == list(GRID[90:])
    assert f"6 of {len(GRID)} models to train" in done.output
    assert "trained 6 models" in done.output
