"""``view='cells'``: one node per layer and time step, carrying h_t (and c_t)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from minigrad.autograd import Function
from minigrad.tensor import Tensor
from minigrad.viz import colors as C
from minigrad.viz.builder import _Builder
from minigrad.viz.layout import _cluster_id
from minigrad.viz.model import _TOP_STEPS, _Fused, _Model, _Node, _shape_str, step_label
from minigrad.viz.walk import split_scope

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
                cells[ck] = {"layer": layer, "t": t, "h": None, "c": None, "grad": None, "grad_c": None,
                             "step": has_step}
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
                    info["grad_c"] = f.grad_c(t) if self.opts.show_grads and f.mode == "lstm" else None
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
                if c is not None and self.opts.show_grads:
                    info["grad_c"] = self.grad_of(*c)
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
            t = info["t"]
            lines = []
            label = step_label(self.opts.labels, t)
            if label:
                lines.append(f"x_{t} = {label}")
            for name in ("h", "c"):
                if info[name] is None:
                    continue
                _, arr, shape = info[name]
                if info["layer"] in m.cluster_notes:
                    if self.opts.show_values and arr is not None:
                        lines.append(f"{name}_{t} {C.describe(arr)}")
                else:
                    lines.append(f"{name}_{t} {shape}")
                    lines += self.value_lines([arr])
            where = "/".join(info["layer"] + (f"t{t}",))
            for name, grad in (("h", info["grad"]), ("c", info["grad_c"])):
                if grad is not None:  # the number the colour shows (h), and the c path that carries it (LSTM)
                    lines.append(f"||dL/d{name}_{t}|| {C.fmt(grad)}")
                    where += f": ||dL/d{name}_{t}|| = {C.fmt(grad)}"
            title = f"h_{t}" + (f", c_{t}" if info["c"] is not None else "") if info["h"] is not None else f"t = {t}"
            node = m.add(_Node(ck, "cell", title, lines, info["layer"], (info["layer"], t), tooltip=where))
            node.grad = info["grad"]
            if info["grad"] is not None:
                m.step_grads[(info["layer"], t)] = info["grad"]
        self._initial_states()
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

    def _initial_states(self) -> None:
        """h_0 (and c_0) of a fused layer that made them itself (zeros): an input node before its first cell."""
        for fn in self.fns:
            f = self.fused.get(id(fn))
            if f is None or f.T == 1 and split_scope(fn.scope)[1] is not None:
                continue  # a cell in your own step scope: its state comes from your previous step
            names = [name for role, name in (("h0", "h"), ("c0", "c"))
                     if (role == "h0" or f.cell.has_cell_state) and f.edge(role) is None]
            if not names:
                continue
            first = self.fused_cells[id(fn)][f.order[0]]
            start = f.T + 1 if f.reverse else 0  # h_0: the state before step 1 (h_{T+1} going backwards)
            title = ", ".join(f"{name}_{start}" for name in names)
            h_prev = f.values(f.order[0]).get("h_prev")
            what = "initial state" if h_prev is None else "zeros" if not h_prev.any() else "given, no gradient"
            node = self.model.add(_Node(f"{first}_init", "input", title, [f.shape("h"), what],
                                        self.model.nodes[first].cluster,
                                        tooltip=f"the initial state {title} of {f.fn.name}"))
            self.model.edge(node.key, first)

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

    def initial_state_keys(self, f: _Fused) -> dict[str, str]:
        """The nodes drawing the initial state of a fused layer that made it itself: ``{"h": key, "c": key}``."""
        key = f"{self.fused_cells[id(f.fn)][f.order[0]]}_init"
        return {name: key for name in ("h", "c")} if key in self.model.nodes else {}

    def keys_of(self, fns: list[Function]) -> set[str]:
        keys = set()
        for fn in fns:
            if id(fn) in self.fused_cells:
                cells = self.fused_cells[id(fn)]
                keys |= set(cells.values()) | {f"{ck}_init" for ck in cells.values()}
            elif id(fn) not in self.bypass and id(fn) not in self.folded:
                keys.add(self.node_of(fn))
        return keys

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
