"""Record one backward pass for the explorer: the engine's real order and every node's gradients.

The engine's opt-in hook (``minigrad.autograd.Recorder``) reports each node's *output* gradients
just before it runs the node's backward. The explorer also needs what each node *sends* to its
inputs (to split a shared weight's gradient by time step), so for the duration of that one call
the recorder wraps the node's ``backward`` and keeps its result: computed once, never twice.

The pass runs in capture mode (as ``mg.autograd.grad`` does): no ``.grad`` of the user's tensors
changes, and ``retain_graph=True`` keeps the graph for the user's own ``backward()`` afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from minigrad.autograd import Function, Recorder, recording, run_backward, sum_to_shape
from minigrad.tensor import Tensor


class ForwardRecord(Recorder):
    """Every node built inside ``record_forward()``, in build order, with its output arrays."""

    def __init__(self) -> None:
        self.order: list[Function] = []
        self.outputs: dict[Function, tuple[np.ndarray, ...]] = {}

    def on_forward(self, fn: Function, outputs: tuple[np.ndarray, ...]) -> None:
        self.order.append(fn)
        self.outputs[fn] = outputs


_active_forward: list[ForwardRecord] = []


@contextlib.contextmanager
def record_forward() -> Iterator[ForwardRecord]:
    """Keep the build order and the values of every node made inside the block, for ``explore``.

    Without it, ``explore`` orders the forward pass topologically and reads values from what the
    graph still holds. ``explore(loss)`` finds the block that built ``loss`` by itself: the last
    four finished blocks are kept for that (so their graphs stay alive until newer blocks end).

    Example::

        >>> import minigrad as mg
        >>> w = mg.ones(2, requires_grad=True)
        >>> with mg.viz.record_forward() as rec:
        ...     loss = (w * 3).sum()
        >>> [fn.name for fn in rec.order]
        ['mul', 'sum']
    """
    # TODO(merge): read mg.viz.record() of the recurrent redesign once it lands.
    rec = ForwardRecord()
    _active_forward.append(rec)
    try:
        with recording(rec):
            yield rec
    finally:
        _active_forward.remove(rec)
        _finished_forward.append(rec)
        del _finished_forward[:-4]  # only the last few recordings are kept alive


_finished_forward: list[ForwardRecord] = []


def forward_record_for(root_fn: Function) -> ForwardRecord | None:
    """The most recent ``record_forward()`` block that built ``root_fn`` (None if there was none)."""
    for rec in reversed(_finished_forward + _active_forward):
        if root_fn in rec.outputs:
            return rec
    return None


class BackwardTrace(Recorder):
    """The engine's order, each node's output gradients and the gradients it sent to its inputs."""

    def __init__(self) -> None:
        self.order: list[Function] = []
        self.out_grads: dict[Function, list[np.ndarray | None]] = {}
        self.in_grads: dict[Function, tuple[np.ndarray | None, ...]] = {}

    def on_backward(self, fn: Function, grads: Sequence[np.ndarray | None]) -> None:
        self.order.append(fn)
        self.out_grads[fn] = list(grads)
        original = fn.backward
        trace = self

        def backward_and_keep(*g: Any) -> Any:
            try:
                result = original(*g)
            finally:
                fn.__dict__.pop("backward", None)  # the node is itself again
            sent = result if isinstance(result, tuple) else (result,)
            trace.in_grads[fn] = tuple(_as_input_grad(s, meta) for s, meta in zip(sent, fn.input_meta))
            return result

        # An instance attribute shadows the method for exactly the call the engine makes next.
        fn.__dict__["backward"] = backward_and_keep


def _as_input_grad(g: Any, meta: tuple | None) -> np.ndarray | None:
    """What the engine does to a returned gradient before routing it: un-broadcast, cast."""
    if g is None or meta is None:
        return None
    shape, dtype = meta
    g = sum_to_shape(np.asarray(g), shape)
    return g if g.dtype == dtype else g.astype(dtype)


def trace_backward(root: Tensor, who: str = "explore") -> BackwardTrace:
    """Run ``root``'s backward once more, recording everything, without touching any ``.grad``."""
    if not isinstance(root, Tensor):
        raise TypeError(f"{who}: root must be a Tensor (the loss), got {type(root).__name__}")
    if root.grad_fn is None:
        raise ValueError(f"{who}: root has no graph (it was made under no_grad(), detached, or is a leaf); "
                         "pass the loss computed from the model")
    if root._array.size != 1:
        raise ValueError(f"{who}: root must be a scalar loss, got shape {root.shape}; reduce it first "
                         "(e.g. out.sum() or out[-1].sum())")
    trace = BackwardTrace()
    try:
        with recording(trace):
            run_backward([root], [np.ones_like(root._array)], retain_graph=True, capture={})
    except RuntimeError as e:
        if "second time" in str(e):
            raise RuntimeError(f"{who}: the graph behind root was freed by an earlier backward(). Call {who}(loss) "
                               "before loss.backward(), or call loss.backward(retain_graph=True).") from e
        raise
    return trace
