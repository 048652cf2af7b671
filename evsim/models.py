"""Neuron models as Brian2 equations plus validated parameters.

A :class:`NeuronModel` is a description only: the dynamics of its state variables, threshold,
reset, refractoriness, the integration method and per-neuron parameter values (with Brian2
units). Parameter declarations are generated from ``parameters`` (their units from the
values), so a derived model is a new description, never an edit of another model's text.
``evsim.build`` turns a model into a ``NeuronGroup``. Every parameter is a per-neuron variable,
so trials and sweep cells can carry different values inside one group.

Voltages are relative to rest (rest = 0 V). Synaptic input is a jump of the model's
synaptic target variable (by default the first of ``synaptic_targets``) by the projection
weight (delta synapses).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from brian2 import Equations, Hz, Mohm, amp, ms, mV, nA, nS, second
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS
from brian2.units.fundamentalunits import Dimension, get_dimensions, get_unit
from brian2.utils.stringtools import get_identifiers

from .errors import ValidationError

__all__ = [
    "NeuronModel",
    "lif",
    "adaptive_lif",
    "SYNAPSES",
    "integrate_and_fire",
    "escape_noise_lif",
    "gain_modulated_if",
    "discrete_lif",
    "coincidence",
    "poisson_source",
    "bernoulli_source",
    "spike_source",
    "graded_source",
    "discrete_counter",
    "gated_graded",
    "MODELS",
    "get_model",
    "check_quantity",
    "check_integer",
    "check_steps",
    "unit_of",
]


def unit_of(value):
    """The SI unit of a quantity or of Brian2 dimensions (1 for plain numbers)."""
    dimensions = value if isinstance(value, Dimension) else get_dimensions(value)
    return 1 if dimensions.is_dimensionless else get_unit(dimensions)


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model: Brian2 dynamics plus default per-neuron parameter values.

    Attributes
    ----------
    name : registry name of the model (``"lif"``, ``"discrete_lif"``, ...).
    dynamics : Brian2 equation lines of the state variables that evolve freely.
    clamped : equation lines of the state variables held during the refractory period
        (built with Brian2's ``(unless refractory)`` flag while the model is refractory).
    threshold, reset : Brian2 code strings (``reset`` may be ``None``).
    method : integration method handed to Brian2 (``"exact"`` for linear models).
    parameters : parameter name -> value (Brian2 Quantity or float); each becomes a
        ``(constant)`` declaration in the parameter's unit.
    input_variable, input_unit : the per-neuron variable that external inputs set, and its unit.
    input_check : optional ``f(values, dt_seconds)`` raising ValidationError for inputs out of
        range.
    synaptic_targets : variables an incoming spike may increment -> their units; the first is
        the default (empty for sources, which cannot be targets).
    refractory : name of the parameter holding the absolute refractory period, or ``None``.
    step_code : code run once per time step in the ``groups`` slot, after the state update
        (discrete-time models).
    time_constants : parameters that must exceed ``dt``.
    payload : for graded events, the variable whose value a spike carries: every outgoing
        synapse adds ``weight x payload`` instead of ``weight`` (``None``: binary spikes).
    """

    name: str
    dynamics: str
    threshold: str
    reset: str | None
    method: str | None
    parameters: dict = field(default_factory=dict)
    input_variable: str | None = None
    input_unit: object = 1
    synaptic_targets: dict = field(default_factory=dict)
    refractory: str | None = None
    clamped: str = ""
    step_code: str | None = None
    time_constants: tuple = ()
    input_check: Callable | None = None
    payload: str | None = None

    def __post_init__(self):
        _check_model(self)

    @property
    def parsed(self) -> Equations:
        """Brian2's parse of :meth:`equations` (parsed once per distinct text)."""
        return _parse(self.equations())

    @property
    def state_units(self) -> dict:
        """The state variables of the equations (not the parameters) -> their units."""
        return {name: unit_of(self.parsed[name].dim) for name in sorted(self.parsed.names)
                if name not in self.parameters}

    def equations(self, *, shared=(), refractory: bool | None = None) -> str:
        """The Brian2 equation text: clamped and free dynamics, then one declaration per
        parameter (``shared`` ones as one scalar per group). ``refractory`` (default: the
        model has a refractory parameter) adds the ``(unless refractory)`` flag."""
        refractory = self.refractory is not None if refractory is None else refractory
        flag = " (unless refractory)" if refractory else ""
        lines = [line + flag for line in self.clamped.splitlines() if line.strip()]
        lines += [line for line in self.dynamics.splitlines() if line.strip()]
        for key, value in self.parameters.items():
            scope = "constant, shared" if key in shared else "constant"
            lines.append(f"{key} : {unit_of(value)!r} ({scope})")
        return "\n".join(lines)

    def check_input(self, values, dt) -> None:
        """Raise ValidationError if external input ``values`` are outside the accepted range."""
        if self.input_check is not None:
            self.input_check(np.asarray(values), float(dt))


@lru_cache(maxsize=256)
def _parse(text: str) -> Equations:
    """Brian2's parse of equation text (cached: models are checked when made and read again
    when a run records their states)."""
    return Equations(text)


#: names Brian2 gives every group's code besides units, constants and functions
GROUP_NAMES = frozenset({"t", "dt", "i", "N", "t_in_timesteps", "lastspike", "not_refractory"})


def _check_model(model: NeuronModel) -> None:
    """Refuse a model whose equations do not parse, that refers to a name it never defines, or
    whose input, payload, synaptic targets, refractory period or time constants are not its own
    variables and parameters of the declared units (one ValidationError, naming the field)."""
    where = f"model '{model.name}'"
    try:
        equations = model.parsed
    except Exception as error:  # Brian2's parser: syntax, units or a duplicate name
        raise ValidationError("dynamics", f"{where}: its equations and parameters do not parse "
                                          f"in Brian2: {str(error).splitlines()[0]}") from None
    variables = set(model.state_units)
    known = (set(equations.names) | GROUP_NAMES | set(DEFAULT_UNITS) | set(DEFAULT_CONSTANTS)
             | set(DEFAULT_FUNCTIONS))
    used = set(equations.identifiers) | get_identifiers(model.threshold)
    for code in (model.reset or "", model.step_code or ""):
        used |= _names_read(code, known)
    unknown = sorted(name for name in used - known if not name.startswith("xi"))
    if unknown:
        raise ValidationError("parameters", f"{where} refers to {unknown}, which it never defines: "
                                            "declare each in its equations or give it a value in "
                                            "'parameters'")
    declared = [("input_variable", model.input_variable, model.input_unit),
                ("payload", model.payload, None),
                *(("synaptic_targets", name, unit) for name, unit in model.synaptic_targets.items())]
    for field_name, name, unit in declared:
        if name is None:
            continue
        if name not in variables:
            raise ValidationError(field_name, f"{where}: {field_name} '{name}' is not a state "
                                              f"variable of its equations; they declare "
                                              f"{sorted(variables)}")
        if unit is not None and get_dimensions(unit) != equations[name].dim:
            raise ValidationError(field_name, f"{where}: the unit {unit!r} given for '{name}' "
                                              f"does not match its declared unit "
                                              f"{unit_of(equations[name].dim)!r}")
    for field_name, names in (("refractory", [model.refractory] if model.refractory else []),
                              ("time_constants", list(model.time_constants))):
        for name in names:
            if name not in model.parameters:
                raise ValidationError(field_name, f"{where}: {field_name} '{name}' is not one of "
                                                  f"its parameters {sorted(model.parameters)}")


def _names_read(code: str, known: set) -> set:
    """Names that statements of ``code`` read before any statement assigns them (a name first
    assigned with ``=`` and not in ``known`` is a temporary, as Brian2 allows)."""
    read, temporaries = set(), set()
    for line in code.splitlines():
        statement = line.split("#")[0].strip()
        match = re.match(r"^(\w+)\s*([-+*/]?=)(?!=)\s*(.*)$", statement)
        if not match:
            read |= get_identifiers(statement) - temporaries
            continue
        target, operator, expression = match.groups()
        read |= get_identifiers(expression) - temporaries
        if operator != "=":
            read |= {target} - temporaries
        elif target not in known:
            temporaries.add(target)
    return read


def check_quantity(name: str, value, reference, *, positive: bool = False, nonnegative=False):
    """Raise ValidationError unless ``value`` has the dimensions of ``reference`` and is finite."""
    dimensions = get_dimensions(reference)
    if get_dimensions(value) != dimensions:
        expected = ("a plain number" if dimensions.is_dimensionless
                    else f"a quantity in units of {get_unit(dimensions)!r}")
        raise ValidationError(name, f"parameter '{name}' must be {expected}, got {value!r}")
    array = np.asarray(value)
    if not np.all(np.isfinite(array)):
        raise ValidationError(name, f"parameter '{name}' must be finite, got {value!r}")
    if positive and not np.all(array > 0):
        raise ValidationError(name, f"parameter '{name}' must be > 0, got {value!r}")
    if nonnegative and not np.all(array >= 0):
        raise ValidationError(name, f"parameter '{name}' must be >= 0, got {value!r}")


def check_steps(name: str, value, dt, maximum: int | None = None) -> int:
    """``value`` (a time) as a whole number >= 1 of steps of ``dt`` (at most ``maximum``);
    one ValidationError naming ``name`` otherwise."""
    check_quantity(name, value, second, positive=True)
    steps = float(value / dt)
    if (abs(steps - round(steps)) > 1e-6 or round(steps) < 1
            or (maximum is not None and round(steps) > maximum)):
        limit = "" if maximum is None else f" no longer than the run ({maximum} steps)"
        raise ValidationError(name, f"parameter '{name}' must be a positive multiple of dt = "
                                    f"{dt}{limit}, got {value}")
    return int(round(steps))


def check_integer(name: str, value, minimum: int) -> None:
    """Raise ValidationError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValidationError(name, f"parameter '{name}' must be an integer >= {minimum}, got "
                                    f"{value!r}")


def _reset_code(reset: str, allowed: tuple[str, ...], subtract: str, to_value: str) -> str | None:
    if reset not in allowed:
        raise ValidationError("reset", f"parameter 'reset' must be one of {allowed}, got {reset!r}")
    return {"value": to_value, "hard": to_value, "subtract": subtract, "soft": subtract}.get(reset)


def _membrane_model(name: str, drive: str, *, tau_m, v_th, v_reset, t_ref, resistance, reset,
                    method: str, dynamics: str = "", parameters=None, synaptic_targets=None,
                    time_constants=("tau_m",)) -> NeuronModel:
    """An integrate-and-fire model ``dv/dt = drive`` (v held while refractory), threshold
    ``v > v_th`` and reset to ``v_reset`` or by subtraction; input current ``I`` (amp)."""
    for key, value, reference in (("tau_m", tau_m, ms), ("resistance", resistance, Mohm)):
        check_quantity(key, value, reference, positive=True)
    check_quantity("v_th", v_th, mV, positive=True)
    check_quantity("v_reset", v_reset, mV)
    check_quantity("t_ref", t_ref, ms, nonnegative=True)
    if not v_reset < v_th:
        raise ValidationError("v_reset", f"parameter 'v_reset' must be < v_th = {v_th}, got "
                                         f"{v_reset}")
    return NeuronModel(
        name=name, clamped=f"dv/dt = {drive} : volt", dynamics="I : amp\n" + dynamics,
        threshold="v > v_th",
        reset=_reset_code(reset, ("value", "subtract"), "v -= v_th - v_reset", "v = v_reset"),
        method=method,
        parameters=dict(tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref,
                        resistance=resistance, **(parameters or {})),
        input_variable="I", input_unit=amp, synaptic_targets=synaptic_targets or {"v": mV},
        refractory="t_ref", time_constants=time_constants)


#: synapse kernels of :func:`lif`: where an incoming spike lands
SYNAPSES = ("delta", "current", "conductance")


def lif(tau_m=20 * ms, v_th=20 * mV, v_reset=0 * mV, t_ref=2 * ms, resistance=1 * Mohm,
        reset="value", synapse="delta", tau_syn=5 * ms, e_exc=70 * mV,
        e_inh=-10 * mV) -> NeuronModel:
    """Leaky integrate-and-fire neuron.

    ``tau_m dv/dt = R (I + I_syn) - v``; spike when ``v > v_th``; then ``v = v_reset``
    (``reset="value"``) or ``v -= v_th - v_reset`` (``reset="subtract"``); ``v`` is clamped
    during the absolute refractory period ``t_ref``. Input: current ``I`` (amp). ``synapse``
    says what an incoming spike of weight w does:

    - ``"delta"`` (default): ``v += w`` (mV), dropped while refractory; no I_syn.
    - ``"current"``: ``I_syn += w`` (nA), an exponential current, ``tau_syn dI_syn/dt =
      -I_syn``. Integrated exactly (matrix exponential per step); a PSP is the difference of
      exponentials R w tau_syn / (tau_m - tau_syn) (exp(-t/tau_m) - exp(-t/tau_syn)).
    - ``"conductance"``: ``g_exc += w`` or ``g_inh += w`` (nS, projection ``variable``), with
      ``I_syn = g_exc (e_exc - v) + g_inh (e_inh - v)`` (reversal potentials relative to
      rest) and both conductances decaying with ``tau_syn``. Exponential Euler: exact for the
      conductances, and for v with the conductances held over each step.
    """
    if synapse not in SYNAPSES:
        raise ValidationError("synapse", f"parameter 'synapse' must be one of {SYNAPSES}, got "
                                         f"{synapse!r}")
    if synapse == "delta":
        return _membrane_model("lif", "(resistance*I - v)/tau_m", tau_m=tau_m, v_th=v_th,
                               v_reset=v_reset, t_ref=t_ref, resistance=resistance,
                               reset=reset, method="exact")
    check_quantity("tau_syn", tau_syn, ms, positive=True)
    if synapse == "current":
        return _membrane_model(
            "lif", "(resistance*(I + I_syn) - v)/tau_m", tau_m=tau_m, v_th=v_th,
            v_reset=v_reset, t_ref=t_ref, resistance=resistance, reset=reset, method="exact",
            dynamics="dI_syn/dt = -I_syn/tau_syn : amp", parameters=dict(tau_syn=tau_syn),
            synaptic_targets={"I_syn": nA}, time_constants=("tau_m", "tau_syn"))
    check_quantity("e_exc", e_exc, mV)
    check_quantity("e_inh", e_inh, mV)
    return _membrane_model(
        "lif", "(resistance*(I + g_exc*(e_exc - v) + g_inh*(e_inh - v)) - v)/tau_m",
        tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref, resistance=resistance,
        reset=reset, method="exponential_euler",
        dynamics="dg_exc/dt = -g_exc/tau_syn : siemens\ndg_inh/dt = -g_inh/tau_syn : siemens",
        parameters=dict(tau_syn=tau_syn, e_exc=e_exc, e_inh=e_inh),
        synaptic_targets={"g_exc": nS, "g_inh": nS}, time_constants=("tau_m", "tau_syn"))


def adaptive_lif(tau_m=20 * ms, tau_a=100 * ms, b=0.5 * nA, v_th=20 * mV, v_reset=0 * mV,
                 t_ref=2 * ms, resistance=1 * Mohm) -> NeuronModel:
    """LIF with spike-triggered adaptation (a linear adaptive LIF), integrated exactly.

    ``tau_m dv/dt = R (I - a) - v`` and ``tau_a da/dt = -a``; on a spike ``v = v_reset`` and
    ``a += b``, so the rate under a constant current falls from its LIF value to a lower steady
    state. ``v`` is clamped while refractory; ``a`` decays throughout. Synaptic target ``v``.
    """
    check_quantity("tau_a", tau_a, ms, positive=True)
    check_quantity("b", b, nA, nonnegative=True)
    model = _membrane_model("adaptive_lif", "(resistance*(I - a) - v)/tau_m", tau_m=tau_m,
                            v_th=v_th, v_reset=v_reset, t_ref=t_ref, resistance=resistance,
                            reset="value", method="exact", dynamics="da/dt = -a/tau_a : amp",
                            parameters=dict(tau_a=tau_a, b=b),
                            time_constants=("tau_m", "tau_a"))
    return dataclasses.replace(model, reset=model.reset + "\na += b")


def integrate_and_fire(tau_m=20 * ms, v_th=20 * mV, v_reset=0 * mV, t_ref=0 * ms,
                       resistance=1 * Mohm, reset="subtract") -> NeuronModel:
    """Non-leaky integrate-and-fire neuron: ``tau_m dv/dt = R I``.

    The right-hand side is constant within a time step, so forward Euler is exact here
    (Brian2's ``exact`` solver rejects equations without a leak). Default reset: subtraction,
    which keeps the residual charge (a sigma-delta encoder).
    """
    return _membrane_model("integrate_and_fire", "resistance*I/tau_m", tau_m=tau_m, v_th=v_th,
                           v_reset=v_reset, t_ref=t_ref, resistance=resistance, reset=reset,
                           method="euler")


def escape_noise_lif(tau_m=10 * ms, rho0=100 * Hz, theta=0 * mV, delta=1 * mV, t_ref=0 * ms,
                     v_reset=0 * mV, resistance=1 * Mohm, reset="none", tau_syn=1 * ms,
                     slow_drift=0 * mV / second, inhibition="subtractive",
                     window=None) -> NeuronModel:
    """LIF with a stochastic threshold (escape noise) and two synaptic traces.

    Hazard ``rho = rho0 exp((v + syn_fast + syn_slow - theta)/delta)``; in each step of length
    dt the neuron fires with probability ``1 - exp(-rho dt)``. ``syn_fast`` decays with
    ``tau_syn``; ``syn_slow`` does not decay but rises at the constant rate ``slow_drift``
    (with inhibitory input it forms an integral controller). Synaptic targets: ``v`` (default),
    ``syn_fast``, ``syn_slow``. ``reset`` is ``"none"`` (v is a filtered drive), ``"value"``
    or ``"subtract"`` (``v -= theta - v_reset``). ``inhibition="shunting"`` makes negative
    traces act as a conductance that divides the membrane drive instead of subtracting:
    ``rho = rho0 exp((v/(1 + g) - theta)/delta)`` with ``g = max(0, -(syn_fast + syn_slow))/delta``.
    With a ``window`` (time), ``syn_fast`` is cleared at the start of every window (t = k window),
    which turns a strong fast inhibition into "blocked until the next window".
    """
    check_quantity("tau_m", tau_m, ms, positive=True)
    check_quantity("rho0", rho0, Hz, positive=True)
    check_quantity("theta", theta, mV)
    check_quantity("delta", delta, mV, positive=True)
    check_quantity("t_ref", t_ref, ms, nonnegative=True)
    check_quantity("v_reset", v_reset, mV)
    check_quantity("resistance", resistance, Mohm, positive=True)
    check_quantity("tau_syn", tau_syn, ms, positive=True)
    check_quantity("slow_drift", slow_drift, mV / second)
    effective = {"subtractive": "v + syn_fast + syn_slow",
                 "shunting": "v/(1 + clip(-(syn_fast + syn_slow)/delta, 0, inf))"}
    if inhibition not in effective:
        raise ValidationError("inhibition", "parameter 'inhibition' must be one of "
                                            f"{tuple(effective)}, got {inhibition!r}")
    parameters = dict(tau_m=tau_m, rho0=rho0, theta=theta, delta=delta, t_ref=t_ref,
                      v_reset=v_reset, resistance=resistance, tau_syn=tau_syn,
                      slow_drift=slow_drift)
    step_code = "syn_slow += slow_drift*dt"
    if window is not None:
        check_quantity("window", window, ms, positive=True)
        parameters["window"] = window
        step_code += "\nsyn_fast = syn_fast * int(timestep(t, dt) % timestep(window, dt) != 0)"
    # The firing probability is computed in the step code (a loop without random numbers, which
    # compilers vectorise) rather than in the threshold; the threshold slot follows directly,
    # so it sees the same state and the draws are unchanged.
    step_code += (f"\np_fire = 1 - exp(-rho0*exp(({effective[inhibition]} - theta)/delta)*dt)")
    return NeuronModel(
        name="escape_noise_lif", clamped="dv/dt = (resistance*I - v)/tau_m : volt",
        dynamics="dsyn_fast/dt = -syn_fast/tau_syn : volt\nsyn_slow : volt\nI : amp\n"
                 "p_fire : 1  # probability of a spike in this step",
        threshold="rand() < p_fire",
        reset=_reset_code(reset, ("none", "value", "subtract"), "v -= theta - v_reset",
                          "v = v_reset"),
        method="exact",
        parameters=parameters, input_variable="I", input_unit=amp,
        synaptic_targets={"v": mV, "syn_fast": mV, "syn_slow": mV}, refractory="t_ref",
        step_code=step_code, time_constants=("tau_m", "tau_syn"),
    )


def gain_modulated_if(tau_m=10 * ms, v_th=1 * mV, v_reset=0 * mV, t_ref=0 * ms,
                      resistance=1 * Mohm, gain_drift=0 * Hz, reset="subtract") -> NeuronModel:
    """Non-leaky integrate-and-fire neuron whose input is multiplied by a gain exp(log_gain).

    ``tau_m dv/dt = exp(log_gain) R I``; ``log_gain`` rises at ``gain_drift`` (1/s) and is a
    synaptic target (inhibitory spikes lower it). Forward Euler: within a step every neuron of
    a trial that shares the same ``log_gain`` history gets the same gain factor, so ratios of
    accumulated charge are exact. Synaptic targets: ``v`` (default), ``log_gain``.
    """
    check_quantity("gain_drift", gain_drift, Hz)
    return _membrane_model("gain_modulated_if", "exp(log_gain)*resistance*I/tau_m",
                           tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref,
                           resistance=resistance, reset=reset, method="euler",
                           dynamics="dlog_gain/dt = gain_drift : 1",
                           parameters=dict(gain_drift=gain_drift),
                           synaptic_targets={"v": mV, "log_gain": 1})


def discrete_lif(tau=2.0, v_th=1.0, v_reset=0.0, reset="hard") -> NeuronModel:
    """Discrete-time LIF with SpikingJelly's semantics (``decay_input=True``, ``v_reset=0`` leak).

    Each step: ``H = (1 - 1/tau) V + X/tau`` with ``X`` the external input plus the synaptic
    input that arrived in the previous step; spike if ``H >= v_th``; then ``V = v_reset``
    (``reset="hard"``) or ``V = H - v_th`` (``reset="soft"``), else ``V = H``. Dimensionless.
    It equals the exact continuous LIF only when ``tau_m = dt / ln 2`` (i.e. ``tau = 2``).
    """
    for name, value in (("tau", tau), ("v_th", v_th), ("v_reset", v_reset)):
        check_quantity(name, value, 1.0)
    if not tau >= 1:
        raise ValidationError("tau", f"parameter 'tau' must be >= 1 (time steps), got {tau}")
    if not v_th > 0:
        raise ValidationError("v_th", f"parameter 'v_th' must be > 0, got {v_th}")
    return NeuronModel(
        name="discrete_lif", dynamics="v : 1\nx : 1\nI : 1",
        threshold="v >= v_th",
        reset=_reset_code(reset, ("hard", "soft"), "v -= v_th", "v = v_reset"),
        method=None,
        parameters=dict(tau=float(tau), v_th=float(v_th), v_reset=float(v_reset)),
        input_variable="I", input_unit=1,
        synaptic_targets={"x": 1},
        step_code="v = (1 - 1/tau)*v + (I + x)/tau\nx = 0",
    )


def coincidence(k: int = 2) -> NeuronModel:
    """A memoryless discrete unit: fires in step t + 1 iff its input in step t (``X``, the
    external input plus the synaptic input that arrived) is at least ``k``; ``V = X``, reset
    to 0 after a spike. While the membrane is finite, the same spikes and membrane as
    :func:`discrete_lif` with ``tau = 1`` (whose ``(1 - 1/tau) V`` is 0 and ``X / tau`` is
    ``X``), in a third of the arithmetic: an AND of ``k`` unit-weight spikes. (A membrane
    driven to -inf by overflowing weights stays NaN in that LIF, as 0 x inf is NaN, and is
    ``X`` again here.) It has no ``tau`` to override: a unit with memory is a discrete_lif.
    Dimensionless."""
    check_integer("k", k, 1)
    return NeuronModel(
        name="coincidence", dynamics="v : 1\nx : 1\nI : 1",
        threshold="v >= v_th", reset="v = v_reset", method=None,
        parameters=dict(v_th=float(k), v_reset=0.0),
        input_variable="I", input_unit=1, synaptic_targets={"x": 1},
        step_code="v = I + x\nx = 0",
    )


def _check_rates(rate, dt):
    if np.any(rate < 0) or np.any(rate * dt > 1):
        raise ValidationError("inputs", f"input 'rate' must lie in [0, 1/dt] = [0, {1 / dt:g}] Hz, "
                                        f"got values in [{rate.min():g}, {rate.max():g}] Hz")


def _check_probabilities(p, dt):
    if np.any(p < 0) or np.any(p > 1):
        raise ValidationError("inputs", "input 'p' must lie in [0, 1], got values in "
                                        f"[{p.min():g}, {p.max():g}]")


def poisson_source() -> NeuronModel:
    """Poisson spike source (at most one spike per step): fires with probability ``rate*dt``.

    Input: ``rate`` (Hz) per neuron and trial; ``rate*dt`` must not exceed 1.
    """
    return NeuronModel(name="poisson_source", dynamics="rate : Hz", threshold="rand() < rate*dt",
                       reset=None, method=None, input_variable="rate", input_unit=Hz,
                       input_check=_check_rates)


def bernoulli_source() -> NeuronModel:
    """Bernoulli spike source: fires in each step with probability ``p`` (dimensionless)."""
    return NeuronModel(name="bernoulli_source", dynamics="p : 1", threshold="rand() < p",
                       reset=None, method=None, input_variable="p", input_unit=1,
                       input_check=_check_probabilities)


def _check_spikes(values, dt):
    if not np.all((values == 0) | (values == 1)):
        bad = values[(values != 0) & (values != 1)]
        raise ValidationError("inputs", "input 'spikes' must be binary (0 or 1 per step), got "
                                        f"values such as {bad.ravel()[:3].tolist()}")


def _check_finite(values, dt):
    if not np.all(np.isfinite(values)):
        raise ValidationError("inputs", "input 'values' must be finite")


def spike_source() -> NeuronModel:
    """Replays a given binary spike tensor: fires in step t exactly when its input is 1."""
    return NeuronModel(name="spike_source", dynamics="I : 1", threshold="I > 0.5", reset=None,
                       method=None, input_variable="I", input_unit=1, input_check=_check_spikes)


def graded_source() -> NeuronModel:
    """Emits a graded event carrying its real input value in every step where it is non-zero.

    For real-valued activations (e.g. ReLU outputs) that a circuit must transmit as they are:
    a graded spike (as on Loihi 2), not a binary one; each event still costs one synaptic
    operation per outgoing synapse.
    """
    return NeuronModel(name="graded_source", dynamics="I : 1", threshold="I != 0", reset=None,
                       method=None, input_variable="I", input_unit=1, input_check=_check_finite,
                       payload="I")


def discrete_counter() -> NeuronModel:
    """A counter: non-leaky discrete integrator (``v += x`` per step) that fires once per step
    while ``v >= 1`` and subtracts 1, so after the inputs stop it has fired exactly once per
    unit of input (the backlog drains at one spike per step)."""
    return NeuronModel(name="discrete_counter", dynamics="v : 1\nx : 1", threshold="v >= 1",
                       reset="v -= 1", method=None, synaptic_targets={"x": 1},
                       step_code="v += x\nx = 0")


def gated_graded(gates: int = 2) -> NeuronModel:
    """A coincidence unit that forwards an amplitude: fires in step t+1 iff at least ``gates``
    binary spikes reached its ``gate`` input in step t and the amplitude (graded input
    ``amplitude``) that arrived in the same step is not zero; its event carries that amplitude.
    Memoryless: both are cleared every step. Synaptic targets: ``gate`` (default),
    ``amplitude``."""
    check_integer("gates", gates, 1)
    return NeuronModel(
        name="gated_graded", dynamics="g : 1\na : 1\ngate : 1\namplitude : 1",
        threshold="g >= gates and a != 0", reset=None, method=None,
        parameters=dict(gates=float(gates)), synaptic_targets={"gate": 1, "amplitude": 1},
        step_code="g = gate\na = amplitude\ngate = 0\namplitude = 0", payload="a")


MODELS: dict[str, Callable[..., NeuronModel]] = {
    "lif": lif,
    "adaptive_lif": adaptive_lif,
    "integrate_and_fire": integrate_and_fire,
    "escape_noise_lif": escape_noise_lif,
    "gain_modulated_if": gain_modulated_if,
    "discrete_lif": discrete_lif,
    "coincidence": coincidence,
    "poisson_source": poisson_source,
    "bernoulli_source": bernoulli_source,
    "spike_source": spike_source,
    "graded_source": graded_source,
    "discrete_counter": discrete_counter,
    "gated_graded": gated_graded,
}


def get_model(name: str, **parameters) -> NeuronModel:
    """Build a registered model by name, e.g. ``get_model("lif", tau_m=10*ms)``."""
    if name not in MODELS:
        raise ValidationError("name", f"unknown model '{name}'; accepted: {sorted(MODELS)}")
    return MODELS[name](**parameters)
