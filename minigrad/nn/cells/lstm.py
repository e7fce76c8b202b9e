"""The LSTM cell (gates i, f, g, o in PyTorch's order; optional projection ``W_hr``).

State ``(h_t, c_t)``. The compiled kernels and their NumPy references are in
``minigrad/kernels/lstm.py`` (``lstm_step_*``, ``lstm_sequence_*``, ``lstm_sequence_*_parallel``).
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels import lstm as K
from minigrad.nn.cells.description import CellDescription, FusedKernels, LayerArrays, State, StepDrawing
from minigrad.tensor import Tensor
from minigrad.viz.marks import mark_gates


def lstm_step(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, W_ih: tuple[Tensor, ...],
              W_hh: tuple[Tensor, ...], b_ih: tuple[Tensor, ...], b_hh: tuple[Tensor, ...],
              W_hr: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step. ``W_ih`` etc. are the four gate blocks in PyTorch's order (i, f, g, o).

    ``W_hr`` is the optional projection of ``LSTM(proj_size=...)``: ``h_t = (o_t * tanh(c_t)) @ W_hr.T``.

    Example::

        >>> import minigrad as mg
        >>> W = [mg.zeros(1, 1)] * 4; b = [mg.zeros(1)] * 4
        >>> h, c = lstm_step(mg.ones(1, 1), mg.zeros(1, 1), mg.ones(1, 1), W, W, b, b)
        >>> round(c.item(), 4), round(h.item(), 4)          # f = 0.5 keeps half of c; g = 0
        (0.5, 0.2311)
    """
    W_ii, W_if, W_ig, W_io = W_ih
    W_hi, W_hf, W_hg, W_ho = W_hh
    b_ii, b_if, b_ig, b_io = b_ih
    b_hi, b_hf, b_hg, b_ho = b_hh

    i_t = (x_t @ W_ii.T + b_ii + h_prev @ W_hi.T + b_hi).sigmoid()  # input gate: how much of g_t to write
    f_t = (x_t @ W_if.T + b_if + h_prev @ W_hf.T + b_hf).sigmoid()  # forget gate: how much of c to keep
    g_t = (x_t @ W_ig.T + b_ig + h_prev @ W_hg.T + b_hg).tanh()     # candidate cell values
    o_t = (x_t @ W_io.T + b_io + h_prev @ W_ho.T + b_ho).sigmoid()  # output gate: how much of c to show

    mark_gates("lstm", i=i_t, f=f_t, g=g_t, o=o_t)  # drawings name them and keep their order

    c_t = f_t * c_prev + i_t * g_t  # c_t = f_t * c_{t-1} + i_t * g_t: a sum, so gradients flow along c
    h_t = o_t * c_t.tanh()          # h_t = o_t * tanh(c_t)
    if W_hr is not None:
        h_t = h_t @ W_hr.T          # projection (proj_size > 0): h_t = (o_t * tanh(c_t)) @ W_hr.T
    return h_t, c_t


def _step(x_t: Tensor, state: State, W_ih: tuple, W_hh: tuple, b_ih: tuple, b_hh: tuple,
          W_hr: Tensor | None = None) -> State:
    h_prev, c_prev = state
    return lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, W_hr)


# The compiled kernels (minigrad/kernels/lstm.py, each next to its NumPy reference `*_ref`). The LSTM's
# backward kernels write the gradients of the gate pre-activations over the saved gates (a.dgates).
def _step_forward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
    K.lstm_step_forward(a.gates, a.rec, a.bias, a.h_all, a.c_all, a.out, a.lengths, t, tp, tn)


def _step_backward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
    K.lstm_step_backward(a.dgates, a.c_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.carry_c, a.dh_all, t, tp, tn)


def _sequence_forward(a: LayerArrays, w_hh_t: np.ndarray) -> None:
    K.lstm_sequence_forward(a.gates, w_hh_t, a.bias, a.h_all, a.c_all, a.out, a.lengths, a.reverse, a.rec)


def _sequence_backward(a: LayerArrays, w_hh: np.ndarray) -> None:
    K.lstm_sequence_backward(a.dgates, w_hh, a.c_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.carry_c, a.dh_all,
                             a.reverse)


def _parallel_forward(a: LayerArrays, w_hh: np.ndarray, units: np.ndarray) -> None:
    K.lstm_sequence_forward_parallel(a.gates, w_hh, a.bias, a.h_all, a.c_all, a.out, a.lengths, a.reverse, a.rec,
                                     units)


def _parallel_backward(a: LayerArrays, w_hh: np.ndarray, units: np.ndarray, need_h0: bool) -> None:
    K.lstm_sequence_backward_parallel(a.dgates, w_hh, a.c_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.carry_c,
                                      a.dh_all, a.reverse, units, need_h0)


def _rows_forward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
    K.lstm_sequence_forward_rows(a.gates, *packed, a.bias, a.h_all, a.c_all, a.out, a.lengths, a.reverse, a.rec, rows)


def _rows_backward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
    K.lstm_sequence_backward_rows(a.dgates, *packed, a.c_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.carry_c,
                                  a.dh_all, a.reverse, rows)


LSTM = CellDescription(
    mode="lstm", gates=("i", "f", "g", "o"), state=("h", "c"), step=_step,
    kernels=FusedKernels(_step_forward, _step_backward, _sequence_forward, _sequence_backward, _parallel_forward,
                         _parallel_backward, _rows_forward, _rows_backward, cell_state=True,
                         in_place_backward=True),
    equations=(
        "i_t = sigmoid(x_t @ W_ii.T + b_ii + h_{t-1} @ W_hi.T + b_hi)",
        "f_t = sigmoid(x_t @ W_if.T + b_if + h_{t-1} @ W_hf.T + b_hf)",
        "g_t = tanh(x_t @ W_ig.T + b_ig + h_{t-1} @ W_hg.T + b_hg)",
        "o_t = sigmoid(x_t @ W_io.T + b_io + h_{t-1} @ W_ho.T + b_ho)",
        "c_t = f_t * c_{t-1} + i_t * g_t",
        "h_t = o_t * tanh(c_t)",
    ),
    drawing=StepDrawing(
        nodes={
            "gates": ("gates", "W_ih x_t + b_ih + W_hh h_{t-1} + b_hh"),
            "i": ("i_t  input gate", "sigmoid(gates[0:H])"),
            "f": ("f_t  forget gate", "sigmoid(gates[H:2H])"),
            "g": ("g_t  candidate", "tanh(gates[2H:3H])"),
            "o": ("o_t  output gate", "sigmoid(gates[3H:4H])"),
            "c": ("c_t", "f_t * c_{t-1} + i_t * g_t"),
            "h": ("h_t", "o_t * tanh(c_t)"),
        },
        edges=(("gates", "i"), ("gates", "f"), ("gates", "g"), ("gates", "o"),
               ("f", "c"), ("i", "c"), ("g", "c"), ("o", "h"), ("c", "h")),
        takes={"x": ("gates",), "h": ("gates",), "c": ("c",), "weight_ih": ("gates",), "weight_hh": ("gates",),
               "bias_ih": ("gates",), "bias_hh": ("gates",)},
        columns=(("i", "f", "g", "o"),),
        values={name: ("", name) for name in ("i", "f", "g", "o", "c", "h")},
    ),
)
