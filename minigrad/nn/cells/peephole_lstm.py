"""An LSTM cell with peephole connections (Gers and Schmidhuber 2000), written as a user would.

The gates also look at the cell state: the input and forget gates at ``c_{t-1}``, the output
gate at the new ``c_t``; each peephole is one weight per unit (``p_i``, ``p_f``, ``p_o``)::

    i_t = sigmoid(x_t @ W_ii.T + h_{t-1} @ W_hi.T + p_i * c_{t-1} + b_i)
    f_t = sigmoid(x_t @ W_if.T + h_{t-1} @ W_hf.T + p_f * c_{t-1} + b_f)
    g_t = tanh(x_t @ W_ig.T + h_{t-1} @ W_hg.T + b_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = sigmoid(x_t @ W_io.T + h_{t-1} @ W_ho.T + p_o * c_t + b_o)
    h_t = o_t * tanh(c_t)
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.random import rng
from minigrad.tensor import Tensor


class PeepholeLSTMCell(Module):
    """One LSTM step whose gates also see the cell state (peephole weights ``p_i, p_f, p_o``).

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.PeepholeLSTMCell(3, 4)
        >>> h, c = cell(mg.randn(2, 3), cell.initial_state(2))
        >>> h.shape, c.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, dtype: object = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        dtype = get_default_dtype() if dtype is None else to_dtype(dtype)
        self.weight_ih = Parameter(np.empty((4 * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(np.empty((4 * hidden_size, hidden_size), dtype))
        self.bias = Parameter(np.empty(4 * hidden_size, dtype))
        self.peephole = Parameter(np.empty((3, hidden_size), dtype))  # rows p_i, p_f, p_o
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's LSTM."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p._array = rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)

    def initial_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Zeros ``(h_0, c_0)``, each ``(batch_size, hidden_size)``."""
        zeros = np.zeros((batch_size, self.hidden_size), self.weight_hh.dtype)
        return Tensor(zeros), Tensor(zeros.copy())

    def forward(self, x_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h_prev, c_prev = state
        a_i, a_f, a_g, a_o = (x_t @ self.weight_ih.T + h_prev @ self.weight_hh.T + self.bias).chunk(4, -1)
        p_i, p_f, p_o = self.peephole[0], self.peephole[1], self.peephole[2]
        i_t = (a_i + p_i * c_prev).sigmoid()
        f_t = (a_f + p_f * c_prev).sigmoid()
        c_t = f_t * c_prev + i_t * a_g.tanh()
        o_t = (a_o + p_o * c_t).sigmoid()
        h_t = o_t * c_t.tanh()
        return h_t, c_t
