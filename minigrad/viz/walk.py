"""The walk: every node and leaf behind the roots (an explicit stack, never recursion), and scopes.

A scope such as ``"lstm/l0/t3"`` becomes the cluster path ``("lstm", "l0", "t3")`` and the time
step 3 (``split_scope``); ``walk`` refuses early (``GraphTooLargeError``) a graph too large to draw.
"""

from __future__ import annotations

import re
from typing import Any

from minigrad.autograd import Function
from minigrad.tensor import Tensor

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
