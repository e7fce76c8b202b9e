"""``draw_graph(loss, previous=state)``: truncated BPTT, the previous window greyed and the cut marked.

Truncated BPTT runs a long sequence in windows: each window starts from the previous window's
final state, detached (``mg.nn.utils.detach_state``), so backward stops there. Drawn together,
the previous window is greyed (it is not part of this backward pass: no colour, no gradient
norms) and a dashed red arrow marks the cut, from the previous window's final state to the
detached copy this window starts from (found by its values: the same numbers, no graph).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.builder import _Builder
from minigrad.viz.model import _Model
from minigrad.viz.walk import walk

GREY_FILL, GREY_TEXT, CUT_COLOR = "#eeeeee", "#999999", "#c0392b"


def previous_roots(previous: Any) -> list[Tensor]:
    """The previous window's final state as a list of tensors (``h_n`` or ``(h_n, c_n)``)."""
    tensors = [previous] if isinstance(previous, Tensor) else list(previous) if isinstance(previous, (tuple, list)) \
        else None
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("draw_graph: previous must be the previous window's final state before detach_state: "
                        f"a Tensor h_n or a tuple (h_n, c_n), got {type(previous).__name__}")
    if all(t.grad_fn is None for t in tensors):
        raise ValueError("draw_graph: previous has no graph: pass the state *before* detach_state(state) "
                         "(and record that window inside mg.viz.record() to draw its values)")
    return tensors


def grey_previous_window(builder: _Builder, model: _Model, previous: list[Tensor], roots: list[Tensor]) -> int:
    """Grey what only the previous window computed and draw the cut; returns the number of cuts found."""
    current_fns, current_leaves = walk(roots)
    current = {id(fn) for fn in current_fns} | {id(t) for t in current_leaves}
    old = [fn for fn in builder.fns if id(fn) not in current]
    keys = builder.keys_of(old) | {builder.lkey(t) for t in builder.leaves if id(t) not in current}
    for key in keys:
        node = model.nodes.get(key)
        if node is None:
            continue
        node.fill, node.grad = GREY_FILL, None
        node.lines = [line for line in node.lines if "grad" not in line and "dL/d" not in line]
        if node.step_of is not None:
            model.step_grads.pop(node.step_of, None)
            model.greyed_steps.add(node.step_of)
    starts = _detached_starts(builder, current)
    cuts = 0
    for state in previous:
        if state.grad_fn is None:
            continue
        for edge, values in _pieces(state):
            for key, start in starts:
                if start.shape != values.shape or not np.array_equal(start, values):
                    continue
                for src in builder.sources(edge):
                    model.edge(src, key, "cut", style="dashed", color=CUT_COLOR, penwidth="2", fontcolor=CUT_COLOR,
                               label="cut: detach_state", fontname="Helvetica", fontsize="10")
                    cuts += 1
                node = model.nodes[key]
                node.lines = [x for x in node.lines if x not in ("zeros", "given, no gradient", "initial state",
                                                                 "from the previous window, detached")]
                node.lines.append("from the previous window, detached")
    return cuts


def _pieces(state: Tensor) -> list[tuple[Any, np.ndarray]]:
    """(graph edge, values) of the state: each layer's own final state when the layers' were stacked."""
    fn = state.grad_fn
    pieces = [((fn, state._output_index), state._array)]
    if fn.name == "stack" and state.ndim == 3 and len(fn.next_functions) == state.shape[0]:
        pieces += [(edge, state._array[k]) for k, edge in enumerate(fn.next_functions) if type(edge) is tuple]
    elif state.ndim == 3 and state.shape[0] == 1:  # a one-layer module's (1, B, H), made by the layer's node
        pieces.append(((fn, state._output_index), state._array[0]))
    return pieces


def _detached_starts(builder: _Builder, current: set[int]) -> list[tuple[str, np.ndarray]]:
    """(drawn node, values) of every initial state of this window that carries no graph."""
    starts = []
    for t in builder.leaves:  # a state passed in as a leaf tensor (one that requires grad)
        if id(t) in current:
            starts.append((builder.lkey(t), t._array))
    for f in builder.fused.values():  # a state that requires no grad: the fused layer drew it itself
        if id(f.fn) not in current:
            continue
        values = f.values(f.order[0])
        for name, key in builder.initial_state_keys(f).items():
            if values.get(f"{name}_prev") is not None:
                starts.append((key, values[f"{name}_prev"]))
    return starts
