"""Energy bookkeeping and the entropy estimators of a2os2a.capacity."""

import numpy as np
import pytest

from analyses import energy, information
from circuits.mechanism_registry import MECHANISMS, attention_macs, dssa_macs, masking_macs


def test_energy_constants_and_formulas():
    assert attention_macs(16, 8) == 2 * 16 ** 2 * 8
    assert dssa_macs(8, 4, 2) == 2 * 16 * 2 * 4 + 2 * 4 * 4 * 8
    assert MECHANISMS["dssa"].dense_macs is dssa_macs
    # matched baselines: each mechanism's own algebra (SDSA, QKTA are O(N D))
    assert masking_macs(16, 8) == 2 * 16 * 8
    assert {name: spec.matched_macs for name, spec in MECHANISMS.items()} == {
        "ssa": attention_macs, "sdsa": masking_macs, "qkta": masking_macs, "dssa": dssa_macs,
        "a2os2a": attention_macs}
    assert all(spec.dense_macs is attention_macs for name, spec in MECHANISMS.items()
               if name != "dssa")
    # 1000 MACs at 4.6 pJ vs 1000 events at 0.9 pJ
    assert energy.energy_ratio(1000, 1000) == pytest.approx(4.6 / 0.9)
    # papers' formula: fr T FLOPs accumulates; ratio 4.6 / (0.9 fr T)
    assert energy.paper_formula_ratio(0.1, 4) == pytest.approx(4.6 / 0.36)


@pytest.mark.parametrize("states", [2, 3, 5])
def test_uniform_codes_reach_capacity(states, seed):
    """For a uniform code the plug-in entropy's variance is 0 to first order and the
    Miller-Madow correction removes the 1/n bias, so 0.01 bits is a wide bound at n = 10^5."""
    symbols = np.random.default_rng(seed).integers(0, states, 100_000)
    assert information.plugin_entropy(symbols) == pytest.approx(np.log2(states), abs=0.01)
    assert information.capacity_bits(states) == pytest.approx(np.log2(states))


def test_entropy_of_a_skewed_binary_code(seed):
    """Bernoulli(0.1): H = 0.469 bits; plug-in SD = sqrt(p(1-p)) |log2(p/(1-p))| / sqrt(n)."""
    n, p = 50_000, 0.1
    symbols = (np.random.default_rng(seed).random(n) < p).astype(int)
    exact = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    sd = np.sqrt(p * (1 - p)) * abs(np.log2(p / (1 - p))) / np.sqrt(n)
    estimate, ci = information.bootstrap_entropy(symbols, resamples=100)
    assert abs(estimate - exact) < 4 * sd
    assert ci[0] < estimate < ci[1]


def test_patterns_are_symbols():
    words = np.array([[0, 1], [0, 1], [1, 0], [1, 1]])
    assert information.plugin_entropy(words) == pytest.approx(1.5 + 2 / (2 * 4 * np.log(2)))


def test_capacity_table_and_bad_input():
    assert information.CAPACITY_BITS["ternary"] == pytest.approx(1.58496, abs=1e-5)
    assert 30.9 < information.CAPACITY_BITS["relu_float32"] < 31
    with pytest.raises(ValueError, match="'states' must be an integer >= 1"):
        information.capacity_bits(0)
    with pytest.raises(ValueError, match="'symbols' must not be empty"):
        information.plugin_entropy([])


def test_the_energy_rule_is_judged_where_the_papers_formula_gives_38_to_57x():
    """E_MAC / (E_AC fr T) = 5.11 / (fr T) lies in [38, 57] for fr T in [0.090, 0.134]."""
    import pandas as pd
    from analyses.claims.energy import in_regime

    cells = pd.DataFrame([dict(fr=fr, T=T) for fr in (0.02, 0.03, 0.05, 0.1) for T in (1, 2, 4)])
    cells["paper_formula_ratio"] = energy.paper_formula_ratio(cells.fr, cells["T"])
    chosen = set(map(tuple, cells[in_regime(cells)][["fr", "T"]].to_numpy()))
    assert chosen == {(0.03, 4), (0.05, 2), (0.1, 1)}


def test_counted_per_formula_priced_events_is_the_formula_over_the_counted_ratio():
    """energy.formula's quantity, events / (fr T MACs), is the papers' E_MAC/(E_AC fr T) over
    the counted E_MAC MACs / (E_AC events): 300 events against 0.1 x 4 x 500 = 200 priced."""
    fr, T, macs, events = 0.1, 4, 500, 300
    assert energy.paper_formula_ratio(fr, T) / energy.energy_ratio(macs, events) == \
        pytest.approx(events / (fr * T * macs)) == pytest.approx(1.5)
