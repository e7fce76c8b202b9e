"""What both views share: the walk's nodes, who consumes what, labels, and each step's h_t and c_t."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.tensor import Tensor
from minigrad.viz import colors as C
from minigrad.viz.marks import state_marks
from minigrad.viz.model import _Fused, _Model, _Node, _Options, _shape_str
from minigrad.viz.record import recording_for
from minigrad.viz.walk import is_fused, split_scope

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
        self._states: dict[tuple[str, ...], tuple[Any, Any]] | None = None  # step -> (h, c), made once
        self.fused = {id(fn): _Fused(fn, self.rec) for fn in fns if is_fused(fn)}
        # The same layer called twice in one graph (or two modules in the same scope): give the
        # later call its own clusters, "lstm/l0 (2)", instead of mixing both into one per step.
        used: dict[tuple[str, ...], int] = {}
        built = {id(fn): i for i, fn in enumerate(self.rec.forward_order)} if self.rec is not None else {}
        in_order = sorted(reversed(fns), key=lambda fn: built.get(id(fn), -1)) if built else list(reversed(fns))
        for fn in in_order:  # number the calls in forward order (the walk meets the last call first)
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
        # Your own step scopes around a fused library cell ("t3/rnn_cell"): the cell declares h_t there.
        self.fused_cell_steps = {split_scope(fn.scope)[0] for fn in fns if id(fn) in self.fused
                                 and self.fused[id(fn)].T == 1 and split_scope(fn.scope)[1] is not None}

    def keys_of(self, fns: list[Function]) -> set[str]:
        """The drawn nodes that show these graph nodes (each view draws them its own way)."""
        raise NotImplementedError

    def initial_state_keys(self, f: _Fused) -> dict[str, str]:
        """The nodes drawing a fused layer's initial state that no graph node made (``{"h": key, "c": key}``)."""
        raise NotImplementedError

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

        Rules, in order (never a guess):

        1. the outputs marked with ``mg.viz.mark_state`` (the library's layers and cells mark theirs);
        2. a fused library cell run inside the step declares its own h_t (the drawing reads it there);
        3. exactly one result of the step feeds another time step of the same layer (the recurrence);
        4. several do, and all but one are accumulators (a running loss: in the next step it reaches
           only its own next value, where h_t reaches several of the values carried on);
        5. the last steps of such a loop: the step is built exactly like a neighbouring step whose
           h_t is known, and one node alone holds h_t's place there (same op, depth and inputs).

        Anything else (two states of a hand-written cell) is ambiguous: nothing is coloured and the
        drawing warns (``self.unmarked``).
        """
        if self._states is None:
            self._states = self._all_states()
        return self._states.get(path, (None, None))

    def _all_states(self) -> dict[tuple[str, ...], tuple[Any, Any]]:
        states: dict[tuple[str, ...], tuple[Any, Any]] = {}
        open_paths = []
        for path in self.groups:
            h, c, known = self._state_by_rule(path)
            if known:
                states[path] = (h, c)
            else:
                open_paths.append(path)
        changed = True
        while changed and open_paths:  # rule 5, spreading from known steps to their neighbours
            changed = False
            for path in list(open_paths):
                h = self._by_analogy(path, states)
                if h is not None:
                    states[path] = (h, None)
                    open_paths.remove(path)
                    changed = True
        self.unmarked.update(open_paths)
        return states

    def _state_by_rule(self, path: tuple[str, ...]) -> tuple[Any, Any, bool]:
        """Rules 1-4: (h, c, whether the step is settled)."""
        h = c = None
        for fn in self.groups.get(path, ()):
            for k, role in state_marks(fn).items():
                if role == "h":
                    h = (fn, k)
                elif role == "c":
                    c = (fn, k)
        if h is not None:
            return h, c, True
        if path in self.fused_cell_steps:
            return None, None, True
        carried = self._carried(path)
        if len(carried) == 1:
            return carried[0], None, True
        state = self._without_accumulators(path, carried) if carried else []
        if len(state) == 1:
            return state[0], None, True
        return None, None, False

    def _by_analogy(self, path: tuple[str, ...], states: dict[tuple[str, ...], tuple[Any, Any]]) -> Any:
        """Rule 5: h_t of a step built exactly like a neighbouring step whose h_t (and no c_t) is known."""
        t = int(path[-1][1:])
        mine = _signatures(self.groups[path])
        for other in (path[:-1] + (f"t{t - 1}",), path[:-1] + (f"t{t + 1}",)):
            h, c = states.get(other, (None, None))
            if h is None or c is not None or other not in self.groups:
                continue
            theirs = _signatures(self.groups[other])
            if sorted(mine.values()) != sorted(theirs.values()) or h[0] not in theirs:
                continue
            place = theirs[h[0]]
            same = [fn for fn, sig in mine.items() if sig == place]
            if len(same) == 1 and len(getattr(same[0], "outputs", ())) <= 1:
                return same[0], h[1]
        return None

    def _carried(self, path: tuple[str, ...]) -> list[tuple[Function, int]]:
        """The results of step ``path`` that another time step of the same layer reads."""
        out = []
        for fn in self.groups.get(path, ()):
            for k in range(len(getattr(fn, "outputs", ())) or 1):
                steps = {self.group_of.get(id(user)) for user, _ in self.consumers.get((id(fn), k), [])}
                if any(g is not None and g != path and g[:-1] == path[:-1] for g in steps):
                    out.append((fn, k))
        return out

    def _without_accumulators(self, path: tuple[str, ...], carried: list[tuple[Function, int]]
                              ) -> list[tuple[Function, int]]:
        """The carried results that are state: each reaches at least two of the next step's carried results."""
        readers = {hc: [u for u, _ in self.consumers.get((id(hc[0]), hc[1]), [])
                        if self.group_of.get(id(u)) not in (None, path)] for hc in carried}
        next_steps = {self.group_of[id(u)] for users in readers.values() for u in users}
        if len(next_steps) != 1:
            return []
        (nxt,) = next_steps
        carried_on = {id(fn) for fn, _ in self._carried(nxt)}
        if not carried_on:
            return []  # the next step is the last: nothing carried on to tell them apart
        state = []
        for hc, users in readers.items():
            seen = {id(u) for u in users}
            todo = list(users)
            while todo:  # forward through the next step, an explicit stack
                fn = todo.pop()
                for k in range(len(getattr(fn, "outputs", ())) or 1):
                    for user, _ in self.consumers.get((id(fn), k), []):
                        if id(user) not in seen and self.group_of.get(id(user)) == nxt:
                            seen.add(id(user))
                            todo.append(user)
            if len(seen & carried_on) >= 2:
                state.append(hc)
        return state

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


def _signatures(fns: list[Function]) -> dict[Function, tuple[str, int, int]]:
    """Each node's place in its step from structure alone: (op, longest path from the step's start, inputs)."""
    members = {id(fn) for fn in fns}
    inside = {id(fn): [e[0] for e in fn.next_functions if type(e) is tuple and id(e[0]) in members] for fn in fns}
    depth: dict[int, int] = {}
    todo = list(fns)
    while todo:  # explicit stack: a node's depth once its inputs' depths are known
        fn = todo[-1]
        missing = [p for p in inside[id(fn)] if id(p) not in depth]
        if missing:
            todo.extend(missing)
            continue
        todo.pop()
        depth[id(fn)] = 1 + max((depth[id(p)] for p in inside[id(fn)]), default=0)
    return {fn: (fn.name, depth[id(fn)], len(inside[id(fn)])) for fn in fns}
