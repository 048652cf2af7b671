"""NEST (nest-simulator 3.10, extra ``nest``) as an evsim backend for the exact LIF subset.

``simulate(..., target="nest")`` runs a circuit whose every population is
:func:`evsim.models.lif` with delta synapses and a reset to a value (NEST's
``iaf_psc_delta``, integrated exactly like Brian2's ``exact`` method) on NEST, trials
block-diagonal in one NEST network as on Brian2. Anything else is refused with one error
naming the population and its model; ``target="auto"`` never picks NEST (its estimate is
infinite), so NEST runs only when asked. NEST is imported on the first run, not before.

How evsim's semantics (Brian2, ``resets_first`` schedule) are mapped; each line is pinned
by a test that runs both backends (tests/test_nest.py):

- *spike stamps*: NEST stamps a spike at the end of the step in which v crossed threshold;
  evsim (Brian2) at its start. Spike times come back as NEST's stamp minus one step.
- *delta inputs*: Brian2 adds a weight w at the end of the sender's step and the receiver
  decays it over the next step before its threshold test; NEST adds the weight in the next
  step after the decay. NEST's weight is w exp(-dt / tau_m) of the receiver, so the membrane
  is the same at every threshold test (one step per hop, as in evsim).
- *extra delays*: NEST's delay is one step (the hop) plus the projection's delay in steps,
  rounded half up as Brian2 rounds it (a half-step delay goes the same way on both).
- *refractoriness*: both drop the inputs sent in the t_ref / dt steps from the spike's step
  on. Brian2 integrates again in the last of the steps NEST still clamps, so NEST's reset
  value is where that step takes v from v_reset under the neuron's constant current (reset
  and clamp are then invisible in the spikes); t_ref must be a multiple of dt.
- *threshold*: NEST fires at v >= V_th, evsim at v > v_th: NEST's V_th is the next float
  above v_th. The propagators are computed differently, so a membrane within a few ulp of
  v_th may still fire on one and not the other.
- *inputs*: a constant current per neuron and trial is NEST's I_e; v is relative to rest
  (E_L = 0) and C_m = tau_m / R.
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np
from brian2 import Mohm, mV, ms, pA, second

from .backends import RunResult, RunSpec, register
from .build import whole
from .errors import UnsupportedRun, ValidationError
from .models import lif
from .record import SpikeTrains

__all__ = ["NestBackend", "THREADS"]

#: NEST threads per run (local_num_threads); the benchmark sets it
THREADS = 1

#: what evsim's delta LIF with a reset to a value looks like (compared with each population's)
_DELTA_LIF = lif(reset="value", synapse="delta")


class NestBackend:
    """NEST's ``iaf_psc_delta`` for circuits of delta-synapse LIF populations."""

    name = "nest"

    def supports(self, spec: RunSpec) -> str | None:
        if importlib.util.find_spec("nest") is None:
            return "NEST is not installed (pip install -e '.[nest]')"
        return _unsupported(spec)

    def estimate(self, spec: RunSpec) -> float:
        return math.inf  # auto never picks NEST: it runs only when asked

    def is_cached(self, spec: RunSpec) -> bool:
        return False  # NEST rebuilds every run (ResetKernel: no snapshot to restore)

    def run(self, spec: RunSpec) -> RunResult:
        reason = self.supports(spec)
        if reason:
            raise UnsupportedRun(f"target 'nest' cannot run circuit '{spec.circuit.name}': "
                                 f"{reason}")
        os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on import
        import nest

        nest.verbosity = nest.VerbosityLevel.ERROR
        nest.ResetKernel()
        dt_ms = float(spec.dt / ms)
        seed = 1 + (0 if spec.seed is None else int(spec.seed) % (2 ** 31 - 2))
        nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": THREADS,
                              "rng_seed": seed})
        plan, values = spec.plan, _values_by_owner(spec.plan)
        nodes, recorders, taus = {}, {}, {}
        for group in plan.groups:
            params, taus[group.population] = _neuron_parameters(
                group.population, values[group.name], group.neurons, dt_ms)
            nodes[group.population] = nest.Create("iaf_psc_delta", group.neurons, params=params)
            recorders[group.population] = nest.Create("spike_recorder")
            nest.Connect(nodes[group.population], recorders[group.population])
        for synapses in plan.synapses:
            if not len(synapses.pre):
                continue  # a projection without synapses (an all-zero matrix)
            pre, post = synapses.indices(plan.trials)
            first_pre = nodes[synapses.source][0].global_id
            first_post = nodes[synapses.target][0].global_id
            weights = np.asarray(whole(values[synapses.name]["w"]) / mV, dtype=float)
            weights = weights * np.exp(-dt_ms / taus[synapses.target][post])
            # the hop plus the extra delay in steps, rounded half up as Brian2 rounds it
            hops = 1 + int(np.floor(float(synapses.delay) / float(spec.dt) + 0.5))
            delay = hops * dt_ms
            nest.Connect(np.asarray(first_pre + pre, dtype=np.int64),
                         np.asarray(first_post + post, dtype=np.int64), "one_to_one",
                         {"synapse_model": "static_synapse", "weight": weights,
                          "delay": np.full(len(pre), delay)})
        nest.Simulate(spec.steps * dt_ms)
        counts, spikes = {}, {}
        ends = spec.checkpoint_steps
        for group in plan.groups:
            population = group.population
            events = recorders[population].get("events")
            index = np.asarray(events["senders"], dtype=np.int64) - nodes[population][0].global_id
            steps = np.rint(np.asarray(events["times"]) / dt_ms).astype(np.int64) - 1
            order = np.lexsort((index, steps))
            index, steps = index[order], steps[order]
            per_neuron = np.stack([np.bincount(index[steps < end], minlength=group.neurons)
                                   for end in ends])
            counts[population] = per_neuron.reshape(len(ends), plan.trials, -1)
            if population in plan.record_spikes:
                spikes[population] = SpikeTrains.from_group(
                    index, steps * float(spec.dt / second), group.neurons // plan.trials)
        return RunResult(counts, spikes if plan.record_spikes else None,
                         dict(nest_version=nest.__version__, threads=THREADS, nest_seed=seed))


def _unsupported(spec: RunSpec) -> str | None:
    """Why NEST cannot run ``spec`` (None if it can)."""
    for population in spec.circuit.populations:
        model = population.model
        if _form(model) != _form(_DELTA_LIF):
            return (f"population '{population.name}' uses model '{model.name}' ({model.method} "
                    "integration), and NEST runs only exact lif(synapse='delta', "
                    "reset='value') populations; run it on numpy, cython or cpp_standalone")
    dt_ms = float(spec.dt / ms)
    if abs(dt_ms * 1000 - round(dt_ms * 1000)) > 1e-9:
        return f"dt must be a multiple of NEST's tic, 0.001 ms; got {dt_ms} ms"
    if spec.time_varying_inputs:
        return "inputs that change every step are not mapped to NEST; pass constant currents"
    if spec.states:
        return "record_states is not mapped to NEST"
    if spec.restarts is not None:
        return "restart_every is not mapped to NEST"
    if spec.schedule != "resets_first":
        return "only the resets_first schedule is mapped to NEST"
    return None


def _form(model) -> tuple:
    """What makes a model evsim's exact delta LIF, parameters aside."""
    return (model.clamped, model.dynamics, model.threshold, model.reset, model.method,
            model.synaptic_targets, tuple(model.parameters))


def _values_by_owner(plan) -> dict:
    """{Brian2 object name: {variable: value}} of the plan's values."""
    out = {}
    for owner, variable, value in plan.values:
        out.setdefault(owner, {})[variable] = value
    return out


def _neuron_parameters(population: str, values: dict, neurons: int,
                       dt_ms: float) -> tuple[dict, np.ndarray]:
    """NEST parameters (one value per neuron) of a delta-LIF group's values, and tau_m (ms)."""

    def per_neuron(name, unit, default=0.0):
        value = values[name] / unit if name in values else default
        return np.broadcast_to(np.asarray(value, dtype=float), neurons).copy()

    tau, resistance = per_neuron("tau_m", ms), per_neuron("resistance", Mohm)
    v_th, v_reset, t_ref = per_neuron("v_th", mV), per_neuron("v_reset", mV), \
        per_neuron("t_ref", ms)
    current = per_neuron("I", pA)
    steps = t_ref / dt_ms
    if np.any(np.abs(steps - np.rint(steps)) > 1e-6):
        raise ValidationError("t_ref", f"population '{population}': on target 'nest' t_ref must "
                                       f"be a multiple of dt = {dt_ms} ms, got {np.unique(t_ref)}")
    # Brian2 integrates in the last step NEST still clamps: start NEST from where that step
    # leaves v (with the neuron's constant current), so both integrate alike afterwards
    decay = np.exp(-dt_ms / tau)
    first_step = v_reset * decay + resistance * current * 1e-3 * (1 - decay)  # MOhm pA = uV
    clamped_at = np.where(np.rint(steps) > 0, first_step, v_reset)
    if np.any(v_reset >= v_th):
        raise ValidationError("parameters", f"population '{population}': v_reset must be < v_th "
                                            "in every neuron and trial")
    if np.any(clamped_at >= v_th):
        raise ValidationError("inputs", f"population '{population}': on target 'nest' one step "
                                        "from v_reset must stay below v_th (a current this "
                                        "strong fires every step after t_ref); run it on numpy")
    params = {"E_L": 0.0, "V_th": np.nextafter(v_th, np.inf),  # fires at v > v_th, as evsim
              "V_reset": clamped_at, "tau_m": tau,
              "C_m": tau / resistance * 1e3,  # ms / MOhm = nF -> pF
              "t_ref": t_ref, "I_e": current, "V_m": per_neuron("v", mV),
              "refractory_input": False}
    return {key: (value.tolist() if isinstance(value, np.ndarray) else value)
            for key, value in params.items()}, tau


register(NestBackend())
