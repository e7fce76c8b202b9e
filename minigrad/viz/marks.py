"""``mg.viz.mark_state(h, c=None)``: say which tensor of a time step is its state ``h_t`` (and ``c_t``).

A drawing colours each time step by ``||dL/dh_t||`` and the cells view shows ``h_t`` (and
``c_t``), so it must know which node of the step made them. The library's own layers and cells
say so (``mg.nn.RNN/LSTM/GRU``, the built-in cells, ``mg.nn.Recurrent``); in a loop of your own,
call ``mark_state`` once per step::

    for t in range(1, T + 1):          # t = 1..T, as in the equations
        with mg.scope(f"t{t}"):
            h = (x[t - 1] @ W_xh + h @ W_hh).tanh()
            mg.viz.mark_state(h)

A step without a mark is read only when it is unambiguous (exactly one of its results leaves the
step); otherwise the drawing colours nothing for it and says so. A mark is a weak reference to the
node: it costs nothing once the graph is gone.
"""

from __future__ import annotations

import weakref

from minigrad.autograd import Function
from minigrad.tensor import Tensor

__all__ = ["mark_state", "state_marks", "mark_gates", "gate_marks"]

# node -> {output index: "h" or "c"}
_marks: weakref.WeakKeyDictionary[Function, dict[int, str]] = weakref.WeakKeyDictionary()
# node -> (cell mode, gate name): the gates of a library cell's textbook step
_gates: weakref.WeakKeyDictionary[Function, tuple[str, str]] = weakref.WeakKeyDictionary()


def mark_state(h: Tensor, c: Tensor | None = None) -> None:
    """Mark ``h`` as the hidden state ``h_t`` of the current time step (and ``c`` as ``c_t``).

    Tensors that no op made (leaves, or made under ``no_grad``) have nothing to mark and are skipped.

    Example::

        >>> import minigrad as mg
        >>> W = mg.randn(2, 2, requires_grad=True)
        >>> h = mg.zeros(1, 2)
        >>> for t in range(1, 4):
        ...     with mg.scope(f"t{t}"):
        ...         h = (h @ W + 1).tanh()
        ...         mg.viz.mark_state(h)
        >>> state_marks(h.grad_fn)
        {0: 'h'}
    """
    for tensor, role in ((h, "h"), (c, "c")):
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            raise TypeError(f"mark_state: {role} must be a Tensor, got {type(tensor).__name__}")
        fn = tensor.grad_fn
        if fn is not None:
            _marks.setdefault(fn, {})[tensor._output_index] = role


def state_marks(fn: Function) -> dict[int, str]:
    """The marks on ``fn``'s outputs: ``{output index: "h" | "c"}`` (empty when none)."""
    return dict(_marks.get(fn, {}))


def mark_gates(mode: str, **gates: Tensor) -> None:
    """Name the gate tensors of one step of a cell (``mode`` as in ``minigrad.nn.cells.describe``).

    Drawings then title those nodes as the fused layer's equations do (``f_3  forget gate``) and
    draw them in the cell's gate order in every step.

    Example::

        >>> import minigrad as mg
        >>> f = (mg.randn(1, 2, requires_grad=True) * 2).sigmoid()
        >>> mark_gates("lstm", f=f)
        >>> gate_marks(f.grad_fn)
        ('lstm', 'f')
    """
    for name, tensor in gates.items():
        fn = tensor.grad_fn
        if fn is not None:
            _gates[fn] = (mode, name)


def gate_marks(fn: Function) -> tuple[str, str] | None:
    """``(cell mode, gate name)`` of a node marked by ``mark_gates``, else None."""
    return _gates.get(fn)
