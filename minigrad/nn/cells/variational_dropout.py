"""Variational (locked) dropout (Gal and Ghahramani 2016): one dropout mask per sequence, not per step.

Ordinary dropout draws a new mask at every time step, which, on the recurrent connection, erases
a different part of the memory at every step. Variational dropout draws one mask per sequence and
reuses it at every step:

- ``LockedDropout(p)`` on a whole sequence ``(T, B, F)``: one ``(B, F)`` mask for all ``T`` steps
  (for the inputs of a layer, or between layers);
- ``VariationalDropoutCell(cell, input_p, hidden_p)`` wraps any cell and drops its input ``x_t``
  and its incoming hidden state ``h_{t-1}`` with masks fixed for the sequence.

Both are active only in training mode, and scale the kept values by ``1 / (1 - p)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.nn.module import Module
from minigrad.random import rng
from minigrad.tensor import Tensor


def _mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> Tensor:
    """Keep each element with probability ``1 - p``, scaled by ``1 / (1 - p)`` (all zeros for p = 1)."""
    if p >= 1:
        return Tensor(np.zeros(shape, dtype))
    return Tensor((rng().random(shape) >= p).astype(dtype) / (1.0 - p))


def _check_p(who: str, name: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{who}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


class LockedDropout(Module):
    """Dropout on a time-major sequence ``(T, B, F)`` with one mask shared by all time steps.

    Example::

        >>> import minigrad as mg
        >>> y = LockedDropout(0.5)(mg.ones(4, 2, 3))
        >>> bool((y[0] == y[3]).all())                     # the same units dropped at every step
        True
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p("LockedDropout", "p", p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return x * _mask((1,) + tuple(x.shape[1:]), self.p, x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class VariationalDropoutCell(Module):
    """Wrap a cell: drop ``x_t`` and ``h_{t-1}`` with masks drawn once per sequence.

    ``mg.nn.Recurrent`` calls ``start_sequence()`` before each sequence; in a loop of your own,
    call it yourself. A new batch size also draws new masks.

    Example::

        >>> import minigrad as mg
        >>> cell = VariationalDropoutCell(mg.nn.LayerNormLSTMCell(3, 4), input_p=0.2, hidden_p=0.3)
        >>> out, (h_n, c_n) = mg.nn.Recurrent(cell)(mg.randn(6, 2, 3))
        >>> out.shape
        (6, 2, 4)
    """

    def __init__(self, cell: Module, input_p: float = 0.0, hidden_p: float = 0.0) -> None:
        super().__init__()
        if not isinstance(cell, Module):
            raise TypeError(f"VariationalDropoutCell: cell must be a cell Module, got {type(cell).__name__}")
        self.cell = cell
        self.input_p = _check_p("VariationalDropoutCell", "input_p", input_p)
        self.hidden_p = _check_p("VariationalDropoutCell", "hidden_p", hidden_p)
        self._masks: tuple[Tensor, Tensor] | None = None

    def start_sequence(self) -> None:
        """Forget the masks: the next step draws new ones for the new sequence."""
        self._masks = None

    def initial_state(self, batch_size: int) -> Any:
        return self.cell.initial_state(batch_size)

    def forward(self, x_t: Tensor, state: Any) -> Any:
        if not self.training:
            return self.cell(x_t, state)
        h_prev = state[0] if isinstance(state, tuple) else state
        if self._masks is None or self._masks[0].shape[0] != x_t.shape[0]:
            self._masks = (_mask(tuple(x_t.shape), self.input_p, x_t.dtype),
                           _mask(tuple(h_prev.shape), self.hidden_p, h_prev.dtype))
        x_mask, h_mask = self._masks
        h_dropped = h_prev * h_mask
        state = (h_dropped,) + tuple(state[1:]) if isinstance(state, tuple) else h_dropped
        return self.cell(x_t * x_mask, state)

    def extra_repr(self) -> str:
        return f"input_p={self.input_p}, hidden_p={self.hidden_p}"
