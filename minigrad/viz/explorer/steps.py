"""Where the time steps are: scopes, fused layers, and which tensor is h_t (and c_t).

A *cell* is one layer path at one time step: ``("lstm", "l0")`` at step index ``t`` (from 0). Scope
components count time as the equations do, t = 1..T with h_0 the initial state (``"t1"`` is the
first step, index 0); everything the explorer shows counts t = 1..T.

The hidden state is identified only where that is certain (``identify_states``); elsewhere the
explorer says that it cannot tell, and colours nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.viz import split_scope

_BUILTIN_LAYER = re.compile(r"l\d+(_reverse)?")
_BUILTIN_CELLS = ("rnn_cell", "lstm_cell", "gru_cell")

CellKey = tuple[tuple[str, ...], int]  # (layer path without the step, step index from 0)


def is_fused(fn: Function) -> bool:
    """A node that runs a whole recurrent layer and offers its steps (``num_steps``, ``step_values``)."""
    # TODO(merge): read the declared step interface of the recurrent redesign instead of duck typing.
    return hasattr(fn, "step_values") and hasattr(fn, "num_steps")


def cell_of(fn: Function) -> CellKey | None:
    """The cell a node belongs to by its scope, or None outside every time step.

    Example::

        >>> class F: scope = "lstm/l0/t3"
        >>> cell_of(F())
        (('lstm', 'l0'), 2)
    """
    path, t = split_scope(fn.scope)
    if t is None:
        return None
    return path[:-1], _index(t, fn.scope)


def fused_cells(fn: Function) -> list[CellKey]:
    """The cells of a fused layer node, in the order its forward pass visits them."""
    steps = range(fn.num_steps - 1, -1, -1) if fn.reverse else range(fn.num_steps)
    return [cell_of_scope(fn.step_scope(t)) for t in steps]


def cell_of_scope(scope: str) -> CellKey:
    path, t = split_scope(scope)
    return (path[:-1], _index(int(t or 1), scope))


def _index(t: int, scope: str) -> int:
    """The step index (from 0) of the scope component ``t<t>``; time counts t = 1..T, so ``t0`` is refused."""
    if t < 1:
        raise ValueError(f"explore: the time-step scope {scope!r} counts from 0, but time steps count t = 1..T "
                         "(h_0 is the initial state): open mg.scope(f't{t}') for t in range(1, T + 1)")
    return t - 1


@dataclass
class StepState:
    """What is known about the state a cell produced: h_t (and c_t), their values and gradients."""

    h: np.ndarray | None = None
    h_grad: np.ndarray | None = None
    c: np.ndarray | None = None
    c_grad: np.ndarray | None = None
    how: str = ""       # how it was identified ("declared by the fused layer", ...)
    unknown: str = ""   # why it could not be identified (then h is None)
    producer: Any = field(default=None, repr=False)  # (Function, output index) of h_t, when a graph node


def fused_states(fn: Function, out_grads: list[np.ndarray | None] | None) -> dict[CellKey, StepState]:
    """The per-step h_t / c_t of a fused layer: values and, after the traced backward, dL/dh_t, dL/dc_t."""
    # TODO(merge): switch to the declared step interface (steps, h_t/c_t) of the recurrent redesign.
    states: dict[CellKey, StepState] = {}
    dc = fused_cell_grads(fn, out_grads) if out_grads is not None else {}
    for key in fused_cells(fn):
        t = key[1]
        v = fn.step_values(t)
        dh = fn.step_grad_h(t) if out_grads is not None else None
        states[key] = StepState(h=v["h"], h_grad=dh, c=v.get("c"), c_grad=dc.get(t), how="declared by the fused layer")
    return states


def fused_cell_grads(fn: Function, out_grads: list[np.ndarray | None]) -> dict[int, np.ndarray]:
    """dL/dc_t of a fused LSTM layer (empty for other modes); see ``contributions.fused_pieces``."""
    from minigrad.viz.explorer.contributions import fused_pieces

    return fused_pieces(fn, out_grads).dc


def _producers_crossing(cells: dict[CellKey, list[Function]]) -> dict[CellKey, set[tuple[Function, int]]]:
    """For each cell, the outputs of its nodes that a node of another step of the same path reads."""
    where: dict[Function, CellKey] = {fn: key for key, fns in cells.items() for fn in fns}
    crossing: dict[CellKey, set[tuple[Function, int]]] = {key: set() for key in cells}
    for key, fns in cells.items():
        for fn in fns:
            for edge in fn.next_functions:
                if type(edge) is not tuple:
                    continue
                src = where.get(edge[0])
                if src is not None and src != key and src[0] == key[0]:
                    crossing[src].add(edge)
    return crossing


def _within_step_reaches(start: Function, goal: Function, members: set[Function]) -> bool:
    """Whether ``goal`` is an input (directly or not) of ``start`` inside one step (explicit stack)."""
    stack, seen = [start], {start}
    while stack:
        fn = stack.pop()
        for edge in fn.next_functions:
            if type(edge) is tuple and edge[0] in members and edge[0] not in seen:
                if edge[0] is goal:
                    return True
                seen.add(edge[0])
                stack.append(edge[0])
    return False


def _is_builtin_lstm(fns: list[Function], key: CellKey) -> bool:
    """Nodes made by the library's own LSTM step: a reference LSTM layer, or an LSTMCell in a user loop."""
    path = key[0]
    if len(path) >= 2 and path[-2] == "lstm" and _BUILTIN_LAYER.fullmatch(path[-1]):
        return True
    return all("lstm_cell" in fn.scope.split("/") for fn in fns)


def identify_states(cells: dict[CellKey, list[Function]], out_grads: dict[Function, list], values: Any
                    ) -> dict[CellKey, StepState]:
    """h_t (and c_t) of every cell built from graph nodes, only where certain. ``cells`` lists nodes in build order.

    Rules, in order:

    1. a library cell run fused inside the step (one fused node): its outputs h_t, c_t are declared;
    2. exactly one tensor of the step is read by the next step: it is h_t;
    3. two, made by the library's own LSTM step: h_t is the one computed from the other (c_t);
    4. several, of which all but one are accumulators (a running loss: in the next step it feeds
       only its own next value, where h_t feeds all of them): h_t is the one left;
    5. the last step (nothing reads it), and the one before it when rule 4 needs the next step's
       carried tensors: the node in the same place as h's in the neighbouring step, when both steps
       are built the same way.

    Anything else (e.g. two states of a hand-written cell) is ambiguous: no guess.
    """
    # TODO(merge): read the tags of the reference path and mg.viz.mark_state(h, c) of hand loops.
    crossing = _producers_crossing(cells)
    states: dict[CellKey, StepState] = {}
    pending: dict[CellKey, str] = {}
    for key, fns in cells.items():
        fused = [fn for fn in fns if is_fused(fn)]
        found = crossing[key]
        h = c = None
        how = unknown = ""
        if len(fused) == 1 and fused[0].num_steps == 1:
            h, c = (fused[0], 1), ((fused[0], 2) if fused[0].mode == "lstm" else None)
            how = "declared by the fused cell"
        elif len(found) == 1:
            (h,) = found
            how = "the one tensor the next step reads"
        elif len(found) == 2 and _is_builtin_lstm(fns, key):
            a, b = sorted(found, key=lambda e: fns.index(e[0]) if e[0] in fns else 0)
            members = set(fns)
            if _within_step_reaches(a[0], b[0], members):
                h, c = a, b
            elif _within_step_reaches(b[0], a[0], members):
                h, c = b, a
            how = "the LSTM step's h_t (computed from c_t)"
        elif found:
            names = ", ".join(sorted(f"{fn.name}" for fn, _ in found))
            ambiguous = (f"{len(found)} tensors go from this step to the next ({names}): cannot tell which is h_t. "
                         "Compute the loss outside the time-step scopes, or use a library layer or cell.")
            real = _without_accumulators(key, found, cells, crossing)
            if real is not None and len(real) == 1:
                (h,) = real
                how = "the one tensor carried to the next step that is not an accumulator (a running loss)"
            elif real is None:
                pending[key] = ambiguous  # the step before the last: maybe by analogy (rule 5)
            else:
                unknown = ambiguous
        states[key] = StepState(how=how, unknown=unknown)
        if h is not None:
            states[key].producer = (h, c)
    _last_steps_by_analogy(cells, states)
    for key, st in states.items():
        if st.producer is None:
            if not st.unknown:
                st.unknown = pending.get(key, "no tensor of this step is read by another step: cannot tell which "
                                              "is h_t")
            continue
        (h, c) = st.producer
        st.h, st.h_grad = _value(values, h), _grad(out_grads, h)
        if c is not None:
            st.c, st.c_grad = _value(values, c), _grad(out_grads, c)
    return states


def _without_accumulators(key: CellKey, found: set[tuple[Function, int]], cells: dict[CellKey, list[Function]],
                          crossing: dict[CellKey, set[tuple[Function, int]]]) -> set[tuple[Function, int]] | None:
    """The tensors carried out of step ``key`` that are state, not accumulators (None: cannot tell here).

    In the step that reads them, a state reaches several of the tensors carried on (h_t feeds h_{t+1}
    and the running loss; c_t feeds c_{t+1} and h_{t+1}); an accumulator reaches only its own next value.
    """
    readers: dict[tuple[Function, int], list[Function]] = {e: [] for e in found}
    next_steps = set()
    for other, fns in cells.items():
        if other == key or other[0] != key[0]:
            continue
        for fn in fns:
            for e in fn.next_functions:
                if type(e) is tuple and e in readers:
                    readers[e].append(fn)
                    next_steps.add(other)
    if len(next_steps) != 1:
        return None
    (nxt,) = next_steps
    carried = {e[0] for e in crossing[nxt]}
    if not carried:
        return None  # the next step is the last: nothing carried on to compare with
    members = set(cells[nxt])
    consumers: dict[Function, list[Function]] = {fn: [] for fn in cells[nxt]}
    for fn in cells[nxt]:
        for e in fn.next_functions:
            if type(e) is tuple and e[0] in members:
                consumers[e[0]].append(fn)
    reached: dict[tuple[Function, int], int] = {}
    for e, start in readers.items():
        seen, stack = set(start), list(start)
        while stack:  # explicit stack: forward through the next step
            for c in consumers[stack.pop()]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        reached[e] = len(seen & carried)
    if max(reached.values(), default=0) < 2:
        return None
    return {e for e, n in reached.items() if n >= 2}


def _signatures(fns: list[Function]) -> dict[Function, tuple[str, int, int]]:
    """Each node's place in its step, from structure alone: (op name, longest path from the step's start, inputs)."""
    members = set(fns)
    depth: dict[Function, int] = {}
    for fn in fns:  # build order: inputs first
        inside = [e[0] for e in fn.next_functions if type(e) is tuple and e[0] in members]
        depth[fn] = 1 + max((depth.get(p, 0) for p in inside), default=0)
    return {fn: (fn.name, depth[fn], sum(1 for e in fn.next_functions if type(e) is tuple and e[0] in members))
            for fn in fns}


def _last_steps_by_analogy(cells: dict[CellKey, list[Function]], states: dict[CellKey, StepState]) -> None:
    """Rule 4: the step nothing reads (the last one) gets h_t from a neighbouring step, by structure."""
    for key, fns in cells.items():
        st = states[key]
        if st.producer is not None or st.unknown:
            continue
        path, t = key
        for before in ((path, t - 1), (path, t + 1)):  # forward layers, then reversed ones
            prev = states.get(before)
            if prev is None or prev.producer is None:
                continue
            mine, theirs = _signatures(fns), _signatures(cells[before])
            match = []
            for edge in prev.producer:
                if edge is None:
                    match.append(None)
                    continue
                sig = theirs[edge[0]]
                same = [fn for fn, s in mine.items() if s == sig]
                unique_before = sum(1 for s in theirs.values() if s == sig) == 1
                match.append((same[0], edge[1]) if len(same) == 1 and unique_before else False)
            if False in match:
                continue
            st.producer = (match[0], match[1])
            st.how = prev.how.split(";")[0] + "; here: the node in the same place as in the neighbouring step"
            break


def _value(values: Any, edge: tuple[Function, int]) -> np.ndarray | None:
    outs = values(edge[0])
    return None if outs is None else outs[edge[1]]


def _grad(out_grads: dict[Function, list], edge: tuple[Function, int]) -> np.ndarray | None:
    grads = out_grads.get(edge[0])
    if grads is None:
        return None
    g = grads[edge[1]]
    return np.zeros(1) if g is None else g
