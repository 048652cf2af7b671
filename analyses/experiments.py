"""Named experiments for ``evsim run``: one function each, keyword arguments in, a dict of
JSON-serialisable summary numbers out (so any of them can be a sweep cell).

``run_experiment`` runs one experiment with ``--set`` overrides, or a grid from a TOML file
(``[grid]`` lists per parameter, optional ``[fixed]`` values) on the resumable sweep, and
writes ``results.csv`` and ``manifest.json`` into a run directory.
"""

from __future__ import annotations

import inspect
import json
import math
import time
import tomllib
from pathlib import Path

import numpy as np
from brian2 import second

from evsim.errors import ValidationError
from evsim.store import atomic_write_json, manifest, write_table
from evsim.sweep import grid_cells, run_sweep

__all__ = ["EXPERIMENTS", "softmax_run", "attention_head_run", "mechanism_run", "parse_setting",
           "parameters_text", "run_experiment", "AT_LEAST", "POSITIVE"]


def softmax_run(kind: str = "S", n: int = 8, temperature: float = 1.0, duration_s: float = 2.0,
                trials: int = 20, seed: int = 1, target: str = "auto") -> dict:
    """Lateral-inhibition softmax S or D on ``trials`` random score vectors (N(0, 1.5^2)),
    started cold and read over ``duration_s`` after READOUT_START: mean circuit-normalised TV
    (n_j / (80 Hz x duration)), mean histogram TV (n_j / N) and mean spike count."""
    from circuits.softmax import deterministic_softmax, score_inputs, softmax, stochastic_softmax
    from evsim import simulate

    from .convergence import READOUT_START

    if kind not in ("S", "D"):
        raise ValidationError("kind", f"parameter 'kind' must be 'S' or 'D', got {kind!r}")
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 1.5, (trials, n))
    drive, initial = score_inputs(kind, scores, temperature=temperature, rng=rng)
    circuit = (stochastic_softmax if kind == "S" else deterministic_softmax)(n)
    end = READOUT_START + duration_s * second
    record = simulate(circuit, {"scores": drive}, end, trials=trials, seed=seed,
                      initial=initial, target=target, checkpoints=[READOUT_START, end])
    counts = record.counts["exc"][1] - record.counts["exc"][0]
    p = softmax(scores, temperature)
    tv = 0.5 * np.abs(counts / np.maximum(counts.sum(1, keepdims=True), 1) - p).sum(1)
    tv_circuit = 0.5 * np.abs(counts / (80 * duration_s) - p).sum(1)
    return {"tv_circuit": float(tv_circuit.mean()), "tv_circuit_sd": float(tv_circuit.std(ddof=1)),
            "tv": float(tv.mean()), "tv_sd": float(tv.std(ddof=1)),
            "spikes": float(counts.sum(1).mean()), "ran_on": record.metadata["target"]}


def attention_head_run(tokens: int = 4, dim: int = 4, replicas: int = 1, beta: float = 1.0,
                       duration_s: float = 1.0, trials: int = 8, seed: int = 1,
                       target: str = "auto") -> dict:
    """The spiking softmax-attention head on random values: RMS error to the target."""
    from circuits.attention import run_head

    rng = np.random.default_rng(seed)
    q, k, v = rng.random((3, trials, tokens, dim))
    estimates, expected, record, head = run_head(q, k, v, replicas=replicas, beta=beta,
                                                 checkpoints=[duration_s], seed=seed,
                                                 target=target)
    error = np.sqrt(((estimates[-1] - expected) ** 2).mean(axis=(1, 2)))
    return {"rms_error": float(error.mean()), "rms_error_sd": float(error.std(ddof=1)),
            "neurons": sum(p.size for p in head.circuit.populations),
            "synaptic_events": float(sum(e[-1].mean() for e in record.synaptic_events.values())),
            "ran_on": record.metadata["target"]}


def mechanism_run(name: str = "sdsa", tokens: int = 8, channels: int = 8, heads: int = 2,
                  T: int = 8, trials: int = 3, seed: int = 1, target: str = "auto") -> dict:
    """One published mechanism circuit vs its NumPy reference on random operands."""
    from .attention_runs import compare

    row = compare(name, tokens, channels, heads, T, trials, np.random.default_rng(seed),
                  target=target)
    return {k: row[k] for k in ("mismatches", "reference_spikes", "outputs", "neurons",
                                "synaptic_events", "ran_on")}


#: name -> experiment function (see ``evsim run --help``)
EXPERIMENTS = {"softmax": softmax_run, "attention_head": attention_head_run,
               "mechanism": mechanism_run}


def parse_setting(text: str) -> tuple:
    """``key=value`` -> (key, value); the value is read as JSON if it can be, else a string."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise ValidationError("settings", f"--set must look like key=value, got {text!r}")
    key, raw = (part.strip() for part in text.split("=", 1))
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


#: least accepted value of the experiments' integer parameters (seed also < 2**32)
AT_LEAST = {"n": 2, "trials": 2, "tokens": 1, "dim": 1, "replicas": 1, "channels": 1,
            "heads": 1, "T": 1, "seed": 0}
#: parameters that must be > 0
POSITIVE = ("temperature", "duration_s", "beta")


def _choices() -> dict:
    """Accepted values of the experiments' text parameters."""
    from circuits.mechanism_registry import MECHANISMS
    from evsim.backends import targets

    return {"kind": ("S", "D"), "name": tuple(MECHANISMS), "target": targets()}


def parameters_text() -> str:
    """Each experiment with its parameters and defaults (for ``evsim run --help``)."""
    return "\n\n".join(f"{name}: " + ", ".join(f"{key}={p.default!r}" for key, p in
                                              inspect.signature(function).parameters.items())
                        for name, function in EXPERIMENTS.items())


def _check_range(key: str, value, choices: dict) -> None:
    """One clear error if ``value`` is outside the accepted range of parameter ``key``."""
    if key in choices and value not in choices[key]:
        raise ValidationError(key, f"parameter '{key}' must be one of {choices[key]}, got "
                                   f"{value!r}")
    if key in AT_LEAST and not AT_LEAST[key] <= value < (2**32 if key == "seed" else math.inf):
        upper = " and < 2**32" if key == "seed" else ""
        raise ValidationError(key, f"parameter '{key}' must be >= {AT_LEAST[key]}{upper}, got "
                                   f"{value!r}")
    if key in POSITIVE and not (math.isfinite(value) and value > 0):
        raise ValidationError(key, f"parameter '{key}' must be finite and > 0, got {value!r}")


def _check_parameters(name: str, function, values: dict) -> None:
    """Every parameter in ``values`` ({name: [values]}) exists, has its default's type (an int
    is accepted where a float is expected, a bool never as a number) and lies in its range
    (:data:`AT_LEAST`, :data:`POSITIVE`, the choices of text parameters): checked for every
    value of a grid before any cell runs."""
    parameters = inspect.signature(function).parameters
    unknown = sorted(set(values) - set(parameters))
    if unknown:
        raise ValidationError("settings", f"unknown parameter(s) {unknown} for experiment "
                                          f"'{name}'; accepted: {list(parameters)}")
    choices = _choices()
    for key, options in values.items():
        expected = type(parameters[key].default)
        accepted = (int, float) if expected is float else (expected,)
        for value in options:
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, accepted):
                raise ValidationError(key, f"parameter '{key}' of experiment '{name}' must be "
                                           f"{expected.__name__}, got {value!r}")
            _check_range(key, value, choices)


def run_experiment(name: str, out, *, settings=(), sweep_file=None, workers: int = 1,
                   scheduler: str | None = None, progress: bool = True):
    """Run experiment ``name`` once (``settings``: 'key=value' strings) or over the grid of
    ``sweep_file``; write ``out``/results.csv and manifest.json; return the results table."""
    if name not in EXPERIMENTS:
        raise ValidationError("experiment", f"unknown experiment '{name}'; accepted: "
                                            f"{sorted(EXPERIMENTS)}")
    function = EXPERIMENTS[name]
    fixed = dict(parse_setting(text) for text in settings)
    grid = {}
    if sweep_file is not None:
        path = Path(sweep_file)
        if not path.is_file():
            raise ValidationError("sweep", f"--sweep file '{path}' does not exist")
        try:
            spec = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValidationError("sweep", f"--sweep file '{path}' is not valid TOML: "
                                           f"{error}") from error
        if not isinstance(spec.get("grid"), dict) or not spec["grid"]:
            raise ValidationError("sweep", f"--sweep file '{path}' needs a non-empty [grid] table "
                                           "of lists")
        grid = spec["grid"]
        grid_cells(grid)  # every entry a non-empty list
        both = sorted(set(grid) & set(fixed))
        if both:
            raise ValidationError("settings", f"--set {both} also appear in the [grid] of "
                                              f"'{path}'; set each parameter in one place")
        fixed = {**spec.get("fixed", {}), **fixed}
    _check_parameters(name, function, {**{k: [v] for k, v in fixed.items()}, **grid})
    out = Path(out)
    started = time.perf_counter()
    full_grid = {**{k: [v] for k, v in fixed.items()}, **grid} or {"seed": [1]}
    table = run_sweep(function, full_grid, out / "cells", workers=workers, scheduler=scheduler,
                      progress=progress)
    write_table(out / "results.csv", table)
    defaults = {key: p.default for key, p in inspect.signature(function).parameters.items()}
    atomic_write_json(out / "manifest.json", manifest(
        experiment=name, defaults=defaults, fixed=fixed, grid=grid, workers=workers,
        scheduler=scheduler,
        wall_time_s=round(time.perf_counter() - started, 3)))
    return table
