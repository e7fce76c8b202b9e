"""Draw the graph behind a tensor, unrolled in time: walk it, decide what to show, write DOT.

Three stages, one idea each:

1. **Walk** (``walk``): from the root tensors follow ``fn.next_functions`` with an explicit
   stack (never recursion: an unrolled graph can be 100,000 nodes deep) and collect every
   ``Function`` and every leaf tensor.
2. **Model** (``_OpsBuilder`` / ``_CellsBuilder``): turn them into drawing nodes and edges.
   ``view='ops'`` draws every primitive op and expands each *fused* recurrent layer into its
   per-step equations; ``view='cells'`` draws one node per layer and time step. Scopes
   (``fn.scope == "lstm/l0/t3"``) become nested clusters: a component ``t<digits>`` is a time
   step, what is above it a layer.
3. **Layout and DOT** (``_layout``, ``_emit``): edges get Graphviz attributes so that time flows
   left to right (reverse-direction layers are mirrored, their arrows point right to left),
   parameters shared by every step don't pull the picture apart, and time steps are coloured
   by log10 ||dL/dh_t||.

Example::

    >>> import minigrad as mg
    >>> W = mg.tensor([[0.5]], requires_grad=True)
    >>> h = mg.zeros(1, 1)
    >>> for t in range(3):
    ...     with mg.scope(f"t{t}"):
    ...         h = (h @ W + 1).tanh()
    ...         mg.viz.mark_state(h)          # this step's hidden state h_t
    >>> "t = 2" in to_dot(h, params={"W": W})
    True
"""

from __future__ import annotations

import gc
import html
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import graphviz
import numpy as np

from minigrad.autograd import Function
from minigrad.nn.cells import describe
from minigrad.tensor import Tensor
from minigrad.viz import colors as C
from minigrad.viz.marks import state_marks
from minigrad.viz.record import Recording, recording_for

VIEWS = ("ops", "cells", "auto")
_TOP_STEPS = ("(time steps)",)  # the cells view's cluster for time steps that are not inside a layer
_PARAMS_BOX = ("(parameters)",)  # the ops view's box of parameters drawn as a copy in every step
RANKDIRS = ("LR", "RL", "TB", "BT")
_STEP = re.compile(r"t(\d+)")


class GraphTooLargeError(ValueError):
    """The graph has more nodes than ``max_nodes`` allows for the chosen view."""


# =============================================================================================
# Scopes: "lstm/l0/t3" -> cluster path ("lstm", "l0", "t3") and time step 3
# =============================================================================================

_scope_cache: dict[str, tuple[tuple[str, ...], int | None]] = {}


def split_scope(scope: str) -> tuple[tuple[str, ...], int | None]:
    """The cluster path of a scope and its time step (None when it is not inside a time step).

    The path stops at the last ``t<digits>`` component: whatever is nested inside a time step
    (e.g. the ``lstm_cell`` scope of a cell called in your own ``t3`` scope) is drawn in that step.

    Example::

        >>> split_scope("lstm/l0/t3")
        (('lstm', 'l0', 't3'), 3)
        >>> split_scope("t12/lstm_cell")
        (('t12',), 12)
        >>> split_scope("encoder")
        (('encoder',), None)
    """
    hit = _scope_cache.get(scope)
    if hit is not None:
        return hit
    parts = tuple(p for p in scope.split("/") if p) if scope else ()
    last = None
    for i, p in enumerate(parts):
        if _STEP.fullmatch(p):
            last = i
    result = (parts, None) if last is None else (parts[: last + 1], int(parts[last][1:]))
    if len(_scope_cache) < 100_000:
        _scope_cache[scope] = result
    return result


# =============================================================================================
# 1. The walk
# =============================================================================================


def is_fused(fn: Any) -> bool:
    """A node that declares its time steps (``declares_steps``: the fused recurrent layers)."""
    return getattr(fn, "declares_steps", False) is True


def _as_roots(root: Any) -> list[Tensor]:
    roots = [root] if isinstance(root, Tensor) else list(root) if isinstance(root, (list, tuple)) else None
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"draw_graph: root must be a Tensor or a non-empty list of Tensors, got {type(root).__name__}")
    return roots


def walk(roots: list[Tensor], view: str = "ops", max_nodes: int | None = None) -> tuple[list[Function], list[Tensor]]:
    """Every Function and every leaf reachable from ``roots``, roots first (an explicit stack).

    With ``max_nodes``, stops as soon as the drawing is certain to exceed it in ``view`` and
    raises ``GraphTooLargeError`` (so a 100k-node graph is refused in milliseconds, not minutes).
    """
    fns: list[Function] = []
    leaves: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack: list[Function] = []
    for t in roots:
        if t.grad_fn is None:
            leaves.setdefault(id(t), t)
        elif id(t.grad_fn) not in seen:
            seen.add(id(t.grad_fn))
            stack.append(t.grad_fn)
    cost = 0
    step_paths: set[tuple[str, ...]] = set()
    while stack:
        fn = stack.pop()
        fns.append(fn)
        if max_nodes is not None:
            if is_fused(fn):
                cost += int(getattr(fn, "num_steps", 1)) * (8 if view == "ops" else 1)
            elif view == "ops":
                cost += 1
            else:
                path, step = split_scope(fn.scope)
                if step is None:
                    cost += 1
                else:
                    step_paths.add(path)
            if cost + len(step_paths) + len(leaves) > max_nodes:
                raise GraphTooLargeError(_too_large(view, max_nodes))
        for edge in fn.next_functions:
            if type(edge) is tuple:
                parent = edge[0]
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
            elif edge is not None:
                leaves.setdefault(id(edge), edge)
    return fns, list(leaves.values())


def _too_large(view: str, max_nodes: int) -> str:
    hint = ("Use view='cells' (one node per layer and time step), " if view == "ops"
            else "Draw fewer time steps (e.g. a shorter sequence), ")
    return (f"draw_graph: the drawing would have more than max_nodes={max_nodes} nodes in view={view!r}; "
            f"Graphviz would take minutes to lay it out. {hint}or pass a larger max_nodes=.")


# =============================================================================================
# Names of parameters and inputs
# =============================================================================================


def _param_names(params: Any, leaves: list[Tensor]) -> tuple[dict[int, str], set[int]]:
    """``id(tensor) -> name`` and the ids that are parameters.

    Explicit ``params`` (a Module, a dict name->Tensor, or (name, Tensor) pairs) name exactly the
    tensors listed. Without it, the modules holding the graph's leaves name them (``_module_names``).
    """
    if params is None:
        return _module_names(leaves)
    if hasattr(params, "named_parameters"):
        pairs = list(params.named_parameters())
    elif isinstance(params, dict):
        pairs = list(params.items())
    else:
        try:
            pairs = [tuple(p) for p in params]
        except TypeError:
            pairs = None
    if pairs is None or not all(len(p) == 2 and isinstance(p[1], Tensor) for p in pairs):
        raise TypeError("draw_graph: params must be a Module, a dict name -> Tensor, or (name, Tensor) pairs, "
                        f"got {type(params).__name__}")
    names: dict[int, str] = {}
    for name, t in pairs:
        names.setdefault(id(t), str(name))
    return names, set(names)


def _module_names(leaves: list[Tensor]) -> tuple[dict[int, str], set[int]]:
    """Names for the graph's leaves from the modules that hold them (``nn.module.live_modules``).

    Each parameter takes its name in the outermost module holding it (the longest dotted name:
    ``lstm.weight_ih_l0`` inside a model, ``weight_ih_l0`` for a lone layer). When the leaves belong
    to several unrelated modules, each name starts with its module's class (``lstm.``, ``linear.``,
    numbered when a class appears twice: ``lstm_2.``).
    """
    from minigrad.nn.module import live_modules

    wanted = {id(t) for t in leaves}
    best: dict[int, tuple[str, Any]] = {}  # id(param) -> (name, outermost module)
    for module in live_modules():
        for name, p in module.named_parameters():
            if id(p) in wanted and len(name) > len(best.get(id(p), ("",))[0]):
                best[id(p)] = (name, module)
    tops: list[Any] = []
    for t in leaves:  # in the order of the walk, so that numbering is stable
        if id(t) in best and not any(m is best[id(t)][1] for m in tops):
            tops.append(best[id(t)][1])
    prefixes: dict[int, str] = {}
    if len(tops) > 1:
        seen: dict[str, int] = {}
        for m in tops:
            cls = type(m).__name__.lower()
            seen[cls] = seen.get(cls, 0) + 1
            prefixes[id(m)] = f"{cls}." if seen[cls] == 1 else f"{cls}_{seen[cls]}."
    names = {pid: prefixes.get(id(m), "") + name for pid, (name, m) in best.items()}
    return names, set(names)


def _is_module(value: Any) -> bool:
    return not isinstance(value, type) and callable(getattr(value, "named_parameters", None))


# =============================================================================================
# 2. The drawing model: nodes and edges before Graphviz
# =============================================================================================


class _Node:
    """One box of the drawing."""

    __slots__ = ("key", "kind", "title", "lines", "cluster", "step_of", "grad", "fill", "mark", "tooltip", "group")

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

    def add(self, node: _Node) -> _Node:
        self.nodes[node.key] = node
        return node

    def edge(self, src: str, dst: str, kind: str = "data", **attrs: str) -> None:
        if src == dst or (src, dst) in self._edge_set:
            return
        self._edge_set.add((src, dst))
        self.edges.append(_Edge(src, dst, kind, attrs))


def _shape_str(shape: Any) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")" if len(shape) != 1 else f"({int(shape[0])},)"


class _Options:
    def __init__(self, show_values: bool, show_grads: bool, names: dict[int, str], is_param: set[int],
                 explicit: bool):
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

    def __init__(self, fn: Any, rec: Recording | None = None):
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
        meta = getattr(fn, "input_meta", ())
        xm = meta[self.inputs["x"]] if "x" in self.inputs and self.inputs["x"] < len(meta) else None
        self.B = int(xm[0][1]) if xm is not None and len(xm[0]) == 3 else None
        self.I = int(xm[0][2]) if xm is not None and len(xm[0]) == 3 else None

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

    def grad_h(self, t: int) -> float | None:
        """||dL/dh_t||: recorded, else the layer's own after ``backward(retain_graph=True)``."""
        g = self.rec.step_grad_h(self.fn, t) if self.rec is not None else None
        if g is None:
            g = self.fn.step_grad_h(t)
        return None if g is None else float(np.linalg.norm(np.asarray(g, dtype=np.float64)))

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




# ---------------------------------------------------------------------------------------------
# Shared by both views
# ---------------------------------------------------------------------------------------------


class _Builder:
    """What both views share: the walk's nodes, who consumes what, names, h_t detection."""

    def __init__(self, fns: list[Function], leaves: list[Tensor], roots: list[Tensor], opts: _Options):
        self.fns, self.leaves, self.roots, self.opts = fns, leaves, roots, opts
        self.model = _Model()
        self.index = {id(fn): i for i, fn in enumerate(fns)}
        self.rec = recording_for(fns)
        self.unmarked: set[tuple[str, ...]] = set()  # time steps whose h_t could not be identified
        self.fused = {id(fn): _Fused(fn, self.rec) for fn in fns if is_fused(fn)}
        # The same layer called twice in one graph (or two modules in the same scope): give the
        # later call its own clusters, "lstm/l0 (2)", instead of mixing both into one per step.
        used: dict[tuple[str, ...], int] = {}
        for fn in reversed(fns):  # the walk meets the last call first: number calls in forward order
            f = self.fused.get(id(fn))
            if f is None or f.step_path(f.order[0])[1] is None or (f.T == 1 and split_scope(fn.scope)[1] is not None):
                continue
            layer = f.layer_path()
            used[layer] = used.get(layer, 0) + 1
            if used[layer] > 1:
                f.rename = layer[:-1] + (f"{layer[-1]} ({used[layer]})",)
        self.leaf_index = {id(t): i for i, t in enumerate(leaves)}
        # (id(fn), output index) -> consumers; a consumer is (fn, input index)
        self.consumers: dict[tuple[int, int], list[tuple[Function, int]]] = defaultdict(list)
        for fn in fns:
            for i, e in enumerate(fn.next_functions):
                if type(e) is tuple:
                    self.consumers[(id(e[0]), e[1])].append((fn, i))
        self.root_outputs = {(id(t.grad_fn), t._output_index) for t in roots if t.grad_fn is not None}
        # Time-step groups of primitive ops: step cluster path -> ops in it
        self.groups: dict[tuple[str, ...], list[Function]] = defaultdict(list)
        self.group_of: dict[int, tuple[str, ...]] = {}
        for fn in fns:
            if id(fn) in self.fused:
                continue
            path, step = split_scope(fn.scope)
            if step is not None:
                self.groups[path].append(fn)
                self.group_of[id(fn)] = path
        self.bypass = self._bypassed_cats()

    # -- keys -----------------------------------------------------------------------------
    def fkey(self, fn: Function) -> str:
        return f"f{self.index[id(fn)]}"

    def lkey(self, t: Tensor) -> str:
        return f"v{self.leaf_index[id(t)]}"

    # -- sequences flowing from one fused layer into the next --------------------------------
    def seq_parents(self, edge: Any, T: int) -> list[_Fused] | None:
        """The fused layers whose whole output sequence ``edge`` is (directly, or through a cat of
        the two directions), so that step t of the consumer can be wired to their step t."""
        if type(edge) is not tuple:
            return None
        parent, k = edge
        if id(parent) in self.fused:
            f = self.fused[id(parent)]
            return [f] if k == 0 and f.T == T else None
        if parent.name == "cat" and getattr(parent, "dim", None) in (2, -1):
            found = []
            for e in parent.next_functions:
                if type(e) is not tuple or id(e[0]) not in self.fused or e[1] != 0 or self.fused[id(e[0])].T != T:
                    return None
                found.append(self.fused[id(e[0])])
            return found
        return None

    def _bypassed_cats(self) -> set[int]:
        """Cats of bidirectional outputs that only feed the next fused layer: drawn as per-step edges."""
        out = set()
        for fn in self.fns:
            if fn.name != "cat" or id(fn) in self.fused or (id(fn), 0) in self.root_outputs:
                continue
            cons = self.consumers.get((id(fn), 0), [])
            if cons and all(id(c) in self.fused and self.fused[id(c)].inputs.get("x") == i
                            and self.seq_parents((fn, 0), self.fused[id(c)].T) for c, i in cons):
                out.add(id(fn))
        return out

    # -- labels -----------------------------------------------------------------------------
    def value_lines(self, arrays: Iterable[np.ndarray | None]) -> list[str]:
        if not self.opts.show_values:
            return []
        return [C.describe(a) for a in arrays if a is not None]

    def grad_line(self, norms: Iterable[float]) -> list[str]:
        norms = list(norms)
        if not self.opts.show_grads or not norms:
            return []
        return ["||grad|| " + ", ".join(C.fmt(g) for g in norms)]

    def outputs_of(self, fn: Function) -> tuple[np.ndarray, ...]:
        """The recorded outputs of ``fn`` (``()`` without a recording)."""
        return self.rec.outputs(fn) if self.rec is not None else ()

    def grad_norms_of(self, fn: Function) -> tuple[float, ...]:
        """The recorded gradient norms of ``fn``'s outputs (``()`` without a recording or backward)."""
        return self.rec.grad_norms(fn) if self.rec is not None else ()

    def op_lines(self, fn: Function) -> list[str]:
        data = self.outputs_of(fn)
        shapes = [_shape_str(a.shape) for a in data]
        if not shapes:  # not recorded: shapes from the live outputs or from what their consumers read
            shapes = [_shape_str(shape) for shape in (self._out_shape(fn, k) for k in range(len(fn.outputs)))
                      if shape is not None]
        if len(shapes) > 4 and len(set(shapes)) == 1:
            lines = [f"{len(shapes)} x {shapes[0]}"]
        else:
            lines = [" ".join(shapes)] if shapes else []
        if len(data) <= 2:
            lines += self.value_lines(data)
        lines += self.grad_line(self.grad_norms_of(fn))
        return lines

    def leaf_node(self, t: Tensor) -> _Node:
        name = self.opts.names.get(id(t)) or t.name
        is_param = self.opts.leaf_is_param(t)
        kind = "param" if is_param else "input"
        title = name or ("parameter" if is_param else "input")
        lines = [_shape_str(t.shape)] + self.value_lines([t._array])
        if t.grad is not None:
            lines += self.grad_line([float(np.linalg.norm(t.grad._array.astype(np.float64, copy=False)))])
        return _Node(self.lkey(t), kind, title, lines, tooltip=f"{kind} {title} {_shape_str(t.shape)}")

    def add_outputs(self, source_of: Any, edges: list[tuple[str, str]] | None = None) -> None:
        """One output node per root, fed by whatever draws the root's producer (edges appended to
        ``edges`` when given, else added to the model)."""
        for j, t in enumerate(self.roots):
            lines = [_shape_str(t.shape)] + self.value_lines([t._array])
            if t.grad is not None:
                lines += self.grad_line([float(np.linalg.norm(t.grad._array))])
            node = self.model.add(_Node(f"out{j}", "output", t.name or "output", lines, tooltip="output"))
            if t.grad_fn is None:
                srcs = [self.lkey(t)] if id(t) in self.leaf_index else []
            else:
                srcs = source_of((t.grad_fn, t._output_index))
            for s in srcs:
                if edges is not None:
                    edges.append((s, node.key))
                else:
                    self.model.edge(s, node.key)

    # -- which op of a time step carries h_t (reference path) -----------------------------------
    def state_outputs(self, path: tuple[str, ...]) -> tuple[tuple[Function, int] | None, tuple[Function, int] | None]:
        """(h, c) of one time step of primitive ops, as (fn, output index), or None where unknown.

        Rule: the outputs marked with ``mg.viz.mark_state`` (the library's layers and cells mark
        theirs). Without marks, h_t is known only when exactly one result of the step feeds
        another time step of the same layer (the recurrence); otherwise (several, or none, as in
        the last step) the step is ambiguous: nothing is coloured and the drawing warns
        (``self.unmarked``).
        """
        h = c = None
        for fn in self.groups.get(path, ()):
            for k, role in state_marks(fn).items():
                if role == "h":
                    h = (fn, k)
                elif role == "c":
                    c = (fn, k)
        if h is not None:
            return h, c
        recurrent = []
        for fn in self.groups.get(path, ()):
            for k in range(len(getattr(fn, "outputs", ())) or 1):
                steps = {self.group_of.get(id(user)) for user, _ in self.consumers.get((id(fn), k), [])}
                if any(g is not None and g != path and g[:-1] == path[:-1] for g in steps):
                    recurrent.append((fn, k))
        if len(recurrent) == 1:
            return recurrent[0], None
        self.unmarked.add(path)
        return None, None

    def _out_shape(self, fn: Function, k: int) -> Any:
        """The shape of ``fn``'s output ``k``: recorded, alive, or as its first consumer received it."""
        data = self.outputs_of(fn)
        if k < len(data):
            return data[k].shape
        ref = fn.outputs[k]() if k < len(getattr(fn, "outputs", ())) else None
        if ref is not None:
            return ref.shape
        for consumer, i in self.consumers.get((id(fn), k), ()):
            meta = consumer.input_meta[i] if i < len(consumer.input_meta) else None
            if meta is not None:
                return meta[0]
        return None

    def grad_of(self, fn: Function, k: int) -> float | None:
        norms = self.grad_norms_of(fn)
        return float(norms[k]) if k < len(norms) else None


# ---------------------------------------------------------------------------------------------
# view='ops': every primitive op; fused layers expanded into their equations
# ---------------------------------------------------------------------------------------------


class _OpsBuilder(_Builder):
    def build(self) -> _Model:
        m = self.model
        for t in self.leaves:
            m.add(self.leaf_node(t))
        for fn in self.fns:
            if id(fn) in self.fused:
                self._expand_nodes(self.fused[id(fn)])
            elif id(fn) not in self.bypass:
                path, step = split_scope(fn.scope)
                node = _Node(self.fkey(fn), "op", fn.name, self.op_lines(fn), path,
                             (path[:-1], step) if step is not None else None,
                             tooltip=f"{fn.name} at {fn.scope}" if fn.scope else fn.name)
                m.add(node)
                if step is not None:
                    m.step_clusters[(path[:-1], step)] = path
        for path in self.groups:  # mark h_t / c_t of each step of primitive ops
            h, c = self.state_outputs(path)
            key = (path[:-1], int(path[-1][1:]))
            if h is not None and self.fkey(h[0]) in m.nodes:
                node = m.nodes[self.fkey(h[0])]
                node.mark = "h"
                node.title += "  = h_t"
                g = self.grad_of(*h)
                if g is not None:
                    m.step_grads[key] = g
            if c is not None and self.fkey(c[0]) in m.nodes:
                m.nodes[self.fkey(c[0])].mark = "c"
                m.nodes[self.fkey(c[0])].title += "  = c_t"
        # edges
        for fn in self.fns:
            if id(fn) in self.fused:
                self._expand_edges(self.fused[id(fn)])
                continue
            if id(fn) in self.bypass:
                continue
            dst = self.fkey(fn)
            for e in fn.next_functions:
                for src in self.sources(e):
                    m.edge(src, dst, "param" if self._is_param_key(src) else "data")
        self.add_outputs(self.sources)
        return m

    def _is_param_key(self, key: str) -> bool:
        node = self.model.nodes.get(key)
        return node is not None and node.kind == "param"

    def sources(self, edge: Any) -> list[str]:
        """The drawn node(s) that an input edge of some op comes from."""
        if edge is None:
            return []
        if type(edge) is not tuple:
            return [self.lkey(edge)]
        parent, k = edge
        f = self.fused.get(id(parent))
        if f is None:
            return [self.fkey(parent)]
        role = f.fn.output_roles[k] if k < len(f.fn.output_roles) else "output"
        if role == "h_n":
            return [self._fk(f, f.final_step, "h")]
        if role == "c_n":
            return [self._fk(f, f.final_step, "c")]
        return [self._gather(f)]

    def _fk(self, f: _Fused, t: int, name: str) -> str:
        return f"{self.fkey(f.fn)}_{t}_{name}"

    def _gather(self, f: _Fused) -> str:
        """The fused layer's output sequence as one node, made the first time something needs it."""
        key = f"{self.fkey(f.fn)}_out"
        if key not in self.model.nodes:
            data = self.outputs_of(f.fn)
            lines = [_shape_str(data[0].shape)] if data else []
            lines.append("stack of h_t over t")
            if len(data) <= 3 and data:
                lines += self.value_lines(data[:1])
            self.model.add(_Node(key, "op", "output", lines, f.layer_path(), tooltip="output of the fused layer"))
            for t in f.order:
                self.model.edge(self._fk(f, t, "h"), key)
        return key

    def _expand_nodes(self, f: _Fused) -> None:
        m = self.model
        drawing = f.cell.drawing
        lower = self.seq_parents(f.edge("x"), f.T)
        layer = f.layer_path()
        for t in f.order:
            path, step = f.step_path(t)
            step_of = (path[:-1], step) if step is not None else None
            if step is not None:
                m.step_clusters[step_of] = path
            vals = self.values_for(f, t)
            where = f"{f.fn.name} {f.fn.step_scope(t)}"
            if lower is None:  # x_t comes from outside: draw it
                m.add(_Node(self._fk(f, t, "x"), "input", "x_t", [f.shape("x")] + self.value_lines([vals.get("x_t")]),
                            path, step_of, tooltip=f"x_t of {where}"))
            for name, (title, formula) in drawing.nodes.items():
                lines = [formula, f.shape(name)]
                prefix, key = (drawing.values or {}).get(name, ("", None))
                if key is not None and vals.get(key) is not None:
                    lines += [prefix + line for line in self.value_lines([vals[key]])]
                node = m.add(_Node(self._fk(f, t, name), "eq", title, lines, path, step_of, tooltip=where))
                if name == "h":
                    node.mark = "h"
                    g = f.grad_h(t) if self.opts.show_grads else None
                    if g is not None:
                        node.lines += self.grad_line([g])
                        if step_of is not None:
                            m.step_grads[step_of] = g
                        node.grad = g
                elif name == "c":
                    node.mark = "c"
            for column in drawing.columns:
                m.same_rank.append([self._fk(f, t, name) for name in column])
        # initial states that come from nowhere (zeros by default): one node each in the layer
        for role, name in (("h0", "h"), ("c0", "c")):
            if role == "c0" and not f.cell.has_cell_state:
                continue
            if self._state_source(f, role) is None:
                v = self.values_for(f, f.order[0]).get(f"{name}_prev")
                m.add(_Node(f"{self.fkey(f.fn)}_{role}", "input", f"initial {name}",
                            [f.shape("h")] + self.value_lines([v]), layer, tooltip=f"initial {name} of {f.fn.name}"))

    def values_for(self, f: _Fused, t: int) -> dict[str, np.ndarray]:
        return f.values(t) if self.opts.show_values else {}

    def _state_source(self, f: _Fused, role: str) -> list[str] | None:
        e = f.edge(role)
        return self.sources(e) if e is not None else None

    def _expand_edges(self, f: _Fused) -> None:
        m = self.model
        takes = f.cell.drawing.takes
        for a, b in f.cell.drawing.edges:
            for t in f.order:
                m.edge(self._fk(f, t, a), self._fk(f, t, b))
        lower = self.seq_parents(f.edge("x"), f.T)
        x_src = [] if lower is not None else self.sources(f.edge("x"))
        prev: dict[str, list[str]] = {}
        for role, name in (("h0", "h"), ("c0", "c")):
            src = self._state_source(f, role)
            prev[name] = src if src is not None else [f"{self.fkey(f.fn)}_{role}"]
        if not f.cell.has_cell_state:
            prev.pop("c")
        weights = {w: self.sources(f.edge(w)) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        for t in f.order:
            if lower is None:
                for s in x_src:
                    m.edge(s, self._fk(f, t, "x"))
                xs = [self._fk(f, t, "x")]
            else:
                xs = [self._fk(p, t, "h") for p in lower]
            for s in xs:
                for d in takes["x"]:
                    m.edge(s, self._fk(f, t, d))
            for name, srcs in prev.items():
                for s in srcs:
                    for d in takes[name]:
                        m.edge(s, self._fk(f, t, d))
            for w, srcs in weights.items():
                for s in srcs:
                    for d in takes[w]:
                        m.edge(s, self._fk(f, t, d), "param")
            prev = {name: [self._fk(f, t, name)] for name in prev}


# ---------------------------------------------------------------------------------------------
# view='cells': one node per layer and time step
# ---------------------------------------------------------------------------------------------


class _CellsBuilder(_Builder):
    def build(self) -> _Model:
        m = self.model
        # Which cell each time step becomes: groups of primitive ops and steps of fused layers
        # share a cell when they share a step scope (your own t3 scope around a fused cell).
        self.cell_of_group: dict[Any, str] = {}
        cells: dict[str, dict[str, Any]] = {}

        def cell_for(key: Any, layer: tuple[str, ...], t: int, has_step: bool) -> str:
            ck = self.cell_of_group.get(key)
            layer = layer or _TOP_STEPS  # steps of your own loop, not inside a layer: still one cluster
            if ck is None:
                ck = f"c{len(self.cell_of_group)}"
                self.cell_of_group[key] = ck
                cells[ck] = {"layer": layer, "t": t, "h": None, "c": None, "grad": None, "step": has_step}
            return ck

        self.fused_cells: dict[int, dict[int, str]] = {}
        for fn in self.fns:
            f = self.fused.get(id(fn))
            if f is None:
                continue
            self.fused_cells[id(fn)] = {}
            for t in f.order:
                path, step = f.step_path(t)
                if step is not None:
                    ck = cell_for(path, path[:-1], step, True)
                else:
                    ck = cell_for((id(fn), t), f.layer_path(), t, False)
                self.fused_cells[id(fn)][t] = ck
                info = cells[ck]
                if info["h"] is None:
                    vals = f.values(t) if self.opts.show_values else {}
                    info["h"] = ("fused", vals.get("h"), f.shape("h"))
                    if f.mode == "lstm":
                        info["c"] = ("fused", vals.get("c"), f.shape("h"))
                    info["grad"] = f.grad_h(t) if self.opts.show_grads else None
        for path in self.groups:
            ck = cell_for(path, path[:-1], int(path[-1][1:]), True)
            info = cells[ck]
            if info["h"] is None:
                h, c = self.state_outputs(path)
                for name, hc in (("h", h), ("c", c)):
                    if hc is not None:
                        fn, k = hc
                        data = self.outputs_of(fn)
                        arr = data[k] if k < len(data) else None
                        info[name] = ("op", arr, _shape_str(self._out_shape(fn, k) or ()))
                if h is not None and self.opts.show_grads:
                    info["grad"] = self.grad_of(*h)
        self.cells = cells
        layer_paths = {info["layer"] for info in cells.values() if info["step"]}

        for t in self.leaves:
            m.add(self.leaf_node(t))
        # What every cell of a layer carries (h_t and c_t of one shape) is said once, on the layer;
        # a cell says only what differs: its values and its gradient.
        carries: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for info in cells.values():
            carries[info["layer"]].add(" ".join(f"{n}_t {info[n][2]}" for n in ("h", "c") if info[n] is not None))
        for layer, what in carries.items():
            if len(what) == 1 and next(iter(what)):
                m.cluster_notes[layer] = next(iter(what))
        for ck, info in cells.items():
            lines = []
            for name in ("h", "c"):
                if info[name] is None:
                    continue
                _, arr, shape = info[name]
                if info["layer"] in m.cluster_notes:
                    if self.opts.show_values and arr is not None:
                        lines.append(f"{name}_t {C.describe(arr)}")
                else:
                    lines.append(f"{name}_t {shape}")
                    lines += self.value_lines([arr])
            where = "/".join(info["layer"] + (f"t{info['t']}",))
            if info["grad"] is not None:
                lines.append(C.fmt(info["grad"]))  # ||dL/dh_t||, as the legend says
                where += f": ||dL/dh_t|| = {C.fmt(info['grad'])}"
            node = m.add(_Node(ck, "cell", f"t = {info['t']}", lines, info["layer"], (info["layer"], info["t"]),
                               tooltip=where))
            node.grad = info["grad"]
            if info["grad"] is not None:
                m.step_grads[(info["layer"], info["t"])] = info["grad"]
        self.folded = self._param_derived_ops()
        for fn in self.fns:
            if id(fn) in self.fused or id(fn) in self.group_of or id(fn) in self.bypass or id(fn) in self.folded:
                continue
            path, _ = split_scope(fn.scope)
            if path in layer_paths:  # a layer cluster holds only its cells: layer-level ops sit beside it
                path = path[:-1]
            m.add(_Node(self.fkey(fn), "op", fn.name, self.op_lines(fn), path,
                        tooltip=f"{fn.name} at {fn.scope}" if fn.scope else fn.name))

        # edges through the contraction (an op inside a time step becomes its cell)
        raw: list[tuple[str, str]] = []
        for fn in self.fns:
            if id(fn) in self.bypass or id(fn) in self.folded:
                continue
            f = self.fused.get(id(fn))
            if f is not None:
                raw += self._fused_edges(f)
                continue
            dst = self.node_of(fn)
            for e in fn.next_functions:
                for src in self.sources(e):
                    raw.append((src, dst))
        self.add_outputs(self.sources, raw)
        self._aggregate(raw)
        return m

    def _param_derived_ops(self) -> dict[int, list[Tensor]]:
        """Ops outside the time steps computed from parameters alone (``weight.chunk(4)`` of the
        reference path): in the cells view they are part of their parameters. ``id -> leaves``."""
        cands = {id(fn): fn for fn in self.fns
                 if id(fn) not in self.fused and id(fn) not in self.group_of and (id(fn), 0) not in self.root_outputs}
        # Kahn's order restricted to the candidates: an op is decided once all its inputs are
        waiting = {}
        for key, fn in cands.items():
            waiting[key] = sum(1 for e in fn.next_functions if type(e) is tuple and id(e[0]) in cands)
        ready = [cands[k] for k, w in waiting.items() if w == 0]
        out: dict[int, list[Tensor]] = {}
        while ready:
            fn = ready.pop()
            leaves: list[Tensor] | None = []
            for e in fn.next_functions:
                if e is None:
                    continue
                if type(e) is tuple:
                    if id(e[0]) not in out:
                        leaves = None
                        break
                    leaves += out[id(e[0])]
                elif self.opts.leaf_is_param(e):
                    leaves.append(e)
                else:
                    leaves = None
                    break
            if leaves:
                out[id(fn)] = leaves
            for k in range(len(getattr(fn, "outputs", ())) or 1):
                for c, _ in self.consumers.get((id(fn), k), ()):
                    if id(c) in waiting:
                        waiting[id(c)] -= 1
                        if waiting[id(c)] == 0:
                            ready.append(c)
        return out

    def node_of(self, fn: Function) -> str:
        g = self.group_of.get(id(fn))
        return self.cell_of_group[g] if g is not None else self.fkey(fn)

    def sources(self, edge: Any) -> list[str]:
        if edge is None:
            return []
        if type(edge) is not tuple:
            return [self.lkey(edge)]
        parent, k = edge
        if id(parent) in self.folded:
            return [self.lkey(t) for t in self.folded[id(parent)]]
        f = self.fused.get(id(parent))
        if f is None:
            return [self.node_of(parent)]
        role = f.fn.output_roles[k] if k < len(f.fn.output_roles) else "output"
        cells = self.fused_cells[id(parent)]
        if role in ("h_n", "c_n"):
            return [cells[f.final_step]]
        return [cells[t] for t in f.order]

    def _fused_edges(self, f: _Fused) -> list[tuple[str, str]]:
        cells = self.fused_cells[id(f.fn)]
        out = []
        lower = self.seq_parents(f.edge("x"), f.T)
        if lower is not None:
            for p in lower:
                out += [(self.fused_cells[id(p.fn)][t], cells[t]) for t in f.order]
        else:
            out += [(s, cells[t]) for s in self.sources(f.edge("x")) for t in f.order]
        for role in ("h0", "c0"):
            out += [(s, cells[f.order[0]]) for s in self.sources(f.edge(role))]
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            out += [(s, cells[t]) for s in self.sources(f.edge(w)) for t in f.order]
        out += [(cells[a], cells[b]) for a, b in zip(f.order, f.order[1:])]
        return out

    def _aggregate(self, raw: list[tuple[str, str]]) -> None:
        """Many edges between one node and many cells of a layer become one edge to the layer's cluster."""
        m = self.model
        nodes = m.nodes
        fan_out: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
        fan_in: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
        plain = []
        seen = set()
        for s, d in raw:
            if s == d or (s, d) in seen:
                continue
            seen.add((s, d))
            sn, dn = nodes[s], nodes[d]
            if sn.kind != "cell" and dn.kind == "cell":
                fan_out[(s, dn.cluster)].append(d)
            elif dn.kind != "cell" and sn.kind == "cell":
                fan_in[(d, sn.cluster)].append(s)
            else:
                plain.append((s, d))
        order = lambda k: nodes[k].step_of[1]  # noqa: E731 - the cell's time step
        for (s, layer), ds in fan_out.items():
            kind = "param" if nodes[s].kind == "param" else "data"
            if len(ds) == 1:
                m.edge(s, ds[0], kind)
            elif nodes[s].kind in ("param", "input"):  # a leaf: drawn just before the layer it feeds
                m.edge(s, min(ds, key=order), kind, lhead=_cluster_id(layer))
            else:  # data made elsewhere (the layer below): must not push this layer to the right
                m.edge(s, min(ds, key=order), kind, lhead=_cluster_id(layer), constraint="false")
        for (d, layer), ss in fan_in.items():
            if len(ss) == 1:
                m.edge(ss[0], d)
            else:
                m.edge(max(ss, key=order), d, ltail=_cluster_id(layer))
        for s, d in plain:
            m.edge(s, d)


# =============================================================================================
# 3. Layout rules and DOT text
# =============================================================================================


def _cluster_id(path: tuple[str, ...]) -> str:
    return "cluster_" + re.sub(r"\W", "_", "__".join(path)) if path else ""


def _share_copies(m: _Model) -> None:
    """Give every time step its own copy of the parameters it uses (ops view).

    Parameters (and what is computed from parameters alone, like the gate blocks that
    ``weight.chunk(4)`` makes once per layer) feed *every* time step. Drawn once, they would
    send an edge into every step: spaghetti. Drawn once per step, as in textbook unrolled
    pictures, each step reads on its own, and the dashed outline says "the same tensor". The
    original node stays (with its shape and gradient) beside the steps.
    """
    nodes = m.nodes
    preds: dict[str, list[str]] = defaultdict(list)
    succ: dict[str, list[_Edge]] = defaultdict(list)
    for e in m.edges:
        preds[e.dst].append(e.src)
        succ[e.src].append(e)
    # parameter-derived: a leaf, or an op outside the time steps whose inputs are all
    # parameter-derived (Kahn's order over the drawing, an explicit queue)
    indeg = {k: len(preds[k]) for k in nodes}
    queue = [k for k, d in indeg.items() if d == 0]
    derived: dict[str, bool] = {}
    while queue:
        k = queue.pop()
        n = nodes[k]
        if n.kind in ("param", "input"):
            derived[k] = n.step_of is None
        elif n.kind == "op" and n.step_of is None and preds[k]:
            derived[k] = all(derived.get(p, False) for p in preds[k])
        else:
            derived[k] = False
        for e in succ[k]:
            indeg[e.dst] -= 1
            if indeg[e.dst] == 0:
                queue.append(e.dst)
    for key in [k for k, d in derived.items() if d]:
        by_step: dict[tuple, list[_Edge]] = defaultdict(list)
        for e in succ[key]:
            d = nodes[e.dst]
            if d.step_of is not None:
                by_step[d.step_of].append(e)
        if len(by_step) < 2:
            continue
        src = nodes[key]
        title = src.title
        if src.kind == "op":
            title = f"{src.title}({', '.join(nodes[p].title for p in preds[key])})"
        if src.cluster == () and src.kind == "param" and all(nodes[e.dst].step_of is not None for e in succ[key]):
            src.cluster = _PARAMS_BOX  # every use becomes a copy: the box says why this node has no edges
        for i, (step_of, edges) in enumerate(by_step.items()):
            first = nodes[edges[0].dst]
            ghost = m.add(_Node(f"{key}_s{i}", src.kind, title, [], first.cluster, step_of,
                                tooltip=f"{title}: the same tensor in every time step"))
            ghost.mark = "shared"
            for e in edges:
                e.src = ghost.key
                m._edge_set.add((ghost.key, e.dst))


def _layout(m: _Model, view: str) -> None:
    """Attributes that make the unrolled graph read left to right (see docs/visualization.md)."""
    nodes = m.nodes
    # Direction of each layer: do its h edges go from t to t+1 or from t to t-1?
    inc: dict[tuple[str, ...], int] = defaultdict(int)
    dec: dict[tuple[str, ...], int] = defaultdict(int)
    fan: dict[str, set] = defaultdict(set)
    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        if d.step_of is not None:
            fan[e.src].add(d.step_of)
        if s.step_of and d.step_of and s.step_of[0] == d.step_of[0] and s.step_of[1] != d.step_of[1]:
            (inc if s.step_of[1] < d.step_of[1] else dec)[s.step_of[0]] += 1
    reverse = {layer for layer in dec if dec[layer] > inc[layer]}

    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        a = e.attrs
        if e.kind == "param":
            a.setdefault("color", C.PARAM_EDGE_COLOR)
        both = s.step_of is not None and d.step_of is not None
        cross_layer = both and s.step_of[0] != d.step_of[0]
        recurrent = both and not cross_layer and s.step_of[1] != d.step_of[1]
        scatter = s.step_of is None and len(fan[e.src]) >= 2
        if cross_layer or scatter:
            a["constraint"] = "false"
        if recurrent:  # the path BPTT walks back along: bold, and kept straight
            a.setdefault("color", C.RECURRENT_EDGE_COLOR)
            a["penwidth"] = "2"
            a["weight"] = "8"
        elif d.step_of is None and s.step_of is not None:  # a step's result gathered outside: don't pull
            a["weight"] = "0"
        # Mirror the reverse direction of a bidirectional layer: its edges point right to left.
        if d.step_of is not None and d.step_of[0] in reverse and a.get("constraint") != "false":
            layer = d.step_of[0]
            inside = (s.step_of is not None and s.step_of[0] == layer) or (
                s.step_of is None and s.cluster[: len(layer)] == layer)
            if inside:
                a["_flip"] = "1"

    # Keep time steps in order: invisible edges from each step to the next one of the same layer.
    steps: dict[tuple, list[str]] = defaultdict(list)
    for n in nodes.values():
        if n.step_of is not None:
            steps[n.step_of].append(n.key)
    succ: dict[str, list[str]] = defaultdict(list)   # inside one step, in layout direction
    fwd: dict[str, list[str]] = defaultdict(list)    # inside one step, in data direction
    back: dict[str, list[str]] = defaultdict(list)
    has_pred: set[str] = set()
    by_pair: dict[tuple[str, str], _Edge] = {}
    entries: dict[tuple, list[tuple[str, str]]] = defaultdict(list)  # (node, the node feeding it)
    exits: dict[tuple, list[str]] = defaultdict(list)
    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        if e.attrs.get("weight") == "8":  # recurrent
            entries[d.step_of].append((e.dst, e.src))
            exits[s.step_of].append(e.src)
        if e.attrs.get("constraint") == "false" or s.step_of is None or s.step_of != d.step_of:
            continue
        a, b = (e.dst, e.src) if e.attrs.get("_flip") else (e.src, e.dst)
        succ[a].append(b)
        has_pred.add(b)
        fwd[e.src].append(e.dst)
        back[e.dst].append(e.src)
        by_pair[(e.src, e.dst)] = e
    layers: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for layer, t in steps:
        layers[layer].append(t)
    for layer, ts in layers.items():
        ts.sort()
        for ta, tb in zip(ts, ts[1:]):
            last = _deepest(steps[(layer, ta)], succ, has_pred)
            for k in steps[(layer, tb)]:
                if k not in has_pred:
                    m.edge(last, k, "invis", style="invis", weight="0")
    # Line the layers up: step t of every layer (and direction) starts in the same column.
    if len(layers) > 1:
        by_t: dict[int, list[str]] = defaultdict(list)
        for (_, t), members in steps.items():
            starts = [k for k in members if k not in has_pred]
            spine = [k for k in starts if nodes[k].kind in ("input", "cell", "op", "eq") and nodes[k].mark != "shared"]
            by_t[t].append((spine or starts or members)[0])
        for t in sorted(by_t):
            if len(by_t[t]) > 1:
                m.global_ranks.append(by_t[t])
    # The spine: inside each step, the path that carries h_{t-1} to h_t (and c_{t-1} to c_t) gets
    # weight and a Graphviz group, so that the chains h_0 -> h_1 -> ... (and c) are straight lines.
    for key, members in steps.items():
        if len(members) < 2:
            continue
        marked = {nodes[k].mark: k for k in members if nodes[k].mark in ("h", "c")}
        end = marked.get("h") or (exits[key][0] if exits.get(key) else None)
        ins = entries.get(key, ())
        reach_c = _reach([d for d, src in ins if nodes[src].mark == "c"], fwd)
        reach_h = _reach([d for d, src in ins if nodes[src].mark != "c"], fwd)
        depth = _depths(members, fwd)
        base = _cluster_id(key[0]) or "spine"
        if "c" in marked:
            _spine(marked["c"], base + "_c", nodes, back, by_pair,
                   lambda p, rc=reach_c, d=depth: (p in rc, d.get(p, 0)), only=reach_c)
        if end is not None and not nodes[end].group:
            _spine(end, base, nodes, back, by_pair,
                   lambda p, rh=reach_h, rc=reach_c, d=depth: (p in rh and p not in rc, p in rh, d.get(p, 0)))


def _reach(starts: list[str], fwd: dict[str, list[str]]) -> set[str]:
    """Everything reachable from ``starts`` inside one step (explicit stack)."""
    seen = set(starts)
    todo = list(starts)
    while todo:
        for n in fwd.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _spine(end: str, group: str, nodes: dict[str, _Node], back: dict[str, list[str]],
           by_pair: dict[tuple[str, str], _Edge], score: Any, only: set[str] | None = None) -> None:
    """Walk back from ``end`` through not-yet-grouped inputs (best ``score`` first), grouping them."""
    node = end
    nodes[node].group = group
    while True:
        free = [p for p in back.get(node, ()) if not nodes[p].group and (only is None or p in only)]
        if not free:
            return
        prev = max(free, key=score)
        by_pair[(prev, node)].attrs.setdefault("weight", "4")
        node = prev
        nodes[node].group = group


def _depths(keys: list[str], succ: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path depth of each node inside one time step (Kahn's order, no recursion)."""
    members = set(keys)
    indeg = {k: 0 for k in keys}
    for k in keys:
        for n in succ.get(k, ()):
            if n in members:
                indeg[n] += 1
    depth = {k: 0 for k in keys}
    ready = [k for k in keys if indeg[k] == 0]
    while ready:
        k = ready.pop()
        for n in succ.get(k, ()):
            if n in members:
                depth[n] = max(depth[n], depth[k] + 1)
                indeg[n] -= 1
                if indeg[n] == 0:
                    ready.append(n)
    return depth


def _deepest(keys: list[str], succ: dict[str, list[str]], has_pred: set[str]) -> str:
    """The node at the end of the longest path inside one time step."""
    if len(keys) == 1:
        return keys[0]
    depth = _depths(keys, succ)
    return max(keys, key=lambda k: (depth[k], k in has_pred))


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


def _label(n: _Node, fontcolor: str | None = None) -> str:
    font = f' COLOR="{fontcolor}"' if fontcolor else ""
    out = f"<B>{_esc(n.title)}</B>"
    for line in n.lines:
        if line:
            out += f'<BR/><FONT POINT-SIZE="9"{font}>{_esc(line)}</FONT>'
    return f"<{out}>"


def _attrs(d: dict[str, str]) -> str:
    return " ".join(f'{k}="{_esc(v)}"' if not v.startswith("<") else f"{k}={v}" for k, v in d.items())


def _emit(m: _Model, view: str, rankdir: str, scale: C.GradientScale | None) -> tuple[list[str], dict]:
    """DOT body lines (clusters nested by scope path, built with an explicit stack)."""
    nodes = m.nodes
    members: dict[tuple[str, ...], list[_Node]] = defaultdict(list)
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    known: set[tuple[str, ...]] = {()}
    for n in nodes.values():
        members[n.cluster].append(n)
        path = n.cluster
        while path not in known:  # register the path and all its prefixes
            known.add(path)
            children[path[:-1]].append(path)
            path = path[:-1]

    def sort_key(p: tuple[str, ...]) -> tuple:
        last = p[-1]
        if _STEP.fullmatch(last):
            return (1, int(last[1:]), "")
        # higher layers first (Graphviz puts the first cluster on top): l1 above l0
        digits = re.findall(r"\d+", last)
        return (0, -int(digits[0]) if digits else 0, last)

    # Graphviz keeps the input order where crossings allow: emit the clusters top to bottom as we
    # want them (higher layers first, forward before reverse), and the top-level parameters in the
    # order of the clusters they feed, so that each parameter sits next to its layer.
    order: dict[tuple[str, ...], int] = {}
    todo = [()]
    while todo:
        path = todo.pop()
        order[path] = len(order)
        todo += sorted(children.get(path, ()), key=sort_key, reverse=True)
    first_use: dict[str, int] = {}
    for e in m.edges:
        c = nodes[e.dst].cluster
        while c not in order:
            c = c[:-1]
        first_use[e.src] = min(first_use.get(e.src, 1 << 30), order[c])
    members[()].sort(key=lambda n: first_use.get(n.key, 1 << 30))

    ranks_in: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
    for keys in m.same_rank:
        keys = [k for k in keys if k in nodes]
        if len(keys) > 1:
            ranks_in[nodes[keys[0]].cluster].append(keys)
    lines: list[str] = []
    stack: list[tuple[str, tuple[str, ...]]] = [("open", ())]
    while stack:
        action, path = stack.pop()
        if action == "close":
            lines.append("\t}\n")
            continue
        kids = children.get(path, ())
        if path and not members.get(path) and len(kids) == 1 and not _STEP.fullmatch(kids[0][-1]) \
                and not _STEP.fullmatch(path[-1]):
            stack.append(("open", kids[0]))  # a box holding only one box: draw the inner one ("rnn/l0")
            continue
        if path:
            is_step = bool(_STEP.fullmatch(path[-1]))
            attrs = {"fontname": "Helvetica", "margin": "8"}
            if is_step:
                key = (path[:-1], int(path[-1][1:]))
                g = m.step_grads.get(key)
                fill = scale.color(g) if (scale is not None and key in m.step_grads) else C.CLUSTER_STEP_FILL
                attrs.update(label=f"t = {path[-1][1:]}", style="rounded,filled", fillcolor=fill, color="#999999",
                             fontcolor="white" if C.is_dark(fill) else "black", fontsize="12")
                if g is not None:
                    attrs["tooltip"] = f"{'/'.join(path)}: ||dL/dh_t|| = {C.fmt(g)}"
            else:
                label = "/".join(path)
                if path == _PARAMS_BOX:
                    label = "parameters: a dashed copy is drawn in each step that uses one"
                if path in m.cluster_notes:
                    label += "    (each step: " + m.cluster_notes[path] + ")"
                attrs.update(label=label, style="rounded,dashed", color="#777777", fontsize="12")
            lines.append(f"\tsubgraph {_cluster_id(path)} {{\n")
            lines.append(f"\t\tgraph [{_attrs(attrs)}]\n")
        for n in members.get(path, ()):
            shape, style, fill = C.NODE_STYLE[n.kind]
            fontcolor = None
            if n.kind == "cell" and scale is not None and n.grad is not None:
                fill = scale.color(n.grad)  # grey for a zero gradient
                fontcolor = "white" if C.is_dark(fill) else None
            a = {"label": _label(n, fontcolor), "shape": shape, "style": style, "fillcolor": n.fill or fill}
            if n.mark == "h":
                a.update(penwidth="2", color=C.RECURRENT_EDGE_COLOR)
            elif n.mark == "shared":
                a.update(style=style + ",dashed", fontsize="9", height="0.2")
            elif n.mark == "c":
                a.update(penwidth="2", color="#7a3e9d")
            if n.tooltip:
                a["tooltip"] = n.tooltip
            if n.group:
                a["group"] = n.group
            lines.append(f"\t\t{n.key} [{_attrs(a)}]\n")
        for keys in ranks_in.get(path, ()):
            lines.append("\t\t{rank=same; " + "; ".join(keys) + "}\n")
        if path:
            stack.append(("close", path))
        for child in sorted(children.get(path, ()), key=sort_key, reverse=True):
            stack.append(("open", child))
    for e in m.edges:
        a = {k: v for k, v in e.attrs.items() if not k.startswith("_")}
        if e.attrs.get("_flip"):
            a["dir"] = "back"
            lines.append(f"\t{e.dst} -> {e.src} [{_attrs(a)}]\n")
        else:
            lines.append(f"\t{e.src} -> {e.dst}" + (f" [{_attrs(a)}]" if a else "") + "\n")
    for keys in m.global_ranks:
        lines.append("\t{rank=same; " + "; ".join(keys) + "}\n")
    if scale is not None:
        lines.append("\tsubgraph cluster_legend {\n")
        lines.append('\t\tgraph [label="gradient colouring" style="rounded" color="#999999" fontname="Helvetica" '
                     'fontsize="11"]\n')
        lines.append(f"\t\tlegend [shape=plaintext label={scale.legend_label()}]\n")
        lines.append("\t}\n")
    graph_attr = {"rankdir": rankdir, "compound": "true", "newrank": "true", "fontname": "Helvetica",
                  "nodesep": "0.25", "ranksep": "0.3", "labeljust": "l", "bgcolor": "white"}
    return lines, graph_attr


# =============================================================================================
# The public functions
# =============================================================================================


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` that Jupyter shows inline, and shows as DOT text when ``dot`` is missing."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": "Graphviz's `dot` was not found (install it, e.g. `apt-get install graphviz` or "
                                  "`brew install graphviz`, to see the picture). The DOT text:\n\n" + self.source}


def _check_args(view: str, rankdir: str, max_nodes: Any) -> None:
    if view not in VIEWS:
        raise ValueError(f"draw_graph: view must be one of {', '.join(map(repr, VIEWS))}, got {view!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {', '.join(map(repr, RANKDIRS))}, got {rankdir!r}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes <= 0:
        raise ValueError(f"draw_graph: max_nodes must be a positive int, got {max_nodes!r}")


def build_model(root: Any, *, params: Any = None, view: str = "ops", show_values: bool = False,
                show_grads: bool = True, max_nodes: int = 3000, param_copies: bool = True) -> tuple[_Model, str]:
    """The drawing model (nodes, edges) and the view actually used; what draw_graph turns into DOT."""
    roots = _as_roots(root)
    if params is not None:
        _param_names(params, [])  # a bad params= fails before the walk
    used = view
    if view == "auto":
        try:
            fns, leaves = walk(roots, "ops", max_nodes)
            used = "ops"
        except GraphTooLargeError:
            warnings.warn(f"draw_graph: more than max_nodes={max_nodes} nodes in view='ops'; drawing view='cells' "
                          "instead (one node per layer and time step)", UserWarning, stacklevel=3)
            used = "cells"
            fns, leaves = walk(roots, "cells", max_nodes)
    else:
        fns, leaves = walk(roots, view, max_nodes)
    names, is_param = _param_names(params, leaves)
    opts = _Options(show_values, show_grads, names, is_param, explicit=params is not None)
    builder = (_OpsBuilder if used == "ops" else _CellsBuilder)(fns, leaves, roots, opts)
    _warn_if_unrecorded(builder, show_values, show_grads)
    model = builder.build()
    if builder.unmarked:
        steps = sorted("/".join(p) for p in builder.unmarked)
        warnings.warn(f"draw_graph: could not tell which result is the hidden state h_t in {len(steps)} time step(s) "
                      f"({', '.join(steps[:3])}{', ...' if len(steps) > 3 else ''}): no single result of the step "
                      "feeds the next one (or it is the last step), so those steps are not coloured. "
                      "Call mg.viz.mark_state(h) (or mark_state(h, c)) in your loop, once per step.",
                      UserWarning, stacklevel=4)
    if len(model.nodes) > max_nodes:
        raise GraphTooLargeError(_too_large(used, max_nodes))
    if used == "ops" and param_copies:
        _share_copies(model)
    _layout(model, used)
    return model, used


def _warn_if_unrecorded(builder: _Builder, show_values: bool, show_grads: bool) -> None:
    """Say so when values or gradients were asked for but nothing recorded them (never a silent grey picture)."""
    if builder.rec is not None or not builder.fns:
        return
    missing = []
    if show_values:
        missing.append("values")
    # A backward ran through this graph: the engine set retain_graph on its nodes (or freed them).
    if show_grads and any(fn.released or "retain_graph" in vars(fn) for fn in builder.fns):
        missing.append("gradient norms")
    if missing:
        warnings.warn(f"draw_graph: this graph was not recorded, so the drawing shows no {' and no '.join(missing)} "
                      "of its operations. Run the forward and backward passes inside `with mg.viz.record():` "
                      "and draw after them (docs/visualization.md).", UserWarning, stacklevel=5)


def draw_graph(root: Tensor | list[Tensor], *, params: Any = None, view: str = "ops", show_values: bool = False,
               show_grads: bool = True, rankdir: str = "LR", max_nodes: int = 3000,
               param_copies: bool = True) -> Drawing:
    """Draw the graph that produced ``root``, unrolled in time; returns a ``graphviz.Digraph``.

    - ``root``: a Tensor or a list of Tensors (each becomes an output node).
    - ``params``: names for parameters: a Module (its ``named_parameters()``), a dict name -> Tensor,
      or (name, Tensor) pairs. Without it, the modules holding the graph's parameters name them
      (``weight_ih_l0``; ``lstm.weight_ih_l0`` inside a model), and ``tensor.name`` names any tensor.
    - ``view='ops'``: every primitive op; a fused recurrent layer is expanded into its equations, one
      cluster per time step. ``view='cells'``: one node per layer and time step, carrying h_t (and
      c_t). ``view='auto'``: ops, or cells with a warning when ops would exceed ``max_nodes``.
    - ``show_values``: numbers on each node (<= 6 elements) or min / mean / max.
    - ``show_grads``: gradient norms on the nodes and each time step coloured by log10 ||dL/dh_t||,
      with a legend: run the forward and backward inside ``with mg.viz.record():`` (values too come
      from the recording; without one the drawing warns).
    - ``rankdir``: 'LR' (time flows left to right), 'TB', 'RL' or 'BT'.
    - ``max_nodes``: refuse (``ValueError``) to draw more nodes than this: Graphviz would take minutes.
    - ``param_copies``: in the ops view, draw a dashed copy of each shared parameter inside every
      time step that uses it (the textbook picture) instead of one edge from the parameter into
      every step (the literal graph, much harder to read).

    Example::

        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(2, 3, impl="reference")
        >>> with mg.viz.record():
        ...     out, h = rnn(mg.randn(4, 1, 2))
        ...     out.sum().backward()
        >>> g = mg.viz.draw_graph(out, params=rnn, view="cells")
        >>> g.render("rnn", format="svg")        # doctest: +SKIP
        'rnn.svg'
    """
    _check_args(view, rankdir, max_nodes)
    return _draw(root, params, view, show_values, show_grads, rankdir, max_nodes, param_copies)


def _draw(root: Any, params: Any, view: str, show_values: bool, show_grads: bool, rankdir: str, max_nodes: int,
          param_copies: bool) -> Drawing:
    # The drawing makes no reference cycles; pausing the cycle collector halves the time of a large
    # drawing (it would otherwise scan the whole autograd graph again and again).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model, used = build_model(root, params=params, view=view, show_values=show_values, show_grads=show_grads,
                                  max_nodes=max_nodes, param_copies=param_copies)
    finally:
        if was_enabled:
            gc.enable()
    scale = None
    if show_grads and model.step_grads:
        scale = C.GradientScale(model.step_grads.values(), pale=0.35 if used == "ops" else 0.0,
                                title="||dL/dh_t||" + (" (the number in each cell)" if used == "cells" else ""))
    lines, graph_attr = _emit(model, used, rankdir, scale)
    return Drawing(name="minigrad", graph_attr=graph_attr,
                   node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.06,0.03", "height": "0.3"},
                   edge_attr={"color": C.EDGE_COLOR, "arrowsize": "0.6"}, body=lines)


def to_dot(root: Tensor | list[Tensor], *, params: Any = None, view: str = "ops", show_values: bool = False,
           show_grads: bool = True, rankdir: str = "LR", max_nodes: int = 3000, param_copies: bool = True) -> str:
    """The DOT text of ``draw_graph(root, ...)`` (same arguments); needs no Graphviz binary.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> to_dot((x * x).sum(), params={"x": x}).startswith("digraph minigrad {")
        True
    """
    _check_args(view, rankdir, max_nodes)
    return _draw(root, params, view, show_values, show_grads, rankdir, max_nodes, param_copies).source
