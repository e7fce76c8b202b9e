"""An LSTM cell with layer normalisation (Ba, Kiros and Hinton 2016), written as a user would.

It is a plain ``Module`` with ``forward(x_t, state) -> state`` and ``initial_state(batch_size)``,
so ``mg.nn.Recurrent`` runs it over sequences, stacked and in both directions::

    gates = LN(x_t @ W_ih.T) + LN(h_{t-1} @ W_hh.T) + b     four blocks i, f, g, o
    c_t   = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t   = sigmoid(o) * tanh(LN(c_t))

Normalising each sum keeps the gates' inputs at the same scale whatever the weights grow to.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.random import rng
from minigrad.tensor import Tensor


def layer_norm(x: Tensor, gain: Tensor, shift: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise each row of ``x`` to mean 0 and variance 1, then scale by ``gain`` and add ``shift``.

    Example::

        >>> import minigrad as mg
        >>> y = layer_norm(mg.tensor([[1.0, 2.0, 3.0]]), mg.ones(3), mg.zeros(3))
        >>> [round(v, 3) for v in y[0].tolist()]
        [-1.225, 0.0, 1.225]
    """
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / (var + eps).sqrt() * gain + shift


class LayerNormLSTMCell(Module):
    """One LSTM step with layer normalisation of the two gate sums and of the cell state.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.Recurrent(mg.nn.LayerNormLSTMCell(3, 5), batch_first=True)
        >>> out, (h_n, c_n) = lstm(mg.randn(2, 7, 3))
        >>> out.shape, h_n.shape
        ((2, 7, 5), (1, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, dtype: object = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        dtype = get_default_dtype() if dtype is None else to_dtype(dtype)
        gates = 4 * hidden_size
        self.weight_ih = Parameter(np.empty((gates, input_size), dtype))
        self.weight_hh = Parameter(np.empty((gates, hidden_size), dtype))
        self.bias = Parameter(np.empty(gates, dtype))
        self.ln_ih_gain, self.ln_ih_shift = Parameter(np.empty(gates, dtype)), Parameter(np.empty(gates, dtype))
        self.ln_hh_gain, self.ln_hh_shift = Parameter(np.empty(gates, dtype)), Parameter(np.empty(gates, dtype))
        self.ln_c_gain = Parameter(np.empty(hidden_size, dtype))
        self.ln_c_shift = Parameter(np.empty(hidden_size, dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights and bias ~ U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's LSTM; layer-norm gains 1, shifts 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if "gain" in name:
                p._array = np.ones(p.shape, p.dtype)
            elif "shift" in name:
                p._array = np.zeros(p.shape, p.dtype)
            else:
                p._array = rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)

    def initial_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Zeros ``(h_0, c_0)``, each ``(batch_size, hidden_size)``."""
        zeros = np.zeros((batch_size, self.hidden_size), self.weight_hh.dtype)
        return Tensor(zeros), Tensor(zeros.copy())

    def forward(self, x_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h_prev, c_prev = state
        gates = (layer_norm(x_t @ self.weight_ih.T, self.ln_ih_gain, self.ln_ih_shift)
                 + layer_norm(h_prev @ self.weight_hh.T, self.ln_hh_gain, self.ln_hh_shift) + self.bias)
        i, f, g, o = gates.chunk(4, -1)
        c_t = f.sigmoid() * c_prev + i.sigmoid() * g.tanh()
        h_t = o.sigmoid() * layer_norm(c_t, self.ln_c_gain, self.ln_c_shift).tanh()
        return h_t, c_t
