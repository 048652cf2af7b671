"""The shared experiment of the model.* claims: every trained model run once in Brian2.

The eight width-16 models (four architectures x two tasks) trained at T = 4 are rebuilt for
``T_max`` steps and run on test images, each image a trial; their twins trained at
REFERENCE_T, the other training seeds and the wider models have runs of their own, and
model.design's long runs add perturbed copies of some images (for finite-difference
Lipschitz constants). The models are deterministic and causal
under direct encoding (the same input in every step), so the first T steps of this run are
exactly a T-step run: one simulation gives accuracy and errors at every T <= T_max. This is
checked against SpikingJelly's shipped reference spikes at the trained T = 4.

Synaptic events at the trained T are counted from the rasters of every population (each
population's first T steps on its own clock, times the number of synapses each neuron drives).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circuits import trained
from circuits.trained import classify, stream_rates
from evsim.train import (ARCHITECTURES, REFERENCE_T, SEEDS, TASKS, WIDE_ARCHITECTURES, WIDTHS,
                         task_data)

from .base import Sizes

__all__ = ["TRAINED_RUNS", "LONG_RUNS", "SIZES", "SIGMAS", "FIRST_LAYER", "ATTENTION_LAYER",
           "ModelRun", "run_models", "shared_runs", "shared_reference_runs", "shared_seed_runs",
           "in_build_order", "rates", "stream_rates", "correct", "fan_out", "events_in_window",
           "WIDTH_SIZES", "shipped_widths", "shared_width_runs", "DESIGN_SIZES",
           "design_models", "shared_design_runs"]

#: what the model.* claims that read these runs share (:attr:`Claim.shares`)
TRAINED_RUNS = "trained models: the shared runs"
#: model.design's long runs, which it alone reads: a group of their own, so a parallel verify
#: runs them beside TRAINED_RUNS' claims
LONG_RUNS = "trained models: the long runs"
SIZES = Sizes(quick=dict(images=64, T_max=64), full=dict(images=None, T_max=64),
              toy=dict(images=6, T_max=8))
#: the runs of the models trained at every width (T = 4 models for T_max steps, on ``images``
#: test images drawn by the seed, the same for every width and training seed of an
#: architecture and task; full: every test image)
WIDTH_SIZES = Sizes(quick=dict(images=32, T_max=64), full=dict(images=None, T_max=64),
                    toy=dict(images=4, T_max=8))
#: the long runs of model.design: T = 4 models run for T_max steps on ``images`` test images
#: drawn by the seed, the first ``perturbed`` of them also with each of SIGMAS' perturbations;
#: the models of ``seeds`` training seeds (None: every shipped one) of ``architectures`` (None:
#: all; quick: those trained at every width). Quick perturbs half its images (each model's L
#: from 4, the same 4 for every width and seed): three seeds' long runs then take ~3.4 min
#: on one core
DESIGN_SIZES = Sizes(quick=dict(images=8, perturbed=4, T_max=256, seeds=None,
                                architectures=WIDE_ARCHITECTURES),
                     full=dict(images=64, perturbed=32, T_max=256, seeds=None,
                               architectures=None),
                     toy=dict(images=3, perturbed=2, T_max=16, seeds=1, architectures=None))
#: standard deviations of the Gaussian input perturbations (inputs lie in [0, 1])
SIGMAS = (0.05, 0.1)
#: the first spiking layer (what the rest of the model reads as spikes)
FIRST_LAYER = dict(spikformer="embed", qkformer="embed", sdt="block_in",
                   spikingresformer="block_in")
#: the layer holding the attention's output spikes (SpikingJelly's names)
ATTENTION_LAYER = dict(spikformer="attn", qkformer="qkta_out", sdt="sdsa_out",
                       spikingresformer="attn")


@dataclass
class ModelRun:
    """One trained model's run: ``layers`` ``{SpikingJelly layer: bool (T_max, images, *layout)}``
    (empty in a run that keeps rates only), ``layer_rates`` {SpikingJelly layer: (images,
    *layout) spikes per step over all T_max steps} (a run that keeps rates only), ``stream``
    {population: bool (images, T_max, N D)} (what the classifier reads), ``perturbed``
    {sigma: {"delta": (k, N, 4), "layers" or "layer_rates": ..., "stream": ...}} for the first
    k images, ``events`` {projection: (images,)} synaptic events at the trained T."""

    arch: str
    task: str
    model: trained.TrainedCircuit
    index: np.ndarray
    tokens: np.ndarray
    labels: np.ndarray
    layers: dict
    stream: dict
    perturbed: dict = field(default_factory=dict)
    layer_rates: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    spikes_at_trained_T: dict = field(default_factory=dict)  # population -> (images,) spikes
    reference_mismatches: int = 0
    reference_compared: int = 0

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.task}"

    @property
    def trained_T(self) -> int:
        return self.model.meta["trained_T"]


def rates(raster: np.ndarray, T: int, start: int = 0) -> np.ndarray:
    """Spikes per step over steps start .. T - 1 of a layer raster (T_max, images, ...)."""
    return raster[start:T].mean(axis=0)


def correct(run: ModelRun, T: int, whole_sets: bool = False) -> np.ndarray:
    """Per image: 1/0 for a correctly classified digit; for a set the fraction of correctly
    classified tokens (``whole_sets``: 1 only if every token is); from the first T steps."""
    meta = run.model.meta
    hits = classify(meta, run.model.weights, stream_rates(meta, run.stream, T)).argmax(-1) \
        == run.labels
    if hits.ndim == 1:
        return hits.astype(float)
    return hits.all(axis=1).astype(float) if whole_sets else hits.mean(axis=1)


def fan_out(model: trained.TrainedCircuit) -> dict:
    """projection name -> (source population, synapses driven by each source neuron)."""
    sizes = model.circuit.sizes
    return {p.name: (p.source, np.bincount(p.pairs(sizes[p.source], sizes[p.target])[0],
                                           minlength=sizes[p.source]))
            for p in model.circuit.projections}


def events_in_window(fans: dict, spikes: dict) -> dict:
    """Synaptic events per image and projection: spikes {population: bool (images, steps,
    neurons)} times each neuron's fan-out."""
    return {name: spikes[source].sum(axis=1) @ fan for name, (source, fan) in fans.items()}


def _run_model(context, arch: str, task: str, size, trained_T: int = 4,
               training_seed: int = 0, width: int = 16, rasters: bool = True) -> ModelRun:
    """One model's run (see :class:`ModelRun`); ``rasters`` False keeps each layer's rates over
    the whole run instead of its raster (float64: 8/T_max of the memory; model.design's long
    runs held 15-18 GB of rasters at full scale, and read only rates)."""
    meta, weights, reference = trained.load_weights(
        trained.shipped(arch, task, trained_T, width, training_seed))
    X, y, _, test = task_data(task)
    rng = context.rng(f"test images and perturbations {arch} {task}", shared=True)
    images = len(test) if size["images"] is None else min(size["images"], len(test))
    index = np.sort(rng.choice(test, images, replace=False))
    k = min(size.get("perturbed", 0), images)
    deltas = {s: s * rng.standard_normal((k,) + X.shape[1:]) for s in SIGMAS} if k else {}
    tokens = np.concatenate([X[index]] + [X[index[:k]] + d for d in deltas.values()])
    T_max, T_trained = size["T_max"], meta["T"]
    model = trained.build(dict(meta, T=T_max, trained_T=T_trained), weights)
    fans = fan_out(model)
    seed = context.seed_for(f"run {arch} {task}", shared=True)
    joined = model.population_spikes(tokens, seed=seed)
    window = {p: s[:, :T_trained] for p, s in joined.items()}
    events = events_in_window(fans, window)
    spikes = {p: s.sum(axis=(1, 2)) for p, s in window.items()}

    def layer_rasters(rows):
        return {name: np.moveaxis(joined[p][rows], 1, 0).reshape((T_max, len(rows)) + layout)
                for name, (p, layout, _) in model.layers.items()}

    def stream(rows):
        return {p: joined[p][rows] for p in model.stream}

    clean = np.arange(images)
    run = ModelRun(arch, task, model, index, X[index], y[index], layer_rasters(clean),
                   stream(clean),
                   events={name: e[:images] for name, e in events.items()},
                   spikes_at_trained_T={p: s[:images] for p, s in spikes.items()})
    for j, (sigma, delta) in enumerate(deltas.items()):
        rows = images + j * k + np.arange(k)
        run.perturbed[sigma] = dict(delta=delta, layers=layer_rasters(rows), stream=stream(rows))
    _check_reference(run, reference, T_trained)
    if not rasters:
        over_run = lambda layers: {name: rates(raster, T_max)  # noqa: E731
                                   for name, raster in layers.items()}
        run.layer_rates, run.layers = over_run(run.layers), {}
        for part in run.perturbed.values():
            part["layer_rates"] = over_run(part.pop("layers"))
    return run


def _check_reference(run: ModelRun, reference: dict, T: int) -> None:
    """The first T steps against SpikingJelly's reference spikes, on the images both hold."""
    positions = {int(i): p for p, i in enumerate(reference["test_index"])}
    shared = [(row, positions[int(i)]) for row, i in enumerate(run.index) if int(i) in positions]
    if not shared:
        return
    rows, columns = map(list, zip(*shared))
    ref = {name: value[:, columns] for name, value in trained.reference_spikes(reference).items()}
    counts = trained.mismatches(run.model, {n: s[:T, rows] for n, s in run.layers.items()}, ref)
    run.reference_mismatches = sum(c["mismatches"] for c in counts.values())
    run.reference_compared = sum(c["compared"] for c in counts.values())
    if run.reference_mismatches:
        raise RuntimeError(f"{run.name}: the first {T} steps differ from SpikingJelly's "
                           f"reference in {run.reference_mismatches} neuron-steps")


def run_models(context, size, trained_T: int = 4) -> dict:
    """{(arch, task): ModelRun} for every shipped model trained with ``trained_T`` steps at
    ``size`` (images, perturbed, T_max); the test images depend on the seed only."""
    runs = {(arch, task): _run_model(context, arch, task, size, trained_T)
            for arch, task in in_build_order(TASKS)}
    return {(arch, task): runs[arch, task] for task in TASKS for arch in ARCHITECTURES}


def in_build_order(tasks) -> list[tuple[str, str]]:
    """(arch, task) with each architecture's runs in a row: runs of one structure one after
    another reuse its built network (evsim.runtime keeps ~one trained model's)."""
    return [(arch, task) for arch in ARCHITECTURES for task in tasks]


def shared_runs(context) -> dict:
    """:func:`run_models` of the T = 4 models at the context's scale, once per verify run."""
    size = context.sizes(SIZES)
    return context.shared(f"trained models {context.scale}",
                          lambda: run_models(context, size))


def shared_reference_runs(context) -> dict:
    """The models trained with REFERENCE_T steps (training seed 0), run for that many steps on
    the test images of :func:`shared_runs` (no perturbations), once per verify run."""
    every = _every_seed_runs(context)
    return {(arch, task): every[arch, task, 0, REFERENCE_T] for task in TASKS
            for arch in ARCHITECTURES}


def shipped_seeds(arch: str, task: str, width: int = 16) -> list[int]:
    """The training seeds of :data:`evsim.train.SEEDS` whose models of ``width`` trained at
    T = 4 and at REFERENCE_T are both shipped."""
    return [seed for seed in SEEDS
            if all(trained.shipped(arch, task, T, width, seed).is_file()
                   for T in (4, REFERENCE_T))]


def shared_seed_runs(context) -> dict:
    """{(arch, task, width, training seed): (T = 4 run, REFERENCE_T run)} for every shipped
    training seed with both twins: the width-16 models of every architecture on the test
    images of :func:`shared_runs` (seed 0's T = 4 run is the shared run), and the wider models
    on those of :func:`shared_width_runs` (their T = 4 runs are those); each model run for its
    own training T."""
    first, every = shared_runs(context), _every_seed_runs(context)
    pairs = {(arch, task, 16, seed): (first[arch, task] if seed == 0
                                      else every[arch, task, seed, 4],
                                      every[arch, task, seed, REFERENCE_T])
             for (arch, task) in first for seed in shipped_seeds(arch, task)}
    return pairs | _wide_twin_runs(context)


def _wide_twin_runs(context) -> dict:
    """{(arch, task, width, seed): (T = 4 run, REFERENCE_T run)} of the models wider than 16
    whose twins are shipped for every training seed of SEEDS (a model with fewer would cut
    the seeds model.t4 judges to those it has): the T = 4 run of :func:`shared_width_runs` and
    the twin run for REFERENCE_T steps on the same test images; once per verify run."""
    wide = {key: run for key, run in shared_width_runs(context).items() if key[2] != 16
            and shipped_seeds(*key[:3]) == list(SEEDS)}
    size = dict(context.sizes(WIDTH_SIZES), T_max=REFERENCE_T)
    twins = context.shared(
        f"trained models, every width trained at T = {REFERENCE_T} {context.scale}",
        lambda: {key: _run_model(context, key[0], key[1], size, REFERENCE_T, key[3], key[2])
                 for key in wide})
    return {key: (run, twins[key]) for key, run in wide.items()}


def _every_seed_runs(context) -> dict:
    """{(arch, task, training seed, T): ModelRun} of every shipped width-16 model but the
    shared T = 4 seed-0 runs, each for its training T without perturbations; one structure's
    runs (the training seeds of one architecture, task and T) one after another, so they
    reuse its built network. Once per verify run."""
    size = context.sizes(SIZES)

    def runs():
        return {(arch, task, seed, T): _run_model(context, arch, task, dict(size, T_max=T), T,
                                                  seed)
                for T in (4, REFERENCE_T) for arch, task in in_build_order(TASKS)
                for seed in shipped_seeds(arch, task) if seed or T != 4}

    return context.shared(f"trained models, every training seed {context.scale}", runs)


def shipped_widths() -> list[tuple[str, str, int, int]]:
    """(arch, task, width, training seed) of every shipped T = 4 model of
    :data:`evsim.train.WIDE_ARCHITECTURES` (the architectures trained at every width)."""
    return [(arch, task, width, seed) for arch in WIDE_ARCHITECTURES for width in WIDTHS
            for task in TASKS for seed in SEEDS  # one structure's runs in a row
            if trained.shipped(arch, task, 4, width, seed).is_file()]


def shared_width_runs(context) -> dict:
    """{(arch, task, width, training seed): ModelRun} of every :func:`shipped_widths` model,
    run for WIDTH_SIZES' T_max steps on WIDTH_SIZES' images test images drawn by the seed (the
    same for every width and training seed of an architecture and task: paired), no
    perturbations; once per verify run."""
    size = context.sizes(WIDTH_SIZES)
    return context.shared(f"trained models, every width {context.scale}",
                          lambda: {key: _run_model(context, key[0], key[1], size, 4, key[3],
                                                   key[2]) for key in shipped_widths()})


def design_models(seeds: int | None = None,
                  architectures=None) -> list[tuple[str, str, int, int]]:
    """(arch, task, width, training seed) of every shipped T = 4 model (every architecture at
    width 16, :data:`evsim.train.WIDE_ARCHITECTURES` at every width) of the first ``seeds``
    training seeds (None: all) and of ``architectures`` (None: all), one structure's runs in
    a row."""
    chosen = SEEDS if seeds is None else SEEDS[:seeds]
    return [(arch, task, width, seed) for arch in architectures or ARCHITECTURES
            for width in (WIDTHS if arch in WIDE_ARCHITECTURES else (16,))
            for task in TASKS for seed in chosen
            if trained.shipped(arch, task, 4, width, seed).is_file()]


def shared_design_runs(context) -> dict:
    """{(arch, task, width, training seed): ModelRun} of :func:`design_models`, each run for
    DESIGN_SIZES' T_max steps on its images (the same for every width and seed of an
    architecture and task) with the perturbed copies, keeping layer rates, not rasters; once
    per verify run."""
    size = context.sizes(DESIGN_SIZES)
    return context.shared(f"trained models, long runs {context.scale}",
                          lambda: {key: _run_model(context, key[0], key[1], size, 4, key[3],
                                                   key[2], rasters=False)
                                   for key in design_models(size["seeds"],
                                                            size["architectures"])})
