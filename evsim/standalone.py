"""cpp_standalone runs from a cached build: compile once per circuit structure, then rerun the
binary with new values, seeds and checkpoints, with no code generation and no compilation.

A build is keyed by what fixes the generated code (:attr:`BuiltNetwork.structure`: equations,
sizes including the number of trials, connectivity, dt, schedule, which variables are
assigned), the Brian2 version, the OpenMP threads and the source of this module and of
evsim.build. Everything else travels at run time:

- every value evsim assigns (parameters, initial values, constant and time-varying inputs,
  synaptic weights) as a Brian2 run argument (``group.variable=file``, since Brian2 2.6);
- the seed and the checkpoint steps in a plan file read by code inserted into ``main``: the
  binary seeds its generators as Brian2's ``seed()`` would, runs to each checkpoint and
  appends the spike counters there to a binary file. Spike times are recorded only when asked
  (``record_spikes``: a different build).

Builds live in ``cache_root()/standalone/<circuit>-<key>`` (a file lock serialises compiling;
runs of one build in parallel processes use separate result folders). Compilation uses a
precompiled header shared by all builds, started in the background when a run begins, and
``make -j<cores>`` with the code that runs once less optimised.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brian2
import numpy as np
from brian2 import Clock, prefs, second
from brian2.devices.device import device, reset_device, set_device
from filelock import FileLock

from . import build, cost, states
from .backends import RunResult, register
from .build import instantiate
from .record import SpikeTrains
from .states import shape_states
from .store import atomic_write_json, atomic_write_text, cache_root

__all__ = ["StandaloneBackend", "run_compiled", "build_directory", "is_built"]

MANIFEST = "evsim_build.json"

#: Included first in every translation unit as a precompiled header: the standard headers
#: Brian2's code includes. One per toolchain, shared by all builds (see precompiled_header).
PRECOMPILED_HEADER = """#include <algorithm>
#include <cassert>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <stdlib.h>
#include <string>
#include <utility>
#include <vector>
// glibc's vector exp/log (libmvec, within 4 ulp) for loops without branches: Brian2's flag
// -fno-finite-math-only hides glibc's own declarations of them.
extern "C" __attribute__((__simd__("notinbranch"))) double exp(double) noexcept;
extern "C" __attribute__((__simd__("notinbranch"))) double log(double) noexcept;
"""

#: Brian2's makefile, with the code that runs once (set-up, before/after a run) at -O1 and
#: objects.o (array set-up and file I/O, the slowest file to optimise) at -O0 without the
#: precompiled header (which needs optimisation on); the per-step code keeps -O3.
MAKEFILE_RUN_ONCE_UNOPTIMISED = """include makefile
RUN_ONCE := main.o run.o $(filter code_objects/before_run_% code_objects/after_run_% \\
    %_synapses_create_array_codeobject.o,$(OBJS))
$(RUN_ONCE): override OPTIMISATIONS := $(RUN_ONCE_OPTIMISATIONS)
objects.o: override OPTIMISATIONS := $(OBJECTS_OPTIMISATIONS)
"""

#: Inserted into main() after Brian2's set-up (a run of zero duration): seed the generators,
#: run to each checkpoint step of the plan and append the spike counters there.
RUN_PLAN = """
{{
    std::ifstream _plan((brian::results_dir + "evsim_plan.txt").c_str());
    long long _seed, _end;
    _plan >> _seed;
    if (_seed >= 0)  // as Brian2's seed(): generator k gets seed + k
        for (size_t _i = 0; _i < brian::_random_generators.size(); _i++)
            brian::_random_generators[_i].seed((unsigned long)_seed + _i);
    std::ofstream _out((brian::results_dir + "evsim_counts.bin").c_str(), std::ios::binary);
    while (_plan >> _end) {{
        // to the absolute end time: segment lengths summed in floating point would drift
        brian::{network}.run(_end * {dt!r} - brian::{network}.t, NULL, 10.0);
{writes}
    }}
}}
"""


def build_directory(circuit_name: str, structure: list) -> Path:
    """Folder of the compiled build for a circuit structure on this machine and toolchain."""
    text = "\n".join([*_toolchain(), _sources_digest(), *structure])
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    name = re.sub(r"[^0-9A-Za-z_]", "_", circuit_name)
    return cache_root().resolve() / "standalone" / f"{name}-{digest}"


def _toolchain() -> list[str]:
    """What else the binary depends on: Brian2, compiler and flags (-march=native: the CPU),
    OpenMP threads and float type."""
    return [f"brian2={brian2.__version__} compiler={_compiler()} {_compile_flags()}",
            f"cpu={_cpu()} threads={prefs.devices.cpp_standalone.openmp_threads} "
            f"float={prefs.core.default_float_dtype}"]


@functools.cache
def _cpu() -> str:
    """The CPU model (read once per process)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return cpu


@functools.cache
def _sources_digest() -> str:
    """Hash of evsim.build, evsim.states and this module, which write the generated code and
    choose what it records (once per process)."""
    sources = "".join(Path(module.__file__).read_text()
                      for module in (build, states, sys.modules[__name__]))
    return hashlib.sha256(sources.encode()).hexdigest()


def is_built(directory: Path) -> bool:
    """True if ``directory`` holds a finished build."""
    return (directory / MANIFEST).exists()


class StandaloneBackend:
    """Brian2's cpp_standalone device from a cached build (compiled first if needed)."""

    name = "cpp_standalone"

    def supports(self, spec) -> str | None:
        return cost.compiled_unavailable()

    def is_cached(self, spec) -> bool:
        """True if the build of what runs is compiled (rasters run as spike times)."""
        built = spec.spike_times_instead
        return is_built(build_directory(built.circuit.name, built.plan.structure))

    def estimate(self, spec) -> float:
        return cost.compiled_seconds(spec, built=self.is_cached(spec))

    def one_off(self, spec) -> float:
        """Seconds of generating and compiling the build (0 when cached)."""
        return 0.0 if self.is_cached(spec) else cost.compile_seconds(spec)

    def run(self, spec) -> RunResult:
        try:
            return run_compiled(spec)
        except (RuntimeError, OSError) as error:  # auto stops trying compiled runs
            cost.remember_failure(error)
            raise


def run_compiled(spec) -> RunResult:
    """Run ``spec`` on cpp_standalone from its cached build (compiled first if needed).

    Facts for the record: build folder, whether it was compiled now, seconds compiling and
    running the binary.
    """
    header = precompiled_header()  # started now, it is ready when a new build needs it
    plan, trials = spec.plan, spec.trials
    set_device("cpp_standalone", build_on_run=False)
    try:
        built = instantiate(plan, Clock(spec.dt, name="evsim_clock"))
        for obj in built.network.objects:  # they describe a binary's run: no "unused" warning
            obj._network = built.network.id
        directory = build_directory(spec.circuit.name, plan.structure)
        with FileLock(str(directory) + ".lock"):
            compiled_now = not is_built(directory)
            compile_s = _compile(built, directory, spec.dt, header) if compiled_now else 0.0
        manifest = json.loads((directory / MANIFEST).read_text())
        if manifest["structure"] != plan.structure:
            raise RuntimeError(f"the build in {directory} was made for another structure "
                               "(a hash collision?); delete the folder")
        runs = directory / "runs"
        runs.mkdir(exist_ok=True)
        results = Path(tempfile.mkdtemp(dir=runs))
        try:
            arguments = _run_arguments(built, results)
            ends = spec.checkpoint_steps
            seed = -1 if spec.seed is None else int(spec.seed)
            (results / "evsim_plan.txt").write_text(" ".join(map(str, [seed, *ends])) + "\n")
            run_s = _run_binary(directory, results, arguments)
            flat = np.fromfile(results / "evsim_counts.bin", dtype=np.int32)
            trains = (_read_spikes(manifest, results, trials) if spec.record_spikes
                      else None)
            recorded, times = _read_states(manifest, results, spec)
        finally:
            shutil.rmtree(results, ignore_errors=True)
    finally:
        device.reinit()
        reset_device()
    sizes = {name: len(monitor.source) for name, monitor in built.counters.items()}
    if flat.size != len(ends) * sum(sizes.values()):
        raise RuntimeError(f"the compiled simulation in {directory} wrote {flat.size} counts, "
                           f"expected {len(ends)} checkpoints x {sum(sizes.values())} neurons")
    counts, offset = {}, 0
    flat = flat.reshape(len(ends), -1)
    for name, size in sizes.items():  # the order of the counters written by RUN_PLAN
        counts[name] = flat[:, offset:offset + size].astype(np.int64).reshape(
            len(ends), trials, -1)
        offset += size
    return RunResult(counts, trains, dict(build=str(directory), compiled_now=compiled_now,
                                          compile_s=compile_s, binary_s=run_s), recorded, times)


def _compile(built, directory: Path, dt, header: Path) -> float:
    """Generate the project into ``directory``, compile it with the precompiled ``header``,
    write the manifest; seconds."""
    started = time.perf_counter()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    manifest = _generate(built, directory, dt)
    _wait_for(header)
    _make(directory, header)
    for leftover in directory.rglob("*.o"):
        leftover.unlink()  # only for rebuilds, which never happen
    atomic_write_json(directory / MANIFEST, manifest)  # last: marks the build finished
    return time.perf_counter() - started


def _generate(built, directory: Path, dt) -> dict:
    """Brian2's code generation into ``directory``, RUN_PLAN included; the manifest."""
    built.network.run(0 * second, namespace={})
    writes, sizes, spike_files = [], {}, {}
    for name, monitor in built.counters.items():
        array = device.get_array_name(monitor.variables["count"])
        size = len(monitor.source)
        writes.append(f"        _out.write((char*)brian::{array}, {size} * sizeof(int32_t));")
        sizes[name] = size
        if monitor.record:
            spike_files[name] = [device.get_array_filename(monitor.variables[key])
                                 for key in ("i", "t")]
    state_files = {name: {key: device.get_array_filename(monitor.variables[key])
                          for key in ["t", *monitor.record_variables]}
                   for name, monitor in built.states.items()}
    device.insert_code("main", RUN_PLAN.format(network=built.network.name,
                                               dt=float(dt / second), writes="\n".join(writes)))
    device.build(directory=str(directory), compile=False, run=False)
    return dict(brian2=brian2.__version__, sizes=sizes, spike_files=spike_files,
                state_files=state_files, structure=built.structure)


def precompiled_header() -> Path:
    """PRECOMPILED_HEADER for this toolchain, shared by all builds; compiled in the background
    the first time (to a temporary name, renamed when done). Returns the header's path."""
    flags = _compile_flags()
    key = hashlib.sha256("\n".join([PRECOMPILED_HEADER, *_toolchain()]).encode()).hexdigest()
    folder = cache_root().resolve() / "standalone" / f"header-{key[:16]}"
    header = folder / "evsim_pch.h"
    if not Path(f"{header}.gch").exists() and not _HEADER_JOBS.get(header):
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(header, PRECOMPILED_HEADER)
        partial = f"{header}.gch.{os.getpid()}.tmp"
        command = " ".join(shlex.quote(part) for part in [
            _compiler(), "-c", *flags, "-x", "c++-header", str(header), "-o", partial])
        _HEADER_JOBS[header] = subprocess.Popen(
            f"{command} && mv {shlex.quote(partial)} {shlex.quote(str(header))}.gch",
            shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return header


#: header -> the process compiling it (started by this process)
_HEADER_JOBS: dict = {}


def _wait_for(header: Path) -> None:
    """Wait for this process's compilation of ``header``; raise if it failed. (If another
    process is compiling it, make goes on: without the .gch, g++ reads the header as text.)"""
    job = _HEADER_JOBS.pop(header, None)
    if job is not None:
        _check(job.communicate()[1], job.returncode, header.parent, "precompiling headers")


def _make(directory: Path, header: Path) -> None:
    """Compile the generated project with the precompiled ``header``, on every core."""
    flags = re.search(r"^OPTIMISATIONS = (.*)$", (directory / "makefile").read_text(),
                      re.M).group(1)
    (directory / "evsim.mk").write_text(MAKEFILE_RUN_ONCE_UNOPTIMISED)
    # header dependencies only matter for rebuilds, and a build is never rebuilt: an empty,
    # newer make.deps spares make a full preprocessing pass (~1 s)
    (directory / "make.deps").write_text("")
    base = " ".join(flag for flag in flags.split() if not flag.startswith("-O"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    done = subprocess.run(["make", "-f", "evsim.mk", f"-j{cores}", f"CXX={_compiler()}",
                           f"OPTIMISATIONS={flags} -include {header}",
                           f"RUN_ONCE_OPTIMISATIONS={base} -O1 -include {header}",
                           f"OBJECTS_OPTIMISATIONS={base} -O0"],
                          cwd=directory, capture_output=True, text=True)
    _check(done.stderr, done.returncode, directory, "make")


def _compiler() -> str:
    return os.environ.get("CXX", "g++")


def _compile_flags() -> list[str]:
    """Brian2's compiler flags from its preferences. (Brian2 then drops flags the compiler
    rejects, compiling a test file for each, ~0.1 s: a header precompiled with a dropped
    flag is merely ignored by g++.)"""
    return list(prefs.codegen.cpp.extra_compile_args
                or prefs.codegen.cpp.extra_compile_args_gcc)


def _check(stderr: str, returncode: int, directory: Path, step: str) -> None:
    if returncode:
        raise RuntimeError(f"compiling the standalone project in {directory} failed "
                           f"({step}):\n{stderr[-3000:]}")


def _run_arguments(built, results: Path) -> list[str]:
    """Every value of the plan, as Brian2 run arguments (files in ``results``)."""
    arguments = []
    for index, (target, variable, value) in enumerate(built.owned_values(built.plan)):
        if variable is None:  # a TimedArray's values
            name, text, _, array = device._prepare_timed_array_run_arg(target, value)
        else:
            view = getattr(target, variable)
            name, text, _, array = device._prepare_variableview_run_arg(view, build.whole(value))
        if np.size(array) > 1:
            text = str(results / f"arg{index}.dat")
            np.ascontiguousarray(array).tofile(text)
        arguments.append(f"{name}={text}")
    return arguments


def _read_spikes(manifest: dict, results: Path, trials: int) -> dict:
    """The spike monitors' indices and times, written by the binary, as SpikeTrains."""
    trains = {}
    for name, (index_file, time_file) in manifest["spike_files"].items():
        trains[name] = SpikeTrains.from_group(np.fromfile(results / index_file, dtype=np.int32),
                                              np.fromfile(results / time_file, dtype=np.float64),
                                              manifest["sizes"][name] // trials)
    return trains


def _read_states(manifest: dict, results: Path, spec) -> tuple[dict, np.ndarray | None]:
    """The state monitors' samples, written by the binary (a 2-D monitor array is stored
    sample by sample), as {population: {variable: (samples, trials, neurons)}} and times."""
    recorded, times = {}, None
    for request in spec.states:
        files = manifest["state_files"][request.population]
        times = np.fromfile(results / files["t"], dtype=np.float64)
        recorded[request.population] = {
            variable: shape_states(np.fromfile(results / files[variable], dtype=np.float64)
                                   .reshape(len(times), -1), request)
            for variable in request.variables}
    return recorded, times


def _run_binary(directory: Path, results: Path, arguments: list[str]) -> float:
    """Run the compiled simulation with ``arguments``; seconds."""
    started = time.perf_counter()
    done = subprocess.run(["./main", "--results_dir", f"{results}/", *arguments], cwd=directory,
                          capture_output=True, text=True)
    # Brian2 reports a run argument it cannot load on stderr and goes on with the compiled-in
    # value, so any message there is an error
    if done.returncode or done.stderr.strip():
        raise RuntimeError(f"the compiled simulation in {directory} failed (exit "
                           f"{done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


CPP_STANDALONE = register(StandaloneBackend())
