"""What every claim is made of: Claim, ClaimResult, ClaimContext, Sizes and verdict helpers.

A claim's ``measure(context)`` runs its pre-registered protocol and returns a
:class:`ClaimResult` with tables; its ``plot(tables, directory)`` redraws the figures from
those tables alone, so ``evsim plot`` can redo figures without simulating. The verdict is
decided inside ``measure`` by a small rule function stated in the protocol before the run.

The :class:`ClaimContext` sets what a claim's simulations run on: :meth:`Claim.run` measures
inside :meth:`ClaimContext.running`, where every :func:`evsim.simulate` (directly or through a
circuit helper) takes the user's target and is logged, and a run naming another target is an
error. Seeds come from ``--seed`` (``numpy.random.SeedSequence``, one stream per claim and
purpose) through :meth:`ClaimContext.seed_for`; sweep cells get both in their grid. claims.json
says which target a claim actually ran on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from evsim import backends
from evsim.errors import UnsupportedRun, ValidationError

__all__ = ["VERDICTS", "SCALES", "DECIDED_BY", "Sizes", "Basis", "EarlierRule", "Rule",
           "ClaimContext", "ClaimResult", "Claim", "interval_verdict", "all_or_none",
           "threshold_verdict", "out_of_reach", "holm", "bootstrap_p_values"]

VERDICTS = ("supported", "refuted", "partial", "not-testable")
#: What decides a verdict: "measured" (data the protocol could not fix decide it, and the rule
#: can reach both supported and refuted), "derived" (arithmetic or analysis known before the
#: run decides it; the simulation confirms it), "fixed" (a protocol constant or a handed-in
#: quantity sets it, or the paper's subject is out of reach: not-testable).
DECIDED_BY = ("measured", "derived", "fixed")
#: Protocol sizes: ``toy`` (tests only, seconds), ``quick`` (minutes), ``full`` (papers).
SCALES = ("toy", "quick", "full")


@dataclass(frozen=True)
class Sizes:
    """A claim's protocol sizes at each scale (read-only mappings); ``toy`` defaults to quick.

    Protocol text is rendered from the same object (:meth:`text`), so prose and code cannot
    drift apart.
    """

    quick: Mapping
    full: Mapping
    toy: Mapping | None = None

    def __post_init__(self):
        for scale in SCALES:
            value = getattr(self, scale)
            if value is not None:
                object.__setattr__(self, scale, MappingProxyType(dict(value)))

    def at(self, scale: str) -> Mapping:
        """The sizes of ``scale`` ("toy", "quick" or "full")."""
        if scale not in SCALES:
            raise ValidationError("scale", f"parameter 'scale' must be one of {SCALES}, got "
                                           f"{scale!r}")
        return self.toy if scale == "toy" and self.toy is not None else \
            getattr(self, "quick" if scale == "toy" else scale)

    def text(self, key: str, form: Callable = str) -> str:
        """``quick [full]`` for protocol prose, e.g. "10 [12]" (one value if they agree)."""
        quick, full = form(self.quick[key]), form(self.full[key])
        return quick if quick == full else f"{quick} [{full}]"


def number_list(values) -> str:
    """Values as "a, b, c" with %g formatting (for protocol prose)."""
    return ", ".join(f"{v:g}" for v in values)


def _check_choice(name: str, value, accepted) -> None:
    if value not in accepted:
        raise ValidationError(name, f"parameter '{name}' must be one of {accepted}, got "
                                    f"{value!r}")


@dataclass(frozen=True)
class Basis:
    """What decides a claim's verdict and what the verdict covers.

    ``decided_by`` is one of :data:`DECIDED_BY`; ``scope`` one sentence on what the verdict
    covers (construction, neuron, code class, model size, hardware); ``why`` one sentence on
    what decides it; ``ci_leaves_out`` the variance sources that no CI of the claim includes.
    """

    decided_by: str
    scope: str
    why: str
    ci_leaves_out: tuple = ()

    def __post_init__(self):
        _check_choice("decided_by", self.decided_by, DECIDED_BY)
        for name in ("scope", "why"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValidationError(name, f"parameter '{name}' must be a non-empty sentence")
        object.__setattr__(self, "ci_leaves_out", tuple(self.ci_leaves_out))


@dataclass(frozen=True)
class EarlierRule:
    """A rule a claim used before its current one.

    ``replaced_in`` is the commit that replaced it, or the issue whose change did (a rule
    replaced in the commit that lands an issue). ``today`` names the sensitivity row (its
    "choice" text) that is this earlier rule applied to today's data; None where today's data
    cannot answer it, and ``note`` says why.
    """

    rule: str
    replaced_in: str
    changed_after_data: bool
    today: str | None = None
    note: str = ""

    def on(self, sensitivity: list) -> dict:
        """This rule as a claims.json entry, with its verdict on today's ``sensitivity`` rows."""
        verdict = None
        if self.today is not None:
            rows = [row["verdict"] for row in sensitivity if row["choice"] == self.today]
            if len(rows) != 1:
                raise ValidationError("today", f"earlier rule names sensitivity row "
                                               f"{self.today!r}, found {len(rows)} such rows")
            verdict = rows[0]
        return {"rule": self.rule, "replaced_in": self.replaced_in,
                "changed_after_data": self.changed_after_data, "verdict_today": verdict,
                "note": self.note or ("its verdict on today's data is the sensitivity row "
                                      f"'{self.today}'" if self.today else "")}


@dataclass(frozen=True)
class Rule:
    """A claim's verdict rule: the functions that turn its tables into the verdict, the
    thresholds they use, and the rules it replaced. :meth:`fingerprint` (source + thresholds)
    is what the committed registry (``rules.json``) pins."""

    functions: tuple
    thresholds: Mapping
    history: tuple = ()

    def __post_init__(self):
        if not self.functions or not all(inspect.isfunction(f) for f in self.functions):
            raise ValidationError("functions", "parameter 'functions' must be a non-empty "
                                               "tuple of plain functions")
        object.__setattr__(self, "thresholds", MappingProxyType(dict(self.thresholds)))

    def thresholds_json(self) -> dict:
        """The thresholds as plain JSON values (tuples and arrays as lists)."""
        return json.loads(json.dumps(dict(self.thresholds), default=_plain, sort_keys=True))

    def fingerprint(self) -> str:
        """sha256 of the rule functions' source and the thresholds (first 16 hex digits)."""
        text = "\n".join(inspect.getsource(f) for f in self.functions) + \
            json.dumps(self.thresholds_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value):
    return np.asarray(value).tolist()


@dataclass
class ClaimResult:
    """Outcome of one claim's protocol.

    ``sensitivity`` lists {"choice", "verdict"}: the verdict the same data give under each
    other reasonable protocol choice we know of. ``basis`` (a :class:`Basis`) may override the
    claim's own where the outcome changes what decides it; :meth:`Claim.run` fills it in and
    ``rule_history`` (earlier rules with their verdicts on today's data).
    """

    verdict: str
    estimate: float | None
    ci95: list | None
    details: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)  # name -> pandas DataFrame
    sensitivity: list = field(default_factory=list)
    basis: Basis | None = None
    rule_history: list | None = None

    def __post_init__(self):
        _check_choice("verdict", self.verdict, VERDICTS)

    def basis_entry(self) -> dict:
        """decided_by, scope, basis and ci_leaves_out as claims.json fields."""
        return {"decided_by": self.basis.decided_by, "scope": self.basis.scope,
                "basis": self.basis.why, "ci_leaves_out": list(self.basis.ci_leaves_out)}


@dataclass(frozen=True)
class Claim:
    """A claim of the paper (or of the framework) with its pre-registered protocol, its
    verdict :class:`Rule` and the :class:`Basis` of its verdict."""

    id: str
    source: str
    statement: str
    protocol: str
    expected: float | None
    measure: Callable[["ClaimContext"], ClaimResult]
    plot: Callable[[dict, object], list]  # (tables, figure directory) -> figure file names
    rule: Rule = field(kw_only=True)
    basis: Basis = field(kw_only=True)
    #: the experiment this claim reads with others (:meth:`ClaimContext.shared`); a parallel
    #: verify runs claims that share one in one process. None: it shares nothing
    shares: str | None = field(default=None, kw_only=True)

    def run(self, context: "ClaimContext") -> ClaimResult:
        """``measure(context)`` with the basis (the claim's unless the result set its own) and
        the rule history (each earlier rule's verdict on today's data) filled in; every
        simulation in it runs on the context's target and is logged (:meth:`ClaimContext.
        running`)."""
        with context.running():
            result = self.measure(context)
        result.basis = result.basis or self.basis
        result.rule_history = [earlier.on(result.sensitivity) for earlier in self.rule.history]
        return result


def _declared_shares(claim_id: str | None) -> str | None:
    """The ``shares`` a registered claim declares (None for an unregistered id)."""
    from . import all_claims

    return next((c.shares for c in all_claims() if c.id == claim_id), None)


def _stream(seed: int, key: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(key.encode()),))


@dataclass
class ClaimContext:
    """What a measurement may depend on.

    ``scale`` picks the protocol sizes; ``seed`` is the user's ``--seed``; ``target`` the
    backend every run uses (see :meth:`running`); ``workers``/``scheduler`` run sweep cells on local
    processes or a dask cluster; ``cache_dir`` roots their resumable cell caches.
    ``runs`` logs every simulation of this claim: {"what", "target", "seed"}.
    """

    scale: str = "quick"
    seed: int = 1
    target: str = "auto"
    workers: int = 1
    scheduler: str | None = None
    cache_dir: str | None = None
    claim_id: str = "claim"
    runs: list = field(default_factory=list)
    _shared: dict = field(default_factory=dict, repr=False)
    #: shared experiment key -> the ``Claim.shares`` of the claims that read it
    _share_groups: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValidationError("scale", f"parameter 'scale' must be one of {SCALES}, got "
                                           f"{self.scale!r}")

    def for_claim(self, claim_id: str) -> "ClaimContext":
        """A context for claim ``claim_id``: its own seed streams and run log; shared
        experiments (:meth:`shared`) are still computed once per verify run."""
        return dataclasses.replace(self, claim_id=claim_id, runs=[])

    @property
    def quick(self) -> bool:
        return self.scale != "full"

    def sizes(self, sizes: Sizes) -> Mapping:
        """This context's entry of ``sizes``."""
        return sizes.at(self.scale)

    # -- seeds --------------------------------------------------------------------------------
    def seed_for(self, purpose: str, *, shared: bool = False) -> int:
        """A seed (0 <= seed < 2^31) for ``purpose``, derived from ``--seed`` and the claim id
        (or from ``--seed`` alone for a ``shared`` experiment that several claims read)."""
        key = purpose if shared else f"{self.claim_id}/{purpose}"
        return int(_stream(self.seed, key).generate_state(1, np.uint32)[0] % 2 ** 31)

    def rng(self, purpose: str, *, shared: bool = False) -> np.random.Generator:
        """A numpy Generator for ``purpose`` (operands, bootstrap, ...), like :meth:`seed_for`."""
        return np.random.default_rng(self.seed_for(purpose, shared=shared))

    # -- the road to the simulator -------------------------------------------------------------
    @contextlib.contextmanager
    def running(self, target: str | None = None, why: str | None = None):
        """A block in which every simulation without a target of its own runs on this
        context's target (or on ``target``, logged with ``why``: see :meth:`on_target_or`) and
        is logged in :attr:`runs`; one that names another target is an error."""
        target = target or self.target
        with backends.using(target, on_run=partial(self._log, target, why), observed=False):
            yield

    def on_target_or(self, fallback: str, measure: Callable[[], object]):
        """``measure()`` on the user's target; if that backend cannot run it
        (:class:`evsim.errors.UnsupportedRun`, e.g. NEST and a forward-Euler control), all of
        it again on ``fallback``, its runs logged with the reason (the runs of the abandoned
        attempt are dropped from the log). Keep ``measure`` to the part that needs it."""
        start = len(self.runs)
        try:
            return measure()
        except UnsupportedRun as error:
            del self.runs[start:]
            with self.running(fallback, why=str(error)):
                return measure()

    def _log(self, target: str, why: str | None, record) -> None:
        requested = record.metadata["requested"]
        if requested != target:
            raise RuntimeError(f"claim {self.claim_id} ran a simulation on target {requested!r}, "
                               f"not the context's {target!r}")
        self.runs.append({"what": f"simulate {record.metadata['circuit']}",
                          "target": record.metadata["target"], "seed": record.metadata["seed"],
                          **({"why": why} if why else {})})

    def sweep(self, function: Callable[..., dict], grid: dict):
        """:func:`evsim.sweep.run_sweep` of ``function`` over ``grid`` with this context's
        target added to every cell. ``function`` takes ``target`` and ``seed`` (from ``grid``)
        and returns, under "ran_on", the target its simulation reported."""
        from evsim.sweep import run_sweep

        with backends.using(self.target, on_run=None, observed=False):  # logged below
            cells = run_sweep(function, {**grid, "target": [self.target]}, self.sweep_cache(),
                              workers=self.workers, scheduler=self.scheduler, progress=False)
        for cell in cells.itertuples():
            self.runs.append({"what": f"sweep cell {function.__name__}",
                              "target": cell.ran_on, "seed": cell.seed})
        return cells

    def shared(self, key: str, compute: Callable[[], object]):
        """``compute()`` once per verify run for ``key`` (e.g. one softmax run that three claims
        read); later calls return the same value and log the same runs. ``compute`` must take
        its seeds with ``shared=True``."""
        declared = _declared_shares(self.claim_id)
        group = self._share_groups.setdefault(key, declared)
        if group != declared:
            raise RuntimeError(f"claim {self.claim_id} reads the shared experiment '{key}' but "
                               f"declares shares={declared!r}, not {group!r} as a claim that "
                               "read it before: a parallel verify would run it twice, writing "
                               "one sweep cache from two processes")
        if key in self._shared:
            value, runs = self._shared[key]
            self.runs.extend(runs)
            return value
        start = len(self.runs)
        value = compute()
        self._shared[key] = (value, self.runs[start:])
        return value

    def release_shared(self, group: str | None) -> None:
        """Forget the shared experiments read under ``group`` (a :attr:`Claim.shares`; None:
        those of claims that declare none), freeing their memory once no claim left to run
        reads them (a later read would compute them again, with the same seeds)."""
        for key in [key for key, read_by in self._share_groups.items() if read_by == group]:
            self._shared.pop(key, None)
            del self._share_groups[key]

    @property
    def targets_used(self) -> str | None:
        """The target this claim's runs used (None if it simulated nothing)."""
        targets = sorted({run["target"] for run in self.runs})
        return ", ".join(targets) if targets else None

    def sweep_cache(self) -> Path:
        """The directory where this claim caches finished sweep cells (keys carry a code
        fingerprint, so a cache shared by checkouts never feeds stale cells)."""
        from evsim.store import cache_root

        return Path(self.cache_dir or cache_root()) / "sweeps" / self.claim_id


# -- verdict helpers ---------------------------------------------------------------------------

def interval_verdict(ci, low: float, high: float) -> str:
    """supported if the CI lies within [low, high], refuted if it misses it, else partial."""
    if low <= ci[0] and ci[1] <= high:
        return "supported"
    return "refuted" if ci[1] < low or ci[0] > high else "partial"


def all_or_none(outcomes) -> str:
    """supported if every outcome is true, refuted if none is, else partial."""
    outcomes = [bool(o) for o in outcomes]
    if not outcomes:
        raise ValidationError("outcomes", "parameter 'outcomes' must not be empty")
    return "supported" if all(outcomes) else "refuted" if not any(outcomes) else "partial"


def out_of_reach() -> str:
    """The rule of a claim whose subject is out of reach here: not-testable whatever the run
    gives (its protocol says why; the measured finding stands beside it)."""
    return "not-testable"


def threshold_verdict(value: float, *, supported_at: float, refuted_below: float) -> str:
    """supported if value >= supported_at, refuted if value < refuted_below, else partial."""
    return "supported" if value >= supported_at else \
        "refuted" if value < refuted_below else "partial"


def bootstrap_p_values(replicates, threshold: float) -> tuple:
    """One-sided bootstrap p-values of an exponent against ``threshold`` from its replicates
    (NaN replicates dropped): (p_below, H0 "exponent >= threshold"; p_holds, H0 "exponent <
    threshold"), each (1 + replicates on the H0 side) / (1 + replicates); NaN without any."""
    values = np.asarray(replicates, float)
    values = values[~np.isnan(values)]
    if not len(values):
        return np.nan, np.nan
    return (float((1 + np.sum(values >= threshold)) / (1 + len(values))),
            float((1 + np.sum(values < threshold)) / (1 + len(values))))


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (family-wise error control over the units judged together)."""
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out
