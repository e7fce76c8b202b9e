"""The one-step cells ``RNNCell``, ``LSTMCell`` and ``GRUCell``: one time step, you write the loop.

They hold the same weights as one layer of ``mg.nn.RNN`` / ``LSTM`` / ``GRU`` and run the same
maths (the textbook step of their cell in ``minigrad/nn/cells/``, or the fused kernels over a
sequence of length 1). Their own file because they share nothing with the layers of
recurrent.py but the helpers of recurrent_shared.py; ``minigrad.nn.recurrent`` re-exports them.

Example::

    >>> import minigrad as mg
    >>> cell = mg.nn.LSTMCell(4, 3)
    >>> h, c = cell(mg.randn(2, 4))
    >>> h, c = cell(mg.randn(2, 4), (h, c))                 # the next step, fed the last state
    >>> h.shape, c.shape
    ((2, 3), (2, 3))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import is_anomaly_enabled, is_grad_enabled, scope
from minigrad.errors import ShapeError
from minigrad.nn.cells import describe
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.nn.recurrent_shared import (
    BuiltinStep,
    _check_impl,
    _fused_layer,
    _fused_rnn,
    _init_dtype,
    _uniform_reset,
)
from minigrad.nn.sequence import check_bool, check_int
from minigrad.tensor import Tensor
from minigrad.viz.marks import mark_state

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ================================================================================================
# Cells: one time step; you write the loop
# ================================================================================================


class RNNCellBase(Module):
    """What RNNCell, LSTMCell and GRUCell share: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    _scope_name = "rnn_cell"
    _mode = "rnn_tanh"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__()
        who = type(self).__name__
        self.input_size = check_int(who, "input_size", input_size)
        self.hidden_size = check_int(who, "hidden_size", hidden_size)
        self.bias = check_bool(who, "bias", bias)
        self.impl = _check_impl(impl, who)
        dtype = _init_dtype(dtype, device, who)
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(np.empty((gates, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(gates, dtype=dtype))
            self.bias_hh = Parameter(np.empty(gates, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_reset(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if self.impl != "fused":
            s += f", impl={self.impl!r}"
        return s

    def _check(self, input: Any, states: list[tuple[str, Any]]) -> tuple[Tensor, list[Tensor | None], bool]:
        """Check input and state shapes; return the input as ``(B, I)``, the states as ``(B, H)``."""
        who = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{who}: input must be a Tensor, got {type(input).__name__} (wrap arrays with "
                            "mg.tensor(...))")
        shape, dtype = input._array.shape, input._array.dtype  # (the arrays' own: read on every step)
        if len(shape) not in (1, 2):
            raise ShapeError(f"{who}: expected input to be 1-D (unbatched) or 2-D (batched), got {input.ndim}-D "
                             f"input of shape {input.shape}")
        if shape[-1] != self.input_size:
            raise ShapeError(f"{who}: expected input of size {self.input_size} in the last dimension, "
                             f"got shape {input.shape}")
        if dtype != self.weight_ih._array.dtype:
            raise ValueError(f"{who}: input dtype ({input.dtype}) does not match weight dtype "
                             f"({self.weight_ih.dtype})")
        is_batched = len(shape) == 2
        x = input if is_batched else input.unsqueeze(0)
        expected = (shape[0], self.hidden_size) if is_batched else (self.hidden_size,)
        out: list[Tensor | None] = []
        for what, t in states:
            if t is None:
                out.append(None)
                continue
            if not isinstance(t, Tensor):
                raise TypeError(f"{who}: {what} must be a Tensor, got {type(t).__name__}")
            if t._array.shape != expected:
                raise ShapeError(f"{who}: expected {what} of shape {expected} for input of shape {input.shape}, "
                                 f"got {t.shape}")
            if t._array.dtype != dtype:
                raise ValueError(f"{who}: {what} dtype ({t.dtype}) does not match input dtype ({input.dtype})")
            out.append(t if is_batched else t.unsqueeze(0))
        return x, out, is_batched

    def _step(self, x: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """One step on ``(B, I)`` input and ``(B, H)`` states, inside this cell's scope."""
        if self.impl == "fused" and not (is_grad_enabled() or is_anomaly_enabled()):
            return self._step_without_graph(x, h, c)
        with scope(self._scope_name):
            if self.impl == "fused":
                # The fused layer for one step (no per-step scope for a cell).
                _, h_t, c_t = _fused_layer(self._mode, x, h, c, self.weight_ih, self.weight_hh,
                                           self.bias_ih, self.bias_hh)
                return h_t, c_t
            _, h_t, c_t = _reference_cell(self._mode, x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                          self.bias_hh)
            mark_state(h_t, c_t)  # for drawings of your loop: this step's h_t and c_t
            return h_t, c_t

    def _step_without_graph(self, x: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """``_step`` when nothing is recorded (``no_grad``): the fused step on arrays, no node made and dropped."""
        weights = (self.weight_ih._array, self.weight_hh._array,
                   None if self.bias_ih is None else self.bias_ih._array,
                   None if self.bias_hh is None else self.bias_hh._array)
        _, h_t, c_t = _fused_rnn().fused_layers_without_graph(self._mode, x._array, h._array[None],
                                                              None if c is None else c._array[None], [weights])
        return Tensor(h_t[0]), None if c_t is None else Tensor(c_t[0])

    def initial_state(self, batch_size: int) -> Any:
        """Zeros ``(batch_size, hidden_size)``: ``h_0`` (LSTMCell: ``(h_0, c_0)``), as ``mg.nn.Recurrent`` needs."""
        zeros = [Tensor(np.zeros((batch_size, self.hidden_size), dtype=self.weight_hh.dtype))
                 for _ in describe(self._mode).state]
        return tuple(zeros) if len(zeros) > 1 else zeros[0]

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))


def _reference_cell(mode: str, x: Tensor, h: Tensor, c: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
                    bias_ih: Tensor | None, bias_hh: Tensor | None) -> tuple[None, Tensor, Tensor | None]:
    """One textbook step for a cell (no time-step scope: the caller's loop owns the time)."""
    cell = describe(mode)
    state = BuiltinStep(cell, weight_ih, weight_hh, bias_ih, bias_hh)(x, (h, c) if cell.has_cell_state else (h,))
    return None, state[0], (state[1] if cell.has_cell_state else None)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` (or relu).

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.RNNCell(10, 20)
        >>> h = None
        >>> for x_t in mg.randn(6, 3, 10):                  # 6 steps, batch 3
        ...     h = cell(x_t, h)
        >>> h.shape
        (3, 20)
    """

    _scope_name = "rnn_cell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, describe("rnn_" + nonlinearity).num_gates, device, dtype,
                         impl=impl)
        self.nonlinearity = nonlinearity

    @property
    def _mode(self) -> str:  # type: ignore[override]
        return "rnn_" + self.nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` like it with hidden_size (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        x, (h,), is_batched = self._check(input, [("hx", hx)])
        h_t, _ = self._step(x, h if h is not None else self._zeros(x), None)
        return h_t if is_batched else h_t.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns ``(h_1, c_1)``.

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.LSTMCell(10, 20)
        >>> h, c = cell(mg.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    _scope_name = "lstm_cell"
    _mode = "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__(input_size, hidden_size, bias, describe("lstm").num_gates, device, dtype, impl=impl)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` a tuple ``(h_0, c_0)`` (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            got = f"a tuple of {len(hx)}" if isinstance(hx, (tuple, list)) else type(hx).__name__
            raise TypeError(f"LSTMCell: hx must be a tuple (h_0, c_0) of two Tensors, got {got}")
        h0, c0 = hx if hx is not None else (None, None)
        x, (h, c), is_batched = self._check(input, [("h_0", h0), ("c_0", c0)])
        h_t, c_t = self._step(x, h if h is not None else self._zeros(x), c if c is not None else self._zeros(x))
        return (h_t, c_t) if is_batched else (h_t.squeeze(0), c_t.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; PyTorch's placement of r).

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.GRUCell(10, 20)
        >>> cell(mg.randn(10)).shape                        # unbatched
        (20,)
    """

    _scope_name = "gru_cell"
    _mode = "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__(input_size, hidden_size, bias, describe("gru").num_gates, device, dtype, impl=impl)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` like it with hidden_size (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        x, (h,), is_batched = self._check(input, [("hx", hx)])
        h_t, _ = self._step(x, h if h is not None else self._zeros(x), None)
        return h_t if is_batched else h_t.squeeze(0)
