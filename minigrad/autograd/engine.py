"""The engine: gradients flow from the outputs back to the leaves in reverse topological order.

An explicit stack, never recursion: BPTT graphs are thousands of nodes deep.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad.autograd.function import Function, _check_finite, sum_to_shape
from minigrad.autograd.modes import _mode

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


def _collect(roots: Sequence[Function]) -> dict[Function, int]:
    """Every node reachable from ``roots`` with the number of gradients it waits for.

    A plain explicit stack instead of recursion: a 100,000-step chain is fine.
    """
    waiting: dict[Function, int] = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        fn = stack.pop()
        for edge in fn.next_functions:
            if type(edge) is tuple:
                parent = edge[0]
                waiting[parent] = waiting.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    for fn in seen:
        waiting.setdefault(fn, 0)
    return waiting


def _add(buffer: list, index: int, grad: np.ndarray) -> None:
    old = buffer[index]
    buffer[index] = grad if old is None else old + grad


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[np.ndarray],
    retain_graph: bool = False,
    capture: dict[int, int] | None = None,
) -> list[np.ndarray | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Normally gradients arriving at leaves are accumulated into ``leaf.grad``. With ``capture``
    (``id(tensor) -> position``, used by ``grad()``), gradients of those tensors are returned in
    a list instead and no ``.grad`` is touched.
    """
    # The cyclic garbage collector would scan the whole graph again and again while backward
    # allocates gradients; nothing here makes cycles (reference counting frees everything), so
    # it is paused for the duration.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_backward(roots, root_grads, retain_graph, capture)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_backward(roots, root_grads, retain_graph, capture):
    captured: list[np.ndarray | None] | None = [None] * len(capture) if capture is not None else None
    pending: dict[Function, list] = {}  # node -> gradient buffer, one slot per output
    leaf_roots = []
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            leaf_roots.append((t, g))
            continue
        buf = pending.setdefault(t.grad_fn, [None] * len(t.grad_fn.outputs))
        _add(buf, t._output_index, g)

    waiting = _collect(list(pending))
    ready = [fn for fn in pending if waiting[fn] == 0]
    # A node's own gradient is complete once every consumer in the graph has run; a root that is
    # also consumed by another root waits for it. `ready` is a stack: any order that respects
    # the dependency counts is a valid reverse topological order.
    for t, g in leaf_roots:
        _deliver_to_leaf(t, g, capture, captured)

    while ready:
        fn = ready.pop()
        grads = pending.pop(fn, None) or [None] * len(fn.outputs)
        grads = _run_output_hooks(fn, grads, capture, captured)
        if retain_graph:
            fn.grad_norms = tuple(float(np.linalg.norm(g)) if g is not None else 0.0 for g in grads)
        if fn.released:
            _ = fn.saved_tensors  # raises the "backward twice" error with the node's name
        fn.retain_graph = retain_graph
        if _mode.recorder is not None:
            _mode.recorder.on_backward(fn, grads)
        if len(grads) == 1:
            in_grads = fn.backward(grads[0])
        else:
            in_grads = fn.backward(*grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(fn.next_functions):
            raise RuntimeError(
                f"internal: {fn.name}.backward returned {len(in_grads)} gradients for "
                f"{len(fn.next_functions)} inputs"
            )
        if _mode.anomaly:
            _check_finite(fn, in_grads, "backward", "gradient for input")
        if not retain_graph:
            fn.release()
        for edge, g, meta in zip(fn.next_functions, in_grads, fn.input_meta):
            if edge is None:
                continue
            if g is not None:
                shape, dtype = meta
                g = sum_to_shape(np.asarray(g), shape)
                if g.dtype != dtype:
                    g = g.astype(dtype)
            if type(edge) is tuple:
                parent, index = edge
                if g is not None:
                    buf = pending.get(parent)
                    if buf is None:
                        buf = pending[parent] = [None] * len(parent.outputs)
                    _add(buf, index, g)
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    ready.append(parent)
            elif g is not None:
                _deliver_to_leaf(edge, g, capture, captured)
    return captured


def _run_output_hooks(fn: Function, grads: list, capture: dict | None, captured: list | None) -> list:
    """Hooks and retain_grad() of non-leaf outputs, once their gradient is complete."""
    from minigrad.tensor import Tensor

    for i, ref in enumerate(fn.outputs):
        t = ref()
        if t is None or grads[i] is None:
            continue
        for hook in t._hooks or ():
            replaced = hook(Tensor(grads[i]))
            if replaced is not None:
                grads[i] = replaced._array
        if capture is not None:
            pos = capture.get(id(t))
            if pos is not None:
                captured[pos] = grads[i] if captured[pos] is None else captured[pos] + grads[i]
        elif t._retains_grad:
            g = grads[i]
            if t.grad is None:
                t.grad = Tensor(g.copy())
            else:
                t.grad._array = t.grad._array + g
    return grads


def _deliver_to_leaf(t: Tensor, g: np.ndarray, capture: dict | None, captured: list | None) -> None:
    from minigrad.tensor import Tensor

    for hook in t._hooks or ():
        replaced = hook(Tensor(g))
        if replaced is not None:
            g = replaced._array
    if capture is not None:
        pos = capture.get(id(t))
        if pos is not None:
            captured[pos] = g if captured[pos] is None else captured[pos] + g
        return
    if t.grad is None:
        # Own a fresh contiguous copy: g may be a view shared with other gradients.
        t.grad = Tensor(np.array(g, dtype=t.dtype, copy=True))
    else:
        t.grad._array += g


def _root_gradient(t: Tensor, gradient: Any, who: str) -> np.ndarray:
    if gradient is None:
        if t._array.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {t.shape}; pass gradient= (a tensor of that shape), or reduce it first (e.g. .sum())"
            )
        return np.ones_like(t._array)
    g = gradient._array if hasattr(gradient, "_array") else gradient
    g = np.asarray(g, dtype=t.dtype)
    if g.shape != t.shape:
        raise RuntimeError(f"{who}: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """``tensor.backward()``: accumulate d tensor / d leaf into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn (was it made under "
            "no_grad(), detached, or from inputs that don't require grad?)"
        )
    g = _root_gradient(tensor, gradient, "backward")
    run_backward([tensor], [g], retain_graph=retain_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (gx,) = mg.autograd.grad((x * x).sum(), x)
        >>> gx.tolist(), x.grad
        ([2.0, 4.0], None)
    """
    from minigrad.tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):  # one Tensor (or array) for one output
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs must be Tensors, input {i} is a {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad; create it with "
                               "requires_grad=True or call .requires_grad_()")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: outputs must be Tensors, output {i} is a {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {t.shape}) does not require grad and has no grad_fn "
                               "(was it made under no_grad(), detached, or from inputs that don't require grad?)")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    root_grads = [_root_gradient(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    capture = {id(t): i for i, t in enumerate(inputs)}
    captured = run_backward(outputs, root_grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; pass "
                "allow_unused=True to get None for it"
            )
        result.append(None if g is None else Tensor(np.array(g, dtype=t.dtype)))
    return tuple(result)
