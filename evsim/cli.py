"""The ``evsim`` command: verify claims, list claims and circuits, draw a circuit, train the
shipped spiking transformers, show versions."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Optional

import typer

from .errors import ValidationError

#: verify's default --workers: the CPU cores this process may use, at most 4
DEFAULT_WORKERS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1)

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="evsim: spiking circuits as neuron graphs, exact Brian2 simulation, "
                       "numerical verdicts on theorems.")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@contextlib.contextmanager
def _bad_input_is_one_line():
    """Bad input (a ValidationError, and only that) becomes one line and exit status 2; any
    other exception is a bug and keeps its traceback (exit status 1)."""
    try:
        yield
    except ValidationError as error:
        _fail(str(error))


@app.command()
def verify(quick: bool = typer.Option(False, "--quick", help="reduced sizes, wider CIs (minutes)"),
           out: Optional[Path] = typer.Option(None, "--out", help="run directory "
                                              "[default: results/quick or results/full]"),
           only: Optional[str] = typer.Option(None, "--only", help="comma-separated claim ids"),
           seed: int = typer.Option(1, "--seed", min=0, help="random seed"),
           seeds: Optional[str] = typer.Option(None, "--seeds", help="comma-separated seeds: "
                                               "run every claim once per seed and record "
                                               "verdict_by_seed (the first is the headline; "
                                               "overrides --seed)"),
           target: str = typer.Option("auto", "--target",
                                      help="backend: auto (the registered backend with the "
                                      "smallest estimated cost), numpy, cython, "
                                      "cpp_standalone, nest (delta-LIF circuits; extra nest)"),
           workers: int = typer.Option(DEFAULT_WORKERS, "--workers", min=1,
                                       help="processes: families of claims in parallel, as "
                                       "many as fit in memory (one family: its sweep cells) "
                                       "[default: the CPU cores here, at most 4]",
                                       show_default=False),
           scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed "
                                                   "scheduler address for sweep cells"),
           cache: Optional[Path] = typer.Option(None, "--cache", help="root of the resumable "
                                                "sweep caches [default: ~/.cache/evsim]"),
           progress: bool = typer.Option(True, "--progress/--no-progress")) -> None:
    """Run the registered claims; write claims.json, report.md, figures, manifest.json."""
    from analyses.report import format_number, verdict_summary
    from analyses.verify import default_out
    from analyses.verify import verify as run_verify
    from evsim.backends import targets

    if target not in targets():
        _fail(f"--target must be one of {targets()}, got '{target}'")
    ids = [part.strip() for part in only.split(",") if part.strip()] if only else None
    if only is not None and not ids:
        _fail("--only must name at least one claim id (see `evsim list`)")
    seed_list = None
    if seeds is not None:
        try:
            seed_list = [int(part) for part in seeds.split(",") if part.strip()]
        except ValueError:
            _fail(f"--seeds must be comma-separated non-negative integers, got '{seeds}'")
    out = out or default_out(quick)
    with _bad_input_is_one_line():
        entries = run_verify(out, quick=quick, only=ids, seed=seed, seeds=seed_list,
                             target=target, workers=workers, scheduler=scheduler,
                             cache_dir=cache, progress=progress)
    for entry in entries:
        agreement = f"  ({entry['seeds_agreeing']})" if seed_list else ""
        unregistered = "" if entry["rule_registration"]["status"] == "registered" else \
            f"  [rule {entry['rule_registration']['status']}: not pre-registered]"
        typer.echo(f"{entry['id']:32s} {entry['verdict']:13s} {entry['decided_by']:9s} "
                   f"estimate={format_number(entry['estimate'])}{agreement}{unregistered}")
    typer.echo(verdict_summary(entries))
    typer.echo(f"wrote {out}/claims.json, report.md, report.html, figures/, manifest.json")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory written by `evsim verify`"),
           latex: bool = typer.Option(False, "--latex", help="also write verdicts.tex, the "
                                                             "verdict table as a LaTeX tabular"),
           readme: Optional[Path] = typer.Option(None, "--readme", help="also rewrite the "
                                                 "verdict table of this README from the run")
           ) -> None:
    """Write RUN_DIR/report.html (one page, figures embedded) from its claims.json and
    figures; with --latex also RUN_DIR/verdicts.tex (needs booktabs); with --readme the
    README's verdict table."""
    from analyses.report import with_verdict_table
    from analyses.report_pages import write_pages

    with _bad_input_is_one_line():
        written = [f"{run_dir}/{name}" for name in write_pages(run_dir, latex=latex)]
        if readme is not None:
            entries = json.loads((run_dir / "claims.json").read_text())["claims"]
            readme.write_text(with_verdict_table(readme.read_text(), entries))
            written.append(str(readme))
    typer.echo(f"wrote {', '.join(written)}")


@app.command()
def plot(run_dir: Path = typer.Argument(..., help="a run directory written by `evsim verify`"),
         only: Optional[str] = typer.Option(None, "--only", help="comma-separated claim ids")
         ) -> None:
    """Redraw every figure of RUN_DIR from its stored tables, without simulating."""
    from analyses.verify import replot

    ids = [part.strip() for part in only.split(",") if part.strip()] if only else None
    with _bad_input_is_one_line():
        written = replot(run_dir, ids)
    typer.echo(f"wrote {len(written)} figure files under {run_dir}/figures")


@app.command()
def train(arch: str = typer.Argument("all", help="spikformer, qkformer, sdt, spikingresformer, "
                                                 "all (the four) or grid (every shipped model)"),
          task: str = typer.Option("all", "--task", help="digits, sets or all"),
          epochs: int = typer.Option(150, "--epochs", min=1, help="training epochs"),
          seed: int = typer.Option(0, "--seed", min=0, help="torch seed"),
          steps: int = typer.Option(4, "--T", help="time steps (shipped: 4 and 16)"),
          width: int = typer.Option(16, "--width", help="model width D (shipped: 16, 32, 64)"),
          out: Path = typer.Option(Path("results/train"), "--out", help="folder for the .npz"),
          tolerance: float = typer.Option(0.02, "--tolerance", min=0.0, max=1.0,
                                          help="largest |accuracy - shipped accuracy| accepted")
          ) -> None:
    """Train tiny spiking transformers (needs: pip install -e '.[train]'): one model per ARCH
    and task at the given --T, --width and --seed, or with ARCH = grid every model evsim ships
    (evsim.train.GRID; models already in --out are kept, so a stopped grid resumes). Each is
    compared with the shipped file of its cell: exit 1 if an accuracy is off by more than
    --tolerance; bad input exits 2."""
    from evsim.train import ARCHITECTURES, GRID, REFERENCE_T, TASKS, WIDTHS, Cell

    if arch not in ARCHITECTURES + ("all", "grid"):
        _fail(f"ARCH must be one of {ARCHITECTURES + ('all', 'grid')}, got {arch!r}")
    if task not in TASKS + ("all",):
        _fail(f"--task must be one of {TASKS + ('all',)}, got {task!r}")
    if steps not in (4, REFERENCE_T):
        _fail(f"--T must be 4 or {REFERENCE_T} (the shipped training T), got {steps}")
    if width not in WIDTHS:
        _fail(f"--width must be one of {WIDTHS} (the shipped widths), got {width}")
    if arch == "grid":
        if (task, steps, width, seed) != ("all", 4, 16, 0):
            _fail("grid trains every cell of evsim.train.GRID: it takes no --task, --T, --width "
                  f"or --seed, got {task}, {steps}, {width}, {seed}")
        cells = list(GRID)
    else:
        cells = [Cell(a, t, steps, width, seed)
                 for t in (TASKS if task == "all" else (task,))
                 for a in (ARCHITECTURES if arch == "all" else (arch,))]
    with _bad_input_is_one_line():
        off = _train_cells(cells, epochs, out, tolerance)
    if off:  # a failed check, not bad input
        typer.secho(f"error: accuracy differs from the shipped weights' by more than "
                    f"{tolerance} for {off}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)


def _train_cells(cells: list, epochs: int, out: Path, tolerance: float) -> list[str]:
    """Train each cell not yet in ``out`` (stating the time the shipped files took), compare
    it with its shipped file; returns the labels whose accuracy is off by > ``tolerance``."""
    import time

    from tqdm import tqdm

    from circuits.trained import WEIGHTS_DIR, load_weights, weights_name
    from evsim.train import train as train_model

    files = {cell: weights_name(*cell) for cell in cells}
    todo = [cell for cell in cells if not (out / files[cell]).is_file()]
    shipped = {c: load_weights(WEIGHTS_DIR / files[c])[0] for c in todo
               if (WEIGHTS_DIR / files[c]).is_file()}
    shipped_seconds = [meta["train_seconds"] for meta in shipped.values()]
    typer.echo(f"{len(todo)} of {len(cells)} models to train into {out} ({len(cells) - len(todo)}"
               f" already there); the shipped files of {len(shipped_seconds)} of them record "
               f"{sum(shipped_seconds) / 60:.0f} min of training (2 threads on a 2-core machine)")
    off, start = [], time.perf_counter()
    for cell in todo:
        label = files[cell][:-4]
        with tqdm(total=epochs, desc=label, unit="epoch", disable=None) as bar:
            meta = train_model(**cell._asdict(), epochs=epochs, out=out / files[cell],
                               reference_images=cell.reference_images,
                               progress=lambda done, total, loss: (
                                   bar.update(1), bar.set_postfix(loss=f"{loss:.3f}")))
        line = f"{label}: test accuracy {meta['test_accuracy']:.4f}, {meta['train_seconds']} s"
        if cell in shipped:
            reference = shipped[cell]
            gap = meta["test_accuracy"] - reference["test_accuracy"]
            same = "identical to" if meta["hash"] == reference["hash"] else "differs from"
            line += (f" (shipped {reference['test_accuracy']:.4f}, difference {gap:+.4f}); "
                     f"file hash {same} the shipped file's")
            if abs(gap) > tolerance:
                off.append(label)
        else:
            line += " (not a shipped model)"
        typer.echo(line)
    typer.echo(f"trained {len(todo)} models in {(time.perf_counter() - start) / 60:.1f} min")
    return off


def _experiments_help() -> str:
    from analyses.experiments import parameters_text

    return ("Experiments, with their parameters and defaults (each a --set key=value or a "
            "[grid] list):\n\n" + parameters_text())


@app.command(epilog=_experiments_help())
def run(experiment: str = typer.Argument(..., help="softmax, attention_head or mechanism"),
        settings: list[str] = typer.Option([], "--set", help="key=value (repeatable)"),
        sweep: Optional[Path] = typer.Option(None, "--sweep", help="TOML file with a [grid] "
                                             "of lists and optional [fixed] values"),
        out: Path = typer.Option(Path("results/run"), "--out", help="run directory"),
        target: Optional[str] = typer.Option(None, "--target", help="backend (as --set "
                                             "target=...): auto [default], numpy, cython, "
                                             "cpp_standalone, nest"),
        workers: int = typer.Option(1, "--workers", min=1, help="local processes for cells"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                help="dask.distributed scheduler address"),
        progress: bool = typer.Option(True, "--progress/--no-progress")) -> None:
    """Run one experiment (with --set overrides) or a grid (--sweep) into a run directory."""
    from analyses.experiments import run_experiment

    settings = [*settings, *([f"target={target}"] if target is not None else [])]
    with _bad_input_is_one_line():
        table = run_experiment(experiment, out, settings=settings, sweep_file=sweep,
                               workers=workers, scheduler=scheduler, progress=progress)
    typer.echo(table.to_string(index=False))
    typer.echo(f"wrote {out}/results.csv, manifest.json")


@app.command()
def rules(register: bool = typer.Option(False, "--register", help="write the current rules "
                                        "into the committed registry (commit it with the rule "
                                        "change)"),
          only: Optional[str] = typer.Option(None, "--only", help="comma-separated claim ids")
          ) -> None:
    """Show whether each claim's verdict rule is the registered one (rules.json); with
    --register, register the current rules."""
    from analyses.claims import registry, select

    with _bad_input_is_one_line():
        claims = select([part.strip() for part in only.split(",")] if only else None)
    if register:
        changed = registry.register(claims)
        typer.echo(f"registered {len(changed)} changed rule(s) in {registry.REGISTRY_FILE}: "
                   f"{', '.join(changed) or 'none'}")
    for claim in claims:
        state = registry.registration(claim)
        typer.echo(f"{claim.id:32s} {state['status']:12s} {state['fingerprint']}  "
                   f"{claim.basis.decided_by}")


@app.command("list")
def list_items() -> None:
    """List the claims (in report order) and the circuits."""
    from analyses.claims import all_claims
    from circuits import CIRCUITS

    typer.echo("claims:")
    for claim in all_claims():
        typer.echo(f"  {claim.id:32s} {claim.statement}")
    typer.echo("circuits:")
    for name, factory in CIRCUITS.items():
        typer.echo(f"  {name:32s} {(factory.__doc__ or '').strip().splitlines()[0]}")


@app.command()
def graph(name: str = typer.Argument(..., help="circuit name (see `evsim list`)"),
          out: Path = typer.Option(..., "--out", help="figure file (.pdf or .png)"),
          set_: list[str] = typer.Option([], "--set", help="circuit argument key=value (JSON "
                                                           "or a word); repeat")
          ) -> None:
    """Draw a registered circuit as a layered diagram to a figure file."""
    from analyses.plots import paper_style
    from circuits import CIRCUITS

    if name not in CIRCUITS:
        _fail(f"unknown circuit '{name}'; accepted: {sorted(CIRCUITS)}")
    if out.suffix not in (".pdf", ".png"):
        _fail(f"--out must end in .pdf or .png, got '{out}'")
    factory = CIRCUITS[name]
    with _bad_input_is_one_line(), paper_style():
        ax = factory(**_circuit_arguments(factory, set_)).draw()
        out.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(out, bbox_inches="tight")
    typer.echo(f"wrote {out}")


def _circuit_arguments(factory, settings: list[str]) -> dict:
    """--set key=value pairs (values read as JSON, else kept as text, as ``evsim run`` reads
    them) as keyword arguments of ``factory``; one clear error for an unknown key."""
    import inspect

    from analyses.experiments import parse_setting

    accepted = [k for k, p in inspect.signature(factory).parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    arguments = dict(parse_setting(setting) for setting in settings)
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        _fail(f"--set: unknown circuit argument(s) {unknown}; accepted: {accepted}")
    return arguments


@app.command("import-nir")
def import_nir(file: Path = typer.Argument(..., help="a NIR graph (.nir, HDF5)"),
               out: Path = typer.Option(Path("results/nir"), "--out", help="output folder"),
               inputs: Optional[Path] = typer.Option(None, "--inputs", help=".npy of shape "
                                                     "(trials, T, *input_shape); default: "
                                                     "uniform values in [0, 1)"),
               trials: int = typer.Option(8, "--trials", min=1, help="random inputs: trials"),
               steps: int = typer.Option(16, "--T", min=1, help="random inputs: time steps"),
               seed: int = typer.Option(0, "--seed", min=0, help="random inputs: seed"),
               dt: float = typer.Option(1e-4, "--dt", help="the source framework's step (s)"),
               spike_rule: str = typer.Option(">", "--spike-rule", help="> (NIR, snnTorch) "
                                              "or >= (SpikingJelly)"),
               reset: str = typer.Option("value", "--reset", help="value or subtract"),
               mode: str = typer.Option("discrete", "--mode", help="discrete or continuous"),
               target: str = typer.Option("auto", "--target", help="backend")) -> None:
    """Import a NIR graph as a neuron circuit (needs: pip install -e '.[nir]'), run it and
    write the output spikes (spikes.npy: trials, T, *output_shape), spike counts per output
    neuron (counts.csv), a raster of the first trial (raster.png) and the circuit's diagram
    (circuit.png)."""
    import numpy as np

    from analyses.plots import paper_style
    from evsim import nir as evsim_nir

    with _bad_input_is_one_line():
        imported = evsim_nir.read(file, dt=dt, spike_rule=spike_rule, reset=reset, mode=mode)
        if len(imported.inputs) != 1:
            _fail(f"import-nir runs graphs with one input; {file.name} has "
                  f"{sorted(imported.inputs)} (use evsim.nir.run with a dict of inputs)")
        (name, shape), = imported.inputs.items()
        if inputs is None:
            x = np.random.default_rng(seed).random((trials, steps) + shape)
        elif not inputs.is_file():
            _fail(f"--inputs file '{inputs}' does not exist")
        else:
            x = np.load(inputs)
        spikes = evsim_nir.run(imported, x, seed=seed, target=target)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "spikes.npy", spikes)
    counts = spikes.reshape(spikes.shape[0], spikes.shape[1], -1).sum(axis=1)
    np.savetxt(out / "counts.csv", counts, fmt="%d", delimiter=",",
               header="spike counts: one row per trial, one column per output neuron")
    with paper_style():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 2.6))
        step, neuron = np.nonzero(spikes[0].reshape(spikes.shape[1], -1))
        ax.scatter(step, neuron, s=6, marker="|", color="black")
        ax.set(xlabel="time step", ylabel="output neuron", title=f"{file.name}, trial 0")
        fig.savefig(out / "raster.png", bbox_inches="tight", dpi=150)
        plt.close(fig)
        ax = imported.circuit.draw()
        ax.figure.savefig(out / "circuit.png", bbox_inches="tight", dpi=150)
        plt.close(ax.figure)
    typer.echo(f"{file.name}: input '{name}' {shape}, {len(imported.circuit.populations)} "
               f"populations, {int(spikes.sum())} output spikes in {spikes.shape[0]} trials x "
               f"{spikes.shape[1]} steps; wrote {out}/spikes.npy, counts.csv, raster.png, "
               "circuit.png")


@app.command()
def info() -> None:
    """Versions of evsim, brian2, numpy, Python; codegen targets; git commit."""
    from evsim.backends import targets
    from evsim.store import manifest

    typer.echo(json.dumps({**manifest(), "targets": list(targets()), "default_target": "auto"},
                          indent=2))
