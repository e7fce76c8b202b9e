"""The drawing model: nodes, edges and clusters before Graphviz, and a fused layer read through its declared steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.nn.cells import describe
from minigrad.tensor import Tensor
from minigrad.viz.record import Recording, Recordings
from minigrad.viz.walk import split_scope

_TOP_STEPS = ("(time steps)",)  # the cells view's cluster for time steps that are not inside a layer
_PARAMS_BOX = ("(parameters)",)  # the ops view's box of parameters drawn as a copy in every step


# =============================================================================================
# 2. The drawing model: nodes and edges before Graphviz
# =============================================================================================


class _Node:
    """One box of the drawing."""

    __slots__ = ("key", "kind", "title", "lines", "cluster", "step_of", "grad", "fill", "mark", "tooltip", "group",
                 "rows")

    def __init__(self, key: str, kind: str, title: str, lines: list[str], cluster: tuple[str, ...] = (),
                 step_of: tuple[tuple[str, ...], int] | None = None, tooltip: str = ""):
        self.key = key
        self.kind = kind                  # a key of colors.NODE_STYLE
        self.title = title                # first, bold line
        self.lines = lines                # further lines (shape, values, gradient norm)
        self.cluster = cluster            # cluster path, () = top level
        self.step_of = step_of            # (layer path, t) for nodes of a time step (and cells)
        self.grad: float | None = None    # ||dL/dh_t|| for the node that carries h_t (colours it)
        self.fill: str | None = None      # fill colour overriding the kind's
        self.mark = ""                    # "h" / "c": this node carries the step's state
        self.tooltip = tooltip
        self.group = ""                   # Graphviz group: the h_t spine of a layer is kept straight
        self.rows: list[tuple[str, str, list[str]]] = []  # (port, title, lines): a column of gates in one box


class _Edge:
    __slots__ = ("src", "dst", "kind", "attrs")

    def __init__(self, src: str, dst: str, kind: str = "data", attrs: dict[str, str] | None = None):
        self.src, self.dst, self.kind = src, dst, kind   # kind: data | param | invis
        self.attrs = attrs or {}


class _Model:
    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}
        self.edges: list[_Edge] = []
        self._edge_set: set[tuple[str, str]] = set()
        # (layer path, t) -> cluster path of that step (ops view), for colouring the step
        self.step_clusters: dict[tuple[tuple[str, ...], int], tuple[str, ...]] = {}
        self.step_grads: dict[tuple[tuple[str, ...], int], float] = {}
        # nodes to draw in one column, in this order (the gates i, f, g, o of a fused step)
        self.same_rank: list[list[str]] = []
        self.global_ranks: list[list[str]] = []  # the same, across clusters (step t of every layer)
        self.cluster_notes: dict[tuple[str, ...], str] = {}  # more text for a layer cluster's label
        self.labels: Sequence[Any] | None = None  # labels=: what step t reads, shown in its box
        self.greyed_steps: set[tuple[tuple[str, ...], int]] = set()  # previous= window: not in this backward

    def add(self, node: _Node) -> _Node:
        self.nodes[node.key] = node
        return node

    def edge(self, src: str, dst: str, kind: str = "data", repeat: bool = False, **attrs: str) -> None:
        """An edge ``src -> dst``; once, unless ``repeat`` (an op reading the same tensor twice: ``mul(d, d)``)."""
        if src == dst or ((src, dst) in self._edge_set and not repeat):
            return
        self._edge_set.add((src, dst))
        self.edges.append(_Edge(src, dst, kind, attrs))


def at_step(text: str, t: int | None, reverse: bool = False) -> str:
    """A step's generic names made concrete: ``h_t``, ``x_t``, ``h_{t-1}`` become ``h_3``, ``x_3``, ``h_2``.

    Time counts t = 1..T with h_0 the initial state, as in the equations. A reverse direction reads
    its state from step t+1, so there ``h_{t-1}`` (the previous state) becomes ``h_4``.

    Example::

        >>> at_step("f_t * c_{t-1} + i_t * g_t", 3)
        'f_3 * c_2 + i_3 * g_3'
        >>> at_step("W_hh h_{t-1} + b_hh", 3, reverse=True)
        'W_hh h_4 + b_hh'
    """
    if t is None:
        return text
    text = text.replace("{t-1}", str(t + 1 if reverse else t - 1))
    return re.sub(r"_t\b", f"_{t}", text)


def step_label(labels: Sequence[Any] | None, t: int | None) -> str:
    """The input label of step ``t`` (``labels[t - 1]``, t = 1..T) as shown, or "" when none was given.

    Example::

        >>> step_label("Beautiful", 2), step_label([0.5, 1.25], 2), step_label("ab", 3)
        ("'e'", '1.25', '')
    """
    if labels is None or t is None or not 1 <= t <= len(labels):
        return ""
    value = labels[t - 1]
    return repr(value) if isinstance(value, str) else str(value)


def _shape_str(shape: Any) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")" if len(shape) != 1 else f"({int(shape[0])},)"


class _Options:
    def __init__(self, show_values: bool, show_grads: bool, names: dict[int, str], is_param: set[int],
                 explicit: bool, labels: Sequence[Any] | None = None, show_plumbing: bool = False):
        self.labels = labels              # what each step reads, shown by x_t: labels[t - 1] for t = 1..T
        self.show_plumbing = show_plumbing  # ops view: draw shape-only ops (permute, split, ...) too
        self.show_values = show_values
        self.show_grads = show_grads
        self.names = names
        self.is_param = is_param
        # Without params=, every leaf that requires grad counts as a parameter (it is what the
        # gradients are for: W = mg.randn(..., requires_grad=True)); with params=, only those listed
        # (and nn.Parameter objects) are, and other leaves are inputs.
        self.explicit = explicit

    def leaf_is_param(self, t: Tensor) -> bool:
        return id(t) in self.is_param or type(t).__name__ == "Parameter" or (
            not self.explicit and t.requires_grad)


# ---------------------------------------------------------------------------------------------
# A fused recurrent layer, read through its step API
# ---------------------------------------------------------------------------------------------



class _Fused:
    """What the drawing needs from one fused layer node (``minigrad.nn.fused_rnn``)."""

    def __init__(self, fn: Any, rec: Recording | Recordings | None = None):
        self.fn = fn
        self.rec = rec
        self.rename: tuple[str, ...] | None = None  # set when another layer node has the same scope
        self.mode = str(fn.mode)
        self.cell = describe(self.mode)  # its gates and the equations a step expands into
        self.T = int(fn.num_steps)
        self.H = int(fn.hidden_size)
        self.reverse = bool(getattr(fn, "reverse", False))
        self.order = list(range(self.T - 1, -1, -1)) if self.reverse else list(range(self.T))
        self.inputs = {role: i for i, role in enumerate(fn.input_roles)}  # declared by the node
        self._values: dict[int, dict[str, np.ndarray]] = {}
        self._grad_c: dict[int, float] | None = None
        meta = getattr(fn, "input_meta", ())
        xm = meta[self.inputs["x"]] if "x" in self.inputs and self.inputs["x"] < len(meta) else None
        rows = xm[0][-2:] if xm is not None and len(xm[0]) in (2, 3) else None  # x: (T, B, I), or (B, I) for one step
        self.B = int(rows[0]) if rows is not None else None
        self.I = int(rows[1]) if rows is not None else None

    def edge(self, role: str) -> Any:
        i = self.inputs.get(role)
        return None if i is None or i >= len(self.fn.next_functions) else self.fn.next_functions[i]

    def step_path(self, t: int) -> tuple[tuple[str, ...], int | None]:
        outer = split_scope(self.fn.scope)
        if outer[1] is not None and self.T == 1:
            # a fused *cell* called inside your own time-step scope ("t3/lstm_cell"): that is its step
            return outer
        path, step = split_scope(self.fn.step_scope(t))
        if self.rename is not None and step is not None:
            path = self.rename + path[-1:]
        return path, step

    def layer_path(self) -> tuple[str, ...]:
        if self.rename is not None:
            return self.rename
        path, step = self.step_path(self.order[0])
        if step is not None:
            return path[:-1]
        return split_scope(getattr(self.fn, "layer_scope", "") or self.fn.scope)[0]

    def values(self, t: int) -> dict[str, np.ndarray]:
        """Step ``t``'s saved values: recorded, else the layer's own while its graph is alive."""
        if t not in self._values:
            recorded = self.rec.step_values(self.fn, t) if self.rec is not None else None
            if recorded is not None:
                self._values[t] = dict(recorded)
            elif self.fn.released:
                self._values[t] = {}
            else:
                self._values[t] = dict(self.fn.step_values(t) or {})
        return self._values[t]

    def grad_h_array(self, t: int) -> np.ndarray | None:
        """dL/dh_t: recorded, else the layer's own after ``backward(retain_graph=True)``."""
        g = self.rec.step_grad_h(self.fn, t) if self.rec is not None else None
        if g is None:
            g = self.fn.step_grad_h(t)
        return None if g is None else np.asarray(g, dtype=np.float64)

    def grad_h(self, t: int) -> float | None:
        """||dL/dh_t|| (everything that reached h_t, the future steps included)."""
        g = self.grad_h_array(t)
        return None if g is None else float(np.linalg.norm(g))

    def grad_c(self, t: int) -> float | None:
        """||dL/dc_t|| of an LSTM step, from the recorded dL/dh_t, gates and dL/dc_n (None where unknown).

        Backwards through the steps: ``dL/dc_t = dL/dh_t * o_t * (1 - tanh(c_t)^2) + f_{t+1} * dL/dc_{t+1}``,
        starting from the gradient that reached the output ``c_n``. Layers with ``lengths`` (padded
        steps carry their state unchanged) are not computed.
        """
        if self._grad_c is None:
            self._grad_c = self._all_grad_c()
        return self._grad_c.get(t)

    def _all_grad_c(self) -> dict[int, float]:
        if self.mode != "lstm" or getattr(self.fn, "lengths", None) is not None or self.rec is None:
            return {}
        recorded, dc = self.rec.final_c_grad(self.fn)
        if not recorded:
            return {}
        norms: dict[int, float] = {}
        carry = None if dc is None else np.asarray(dc, dtype=np.float64)
        for t in reversed(self.order):  # the order backward visits the steps
            dh, v = self.grad_h_array(t), self.values(t)
            if dh is None or not all(k in v for k in ("o", "c", "f")):
                return {}
            o, c, f = (np.asarray(v[k], dtype=np.float64) for k in ("o", "c", "f"))
            dc_t = dh * o * (1.0 - np.tanh(c) ** 2) + (0.0 if carry is None else carry)
            norms[t] = float(np.linalg.norm(dc_t))
            carry = dc_t * f  # what reaches c_{t-1}
        return norms

    def shape(self, what: str) -> str:
        b = self.B if self.B is not None else "B"
        g = self.cell.num_gates
        if what == "x":
            return f"({b}, {self.I if self.I is not None else 'I'})"
        if what in ("gates", "gi", "gh"):  # a product of the stacked gate weights
            return f"({b}, {g * self.H})"
        return f"({b}, {self.H})"

    @property
    def final_step(self) -> int:
        return self.order[-1]
