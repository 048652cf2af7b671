"""Projections delivered by NumPy (evsim.pathways): block-dense ones as one matrix product a
step (evsim.blocks: which projections qualify) and the others as events without a spike queue;
the same spikes as Brian2's Synapses (delays, graded payloads, merged and signed projections,
refractory targets, cached reruns and checkpoints), and an event pathway's membranes equal to
Brian2's bit for bit."""

import numpy as np
import pytest
from brian2 import mV

from circuits.arithmetic import STEP, connect_pairs
from evsim import Circuit, cost, models, pathways, runtime, simulate
from evsim.backends import RunSpec
from evsim.build import PerTrial, plan_network, whole
from evsim.blocks import MIN_BLOCK, MIN_FILL, block_layout
from same_spikes import assert_same_spikes


def _token_wise(tokens, fan_in, fan_out):
    """pre, post of a token-wise dense map (tokens blocks of fan_in x fan_out)."""
    n, o, i = np.indices((tokens, fan_out, fan_in))
    return (n * fan_in + i).ravel(), (n * fan_out + o).ravel()


def test_a_token_wise_map_is_found_with_its_finest_blocks():
    pre, post = _token_wise(4, 3, 8)
    layout = block_layout(pre, post, 12, 32)
    assert (layout.blocks, layout.rows, layout.columns) == (4, 3, 8)
    np.testing.assert_array_equal(layout.block * 3 + layout.row, pre)
    np.testing.assert_array_equal(layout.block * 8 + layout.column, post)


def test_a_synapse_across_tokens_coarsens_the_blocks_and_sparse_maps_keep_synapses():
    pre, post = _token_wise(4, 3, 8)
    across = block_layout(np.append(pre, 0), np.append(post, 31), 12, 32)
    assert (across.blocks, across.rows, across.columns) == (1, 12, 32)  # 97 of 384 pairs
    half = block_layout(*_token_wise(2, 3, 8), 6, 16)
    assert (half.blocks, half.rows, half.columns) == (2, 3, 8)
    one_to_one = np.arange(64)
    assert block_layout(one_to_one, one_to_one, 64, 64) is None  # blocks of 1 < MIN_BLOCK
    assert MIN_BLOCK > 1 and 1 / 12 < MIN_FILL <= 97 / 384
    keep = np.arange(0, 24, 12)  # 2 of 24 pairs in each of 4 blocks: fill 1/12 < MIN_FILL
    sparse_pre, sparse_post = (a[np.isin(np.arange(len(a)) % 24, keep)]
                               for a in _token_wise(4, 3, 8))
    assert block_layout(sparse_pre, sparse_post, 12, 32) is None


#: weights in eighths, never zero: every draw gives the same connectivity (structure)
EIGHTHS = np.r_[-6:0, 1:12] / 8


def _circuit(rng, tokens=3, width=4, hidden=8, late=STEP):
    """image (graded) -> a (token-wise) -> b (token-wise, 2-step delay, two merged maps with
    shared pairs, signed; and the image ``late``) -> c (all-to-all, from a and b); a -> r
    (refractory LIF); weights in eighths, inputs in quarters, so every sum of the discrete
    populations is exact in any order."""
    circuit = Circuit("blocks")
    lif = models.discrete_lif(tau=2.0)
    circuit.add_population("image", models.graded_source(), tokens * width)
    circuit.add_input("image", "image")
    for name, size in (("a", tokens * hidden), ("b", tokens * width), ("c", 6)):
        circuit.add_population(name, lif, size)
    weights = lambda n: rng.choice(EIGHTHS, n)  # noqa: E731
    pre, post = _token_wise(tokens, width, hidden)
    connect_pairs(circuit, "image", "a", pre, post, weights(len(pre)), name="in")
    pre, post = _token_wise(tokens, width, width)  # delayed graded: the payload on arrival
    connect_pairs(circuit, "image", "b", pre, post, weights(len(pre)), delay=late, name="late")
    pre, post = _token_wise(tokens, hidden, width)
    for k in range(2):
        connect_pairs(circuit, "a", "b", pre, post, weights(len(pre)), delay=2 * STEP,
                      name=f"ab{k}")
    for source, size in (("a", tokens * hidden), ("b", tokens * width)):
        i, j = np.indices((size, 6))
        connect_pairs(circuit, source, "c", i.ravel(), j.ravel(), weights(i.size),
                      name=f"{source}c")
    # delta synapses onto a membrane held while refractory: inputs then are dropped
    circuit.add_population("r", models.lif(tau_m=10 * STEP, v_th=1 * mV, t_ref=3 * STEP),
                           tokens * width)
    pre, post = _token_wise(tokens, hidden, width)
    connect_pairs(circuit, "a", "r", pre, post, weights(len(pre)), unit=mV, name="ar")
    return circuit


#: runtime.BLOCKS and runtime.EVENTS of each way to deliver spikes
DELIVERY = {"synapses": (False, False), "blocks": (True, False), "events": (False, True),
            "both": (True, True)}


def _deliver_by(delivery, monkeypatch):
    monkeypatch.setattr(runtime, "BLOCKS", DELIVERY[delivery][0])
    monkeypatch.setattr(runtime, "EVENTS", DELIVERY[delivery][1])


def _run(circuit, image, checkpoints, delivery, monkeypatch):
    _deliver_by(delivery, monkeypatch)
    duration = len(image) * STEP if checkpoints is None else checkpoints[-1]
    return simulate(circuit, {"image": image}, duration, dt=STEP, trials=image.shape[1],
                    seed=1, target="numpy", record_spikes=True, checkpoints=checkpoints)


def _pathways(built) -> list:
    return sorted(type(s).__name__ for s in built.synapses.values())


@pytest.mark.parametrize("delivery, pathways", [("blocks", ["BlockPathway"] * 6),
                                                ("events", ["EventPathway"] * 6)])
@pytest.mark.parametrize("checkpoints, in_one_run", [(None, True), ([7, 19, 30] * STEP, True),
                                                     ([7, 19, 30] * STEP, False)])
def test_numpy_pathways_give_the_spikes_of_synapses(seed, monkeypatch, checkpoints, in_one_run,
                                                    delivery, pathways):
    """The same circuits, inputs and seed with pathways and with Brian2's Synapses: equal
    spike times in every population, for three runs in a row (reruns of the cached network:
    new inputs, then new weights), read in one run or one Network.run per checkpoint (spikes
    in flight carried from one to the next)."""
    monkeypatch.setattr(cost, "snapshot_in_one_run", lambda *_: in_one_run)
    rng = np.random.default_rng(seed)
    circuits = [_circuit(rng), _circuit(rng)]
    images = [rng.integers(0, 5, (30, 4, 12)) / 4 for _ in range(2)]
    runs = [(circuits[0], images[0]), (circuits[0], images[1]), (circuits[1], images[0])]
    runtime.clear_cache()
    with_pathways = [_run(*run, checkpoints, delivery, monkeypatch) for run in runs]
    (built,) = runtime._CACHE.values()
    assert _pathways(built) == pathways
    runtime.clear_cache()
    without = [_run(*run, checkpoints, "synapses", monkeypatch) for run in runs]
    (built,) = runtime._CACHE.values()
    assert _pathways(built) == ["Synapses"] * 6
    assert [r.metadata["target_choice"]["build_reused"] for r in with_pathways] == [False, True,
                                                                                   True]
    assert not np.array_equal(with_pathways[0].counts["c"], with_pathways[2].counts["c"])
    for a, b in zip(with_pathways, without):
        assert min(a.counts[p][-1].sum() for p in ("b", "c", "r")) > 0
        assert_same_spikes(a, b)


def test_a_delay_of_a_fraction_of_a_step_keeps_synapses(monkeypatch):
    """Brian2's spike queues round a half-step delay differently: such a map stays Synapses."""
    circuit = _circuit(np.random.default_rng(0), late=1.5 * STEP)
    runtime.clear_cache()
    _run(circuit, np.ones((4, 2, 12)) / 4, None, "both", monkeypatch)
    (built,) = runtime._CACHE.values()
    assert _pathways(built) == ["BlockPathway"] * 5 + ["Synapses"]


def test_a_plan_holds_one_trials_weights_and_block_pathways_take_them_untiled(monkeypatch):
    """Synapse weights are planned once per trial (PerTrial: the shape of every trial's, so
    the structure is unchanged); Synapses get them tiled, in their unit; a block pathway takes
    the one trial's."""
    circuit = _circuit(np.random.default_rng(0))
    plan = plan_network(circuit, 3, STEP, inputs={"image": np.ones((5, 3, 12)) / 4})
    weights = {owner: value for owner, variable, value in plan.values if variable == "w"}
    assert all(isinstance(value, PerTrial) for value in weights.values())
    ar = next(value for owner, value in weights.items() if owner.endswith("_ar"))
    assert np.shape(ar) == (3 * len(ar.one_trial),)
    np.testing.assert_array_equal(whole(ar) / mV, np.tile(ar.one_trial / float(mV), 3))
    monkeypatch.setattr(runtime, "BLOCKS", True)
    monkeypatch.setattr(runtime, "EVENTS", False)
    runtime.clear_cache()
    built = runtime._built("numpy", RunSpec(circuit, {"image": np.ones((5, 3, 12)) / 4}, 3, 1,
                                            STEP, [5 * STEP], {}, {}, "resets_first", ()))[0]
    for owner, value in weights.items():
        np.testing.assert_array_equal(built.owners[owner].weights_of_every_trial,
                                      value.one_trial)
        np.testing.assert_array_equal(built.owners[owner].w, whole(value) / value.unit)


def _sparse_circuit(rng, size=12):
    """Sparse random maps (no blocks): spikes -> u (repeated targets, 2-step delay), graded
    image -> g (payload), u -> r (refractory LIF in mV); real weights whose sums round, one
    projection onto each population."""
    circuit = Circuit("sparse")
    circuit.add_population("s", models.spike_source(), size)
    circuit.add_population("image", models.graded_source(), size)
    for name in ("s", "image"):
        circuit.add_input(name, name)
    lif = models.discrete_lif(tau=2.0, v_th=1.0)
    for name in ("u", "g"):
        circuit.add_population(name, lif, 2 * size)
    circuit.add_population("r", models.lif(tau_m=10 * STEP, v_th=1 * mV, t_ref=3 * STEP), size)
    for source, target, delay, unit in (("s", "u", 2 * STEP, 3), ("image", "g", 0 * STEP, 1),
                                        ("u", "r", 0 * STEP, 3 * mV)):
        pairs = 2 * size  # fill 1/12 of the matrix: below blocks.MIN_FILL
        pre = rng.integers(0, circuit.population(source).size, pairs)
        post = rng.integers(0, circuit.population(target).size, pairs)
        connect_pairs(circuit, source, target, pre, post, rng.normal(0.45, 0.3, pairs),
                      unit=unit, delay=delay, name=f"{source}{target}")
    return circuit


@pytest.mark.parametrize("gather_share", [np.inf, 0.0])
def test_event_pathways_give_brian2s_membranes_bit_for_bit(monkeypatch, gather_share):
    """Sparse maps (no blocks): event pathways, delays, payloads and a refractory target give
    Brian2's spikes, and membranes equal to the last bit (the events of a step are added in
    Brian2's order), also in a rerun of the cached network; with events in every step
    (gather_share inf) and gathering in every step (0)."""
    monkeypatch.setattr(pathways, "GATHER_SHARE", gather_share)
    rng = np.random.default_rng(3)
    circuit = _sparse_circuit(rng)
    inputs = [{"s": rng.random((40, 3, 12)) < 0.4, "image": rng.random((40, 3, 12))}
              for _ in range(2)]
    states = {"u": "v", "g": "v", "r": "v"}
    runs = {}
    for delivery in ("both", "synapses"):
        runtime.clear_cache()
        _deliver_by(delivery, monkeypatch)
        runs[delivery] = [simulate(circuit, x, 40 * STEP, dt=STEP, trials=3, seed=1,
                                   target="numpy", record_spikes=True, record_states=states)
                          for x in inputs]
        (built,) = runtime._CACHE.values()
        assert _pathways(built) == (["EventPathway"] * 3 if delivery == "both"
                                    else ["Synapses"] * 3)
        if delivery == "both":  # every map may gather: at most 4 synapses a target neuron
            assert all(s._columns is not None for s in built.synapses.values())
    for a, b in zip(runs["both"], runs["synapses"]):
        assert min(a.counts[p][-1].sum() for p in ("u", "g", "r")) > 0
        assert_same_spikes(a, b)
        for population in states:
            np.testing.assert_array_equal(a.states[population]["v"], b.states[population]["v"])
    assert not np.array_equal(runs["both"][0].states["g"]["v"], runs["both"][1].states["g"]["v"])


def test_cython_keeps_synapses_where_numpy_gets_event_pathways(monkeypatch):
    """Brian2's cython synapse code fuses v + w * payload into one rounding, which NumPy's
    events cannot reproduce: only numpy builds event pathways."""
    monkeypatch.setattr(runtime, "EVENTS", True)
    assert runtime.pathways_on("numpy") == dict(blocks=runtime.BLOCKS, events=True)
    assert runtime.pathways_on("cython") == dict(blocks=runtime.BLOCKS, events=False)
