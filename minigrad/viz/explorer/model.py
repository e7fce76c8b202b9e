"""From a traced graph to what the page shows: drawing nodes and edges, and the frames to step through.

Frames: the forward pass node by node in build order, then the backward pass in the engine's
own order. In the cells view a frame is a cell (a layer at one time step: its value is ||h_t||,
its gradient ||dL/dh_t||); in the ops view it is one op (its output's value, the norm of the
gradient that reached it). A fused layer is one engine node for all its steps: it becomes one
cell per step in both views, visited in time order forward and in reverse time order backward.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.tensor import Tensor
from minigrad.viz.explorer.equations import cell_equation, mode_of_scope, op_equation
from minigrad.viz.explorer.record import BackwardTrace, ForwardRecord
from minigrad.viz.explorer.steps import (
    CellKey,
    StepState,
    cell_of,
    fused_cells,
    fused_states,
    identify_states,
    is_fused,
)


def shown(x: float | None) -> float | None:
    """A number as the page shows it: 6 significant digits (None stays None).

    Example::

        >>> shown(3.14159265), shown(None)
        (3.14159, None)
    """
    if x is None or not math.isfinite(x):
        return None if x is None else float(x)
    return float(f"{x:.6g}")


def summary(arrays: Any) -> float | None:
    """One number for a node's output(s) or gradient(s): the element itself if there is one, else the L2 norm.

    Example::

        >>> summary([np.array(-2.0)]), summary([np.array([3.0, 4.0])])
        (-2.0, 5.0)
    """
    arrays = [np.asarray(a) for a in arrays if a is not None]
    if not arrays:
        return None
    if len(arrays) == 1 and arrays[0].size == 1:
        return float(arrays[0].reshape(()))
    return math.sqrt(sum(float(np.vdot(a, a).real) for a in arrays if a.dtype.kind in "fc"))


def norm(arrays: Any) -> float:
    """L2 norm over all given arrays (None counts as zero).

    Example::

        >>> norm([np.array([3.0]), None, np.array([4.0])])
        5.0
    """
    return math.sqrt(sum(float(np.vdot(a, a).real) for a in arrays if a is not None))


@dataclass
class DrawNode:
    id: str
    label: str
    scope: str
    kind: str                           # 'op', 'cell', 'param', 'state'
    cell: CellKey | None = None
    fill: str | None = None             # set when the gradient colouring applies
    grad: float | None = None           # ||dL/dh_t|| (cells) or the op's gradient norm
    value: float | None = None


@dataclass
class Frame:
    phase: str                          # 'forward' or 'backward'
    node: str                           # DrawNode id
    edge: str | None                    # the edge being traversed ("src->dst" ids), if any
    value: float | None
    grad_norm: float | None
    equation: str
    fn: Function | None = field(default=None, repr=False)   # the graph node (None for a fused layer's cell)
    cell: CellKey | None = None
    c_value: float | None = None        # LSTM cells: ||c_t||
    c_grad_norm: float | None = None    # LSTM cells, backward: ||dL/dc_t||
    into: list[str] = field(default_factory=list)  # backward: the weights this node sends gradient into
    quantity: str = ""                  # what value/grad_norm are norms of: "h_3", "c_3"; "" for an op's output


@dataclass
class Model:
    view: str
    nodes: dict[str, DrawNode]
    edges: list[tuple[str, str, str]]   # (src, dst, style) in forward direction
    frames: list[Frame]
    states: dict[CellKey, StepState]
    steps: int                          # T
    notes: list[str]
    cell_ids: dict[CellKey, str] = field(default_factory=dict)  # cell -> its node (cells) or cluster (ops) id


class Graph:
    """The traced graph: every node, its build order, its values, its cells."""

    def __init__(self, trace: BackwardTrace, forward: ForwardRecord | None) -> None:
        self.trace = trace
        self.forward = forward
        self.nodes = list(trace.order)
        self.build_order = self._build_order()
        self.cells: dict[CellKey, list[Function]] = {}
        for fn in self.build_order:
            key = cell_of(fn)
            if key is not None and not is_fused(fn) or key is not None and fn.num_steps == 1:
                self.cells.setdefault(key, []).append(fn)
        self.fused = [fn for fn in self.build_order if is_fused(fn) and cell_of(fn) is None]

    def values(self, fn: Function) -> tuple[np.ndarray, ...] | None:
        """A node's output arrays: recorded (``record_forward`` or ``mg.viz.record``), or still held by the graph."""
        if self.forward is not None and fn in self.forward.outputs:
            return self.forward.outputs[fn]
        from minigrad.viz.record import recording_for

        rec = recording_for([fn])
        if rec is not None and rec.outputs(fn):
            return tuple(rec.outputs(fn))
        outs = [ref() for ref in getattr(fn, "outputs", ())]
        return tuple(t._array for t in outs) if outs and all(t is not None for t in outs) else None

    def _build_order(self) -> list[Function]:
        """The order the graph was built: recorded, or else a topological order that runs time steps in order."""
        members = set(self.nodes)
        if self.forward is not None:
            order = [fn for fn in self.forward.order if fn in members]
            if len(order) == len(members):
                return order
        waiting = {fn: sum(1 for e in fn.next_functions if type(e) is tuple and e[0] in members) for fn in self.nodes}
        consumers: dict[Function, list[Function]] = {fn: [] for fn in self.nodes}
        for fn in self.nodes:
            for e in fn.next_functions:
                if type(e) is tuple and e[0] in members:
                    consumers[e[0]].append(fn)
        # Producers come after consumers in the engine's order: its reverse is a valid build order,
        # used as the tie-breaker behind the time step.
        rank = {fn: i for i, fn in enumerate(reversed(self.nodes))}

        def key(fn: Function) -> tuple:
            cell = cell_of(fn)
            return (-1 if cell is None else cell[1], rank[fn])

        heap = [(key(fn), rank[fn], fn) for fn in self.nodes if waiting[fn] == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            _, _, fn = heapq.heappop(heap)
            order.append(fn)
            for c in consumers[fn]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(heap, (key(c), rank[c], c))
        return order


# Ops that only move numbers around; in the cells view they are not drawn, their inputs are linked through.
PLUMBING = {"stack", "cat", "index", "getitem", "transpose", "permute", "reshape", "view", "squeeze", "unsqueeze",
            "split", "chunk", "contiguous", "expand", "clone", "gatherrows", "scatterrows", "narrow", "select"}
FAN_IN = 8  # at most this many steps of one layer drawn into one op (the loss reads them all)


class _Ids:
    """Short, safe drawing ids: ``c3`` for a cell, ``n12`` for an op, ``p0`` for a parameter, ``s1`` for h_0."""

    def __init__(self) -> None:
        self.cells: dict[CellKey, str] = {}

    def cell(self, key: CellKey) -> str:
        if key not in self.cells:
            self.cells[key] = f"c{len(self.cells)}"
        return self.cells[key]


def _cell_label(key: CellKey, st: StepState | None) -> str:
    """``h_3`` (its layer is written on the row's h_0), or ``t = 3`` where h_t is not identified."""
    return f"h_{key[1] + 1}" if st is not None and st.h is not None else f"t = {key[1] + 1}"


def _mode_of_cell(key: CellKey, fns: list[Function]) -> str | None:
    for fn in fns:
        if is_fused(fn):
            return fn.mode
    scope = fns[0].scope if fns else ""
    return mode_of_scope(key[0], scope)


def build_model(graph: Graph, view: str, names: dict[int, str], window: tuple[int, int] | None,
                truncated: bool | None = None) -> Model:
    """Nodes, edges and frames for ``view`` ('ops' or 'cells'), keeping only steps t in ``window`` (1-based)."""
    trace = graph.trace
    states: dict[CellKey, StepState] = identify_states(graph.cells, trace.out_grads, graph.values)
    for fn in graph.fused:
        states.update(fused_states(fn, trace.out_grads.get(fn)))
    T = max((k[1] + 1 for k in states), default=0)
    notes = sorted({st.unknown for st in states.values() if st.unknown})
    if T == 0:
        notes.append("No time steps found: no recurrent layer, and no scope named t<k>. In your own loop, open "
                     "one mg.scope(f\"t{t}\") per step, t = 1..T, to see the steps (h_0 is the initial state).")
    if any(graph.values(fn) is None for fns in graph.cells.values() for fn in fns if not is_fused(fn)):
        # The engine keeps no forward values (training pays nothing for drawings); they exist only if recorded.
        notes.append("Some forward values of the time steps were not recorded, so their nodes show none: run the "
                     "forward pass inside `with mg.viz.record():` to see every value.")
    d = _Drawing(graph, view, window, states)
    d.add_nodes()
    if view == "ops":
        d.add_leaves(names)
    d.add_edges()
    _limit_fan_in(d.nodes, d.edges)
    _add_initial_states(d.nodes, d.edges, states, d.ids, graph, truncated)
    frames = _frames(graph, view, d.nodes, d.where, d.fused_of, states, d.in_window, d.edges, d.ids)
    return Model(view, d.nodes, [(s, t, st) for (s, t), st in d.edges.items()], frames, states, T, notes, d.ids.cells)


class _Drawing:
    """The drawing being built: its nodes, which graph node each stands for, and its edges."""

    def __init__(self, graph: Graph, view: str, window: tuple[int, int] | None,
                 states: dict[CellKey, StepState]) -> None:
        self.graph, self.trace, self.view, self.window, self.states = graph, graph.trace, view, window, states
        self.ids = _Ids()
        self.nodes: dict[str, DrawNode] = {}
        self.where: dict[Function, str] = {}      # graph node -> drawing node (cells view: its cell)
        self.hidden: dict[Function, list[str]] = {}  # cells view: plumbing between cells, drawn as its sources
        self.leaf_ids: dict[int, str] = {}
        self.edges: dict[tuple[str, str], str] = {}
        self.fused_of: dict[Function, list[CellKey]] = {fn: fused_cells(fn) for fn in graph.fused}

    def in_window(self, key: CellKey | None) -> bool:
        return key is None or self.window is None or self.window[0] <= key[1] + 1 <= self.window[1]

    def add_cell(self, key: CellKey) -> str:
        cid = self.ids.cell(key)
        if cid not in self.nodes:
            st = self.states.get(key)
            known = st is not None and st.h is not None
            self.nodes[cid] = DrawNode(cid, _cell_label(key, st), "/".join(key[0] + (f"t{key[1] + 1}",)), "cell", key,
                                       grad=norm([st.h_grad]) if known else None,
                                       value=summary([st.h]) if known else None)
        return cid

    def sources(self, edge: tuple[Function, int], consumer: Function, slot: int) -> list[str]:
        """The drawing nodes that stand for the producer of ``edge`` (read by input ``slot`` of ``consumer``)."""
        parent, k = edge
        if parent in self.fused_of:  # output 0 holds every step (the steps the consumer reads); h_n, c_n the last
            keys = [c for c in self.fused_of[parent] if self.in_window(c)]
            if k == 0:
                sent = self.trace.in_grads.get(consumer, ())
                g = sent[slot] if slot < len(sent) else None
                g = None if g is None else parent.time_major(g)  # row t: what the consumer read of step t
                read = [c for c in keys if g is not None and np.any(g[c[1]] != 0)]
                return [self.ids.cell(c) for c in (read or keys)]
            return [self.ids.cell(c) for c in keys[-1:]]
        if parent in self.where:
            return [self.where[parent]]
        return self.hidden.get(parent, [])

    def add_nodes(self) -> None:
        """One node per cell (cells view, and a fused layer's steps in both views), per op otherwise."""
        cells_view = self.view == "cells"
        for i, fn in enumerate(self.graph.build_order):
            key = cell_of(fn)
            if fn in self.fused_of:
                for k in self.fused_of[fn]:
                    if self.in_window(k):
                        self.add_cell(k)
                continue
            if not self.in_window(key):
                continue
            if cells_view and key is not None:
                self.where[fn] = self.add_cell(key)
                continue
            parents = [e for e in fn.next_functions if type(e) is tuple]
            if cells_view and (not parents and fn.name in PLUMBING or parents and all(
                    p[0] in self.hidden and not self.hidden[p[0]] for p in parents)):
                self.hidden[fn] = []  # only reshapes a weight (the split into gate blocks): not drawn
                continue
            if cells_view and fn.name in PLUMBING:
                self.hidden[fn] = list(dict.fromkeys(s for slot, e in enumerate(fn.next_functions)
                                                     if type(e) is tuple for s in self.sources(e, fn, slot)))
                continue
            nid = f"n{i}"
            self.nodes[nid] = DrawNode(nid, fn.name + _state_name(fn, key, self.states), fn.scope, "op", key,
                                       grad=norm(self.trace.out_grads.get(fn, ())),
                                       value=summary(self.graph.values(fn) or ()))
            self.where[fn] = nid
            if key is not None:
                self.ids.cell(key)

    def add_leaves(self, names: dict[int, str]) -> None:
        """Leaves that get gradient (parameters by name, inputs that require grad), for the ops view."""
        for fn in self.graph.build_order:
            if fn not in self.where:
                continue
            for e in fn.next_functions:
                if isinstance(e, Tensor) and id(e) not in self.leaf_ids:
                    lid = f"p{len(self.leaf_ids)}"
                    self.leaf_ids[id(e)] = lid
                    label = names.get(id(e), f"leaf {tuple(e.shape)}")
                    self.nodes[lid] = DrawNode(lid, label, "", "param", value=summary([e._array]))

    def connect(self, srcs: list[str], dst: str | None) -> None:
        """Edges from ``srcs`` to ``dst``; between cells, only from the same time step when there is one."""
        if dst is None:
            return
        nodes, d_node = self.nodes, self.nodes[dst]
        if d_node.kind == "cell":
            same = [s for s in srcs if nodes[s].kind == "cell" and nodes[s].cell[1] == d_node.cell[1]]
            srcs = same or srcs
        for src in srcs:
            if src != dst and (src, dst) not in self.edges:
                both = nodes[src].kind == "cell" and d_node.kind == "cell" and nodes[src].cell[0] == d_node.cell[0]
                self.edges[(src, dst)] = "state" if both else "param" if nodes[src].kind == "param" else "data"

    def add_edges(self) -> None:
        for fn in self.graph.build_order:
            dsts = [self.ids.cell(k) for k in self.fused_of.get(fn, []) if self.in_window(k)] or [self.where.get(fn)]
            for slot, e in enumerate(fn.next_functions):
                if type(e) is tuple:
                    srcs = self.sources(e, fn, slot)
                elif isinstance(e, Tensor) and id(e) in self.leaf_ids:
                    srcs = [self.leaf_ids[id(e)]]
                else:
                    continue
                for d in dsts:
                    self.connect(srcs, d)
            if fn in self.fused_of:
                for a, b in zip(dsts, dsts[1:]):  # the recurrence inside a fused layer
                    self.connect([a], b)


def _state_name(fn: Function, key: CellKey | None, states: dict[CellKey, StepState]) -> str:
    """`` = h_3`` for the op that made h_3 (ops view), `` = c_3`` for c_3, else ""."""
    st = states.get(key) if key is not None else None
    if st is None or st.producer is None:
        return ""
    h, c = st.producer
    if h is not None and h[0] is fn:
        return f" = h_{key[1] + 1}"
    if c is not None and c[0] is fn:
        return f" = c_{key[1] + 1}"
    return ""


def _quantity(fn: Function, states: dict[CellKey, StepState]) -> str:
    """``h_3`` or ``c_3`` when ``fn``'s output is that state, else "" (the op's output is nothing more)."""
    return _state_name(fn, cell_of(fn), states).removeprefix(" = ")


def _limit_fan_in(nodes: dict[str, DrawNode], edges: dict[tuple[str, str], str]) -> None:
    """An op reading every step of a layer (the loss) gets edges from the last ``FAN_IN`` steps only."""
    by_dst: dict[tuple[str, tuple[str, ...]], list[tuple[int, str]]] = {}
    for (s, d) in edges:
        if nodes[s].kind == "cell" and nodes[d].kind != "cell":
            by_dst.setdefault((d, nodes[s].cell[0]), []).append((nodes[s].cell[1], s))
    for (d, _), srcs in by_dst.items():
        for _, s in sorted(srcs)[:-FAN_IN]:
            del edges[(s, d)]


def _add_initial_states(nodes: dict[str, DrawNode], edges: dict, states: dict[CellKey, StepState], ids: _Ids,
                        graph: Graph, truncated: bool | None) -> None:
    """An h_0 node in front of each layer's first drawn step, marked as a cut under truncated BPTT."""
    drawn: dict[tuple[str, ...], list[int]] = {}
    for n in list(nodes.values()):
        if n.cell is not None and n.kind in ("cell", "op"):
            drawn.setdefault(n.cell[0], []).append(n.cell[1])
    carried = _carried_states(graph) if truncated is None else {}
    for n, (path, steps) in enumerate(drawn.items()):
        reverse = bool(path) and path[-1].endswith("_reverse")
        first = max(steps) if reverse else min(steps)
        whole = first == (max(k[1] for k in states if k[0] == path) if reverse else 0) if states else True
        cut = bool(truncated) or carried.get(path, False)
        sid = f"s{n}"
        layer = "/".join(path) + "\n" if path else ""
        if cut and whole:
            label = f"{layer}h_0 from the previous\nwindow (detached)"
        elif whole:
            label = f"{layer}h_0 (initial)"
        else:
            label = f"{layer}h_{first + (2 if reverse else 0)} (before the window)"
        target = ids.cell((path, first))
        if target not in nodes:  # ops view: the step's first op
            target = next((n.id for n in nodes.values() if n.cell == (path, first) and n.kind == "op"), None)
        if target is None:
            continue
        nodes[sid] = DrawNode(sid, label, "/".join(path), "cut" if cut and whole else "state")
        edges[(sid, target)] = "cut" if cut and whole else "state"


def _carried_states(graph: Graph) -> dict[tuple[str, ...], bool]:
    """Fused layers whose h_0 is a non-zero constant: a state carried in from an earlier window."""
    carried = {}
    for fn in graph.fused:
        first = fused_cells(fn)[0]
        h_prev = fn.step_values(first[1])["h_prev"]
        carried[first[0]] = fn.next_functions[1] is None and bool(np.any(h_prev != 0))
    return carried


def _frames(graph: Graph, view: str, nodes: dict[str, DrawNode], where: dict[Function, str],
            fused_of: dict[Function, list[CellKey]], states: dict[CellKey, StepState], in_window: Any,
            edges: dict[tuple[str, str], str], ids: _Ids) -> list[Frame]:
    trace = graph.trace
    cells_of: dict[CellKey, list[Function]] = graph.cells
    frames: list[Frame] = []
    seen: set[str] = set()

    def eq(key: CellKey | None, fn: Function | None, phase: str) -> str:
        rule = op_equation(fn.name, phase) if fn is not None and view == "ops" else ""
        if key is None:
            return rule
        block = cell_equation(_mode_of_cell(key, cells_of.get(key, [fn] if fn else [])), key[1] + 1, phase)
        return f"{rule}\n\nstep t = {key[1] + 1}:\n{block}" if rule else f"step t = {key[1] + 1}:\n{block}"

    def cell_frame(phase: str, key: CellKey, fused: Function | None) -> Frame:
        st = states.get(key)
        known = st is not None and st.h is not None
        value = shown(summary([st.h])) if known else None
        grad = shown(norm([st.h_grad])) if known and phase == "backward" else None
        if fused is not None:
            text = f"step t = {key[1] + 1}:\n" + cell_equation(fused.mode, key[1] + 1, phase)
        else:
            text = eq(key, None, phase)
        has_c = known and st.c is not None
        c_grad = shown(norm([st.c_grad])) if has_c and st.c_grad is not None and phase == "backward" else None
        return Frame(phase, ids.cell(key), None, value, grad, text, fused, key,
                     shown(summary([st.c])) if has_c else None, c_grad, quantity=f"h_{key[1] + 1}" if known else "")

    for fn in graph.build_order:  # forward: build order
        if fn in fused_of:
            frames.extend(cell_frame("forward", key, fn) for key in fused_of[fn] if in_window(key))
            continue
        nid = where.get(fn)
        if nid is None:
            continue
        if nodes[nid].kind == "cell":
            if nid not in seen:
                seen.add(nid)
                frames.append(cell_frame("forward", nodes[nid].cell, None))
            continue
        frames.append(Frame("forward", nid, None, shown(summary(graph.values(fn) or ())), None,
                            eq(cell_of(fn), fn, "forward"), fn, cell_of(fn), quantity=_quantity(fn, states)))
    back_start = len(frames)
    seen = set()
    for fn in trace.order:  # backward: the engine's order; a cell lights up when the engine first reaches it
        if fn in fused_of:
            frames.extend(cell_frame("backward", key, fn) for key in reversed(fused_of[fn]) if in_window(key))
            continue
        nid = where.get(fn)
        if nid is None:
            continue
        if nodes[nid].kind == "cell":
            if nid not in seen:
                seen.add(nid)
                frames.append(cell_frame("backward", nodes[nid].cell, None))
            continue
        frames.append(Frame("backward", nid, None, shown(summary(graph.values(fn) or ())),
                            shown(norm(trace.out_grads.get(fn, ()))), eq(cell_of(fn), fn, "backward"), fn, cell_of(fn),
                            quantity=_quantity(fn, states)))
    _traversed_edges(frames, back_start, edges)
    for f in frames[back_start:]:  # gradient arriving at a drawn weight: its accumulation is visible
        f.into = [s for (s, d) in edges if d == f.node and nodes[s].kind == "param"] if view == "ops" else []
    return frames


def _traversed_edges(frames: list[Frame], back_start: int, edges: dict[tuple[str, str], str]) -> None:
    """Forward: the edge from the input built last. Backward: the edge from the consumer whose gradient came last."""
    inputs: dict[str, list[str]] = {}
    consumers: dict[str, list[str]] = {}
    for (s, d) in edges:
        inputs.setdefault(d, []).append(s)
        consumers.setdefault(s, []).append(d)
    when: dict[str, int] = {}
    for i in range(back_start):
        f = frames[i]
        done = [s for s in inputs.get(f.node, []) if s in when]
        if done:
            f.edge = edge_id(max(done, key=when.__getitem__), f.node)
        when.setdefault(f.node, i)
    when = {}
    for i in range(back_start, len(frames)):
        f = frames[i]
        done = [d for d in consumers.get(f.node, []) if d in when]
        if done:
            f.edge = edge_id(f.node, max(done, key=when.__getitem__))
        when.setdefault(f.node, i)


def edge_id(src: str, dst: str) -> str:
    """The id of the drawn edge from ``src`` to ``dst``.

    Example::

        >>> edge_id("c1", "c2")
        'e-c1-c2'
    """
    return f"e-{src}-{dst}"
