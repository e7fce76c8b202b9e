"""``mg.viz.cell_diagram("lstm", highlight="forget")``: the conceptual picture of one cell, gate by gate.

The unrolled drawings show the graph autograd walks; this is the textbook picture of *one* step
(the style of Olah's "Understanding LSTM Networks"): the cell state runs along the top, the hidden
state along the bottom, the gates are boxes (yellow: a layer with weights) and the pointwise
operations are circles (pink). ``highlight=`` picks one gate: its box, its arrows and its equation
stand out, everything else is greyed, so that a lesson (or a slide) can take the gates one at a
time. Node positions are fixed (Graphviz's ``neato`` engine), so every variant lines up exactly.

The equations are PyTorch's (``minigrad/nn/cells/``): the GRU's ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``
and its reset gate applied after the matmul, ``n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))``.
"""

from __future__ import annotations

from typing import Any

from minigrad.viz import colors as C

__all__ = ["cell_diagram", "GATES"]

GATE_FILL, POINT_FILL, STATE_FILL = "#fff2a8", "#f9c6d0", "#d9f0d3"
GREY, GREY_FILL, HIGHLIGHT = "#b8b8b8", "#f2f2f2", "#c0392b"

# kind -> gate name -> (box key, the equation shown when it is highlighted)
GATES: dict[str, dict[str, tuple[str, str]]] = {
    "lstm": {
        "forget": ("f", "f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)   c_t = f_t ⊙ c_{t-1} + ..."),
        "input": ("i", "i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)   c_t = ... + i_t ⊙ g_t"),
        "candidate": ("g", "g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   c_t = ... + i_t ⊙ g_t"),
        "output": ("o", "o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)   h_t = o_t ⊙ tanh(c_t)"),
    },
    "gru": {
        "reset": ("r", "r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)   "
                       "n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))"),
        "update": ("z", "z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)   h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}"),
        "candidate": ("n", "n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   h_t = (1 - z_t) ⊙ n_t + ..."),
    },
}

# kind -> node key -> (label, kind of node, x, y in inches)
_NODES: dict[str, dict[str, tuple[str, str, float, float]]] = {
    "lstm": {
        "c_prev": ("c_{t-1}", "state", 0.0, 3.0), "h_prev": ("h_{t-1}", "state", 0.0, 0.0),
        "x": ("x_t", "state", 1.0, -1.2), "cat": ("", "join", 1.0, 0.0),
        "f": ("σ\nf_t forget", "gate", 1.8, 1.3), "i": ("σ\ni_t input", "gate", 3.0, 1.3),
        "g": ("tanh\ng_t candidate", "gate", 4.2, 1.3), "o": ("σ\no_t output", "gate", 5.4, 1.3),
        "mul_f": ("×", "point", 1.8, 3.0), "mul_ig": ("×", "point", 3.6, 2.2), "add": ("+", "point", 3.6, 3.0),
        "tanh_c": ("tanh", "point", 6.4, 2.2), "mul_o": ("×", "point", 6.4, 0.0),
        "c": ("c_t", "state", 7.6, 3.0), "h": ("h_t", "state", 7.6, 0.0),
    },
    "gru": {
        "h_prev": ("h_{t-1}", "state", 0.0, 3.0), "x": ("x_t", "state", 1.0, -1.2), "cat": ("", "join", 1.0, 0.0),
        "r": ("σ\nr_t reset", "gate", 2.0, 1.2), "z": ("σ\nz_t update", "gate", 3.4, 1.2),
        "mul_r": ("×", "point", 3.4, -0.4), "n": ("tanh\nn_t candidate", "gate", 5.0, 0.6),
        "one_minus": ("1 −", "point", 4.4, 2.2), "mul_z": ("×", "point", 3.4, 3.0),
        "mul_n": ("×", "point", 5.6, 2.2), "add": ("+", "point", 5.6, 3.0), "h": ("h_t", "state", 7.2, 3.0),
    },
}

# kind -> edges (from, to, the gates whose highlighted picture includes the edge)
_EDGES: dict[str, list[tuple[str, str, str]]] = {
    "lstm": [
        ("c_prev", "mul_f", "f"), ("mul_f", "add", "fig"), ("add", "c", "fig"), ("h_prev", "cat", "figo"),
        ("x", "cat", "figo"), ("cat", "f", "f"), ("cat", "i", "i"), ("cat", "g", "g"), ("cat", "o", "o"),
        ("f", "mul_f", "f"), ("i", "mul_ig", "i"), ("g", "mul_ig", "g"), ("mul_ig", "add", "ig"),
        ("add", "tanh_c", "o"), ("tanh_c", "mul_o", "o"), ("o", "mul_o", "o"), ("mul_o", "h", "o"),
    ],
    "gru": [
        ("h_prev", "mul_z", "z"), ("mul_z", "add", "z"), ("add", "h", "zn"), ("h_prev", "cat", "rzn"),
        ("x", "cat", "rzn"), ("cat", "r", "r"), ("cat", "z", "z"), ("cat", "mul_r", "r"), ("r", "mul_r", "r"),
        ("mul_r", "n", "rn"), ("x", "n", "n"), ("z", "mul_z", "z"), ("z", "one_minus", "z"),
        ("one_minus", "mul_n", "z"), ("n", "mul_n", "n"), ("mul_n", "add", "zn"),
    ],
}


def cell_diagram(kind: str = "lstm", highlight: str | None = None) -> Any:
    """The conceptual diagram of one LSTM or GRU cell, optionally with one gate highlighted.

    - ``kind``: ``"lstm"`` or ``"gru"``.
    - ``highlight``: None (every part drawn alike), or a gate: LSTM ``"forget"``, ``"input"``,
      ``"candidate"``, ``"output"``; GRU ``"reset"``, ``"update"``, ``"candidate"``. The gate's
      box and arrows are drawn in red, its equation is written below, the rest is greyed.

    Returns a ``graphviz.Digraph`` (engine ``neato``, fixed positions): Jupyter shows it inline,
    ``.render("lstm-forget", format="svg")`` writes a file, ``.source`` is the DOT text.

    Example::

        >>> import minigrad as mg
        >>> g = mg.viz.cell_diagram("lstm", highlight="forget")
        >>> g.engine, "f_t = σ(W_if x_t" in g.source
        ('neato', True)
    """
    if kind not in GATES:
        raise ValueError(f"cell_diagram: kind must be one of {', '.join(map(repr, GATES))}, got {kind!r}")
    if highlight is not None and highlight not in GATES[kind]:
        raise ValueError(f"cell_diagram: highlight must be None or a gate of the {kind.upper()} cell "
                         f"({', '.join(map(repr, GATES[kind]))}), got {highlight!r}")
    from minigrad.viz.graph import Drawing

    gate = GATES[kind][highlight][0] if highlight is not None else None
    title = f"{kind.upper()} cell" + (f": the {highlight} gate" if highlight else "")
    equation = GATES[kind][highlight][1] if highlight is not None else ""
    g = Drawing(name=f"{kind}_cell", engine="neato",
                graph_attr={"splines": "line", "bgcolor": "white", "fontname": "Helvetica", "fontsize": "14",
                            "labelloc": "t", "label": title + ("\n" + equation if equation else ""), "pad": "0.3"},
                node_attr={"fontname": "Helvetica", "fontsize": "11", "fixedsize": "false"},
                edge_attr={"arrowsize": "0.7", "penwidth": "1.4"})
    on_path = [(a, b) for a, b, gates in _EDGES[kind] if gate is not None and gate in gates]
    used = {a for a, _ in on_path} | {b for _, b in on_path}
    for key, (label, what, x, y) in _NODES[kind].items():
        active = gate is None or key in used or key == gate
        g.node(key, **_node_style(label, what, x, y, active, key == gate))
    for a, b, gates in _EDGES[kind]:
        on = gate is not None and gate in gates
        color = HIGHLIGHT if on else (C.EDGE_COLOR if gate is None else GREY)
        g.edge(a, b, color=color, penwidth="2.6" if on else "1.4")
    return g


def _node_style(label: str, what: str, x: float, y: float, active: bool, chosen: bool) -> dict[str, str]:
    style = {"label": label, "pos": f"{x},{y}!", "style": "filled"}
    if what == "gate":
        style.update(shape="box", style="filled,rounded", fillcolor=GATE_FILL, width="1.0")
    elif what == "point":
        style.update(shape="circle", fillcolor=POINT_FILL, width="0.45", fixedsize="true")
    elif what == "join":
        style.update(shape="point", width="0.08", fillcolor=C.EDGE_COLOR)
    else:
        style.update(shape="ellipse", fillcolor=STATE_FILL)
    if not active:
        style.update(fillcolor=GREY_FILL, color=GREY, fontcolor=GREY)
    if chosen:
        style.update(color=HIGHLIGHT, penwidth="3")
    return style
