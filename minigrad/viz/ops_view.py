"""``view='ops'``: every primitive op; a fused layer expanded into its cell's equations, step by step."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.nn.cells import describe
from minigrad.viz import colors as C
from minigrad.viz.builder import _Builder
from minigrad.viz.marks import gate_marks
from minigrad.viz.model import _Fused, _Model, _Node, _shape_str, at_step, step_label
from minigrad.viz.walk import split_scope

# Ops that only move or view numbers (W.T, the gate blocks of weight.chunk(4), ...): hidden by
# default (show_plumbing=True draws them), their input wired straight to their consumers.
PLUMBING = frozenset({"permute", "transpose", "t", "reshape", "view", "split", "chunk", "squeeze", "unsqueeze",
                      "expand", "contiguous", "flatten", "unflatten", "unbind"})

# ---------------------------------------------------------------------------------------------
# view='ops': every primitive op; fused layers expanded into their equations
# ---------------------------------------------------------------------------------------------


class _OpsBuilder(_Builder):
    def build(self) -> _Model:
        m = self.model
        m.labels = self.opts.labels
        self.hidden = self._plumbing()
        for t in self.leaves:
            m.add(self.leaf_node(t))
        gates: dict[tuple[str, ...], list[tuple[int, str]]] = {}  # step path -> (gate position, node key)
        for fn in self.fns:
            if id(fn) in self.fused:
                self._expand_nodes(self.fused[id(fn)])
            elif id(fn) not in self.bypass and id(fn) not in self.hidden:
                path, step = split_scope(fn.scope)
                node = _Node(self.fkey(fn), "op", fn.name, self.op_lines(fn), path,
                             (path[:-1], step) if step is not None else None,
                             tooltip=f"{fn.name} at {fn.scope}" if fn.scope else fn.name)
                m.add(node)
                if step is not None:
                    m.step_clusters[(path[:-1], step)] = path
                    self._name_step_op(fn, node, step, path, gates)
        for path in self.groups:  # mark h_t / c_t of each step of primitive ops
            h, c = self.state_outputs(path)
            t = int(path[-1][1:])
            key = (path[:-1], t)
            for name, hc in (("h", h), ("c", c)):
                if hc is None or self.fkey(hc[0]) not in m.nodes:
                    continue
                node = m.nodes[self.fkey(hc[0])]
                node.mark = name
                node.title += f"  = {name}_{t}"
                g = self.grad_of(*hc) if self.opts.show_grads else None
                if g is not None:  # the op's gradient norm is ||dL/dh_t||: say so
                    node.lines = [x for x in node.lines if not x.startswith("||grad||")]
                    node.lines.append(f"||dL/d{name}_{t}|| {C.fmt(g)}")
                    if name == "h":
                        m.step_grads[key] = g
        # edges
        for fn in self.fns:
            if id(fn) in self.fused:
                self._expand_edges(self.fused[id(fn)])
                continue
            if id(fn) in self.bypass or id(fn) in self.hidden:
                continue
            dst = self.fkey(fn)
            drawn: set[str] = set()
            for i, e in enumerate(fn.next_functions):
                srcs = self.sources(e) if e is not None else self._data_input(fn, i)
                for src in srcs:
                    # an op reading one tensor twice (mul(d, d)) gets two arrows: two gradient paths
                    m.edge(src, dst, "param" if self._is_param_key(src) else "data", repeat=src in drawn)
                    drawn.add(src)
        self.add_outputs(self.sources)
        for path, found in gates.items():  # a library step's gates: one box, a row each, in the cell's order
            self._gate_box(path, [key for _, key in sorted(found)])
        return m

    def _gate_box(self, path: tuple[str, ...], keys: list[str]) -> None:
        """Draw the gate nodes ``keys`` of one step as the rows of one box (as a fused step's gates), so that
        every step shows them in the same order; their arrows start and end at their row."""
        m = self.model
        rows = [m.nodes[k] for k in keys]
        box = m.add(_Node(f"{keys[0]}_gates", "op", "", [], rows[0].cluster, rows[0].step_of,
                          tooltip="the gates of " + "/".join(path)))
        box.rows = [(k, n.title, n.lines) for k, n in zip(keys, rows)]
        for e in m.edges:
            if e.src in keys:
                e.attrs["tailport"] = f"{e.src}:e"
                e.src = box.key
            if e.dst in keys:
                e.attrs["headport"] = f"{e.dst}:w"
                e.dst = box.key
        m._edge_set = {(e.src, e.dst) for e in m.edges}
        for k in keys:
            del m.nodes[k]

    def _data_input(self, fn: Function, i: int) -> list[str]:
        """An input of an op inside a time step that needs no gradient (x_t, a target, h_0 = zeros): no
        graph node made it, so it is drawn from what the op recorded about it (its shape). A library
        step names it by what it meets: ``x_3`` (W_ih), ``h_0`` (W_hh) or ``c_0`` (the forget gate)."""
        node = self.model.nodes.get(self.fkey(fn))
        meta = fn.input_meta[i] if i < len(getattr(fn, "input_meta", ())) else None
        if node is None or node.step_of is None or meta is None or len(meta[0]) == 0:
            return []  # outside the steps, or a number (0.5 * x): not drawn
        t = node.step_of[1]
        title, key = "input", f"{node.key}_in{i}"
        where = re.sub(r"\W", "_", "__".join(node.cluster))
        others = [src for e in fn.next_functions if e is not None for src in self.sources(e)]
        weights = [self.model.nodes[k].title for k in others if k in self.model.nodes]
        if fn.name == "matmul" and any(w.startswith("weight_ih") for w in weights):
            label = step_label(self.opts.labels, t)
            title, key = f"x_{t}" + (f" = {label}" if label else ""), f"x{t}_{where}"
        elif fn.name == "matmul" and any(w.startswith("weight_hh") for w in weights):
            title, key = f"h_{t - 1}", f"h{t - 1}_{where}"
        elif fn.name == "mul" and any(w.startswith(f"f_{t}  forget gate") for w in weights):
            title, key = f"c_{t - 1}", f"c{t - 1}_{where}"
        if key not in self.model.nodes:
            self.model.add(_Node(key, "input", title, [_shape_str(meta[0])], node.cluster, node.step_of,
                                 tooltip=f"{title}: an input that needs no gradient"))
        return [key]

    def _plumbing(self) -> set[int]:
        """The shape-only ops to hide (none with ``show_plumbing=True``): one input, not a root."""
        if self.opts.show_plumbing:
            return set()
        roots = {id(fn) for fn, _ in ((t.grad_fn, 0) for t in self.roots) if fn is not None}
        return {id(fn) for fn in self.fns if fn.name in PLUMBING and id(fn) not in self.fused and id(fn) not in roots
                and sum(e is not None for e in fn.next_functions) == 1}

    def _name_step_op(self, fn: Function, node: _Node, t: int, path: tuple[str, ...],
                      gates: dict[tuple[str, ...], list[tuple[int, str]]]) -> None:
        """Titles that read like the equations: a library cell's gates (``f_3  forget gate``) and x_3."""
        marked = gate_marks(fn)
        if marked is not None:
            mode, gate = marked
            cell = describe(mode)
            node.title = at_step(cell.drawing.nodes[gate][0], t) if gate in cell.drawing.nodes else f"{gate}_{t}"
            gates.setdefault(path, []).append((cell.gates.index(gate), node.key))
            return
        leaves = [e for e in fn.next_functions if e is not None]
        if fn.name in ("index", "select", "getitem") and len(leaves) == 1 and type(leaves[0]) is not tuple \
                and not self.opts.leaf_is_param(leaves[0]):  # x[t] of the layer's input: x_t
            label = step_label(self.opts.labels, t)
            node.title = f"x_{t}" + (f" = {label}" if label else "")
            node.kind = "input"

    def initial_state_keys(self, f: _Fused) -> dict[str, str]:
        """The nodes drawing the initial state of a fused layer that made it itself: ``{"h": key, "c": key}``."""
        keys = {name: f"{self.fkey(f.fn)}_{name}0" for name in ("h", "c")}
        return {name: key for name, key in keys.items() if key in self.model.nodes}

    def keys_of(self, fns: list[Function]) -> set[str]:
        keys = set()
        for fn in fns:
            key = self.fkey(fn)
            keys |= ({k for k in self.model.nodes if k.startswith(key + "_")} if id(fn) in self.fused
                     else {key, key + "_gates"})  # (a library step's gate box is named after its first gate)
        return keys

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
        while id(parent) in self.hidden:  # shape-only plumbing: draw its input in its place
            inner = next(e for e in parent.next_functions if e is not None)
            if type(inner) is not tuple:
                return [self.lkey(inner)]
            parent, k = inner
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
                label = step_label(self.opts.labels, step)
                m.add(_Node(self._fk(f, t, "x"), "input", at_step("x_t", step) + (f" = {label}" if label else ""),
                            [f.shape("x")] + self.value_lines([vals.get("x_t")]), path, step_of,
                            tooltip=f"x_t of {where}"))
            for name, (title, formula) in drawing.nodes.items():
                title = at_step(title, step, f.reverse)
                lines = [at_step(formula, step, f.reverse), f.shape(name)]
                prefix, key = (drawing.values or {}).get(name, ("", None))
                if key is not None and vals.get(key) is not None:
                    lines += [prefix + line for line in self.value_lines([vals[key]])]
                box, port = self._at(f, t, name)
                if port is not None:  # a gate: a row of its column's box, so every step shows i, f, g, o in order
                    if box not in m.nodes:
                        m.add(_Node(box, "eq", "", [], path, step_of, tooltip=where))
                    m.nodes[box].rows.append((port, title, lines))
                    continue
                node = m.add(_Node(self._fk(f, t, name), "eq", title, lines, path, step_of, tooltip=where))
                if name == "h":
                    node.mark = "h"
                    g = f.grad_h(t) if self.opts.show_grads else None
                    if g is not None:
                        node.lines.append(f"{at_step('||dL/dh_t||', step)} {C.fmt(g)}")
                        if step_of is not None:
                            m.step_grads[step_of] = g
                        node.grad = g
                elif name == "c":
                    node.mark = "c"
                    gc = f.grad_c(t) if self.opts.show_grads else None
                    if gc is not None:  # the c path, which carries the LSTM's gradient back
                        node.lines.append(f"{at_step('||dL/dc_t||', step)} {C.fmt(gc)}")
        # initial states that come from nowhere (zeros by default): one node each in the layer
        for role, name in (("h0", "h"), ("c0", "c")):
            if role == "c0" and not f.cell.has_cell_state:
                continue
            if self._state_source(f, role) is None:
                v = self.values_for(f, f.order[0]).get(f"{name}_prev")
                start = f.T + 1 if f.reverse else 0  # h_0: the state before step 1 (h_{T+1} going backwards)
                m.add(_Node(f"{self.fkey(f.fn)}_{role}", "input", f"{name}_{start}",
                            [f.shape("h"), "initial state"] + self.value_lines([v]), layer,
                            tooltip=f"the initial state {name}_{start} of {f.fn.name}"))

    def _at(self, f: _Fused, t: int, name: str) -> tuple[str, str | None]:
        """Where equation ``name`` of step ``t`` is drawn: its own node, or (its column's box, its row's port)."""
        for k, column in enumerate(f.cell.drawing.columns):
            if name in column and len(column) > 1:
                return self._fk(f, t, f"col{k}"), name
        return self._fk(f, t, name), None

    def _link(self, src: tuple[str, str | None], dst: tuple[str, str | None], kind: str = "data") -> None:
        """An edge between two equations (or an input and an equation), from and to the right row of a gate box."""
        ports = {}
        if src[1] is not None:
            ports["tailport"] = f"{src[1]}:e"
        if dst[1] is not None:
            ports["headport"] = f"{dst[1]}:w"
        self.model.edge(src[0], dst[0], kind, repeat=bool(ports), **ports)

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
                self._link(self._at(f, t, a), self._at(f, t, b))
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
                    self._link((s, None), self._at(f, t, d))
            for name, srcs in prev.items():
                for s in srcs:
                    for d in takes[name]:
                        self._link((s, None), self._at(f, t, d))
            for w, srcs in weights.items():
                for s in srcs:
                    for d in takes[w]:
                        self._link((s, None), self._at(f, t, d), "param")
            prev = {name: [self._fk(f, t, name)] for name in prev}
