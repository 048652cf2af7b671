"""Trained spiking transformers (from :mod:`evsim.train`) as explicit neuron circuits.

:func:`load_weights` reads a shipped ``.npz`` (folded float64 weights, metadata, reference
spikes of SpikingJelly's float64 forward pass) and checks it; :func:`from_weights` builds the
model as an evsim Circuit:

* the image: one graded source per pixel of each 2 x 2 patch, firing its value in every step
  (SpikingJelly's direct encoding); a path that reaches a layer later reads a copy of the
  image shown that many steps later (Brian2 reads a delayed graded event's value when it
  arrives, so a delay would read a later image of the same run);
* every linear layer with its folded batch norm: synaptic weights (split by sign) onto a
  discrete LIF population with SpikingJelly's semantics, the bias (and the position
  embedding) a constant input current (what it drives before the layer's first input
  arrives is wiped when the layer's first window starts);
* attention: the mechanism circuits of :mod:`circuits.mechanisms` (SSA, QKTA, SDSA, DSSA) with
  LIF operand populations driven by the layer's synapses;
* residuals: spike-adding models (Spikformer, QKFormer) feed every population of the stream
  to the next layer with the same weights; membrane-shortcut models (Spike-driven
  Transformer, SpikingResformer) feed every term of the real-valued stream into the LIF that
  reads it.

Every synaptic hop costs one step, so population p shows SpikingJelly's step t in step
t + ``lags[p]``; converging paths are equalised with synaptic delays. One run carries several
images per trial, one every T steps, each population restarting at its own lag
(:mod:`evsim.restarts`): a window of T steps per image instead of T + the depth. The linear
classifier of the token mean (per token for the set task) is applied to the counts of the last
stream (:meth:`TrainedCircuit.logits`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evsim import Circuit, models, simulate
from evsim.errors import ValidationError
from evsim.train import (ARCHITECTURES, CLASSES, OPERANDS, REFERENCE_T, SEEDS, SIZES, TASKS,
                         WIDE_ARCHITECTURES, WIDTHS, weights_hash)

from . import mechanisms
from .arithmetic import STEP, connect_pairs

__all__ = ["WEIGHTS_DIR", "TrainedCircuit", "load_weights", "from_weights", "build", "shipped",
           "weights_name", "stream_rates", "classify",
           "reference_spikes", "mismatches"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
#: synapses one run of a trained model holds by default (all its images): ~1 GB on numpy,
#: and the built network is kept for the next batch (evsim.runtime.CACHE_SYNAPSES)
BATCH_SYNAPSES = 12_000_000
#: neuron-steps one simulation of a trained model records at most: its rasters and the
#: copies made from them peak at ~2.5 bytes a neuron-step on the runtime targets (1.9 GB for
#: SpikingResformer's 76,480 neurons x 32 images x 256 steps), but ~10 bytes on a backend that
#: records spike times instead (6.2 GB), so more images run as several simulations of the
#: same circuit
CHUNK_NEURON_STEPS = 2 ** 28
#: at most this fraction of a run's steps are spent filling the model (its depth, once per
#: trial): on numpy, 2-16 trials were as fast as 57-150 at T = 4 (a step's fixed cost is
#: small beside the depth's idle steps of many trials) and as fast at T = 64
FILL_FRACTION = 1 / 16
#: metadata every weights file carries (besides versions, accuracy and training time)
META_KEYS = ("arch", "task", "classes", "tokens", "width", "heads", "T", "c1", "c2", "patch",
             "seed", "hash", "test_accuracy")


def shipped(arch: str, task: str = "digits", T: int = 4, width: int = 16, seed: int = 0) -> Path:
    """Path of the shipped weights of ``arch`` trained on ``task`` with ``T`` steps, model
    width ``width`` and training seed ``seed``: one cell of :data:`evsim.train.GRID`."""
    _check_arch(arch)
    if task not in TASKS:
        raise ValidationError("task", f"parameter 'task' must be one of {TASKS}, got {task!r}")
    if T not in (4, REFERENCE_T):
        raise ValidationError("T", f"parameter 'T' must be one of (4, {REFERENCE_T}) (the shipped "
                                   f"training T), got {T!r}")
    if width not in WIDTHS or (width != SIZES["width"] and arch not in WIDE_ARCHITECTURES):
        raise ValidationError("width", f"parameter 'width' must be one of {WIDTHS} for "
                                       f"{WIDE_ARCHITECTURES} and {SIZES['width']} for the "
                                       f"others, got {width!r} for {arch}")
    if seed not in SEEDS:
        raise ValidationError("seed", f"parameter 'seed' must be one of {SEEDS} (the shipped "
                                      f"training seeds), got {seed!r}")
    return WEIGHTS_DIR / weights_name(arch, task, T, width, seed)


def weights_name(arch: str, task: str, T: int = 4, width: int = 16, seed: int = 0) -> str:
    """File name of a model's weights: {arch}_{task}, then _T{T} unless T = 4, _w{width}
    unless width 16, _s{seed} unless seed 0, then .npz (the first models keep their names)."""
    return (f"{arch}_{task}" + (f"_T{T}" if T != 4 else "")
            + (f"_w{width}" if width != SIZES["width"] else "")
            + (f"_s{seed}" if seed else "") + ".npz")


def _check_arch(arch) -> None:
    if arch not in ARCHITECTURES:
        raise ValidationError("arch", f"parameter 'arch' must be one of {ARCHITECTURES}, got "
                                      f"{arch!r}")


def expected_shapes(arch: str, meta: dict) -> dict:
    """Weight name -> shape that ``arch`` needs at the sizes in ``meta``."""
    D, N, patch = meta["width"], meta["tokens"], meta["patch"]
    shapes = {"embed.W": (D, patch * patch), "embed.b": (D,), "position": (N, D),
              "proj.W": (D, D), "proj.b": (D,), "mlp1.W": (4 * D, D), "mlp1.b": (4 * D,),
              "mlp2.W": (D, 4 * D), "mlp2.b": (D,), "head.W": (meta["classes"], D),
              "head.b": (meta["classes"],)}
    for name in OPERANDS[arch]:
        shapes[f"{name}.W"], shapes[f"{name}.b"] = (D, D), (D,)
    if arch == "spikingresformer":
        for name in ("y1", "y2"):
            shapes[f"{name}.W"], shapes[f"{name}.b"] = (D, D), (D,)
    return shapes


def load_weights(path) -> tuple[dict, dict, dict]:
    """(meta, weights, reference) from a weights file; one clear error for a missing file,
    an unknown architecture, a missing or mis-shaped array, or a hash mismatch."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", f"weights file '{path}' does not exist")
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data.files:
            raise ValidationError("path", f"'{path}' is not an evsim weights file (no 'meta')")
        meta = json.loads(str(data["meta"]))
        arrays = {k: data[k] for k in data.files if k != "meta"}
    _check_meta(meta, path)
    weights = {k: v for k, v in arrays.items() if not k.startswith("ref.")}
    reference = {k[4:]: v for k, v in arrays.items() if k.startswith("ref.")}
    shapes = expected_shapes(meta["arch"], meta)
    if set(weights) != set(shapes):
        raise ValidationError("path", f"'{path}' ({meta['arch']}) must hold exactly the weights "
                                      f"{sorted(shapes)}; missing "
                                      f"{sorted(set(shapes) - set(weights))}, unsupported "
                                      f"{sorted(set(weights) - set(shapes))}")
    for name, shape in shapes.items():
        if weights[name].shape != shape or not np.all(np.isfinite(weights[name])):
            raise ValidationError("path", f"weight '{name}' of {meta['arch']} must be finite with "
                                          f"shape {shape}, got {weights[name].shape}")
    if weights_hash(arrays, meta) != meta["hash"]:
        raise ValidationError("path", f"hash mismatch in '{path}': the weights are not the ones "
                                      "its metadata describes")
    return meta, weights, reference


def _check_meta(meta: dict, path) -> None:
    missing = sorted(set(META_KEYS) - set(meta))
    if missing:
        raise ValidationError("path", f"'{path}' metadata lacks {missing}")
    _check_arch(meta["arch"])
    if meta["task"] not in TASKS or meta["classes"] != CLASSES[meta["task"]]:
        raise ValidationError("path", f"'{path}': task must be one of {TASKS} with its number of "
                                      f"classes {CLASSES}, got {meta['task']!r}, "
                                      f"{meta['classes']!r}")
    for key in ("tokens", "width", "heads", "T", "patch"):
        if not isinstance(meta[key], int) or meta[key] < 1:
            raise ValidationError("path", f"'{path}': {key} must be an integer >= 1, got "
                                          f"{meta[key]!r}")
    for key in ("c1", "c2"):
        if not (isinstance(meta[key], (int, float)) and np.isfinite(meta[key]) and meta[key] > 0):
            raise ValidationError("path", f"'{path}': {key} must be finite and > 0, got "
                                          f"{meta[key]!r}")


@dataclass
class TrainedCircuit:
    """A trained model as a Circuit; ``layers`` maps SpikingJelly's layer names to
    (population, layout, axes): layout the per-step shape of the population's neurons, axes
    the transposition that brings the reference spikes to it (None: same order)."""

    arch: str
    meta: dict
    weights: dict
    circuit: Circuit
    lags: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    biases: dict = field(default_factory=dict)  # population -> constant input (size,)
    stream: list = field(default_factory=list)  # populations the classifier reads
    attention_output: str = ""  # the mechanism's output population
    operands: dict = field(default_factory=dict)  # mechanism operand -> its population
    image_sources: list = field(default_factory=list)  # "image" and its later copies

    @property
    def depth(self) -> int:
        """The largest lag: steps from the image to the last population."""
        return max(self.lags.values())

    def layout(self, images: int, batch: int | None = None) -> tuple[int, int]:
        """(trials, windows) of one run of ``images`` images, one after another in windows of
        T steps in each of ``trials`` side by side (image i is trial i % trials of window
        i // trials): at most ``batch`` side by side (default: as many as hold
        :data:`BATCH_SYNAPSES` synapses; memory ~ synapses), and no more than keep the steps
        each trial spends filling the model (its depth) under :data:`FILL_FRACTION` of the
        run, fewer trials costing more steps of fixed overhead instead."""
        if batch is None:
            batch = max(1, BATCH_SYNAPSES // max(1, self.size[1]))
        if isinstance(images, bool) or images < 1 or isinstance(batch, bool) or batch < 1:
            raise ValidationError("tokens", "parameter 'tokens' must hold at least one image and "
                                            f"'batch' must be >= 1, got {images} and {batch}")
        windows = int(-(-self.depth // (FILL_FRACTION * self.meta["T"])))  # at least
        trials = max(1, min(batch, images // windows))
        return trials, -(-images // trials)

    def inputs(self, tokens: np.ndarray, trials: int | None = None) -> dict:
        """Circuit inputs (steps, trials, size) for image (or set) tokens (images, N, 4): image
        i in trial i % ``trials`` (default: every image a trial) of window i // trials, the
        window of population p being steps [k T + lag_p, (k + 1) T + lag_p)."""
        tokens = np.asarray(tokens, dtype=float)
        N, P = self.meta["tokens"], self.meta["patch"] ** 2
        if tokens.ndim != 3 or tokens.shape[1:] != (N, P) or not np.all(np.isfinite(tokens)):
            raise ValidationError("tokens", f"parameter 'tokens' must be finite with shape "
                                            f"(images, {N}, {P}), got {tokens.shape}")
        trials = len(tokens) if trials is None else trials
        windows, T = -(-len(tokens) // trials), self.meta["T"]
        steps = windows * T + self.depth
        padded = np.zeros((windows * trials, N * P))
        padded[:len(tokens)] = tokens.reshape(len(tokens), -1)
        shown = np.repeat(padded.reshape(windows, trials, N * P), T, axis=0)
        out = {}
        for source in self.image_sources:
            out[source] = np.zeros((steps, trials, N * P))
            out[source][self.lags[source]:][:windows * T] = shown
        # constant: what a bias drives before a population's first window is wiped at its start
        return out | {population: bias[None, :] for population, bias in self.biases.items()}

    def run(self, tokens, *, seed: int = 0, target: str | None = None, batch: int | None = None):
        """Simulate images in one run (at most ``batch`` side by side, see :meth:`layout`);
        returns (spikes, logits):
        spikes[layer] of shape ``(T, images, *layout)`` on SpikingJelly's clock, logits (images,
        classes), per token (images, N, classes) for the set task. ``target``: the backend
        (default: the enclosing :func:`evsim.backends.using` block's)."""
        tokens = np.asarray(tokens, dtype=float)
        T = self.meta["T"]
        read = {*self.stream, *(population for population, _, _ in self.layers.values())}
        rasters = self.population_spikes(tokens, seed=seed, target=target,
                                         read=read, batch=batch)
        spikes = {name: np.moveaxis(rasters[population], 1, 0).reshape((T, len(tokens)) + layout)
                  for name, (population, layout, _) in self.layers.items()}
        return spikes, self.logits({p: rasters[p] for p in self.stream})

    def population_spikes(self, tokens, *, seed: int = 0, target: str | None = None, read=None,
                          batch: int | None = None) -> dict:
        """One simulation of ``tokens`` (images, N, 4), laid out by :meth:`layout`: {population:
        bool (images, T, neurons)}, the T steps of each image in each population on its own
        clock (SpikingJelly's steps 0 .. T - 1), for every population or those in ``read``.
        Images beyond :data:`CHUNK_NEURON_STEPS` run as several simulations of equal share
        (each image is a trial or window of its own and the model is deterministic, so the
        spikes are those of one simulation)."""
        tokens = np.asarray(tokens, dtype=float)
        images, T = len(tokens), self.meta["T"]
        read = list(read or self.lags)
        sizes = self.circuit.sizes
        chunks = -(-images * T * sum(sizes[p] for p in read) // CHUNK_NEURON_STEPS)
        if chunks > 1 and images > 1:
            share = -(-images // chunks)
            parts = [self.population_spikes(tokens[i:i + share], seed=seed, target=target,
                                            read=read, batch=batch)
                     for i in range(0, images, share)]
            return {p: np.concatenate([part[p] for part in parts]) for p in read}
        trials, windows = self.layout(images, batch)
        inputs = self.inputs(tokens, trials)
        steps = len(next(iter(inputs.values())))
        options = dict(restart_every=T * STEP,
                       restart_offsets={p: (lag % T) * STEP for p, lag in self.lags.items()})
        record = simulate(self.circuit, inputs, steps * STEP, dt=STEP, trials=trials, seed=seed,
                          record_rasters=read, target=target, **options)
        out = {}
        for population in read:
            raster, lag = record.raster(population), self.lags[population]
            by_window = raster[:, lag:lag + windows * T].reshape(trials, windows, T, -1)
            out[population] = by_window.swapaxes(0, 1).reshape(trials * windows, T, -1)[:images]
        return out

    @property
    def size(self) -> tuple[int, int]:
        """(neurons, synapses) of one copy of the circuit."""
        sizes = self.circuit.sizes
        synapses = sum(len(p.pairs(sizes[p.source], sizes[p.target])[0])
                       for p in self.circuit.projections)
        return sum(sizes.values()), synapses

    def logits(self, stream: dict) -> np.ndarray:
        """The classifier on the stream's spikes {population: (images, T, N * D)} over all T
        steps: (images, classes) or (images, N, classes) (see :func:`classify`)."""
        return classify(self.meta, self.weights, stream_rates(self.meta, stream))


def stream_rates(meta: dict, stream: dict, T: int | None = None, start: int = 0) -> np.ndarray:
    """The classifier's input over steps start .. T - 1 (default: the model's T): (images, N, D)
    spikes per step, summed over the stream's populations {population: (images, steps, N D)}
    (spike-adding residuals)."""
    N, D = meta["tokens"], meta["width"]
    T = meta["T"] if T is None else T
    return sum(s[:, start:T].sum(axis=1).reshape(len(s), N, D)
               for s in stream.values()) / (T - start)


def classify(meta: dict, weights: dict, features: np.ndarray) -> np.ndarray:
    """The trained linear classifier on stream rates (images, N, D): head.W times the token
    mean (digits) or every token (sets), plus head.b."""
    if meta["task"] == "digits":
        features = features.mean(axis=1)
    return features @ weights["head.W"].T + weights["head.b"]


class _Builder:
    """Wires populations with lag bookkeeping (lag: the step that shows SpikingJelly's step 0)."""

    def __init__(self, model: TrainedCircuit, tau: float):
        self.model, self.circuit = model, model.circuit
        self.N = model.meta["tokens"]
        self.neuron = models.discrete_lif(tau=tau, v_th=1.0)  # every layer's LIF

    def lif(self, name: str, terms: list, bias) -> str:
        """The LIF layer ``name`` (V_th 1) fed by ``terms`` [(source, W (out, in) per token)]
        plus ``bias`` (out,) or (N, out) from its lag on."""
        out = terms[0][1].shape[0]
        self.circuit.add_population(name, self.neuron, self.N * out)
        self.feed(name, terms)
        self.circuit.add_input(name, name)
        self.model.biases[name] = np.broadcast_to(bias, (self.N, out)).reshape(-1)
        self.model.layers[name] = (name, (self.N, out), None)
        return name

    def feed(self, target: str, terms: list) -> None:
        """Token-wise linear maps from each source into ``target``, delays equalised."""
        lags = self.model.lags
        lag = max(lags[source] for source, _ in terms) + 1
        if target in lags and lags[target] != lag:
            raise RuntimeError(f"{target}: inputs arrive at lag {lag}, expected {lags[target]}")
        lags[target] = lag
        for k, (source, W) in enumerate(terms):
            if source in self.model.image_sources:  # graded: read in the step it is sent
                source = self.image(lag - 1)
            out, fan_in = W.shape
            n, i, o = np.indices((self.N, fan_in, out))  # in (pre, post) order: none to merge
            connect_pairs(self.circuit, source, target, n * fan_in + i, n * out + o, W[o, i],
                          delay=(lag - 1 - lags[source]) * STEP, name=f"{source}->{target}#{k}")

    def image(self, lag: int) -> str:
        """The image source shown from step ``lag`` on (added on first use)."""
        name = "image" if lag == 0 else f"image_{lag}"
        if name not in self.model.lags:
            self.circuit.add_population(name, models.graded_source(),
                                        self.N * self.model.meta["patch"] ** 2)
            self.circuit.add_input(name, name)
            self.model.lags[name] = lag
            self.model.image_sources.append(name)
        return name

    def attention(self, arch: str, operands: dict) -> str:
        """The mechanism circuit of ``arch``; ``operands``: mechanism operand -> (layer name,
        terms, bias) of its LIF operand population. Returns the output population."""
        meta, w, N, D, H = (self.model.meta, self.model.weights, self.N, self.model.meta["width"],
                            self.model.meta["heads"])
        if arch == "spikingresformer":
            dssa = dict(W1=w["y1.W"][..., None], W2=w["y2.W"][..., None], b1=w["y1.b"],
                        b2=w["y2.b"], c1=meta["c1"], c2=meta["c2"])
            mech = mechanisms.dssa(dssa, N, D, H, operand_model=self.neuron)
        else:
            build = dict(spikformer=mechanisms.ssa, qkformer=mechanisms.qkta,
                         sdt=mechanisms.sdsa)[arch]
            mech = build(N, D, H, operand_model=self.neuron)
        self.circuit.include(mech.circuit, "attention")
        for name, (layer, terms, bias) in operands.items():
            population = f"attention/{name}"
            self.feed(population, terms)
            self.model.biases[population] = np.broadcast_to(bias, (N, D)).reshape(-1)
            self.model.layers[layer] = (population, (N, D), None)
            self.model.operands[name] = population
        lag = self.model.lags[f"attention/{next(iter(operands))}"]
        # SpikingJelly's layers inside the mechanism: (layer, population, hops, layout, axes)
        inner = dict(spikformer=[("attn", "attn", 2, (N, D), None)],
                     qkformer=[("attn", "token_mask", 1, (H, N), (1, 0)),
                               ("qkta_out", "out", 2, (N, D), None)],
                     sdt=[("attn", "mask", 2, (1, D), None), ("sdsa_out", "out", 3, (N, D), None)],
                     spikingresformer=[("A", "A", 2, (H, N, N), None),
                                       ("attn", "O", 4, (N, D), None)])[arch]
        for layer, population, hops, layout, axes in inner:
            self.model.lags[f"attention/{population}"] = lag + hops
            self.model.layers[layer] = (f"attention/{population}", layout, axes)
        out = f"attention/{mech.output}"
        self.model.lags[out] = lag + mech.depth
        self.model.attention_output = out
        return out


def from_weights(path_or_arch, task: str | None = None) -> TrainedCircuit:
    """Build a trained model: a weights file, or the name of a shipped architecture trained on
    ``task`` (default digits; a file says its own task)."""
    if path_or_arch in ARCHITECTURES:
        path = shipped(path_or_arch, task or "digits")
    elif task is not None:
        raise ValidationError("task", "parameter 'task' applies to shipped architectures only; a "
                                      f"weights file says its own task, got task={task!r}")
    else:
        path = path_or_arch
    meta, weights, _ = load_weights(path)
    return build(meta, weights)


def build(meta: dict, w: dict, *, tau: float = 2.0) -> TrainedCircuit:
    """Build the circuit of already checked weights ``w`` (see :func:`load_weights`).
    ``tau``: the layers' LIF time constant in steps (SpikingJelly's 2; another value is a
    negative control)."""
    arch, N = meta["arch"], meta["tokens"]
    model = TrainedCircuit(arch, meta, w, Circuit(f"{arch}_{meta['task']}"))
    b = _Builder(model, tau)
    b.image(0)
    embed, embed_bias = [("image", w["embed.W"])], w["embed.b"] + w["position"]
    if arch in ("spikformer", "qkformer"):  # residual: spikes added
        stream = [b.lif("embed", embed, embed_bias)]
        out = b.attention(arch, {k.upper(): (k, [(p, w[f"{k}.W"]) for p in stream], w[f"{k}.b"])
                                 for k in OPERANDS[arch]})
        stream.append(b.lif("proj", [(out, w["proj.W"])], w["proj.b"]))
        hidden = b.lif("hidden", [(p, w["mlp1.W"]) for p in stream], w["mlp1.b"])
        stream.append(b.lif("mlp_out", [(hidden, w["mlp2.W"])], w["mlp2.b"]))
        model.stream = stream
        return _with_every_lag(model)
    # membrane shortcut: the stream is real, a sum of terms read by the LIF of each branch
    if arch == "sdt":
        block_in = b.lif("block_in", embed, embed_bias)
        out = b.attention(arch, {k.upper(): (k, [(block_in, w[f"{k}.W"])], w[f"{k}.b"])
                                 for k in OPERANDS[arch]})
    else:
        out = b.attention(arch, {"X": ("block_in", embed, embed_bias)})
    stream, bias = embed + [(out, w["proj.W"])], embed_bias + w["proj.b"]
    hidden = b.lif("hidden", [(b.lif("mlp_in", stream, bias), w["mlp1.W"])], w["mlp1.b"])
    model.stream = [b.lif("out", stream + [(hidden, w["mlp2.W"])], bias + w["mlp2.b"])]
    return _with_every_lag(model)


def _with_every_lag(model: TrainedCircuit) -> TrainedCircuit:
    """Add the lag of every population the builder did not place (inside the mechanisms): the
    first step any input can reach it (Bellman-Ford over hops of 1 + delay steps); a placed
    population that could be reached earlier than its lag is a wiring error."""
    hops = [(p.source, p.target, 1 + int(round(float(p.delay / STEP))))
            for p in model.circuit.projections]
    earliest = {p.name: model.lags[p.name] if p.name in model.image_sources else np.inf
                for p in model.circuit.populations}
    for _ in range(len(earliest)):
        changed = False
        for source, target, hop in hops:
            if earliest[source] + hop < earliest[target]:
                earliest[target], changed = earliest[source] + hop, True
        if not changed:
            break
    for name, lag in earliest.items():
        if name in model.lags and model.lags[name] != lag:
            raise RuntimeError(f"{name}: reachable at step {lag}, placed at lag {model.lags[name]}")
        model.lags.setdefault(name, int(lag))
    return model


def reference_spikes(reference: dict, images: int | None = None) -> dict:
    """The layer spikes {layer: (T, images, ...) bool} of a file's reference (its first
    ``images`` images)."""
    return {name: value[:, :images] for name, value in reference.items() if value.dtype == bool}


def mismatches(model: TrainedCircuit, spikes: dict, reference: dict) -> dict:
    """Per layer: {"mismatches": neuron-steps that differ from the reference, "compared":
    neuron-steps compared, "reference_spikes" and "spikes" (the circuit's)}, over the
    reference's images. Every reference layer must be a layer of the circuit and vice versa."""
    if set(reference) != set(model.layers):
        raise RuntimeError(f"{model.arch}: reference layers {sorted(reference)} differ from the "
                           f"circuit's {sorted(model.layers)}")
    out = {}
    for layer, (_, _, axes) in model.layers.items():
        ref = reference[layer]
        if axes is not None:
            ref = ref.transpose((0, 1) + tuple(2 + a for a in axes))
        mine = spikes[layer][:, :ref.shape[1]]
        out[layer] = dict(mismatches=int((mine != ref).sum()), compared=int(ref.size),
                          reference_spikes=int(ref.sum()), spikes=int(mine.sum()))
    return out
