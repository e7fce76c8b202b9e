"""What the recurrent layers (recurrent.py) and the cells (recurrent_cells.py) share.

The textbook path of a built-in cell (``BuiltinStep``, and ``reference_rnn_layer`` that runs it
over a sequence, which the fused nodes differentiate under ``create_graph=True``:
``_gradients_through_recomputed``), the door to the Numba path (``_fused_layer``), and the checks
and initialisation both kinds of module do alike. It is its own file so that the layers and the
cells can each import it without importing each other.

Example::

    >>> import minigrad as mg
    >>> out, h, c = reference_rnn_layer("gru", mg.randn(3, 2, 4), mg.zeros(2, 5), None,
    ...                                 mg.randn(15, 4), mg.randn(15, 5), None, None)
    >>> out.shape, h.shape, c is None
    ((3, 2, 5), (2, 5), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from minigrad.autograd import Function, grad, scope
from minigrad.devices import check_device
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.nn.cells import CellDescription, describe, gate_blocks
from minigrad.nn.module import Module
from minigrad.nn.sequence import State, run_direction
from minigrad.random import rng
from minigrad.tensor import Tensor

IMPLS = ("fused", "reference")


# ================================================================================================
# A built-in cell as a step function of the layer machinery (the textbook path)
# ================================================================================================


class BuiltinStep:
    """The textbook step of a built-in cell, bound to one layer's weights: ``step(x_t, state) -> state``.

    The stacked weights are split into gate blocks once, when the step is made (inside the layer's
    scope), not once per time step.

    Example::

        >>> import minigrad as mg
        >>> step = BuiltinStep(describe("gru"), mg.randn(6, 3), mg.randn(6, 2), None, None)
        >>> [s.shape for s in step(mg.randn(4, 3), (mg.zeros(4, 2),))]
        [(4, 2)]
    """

    def __init__(self, cell: CellDescription, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None,
                 bias_hh: Tensor | None, weight_hr: Tensor | None = None) -> None:
        n, rows, dtype = cell.num_gates, weight_ih.shape[0], weight_ih.dtype
        self.cell = cell
        self.W_ih, self.W_hh = gate_blocks(weight_ih, n, rows, dtype), gate_blocks(weight_hh, n, rows, dtype)
        self.b_ih, self.b_hh = gate_blocks(bias_ih, n, rows, dtype), gate_blocks(bias_hh, n, rows, dtype)
        self.extra = {} if weight_hr is None else {"W_hr": weight_hr}

    def __call__(self, x_t: Tensor, state: State) -> State:
        return self.cell.step(x_t, state, self.W_ih, self.W_hh, self.b_ih, self.b_hh, **self.extra)


def reference_rnn_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, weight_ih: Tensor,
                        weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None, *,
                        reverse: bool = False, lengths: np.ndarray | None = None, layer_scope: str = "",
                        weight_hr: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one layer in one direction over a time-major batch, step by step with textbook ops.

    Same signature and results as ``minigrad.nn.fused_rnn.fused_rnn_layer``:

    - ``x`` ``(T, B, I)``, ``h0`` ``(B, H)``, ``c0`` ``(B, H)`` for ``mode='lstm'`` (else None);
    - returns ``(output (T, B, H), h_n (B, H), c_n or None)``;
    - ``reverse=True`` walks ``t = T-1, ..., 0`` (the backward half of a bidirectional layer);
    - ``lengths`` (``(B,)`` ints) for variable-length batches (``minigrad.nn.sequence.run_direction``).

    Every step runs inside ``scope(layer_scope)`` and ``scope(f"t{t + 1}")`` (time counts t = 1..T).

    Example::

        >>> import minigrad as mg
        >>> W_ih, W_hh = mg.randn(8, 3), mg.randn(8, 2)
        >>> out, h, c = reference_rnn_layer("lstm", mg.randn(5, 4, 3), mg.zeros(4, 2), mg.zeros(4, 2),
        ...                                 W_ih, W_hh, None, None, layer_scope="l0")
        >>> out.shape, h.shape, c.shape
        ((5, 4, 2), (4, 2), (4, 2))
    """
    cell = describe(mode)
    state = (h0, c0) if cell.has_cell_state else (h0,)
    with scope(layer_scope) if layer_scope else _no_scope():
        step = BuiltinStep(cell, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
        output, state = run_direction(step, x, state, reverse=reverse, lengths=lengths)
    return output, state[0], (state[1] if cell.has_cell_state else None)


def _gradients_through_recomputed(fn: Function, inputs: Sequence[Tensor | None], outputs: Sequence[Tensor | None],
                                 grads: Sequence[Tensor | None]) -> tuple[Tensor | None, ...]:
    """A fused node's input gradients under ``create_graph=True``, through its outputs recomputed in Tensor ops.

    ``inputs`` are ``fn``'s inputs as Tensors at their places in the graph (``Function.input_tensor``),
    ``outputs`` the node's outputs computed again from them by the reference steps, ``grads`` the
    gradients reaching the node's outputs; an input that needs no gradient gets None.
    """
    pairs = [(o, g) for o, g in zip(outputs, grads) if o is not None and g is not None]
    wanted = [i for i, t in enumerate(inputs) if t is not None and fn.needs_input_grad[i]]
    found = grad([o for o, _ in pairs], [inputs[i] for i in wanted], [g for _, g in pairs],
                 create_graph=True, allow_unused=True)
    result: list[Tensor | None] = [None] * len(inputs)
    for i, g in zip(wanted, found):
        result[i] = g
    return tuple(result)


def _fused_rnn() -> ModuleType:
    """``minigrad.nn.fused_rnn``, the Numba path, imported on first use (so ``import minigrad`` compiles nothing)."""
    global _fused_module
    if _fused_module is None:  # (an import statement costs a look-up on every call: once is enough)
        from minigrad.nn import fused_rnn

        _fused_module = fused_rnn
    return _fused_module


_fused_module: ModuleType | None = None


def _fused_layer(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer on the Numba path: ``fused_rnn_layer`` (a projected LSTM has its own node:
    ``nn/fused_projected_lstm.py``)."""
    return _fused_rnn().fused_rnn_layer(*args, **kwargs)


class _no_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _check_impl(impl: Any, who: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"{who}: impl must be 'fused' or 'reference', got {impl!r}")
    return impl


def _init_dtype(dtype: Any, device: Any, who: str) -> np.dtype:
    check_device(device, who)
    dt = get_default_dtype() if dtype is None else to_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{who}: parameters must have a floating dtype, got {dt}")
    return dt


def _uniform_reset(module: Module, hidden_size: int) -> None:
    """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        p._array = rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)
