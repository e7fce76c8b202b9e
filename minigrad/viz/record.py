"""``mg.viz.record()``: keep what drawings show — values, gradient norms, order — only when asked.

The engine keeps only what backward needs: a node forgets its output once it is built, and
``backward`` computes no gradient norms. A drawing that should show values or gradients asks for
them by recording the forward and backward passes::

    with mg.viz.record():
        out, _ = lstm(x)
        out.sum().backward()
    mg.viz.draw_graph(out, params=lstm, view="cells")   # values and ||dL/dh_t|| from the recording

While a recording is active it stores, through the engine's opt-in hook
(``minigrad.autograd.Recorder``):

- ``forward_order``: every node, in the order the graph was built, and a copy of its outputs;
- ``backward_order``: every node, in the order the engine ran its backward, and the norms of the
  gradients of its outputs;
- for a node that declares time steps (``declares_steps``, the fused recurrent layers): copies of
  every step's saved values (``x_t``, ``h_prev``, the gates, ``h``...) and ``dL/dh_t`` per step.

Drawings made inside the block use it; after the block, the most recent recording stays available
to drawings of its graph until the next ``record()`` starts (so ``with mg.viz.record(): ...`` needs
no name). Recording costs memory (a copy of every output), so record the step you want to draw,
not a whole training run.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from minigrad.autograd import Function, Recorder, recording

__all__ = ["Recording", "record", "recording_for"]


def _norm(g: np.ndarray | None) -> float:
    return 0.0 if g is None else float(np.linalg.norm(np.asarray(g, dtype=np.float64)))


class Recording(Recorder):
    """What one ``mg.viz.record()`` block saw (see the module docstring).

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([3.0, 4.0], requires_grad=True)
        >>> with mg.viz.record() as rec:
        ...     y = (x * x).sum()
        ...     y.backward()
        >>> [fn.name for fn in rec.forward_order], rec.grad_norms(y.grad_fn), rec.outputs(y.grad_fn)[0].item()
        (['mul', 'sum'], (1.0,), 25.0)
    """

    def __init__(self) -> None:
        self.forward_order: list[Function] = []
        self.backward_order: list[Function] = []
        self._outputs: dict[int, tuple[np.ndarray, ...]] = {}
        self._grad_norms: dict[int, tuple[float, ...]] = {}
        self._step_values: dict[int, list[dict[str, np.ndarray]]] = {}
        self._step_grads: dict[int, np.ndarray] = {}
        self._final_c_grads: dict[int, np.ndarray | None] = {}

    # -- the engine's hook -----------------------------------------------------------------
    def on_forward(self, fn: Function, outputs: tuple[np.ndarray, ...]) -> None:
        self.forward_order.append(fn)  # keeps fn alive, so id(fn) stays unique for the recording
        self._outputs[id(fn)] = tuple(np.array(a, copy=True) for a in outputs)
        if getattr(fn, "declares_steps", False) is True:
            self._step_values[id(fn)] = [fn.step_values(t) for t in range(fn.num_steps)]

    def on_backward(self, fn: Function, grads: Iterable[np.ndarray | None]) -> None:
        grads = list(grads)
        self.backward_order.append(fn)
        self._grad_norms[id(fn)] = tuple(_norm(g) for g in grads)
        if getattr(fn, "declares_steps", False) is True:
            fn.step_grad_sink = self._on_step_grads  # the layer hands over dL/dh_t of every step
            roles = tuple(getattr(fn, "output_roles", ()))
            if "c_n" in roles and roles.index("c_n") < len(grads):  # dL/dc_n starts the c chain backwards
                g = grads[roles.index("c_n")]
                self._final_c_grads[id(fn)] = None if g is None else np.array(g, copy=True)

    def _on_step_grads(self, fn: Function, dh_all: np.ndarray) -> None:
        self._step_grads[id(fn)] = np.array(dh_all, copy=True)

    # -- what drawings read ----------------------------------------------------------------
    def saw(self, fn: Function) -> bool:
        """Whether ``fn`` was built while this recording was active."""
        return id(fn) in self._outputs

    def outputs(self, fn: Function) -> tuple[np.ndarray, ...]:
        """Copies of ``fn``'s outputs as they were when it was built (``()`` if not recorded)."""
        return self._outputs.get(id(fn), ())

    def grad_norms(self, fn: Function) -> tuple[float, ...]:
        """Norms of the gradients reaching ``fn``'s outputs (``()`` before its backward ran)."""
        return self._grad_norms.get(id(fn), ())

    def step_values(self, fn: Function, t: int) -> dict[str, np.ndarray] | None:
        """The saved values of step ``t`` of a node that declares steps (None if not recorded)."""
        steps = self._step_values.get(id(fn))
        return None if steps is None else steps[t]

    def final_c_grad(self, fn: Function) -> tuple[bool, np.ndarray | None]:
        """(whether the backward of ``fn`` was recorded, ``dL/dc_n`` or None when no gradient reached c_n)."""
        return id(fn) in self._final_c_grads, self._final_c_grads.get(id(fn))

    def step_grad_h(self, fn: Function, t: int) -> np.ndarray | None:
        """``dL/dh_t`` of step ``t`` of a node that declares steps (None before its backward)."""
        grads = self._step_grads.get(id(fn))
        return None if grads is None else grads[t]


# The recordings drawings may read: the active ones (innermost last), then the most recent one.
_active: list[Recording] = []
_latest: Recording | None = None
_earlier: list[weakref.ref[Recording]] = []


@contextlib.contextmanager
def record() -> Iterator[Recording]:
    """Record values, gradient norms and order of the forward and backward passes run inside.

    Example::

        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(2, 3, impl="reference")
        >>> with mg.viz.record():
        ...     out, h = rnn(mg.randn(4, 1, 2))
        ...     out.sum().backward()
        >>> "||grad||" in mg.viz.to_dot(out, params=rnn)
        True
    """
    global _latest
    rec = Recording()
    if _latest is not None:
        _earlier.append(weakref.ref(_latest))
        del _earlier[:-8]
    _latest = rec
    _active.append(rec)
    try:
        with recording(rec):
            yield rec
    finally:
        _active.remove(rec)


class Recordings:
    """Several recordings read as one: each node's data from the recording that saw it (a drawing of
    graphs recorded in separate ``record()`` blocks, e.g. three models compared in one picture)."""

    def __init__(self, recordings: list[Recording]):
        self.parts = recordings  # newest first: the most recent recording of a node wins
        self.forward_order = [fn for rec in reversed(recordings) for fn in rec.forward_order]

    def _of(self, fn: Function) -> Recording | None:
        return next((rec for rec in self.parts if rec.saw(fn)), None)

    def saw(self, fn: Function) -> bool:
        return self._of(fn) is not None

    def outputs(self, fn: Function) -> tuple[np.ndarray, ...]:
        rec = self._of(fn)
        return rec.outputs(fn) if rec is not None else ()

    def grad_norms(self, fn: Function) -> tuple[float, ...]:
        rec = self._of(fn)
        return rec.grad_norms(fn) if rec is not None else ()

    def step_values(self, fn: Function, t: int) -> dict[str, np.ndarray] | None:
        rec = self._of(fn)
        return rec.step_values(fn, t) if rec is not None else None

    def step_grad_h(self, fn: Function, t: int) -> np.ndarray | None:
        rec = self._of(fn)
        return rec.step_grad_h(fn, t) if rec is not None else None

    def final_c_grad(self, fn: Function) -> tuple[bool, np.ndarray | None]:
        rec = self._of(fn)
        return rec.final_c_grad(fn) if rec is not None else (False, None)


def recording_for(fns: Iterable[Function]) -> Recording | Recordings | None:
    """The recording(s) that saw these nodes (active ones first, then the most recent); None if none did.

    When the nodes were recorded in several ``record()`` blocks, a ``Recordings`` reads each node
    from the block that saw it.
    """
    fns = list(fns)
    candidates: list[Any] = list(reversed(_active)) + [_latest] + [r() for r in reversed(_earlier)]
    found: list[Recording] = []
    for rec in candidates:
        if rec is not None and all(rec is not f for f in found) and any(rec.saw(fn) for fn in fns):
            found.append(rec)
    if not found:
        return None
    return found[0] if len(found) == 1 else Recordings(found)
