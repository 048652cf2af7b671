"""Trained spiking transformers as circuits: spike for spike against SpikingJelly's shipped
reference spikes, negative controls that must mismatch, and one clear error per bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyses.claims.model_import import import_rule
from circuits import trained
from evsim.errors import ValidationError
from evsim.train import ARCHITECTURES, TASKS, task_data, weights_hash

IMAGES = 12  # reference images checked in the default run (the claim checks 128)


def _run(meta, weights, reference, k=IMAGES):
    X = task_data(meta["task"])[0]
    model = trained.build(meta, weights)
    spikes, logits = model.run(X[reference["test_index"][:k]], target="numpy")
    return model, trained.mismatches(model, spikes, trained.reference_spikes(reference, k)), logits


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_layer_matches_spikingjelly(arch, task):
    meta, weights, reference = trained.load_weights(trained.shipped(arch, task))
    model, layers, logits = _run(meta, weights, reference)
    assert set(trained.reference_spikes(reference)) == set(layers)
    assert all(counts["mismatches"] == 0 for counts in layers.values()), layers
    assert sum(counts["reference_spikes"] for counts in layers.values()) > 1000  # not vacuous
    assert np.array_equal(logits.argmax(-1), reference["predicted"][:IMAGES])
    assert np.allclose(logits, reference["logits"][:IMAGES], atol=1e-9)


@pytest.mark.parametrize("arch", ["spikformer", "sdt"])
def test_a_perturbed_weight_mismatches(arch):
    meta, weights, reference = trained.load_weights(trained.shipped(arch))
    changed = dict(weights, **{"q.W": weights["q.W"] + 0.5 * (np.arange(16) == 0)[:, None]})
    _, layers, _ = _run(meta, changed, reference, 4)
    assert layers["embed" if arch == "spikformer" else "block_in"]["mismatches"] == 0
    assert layers["q"]["mismatches"] > 0


def test_the_wrong_decay_mismatches(monkeypatch):
    """The exact-LIF pitfall (tau_m = 2 dt in an exact LIF, i.e. SpikingJelly tau 2.54)."""
    from circuits import mechanisms
    from circuits.reference import PITFALL_TAU
    from evsim import models

    meta, weights, reference = trained.load_weights(trained.shipped("qkformer"))
    monkeypatch.setattr(mechanisms, "sj_lif",
                        lambda v_th=1.0: models.discrete_lif(tau=PITFALL_TAU, v_th=v_th))
    _, layers, _ = _run(meta, weights, reference, 4)
    assert sum(c["mismatches"] for c in layers.values()) > 0


@pytest.mark.parametrize("arch", ["spikformer", "spikingresformer"])
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
    assert (lags["embed"], lags["attention/Q"], lags["attention/attn"], lags["proj"]) == (1, 2, 4, 5)
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


def test_hash_mismatch(tmp_path):
    with np.load(trained.shipped("sdt")) as data:
        changed = data["q.W"] + 1e-12
    with pytest.raises(ValidationError, match="hash mismatch"):
        trained.from_weights(_rewrite(tmp_path, **{"q.W": changed}))


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
        weights = {k: data[k] for k in data.files if k != "meta" and not k.startswith("ref.")}
    path = _rewrite(tmp_path, meta={"hash": weights_hash({**weights, "conv.W": extra})},
                    **{"conv.W": extra})
    with pytest.raises(ValidationError, match=r"unsupported \['conv.W'\]"):
        trained.from_weights(path)


def test_tokens_of_the_wrong_shape():
    model = trained.from_weights("sdt")
    with pytest.raises(ValidationError, match=r"parameter 'tokens' must be finite with shape"):
        model.inputs(np.zeros((2, 16, 9)))


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
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_spikingjelly_regenerates_the_reference(arch, task):
    """SpikingJelly's float64 forward pass of the shipped (folded) weights gives the shipped
    reference spikes, and Brian2 matches it on 128 images (the claim's set)."""
    pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from evsim.train import spikingjelly_forward

    meta, weights, reference = trained.load_weights(trained.shipped(arch, task))
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
