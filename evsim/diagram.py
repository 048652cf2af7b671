"""Circuit diagrams for a paper: populations in feed-forward layers from left to right.

A population's layer is its longest path from the circuit's sources, over the projections
that do not close a cycle (excitatory ones are kept first, so lateral or feedback inhibition is
what bends back). Each population is a box labelled with its name, model and size; each pair of
populations gets one arrow per sign (inhibitory: red, dashed) labelled with its synapses per
trial and delay, placed where it overlaps no other text. The figure is sized to the layers.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
from brian2 import ms

__all__ = ["layers", "draw_circuit"]

COLOURS = {"excitatory": ("#0072B2", "solid"), "inhibitory": ("#D55E00", "dashed")}
#: where along an arrow its label may sit, in order of preference
LABEL_PLACES = (0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8)


def layers(circuit) -> tuple[dict, nx.DiGraph]:
    """({population: layer}, the forward graph): the forward graph holds every projection
    that closes no cycle, excitatory ones first; a population's layer is its longest path
    from a population without forward inputs."""
    forward = nx.DiGraph()
    forward.add_nodes_from(circuit.graph)
    for p in sorted(circuit.projections, key=lambda p: p.sign == "inhibitory"):
        if p.source == p.target or forward.has_edge(p.source, p.target):
            continue
        forward.add_edge(p.source, p.target)
        if not nx.is_directed_acyclic_graph(forward):
            forward.remove_edge(p.source, p.target)
    layer = {}
    for node in nx.topological_sort(forward):
        layer[node] = max((layer[u] + 1 for u in forward.predecessors(node)), default=0)
    return layer, forward


def _positions(circuit, layer: dict, forward: nx.DiGraph) -> dict:
    """(x, y) of each population: x its layer, y spread within the layer, ordered by the mean
    y of its forward inputs (fewer crossings)."""
    columns = defaultdict(list)
    for node in circuit.graph:  # insertion order breaks ties
        columns[layer[node]].append(node)
    position = {}
    for x in sorted(columns):
        nodes = columns[x]
        key = {n: np.mean([position[u][1] for u in forward.predecessors(n)])
               if any(True for _ in forward.predecessors(n)) else i for i, n in enumerate(nodes)}
        for rank, node in enumerate(sorted(nodes, key=lambda n: key[n])):
            position[node] = (float(x), rank - (len(nodes) - 1) / 2)
    return position


def _edge_label(projections: list, sizes: dict) -> str:
    """Synapses per trial by sign (and the delays, if any) of the projections of one pair."""
    counts = defaultdict(int)
    for p in projections:
        counts[p.sign] += len(p.pairs(sizes[p.source], sizes[p.target])[0])
    parts = [f"{'+' if sign == 'excitatory' else '-'}{n:,}" for sign, n in sorted(counts.items())]
    delays = sorted({float(p.delay / ms) for p in projections})
    text = "/".join(parts) + " syn"
    return text if delays == [0.0] else text + ", " + "/".join(f"{d:g}" for d in delays) + " ms"


def draw_circuit(circuit, ax=None):
    """Draw ``circuit`` as a layered diagram; returns the Axes (a new figure sized to the
    layers if ``ax`` is None)."""
    import matplotlib.pyplot as plt

    layer, forward = layers(circuit)
    position = _positions(circuit, layer, forward)
    if ax is None:
        tallest = max(np.bincount(list(layer.values())))
        _, ax = plt.subplots(figsize=(1.6 * (max(layer.values()) + 1), 1.2 + 0.8 * tallest))
    xs, ys = zip(*position.values())
    # room above and below for arrows bent around the outer populations
    ax.set(xlim=(min(xs) - 0.5, max(xs) + 0.5), ylim=(min(ys) - 0.8, max(ys) + 0.8))
    ax.set_axis_off()
    ax.set_title(circuit.name, fontsize=7)
    sizes = circuit.sizes
    renderer = ax.figure.canvas.get_renderer()
    boxes = {}
    for p in circuit.populations:
        box = ax.text(*position[p.name], f"{p.name}\n{p.model.name} x{p.size}", ha="center",
                      va="center", fontsize=5, zorder=3,
                      bbox=dict(boxstyle="round,pad=0.3", fc="#eeeeee", ec="0.6", lw=0.5))
        box.update_bbox_position_size(renderer)  # arrows are clipped at this box
        boxes[p.name] = box
    extents = {name: box.get_bbox_patch().get_window_extent(renderer)
               for name, box in boxes.items()}
    placed = list(extents.values())
    pairs = defaultdict(list)
    for p in circuit.projections:
        pairs[(p.source, p.target)].append(p)
    row = abs(ax.transData.transform((0, 1))[1] - ax.transData.transform((0, 0))[1])
    centre = ax.transData.transform((0, np.mean(ys)))[1]
    bent = defaultdict(int)  # arrows bent so far from each population: they alternate sides
    for (source, target), group in pairs.items():
        signs = {p.sign for p in group}
        colour, style = COLOURS[signs.pop()] if len(signs) == 1 else ("0.4", "solid")
        if source == target:  # a loop over the top of the box
            placed.append(_draw_loop(ax, renderer, extents[source], colour, style,
                                     _edge_label(group, sizes), placed))
            continue
        start, end = (np.asarray(ax.transData.transform(position[n])) for n in (source, target))
        straight = (forward.has_edge(source, target) and layer[target] - layer[source] == 1
                    and (target, source) not in pairs)
        others = [e for n, e in extents.items() if n not in (source, target)]
        rad = 0.0
        if not straight:
            rad = _clear_bend(start, end, row, centre, others, flip=bent[source] % 2 == 1)
            bent[source] += 1
        ax.annotate("", xy=position[target], xytext=position[source], zorder=3.5,
                    arrowprops=dict(arrowstyle="-|>", color=colour, ls=style, lw=0.7,
                                    patchA=boxes[source].get_bbox_patch(),
                                    patchB=boxes[target].get_bbox_patch(), shrinkA=1,
                                    shrinkB=1, connectionstyle=f"arc3,rad={rad}"))
        placed.append(_place_label(ax, renderer, _edge_label(group, sizes), start, end, rad,
                                   colour, placed))
    return ax


def _draw_loop(ax, renderer, box, colour: str, style: str, text: str, placed: list):
    """A projection of a population onto itself: a loop from the top of its box back to it,
    labelled above; returns the label's extent."""
    start = np.array([box.x0 + box.width * 0.15, box.y1])
    end = np.array([box.x1 - box.width * 0.15, box.y1])
    to_data = ax.transData.inverted().transform
    ax.annotate("", xy=to_data(end), xytext=to_data(start), zorder=3.5,
                arrowprops=dict(arrowstyle="-|>", color=colour, ls=style, lw=0.7, shrinkA=0,
                                shrinkB=0, connectionstyle=f"arc3,rad={-LOOP_RAD}"))
    above = np.array([0.0, LOOP_RAD * (end[0] - start[0]) / 2 + 6])  # over the loop's top
    return _place_label(ax, renderer, text, start + above, end + above, 0.0, colour, placed)


#: curvature of a loop (a population onto itself)
LOOP_RAD = 1.0
#: how far (rows between populations) an arrow may bend around populations, smallest first
BULGES = (0.45, 0.8, 1.2)


def _clear_bend(start, end, row: float, centre: float, boxes: list, flip: bool) -> float:
    """arc3 curvature of an arrow from ``start`` to ``end`` (display pixels) that passes no
    box of ``boxes``: the smallest bulge of :data:`BULGES` (outwards from ``centre`` first,
    inwards first if ``flip``), else the largest."""
    chord = float(np.hypot(*(end - start))) or 1.0
    outward = (1 if (start[1] + end[1]) / 2 >= centre else -1) * (-1 if flip else 1)
    candidates = [side * outward * 2 * bulge * row / chord
                  for bulge in BULGES for side in (1, -1)]
    for rad in candidates:
        if not any(_crosses(start, end, rad, box) for box in boxes):
            return rad
    return candidates[-2]


def _bezier(start, end, rad: float, t):
    """Points at ``t`` (array) of matplotlib's arc3 curve from ``start`` to ``end``."""
    control = (start + end) / 2 + rad * np.array([end[1] - start[1], start[0] - end[0]])
    t = np.asarray(t)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t ** 2 * end


def _crosses(start, end, rad: float, box) -> bool:
    """True if the arc passes through ``box`` (an extent, with a few pixels' margin)."""
    points = _bezier(start, end, rad, np.linspace(0, 1, 60))
    return bool(np.any((points[:, 0] > box.x0 - 3) & (points[:, 0] < box.x1 + 3)
                       & (points[:, 1] > box.y0 - 3) & (points[:, 1] < box.y1 + 3)))


def _place_label(ax, renderer, text: str, start, end, rad: float, colour: str, placed: list):
    """Put ``text`` on the arrow from ``start`` to ``end`` (display pixels, arc3 curvature
    ``rad``) at the first place of :data:`LABEL_PLACES` that overlaps nothing ``placed``,
    moving it across the arrow, a label height at a time, where every place is taken;
    returns its extent."""
    label = ax.text(0, 0, text, ha="center", va="center", fontsize=4, color=colour, zorder=4,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    height = label.get_window_extent(renderer).height * 1.2
    for shift in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        for t in LABEL_PLACES:
            point = _bezier(start, end, rad, [t])[0]
            label.set_position(ax.transData.inverted().transform(point + (0, shift * height)))
            extent = label.get_window_extent(renderer)
            if not any(_overlap(extent, other) for other in placed):
                return extent
    return extent


def _overlap(a, b) -> float:
    """Area (pixels^2) shared by two extents."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)
