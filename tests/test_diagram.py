"""Circuit diagrams: layers in feed-forward order, and no text that overlaps other text or
leaves the figure, for the circuits a paper would show."""

import itertools

import matplotlib.pyplot as plt
import pytest
from typer.testing import CliRunner

from brian2 import mV

from circuits import CIRCUITS
from evsim import Circuit, models
from evsim.cli import app
from evsim.diagram import layers


def _text_extents(ax):
    """Window extents of every text drawn: population boxes (their frames), arrow labels and
    the title."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()] + [ax.title]
    return [(t.get_text(), (t.get_bbox_patch() or t).get_window_extent(renderer))
            for t in texts]


def recurrent():
    c = Circuit("recurrent")
    c.add_population("a", models.lif(), 10)
    c.add_population("b", models.lif(), 5)
    c.connect("a", "a", 1 * mV)
    c.connect("a", "b", 1 * mV)
    c.connect("b", "b", 2 * mV, sign="inhibitory")
    return c


@pytest.mark.parametrize("name", ["trained_sdt", "attention_head", "trained_spikingresformer",
                                  "shared_inhibition", "mechanism_dssa", "recurrent"])
def test_no_text_overlaps_other_text_or_leaves_the_figure(name):
    circuit = recurrent() if name == "recurrent" else CIRCUITS[name]()
    ax = circuit.draw()
    arrows = [text for text in ax.texts if type(text).__name__ == "Annotation"]
    assert len(arrows) == len({(p.source, p.target) for p in circuit.projections})  # loops too
    extents = _text_extents(ax)
    figure = ax.figure.bbox
    for text, box in extents:
        assert (box.x0 >= figure.x0 and box.x1 <= figure.x1 and box.y0 >= figure.y0
                and box.y1 <= figure.y1), f"'{text}' leaves the figure"
    for (a, box_a), (b, box_b) in itertools.combinations(extents, 2):
        assert not box_a.overlaps(box_b), f"'{a}' overlaps '{b}'"
    plt.close(ax.figure)


@pytest.mark.parametrize("name", ["trained_sdt", "attention_head", "stochastic_softmax"])
def test_layers_run_left_to_right_along_every_forward_projection(name):
    circuit = CIRCUITS[name]()
    layer, forward = layers(circuit)
    assert forward.number_of_edges() >= len({(p.source, p.target) for p in circuit.projections
                                            if p.sign == "excitatory"}) - 1
    ax = circuit.draw()
    centre = {t.get_text().split("\n")[0]: t.get_position()[0] for t in ax.texts
              if "\n" in t.get_text()}
    for source, target in forward.edges:
        assert layer[source] < layer[target] and centre[source] < centre[target]
    plt.close(ax.figure)


def test_the_cli_draws_with_circuit_arguments_and_refuses_unknown_ones(tmp_path):
    runner = CliRunner()
    done = runner.invoke(app, ["graph", "stochastic_softmax", "--set", "n=3",
                               "--out", str(tmp_path / "s.png")])
    assert done.exit_code == 0 and (tmp_path / "s.png").stat().st_size > 0
    bad = runner.invoke(app, ["graph", "stochastic_softmax", "--set", "m=3",
                              "--out", str(tmp_path / "s.png")])
    assert bad.exit_code == 2 and "unknown circuit argument(s) ['m']; accepted: ['n'" in bad.output
    malformed = runner.invoke(app, ["graph", "stochastic_softmax", "--set", "n3",
                                    "--out", str(tmp_path / "s.png")])
    assert malformed.exit_code == 2 and "key=value" in malformed.output
