"""The Elman RNN cell: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` (or relu).

One gate block, one state tensor. The compiled kernels and their NumPy references are in
``minigrad/kernels/elman.py`` (``rnn_step_*``, ``rnn_sequence_*``).
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels import elman as K
from minigrad.nn.cells.description import CellDescription, FusedKernels, LayerArrays, State, StepDrawing
from minigrad.tensor import Tensor


def rnn_step(x_t: Tensor, h_prev: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
             nonlinearity: str = "tanh") -> Tensor:
    """One step of an Elman RNN: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``.

    Example::

        >>> import minigrad as mg
        >>> W_ih, W_hh, b = mg.ones(2, 3), mg.ones(2, 2), mg.zeros(2)
        >>> rnn_step(mg.zeros(1, 3), mg.zeros(1, 2), W_ih, W_hh, b, b).tolist()
        [[0.0, 0.0]]
    """
    if nonlinearity == "tanh":
        h_t = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).tanh()
    else:  # 'relu'
        h_t = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).relu()
    return h_t


def _tanh_step(x_t: Tensor, state: State, W_ih: tuple, W_hh: tuple, b_ih: tuple, b_hh: tuple) -> State:
    return (rnn_step(x_t, state[0], *W_ih, *W_hh, *b_ih, *b_hh, "tanh"),)


def _relu_step(x_t: Tensor, state: State, W_ih: tuple, W_hh: tuple, b_ih: tuple, b_hh: tuple) -> State:
    return (rnn_step(x_t, state[0], *W_ih, *W_hh, *b_ih, *b_hh, "relu"),)


def _fused_kernels(relu: bool) -> FusedKernels:
    """The compiled kernels (minigrad/kernels/elman.py, each next to its NumPy reference ``*_ref``)."""

    def step_forward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
        K.rnn_step_forward(a.gates, a.rec, a.bias, a.h_all, a.out, a.lengths, t, tp, tn, relu)

    def step_backward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
        K.rnn_step_backward(a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgates, a.dh_all, t, tn, relu)

    def sequence_forward(a: LayerArrays, w_hh_t: np.ndarray) -> None:
        K.rnn_sequence_forward(a.gates, w_hh_t, a.bias, a.h_all, a.out, a.lengths, a.reverse, a.rec, relu)

    def sequence_backward(a: LayerArrays, w_hh: np.ndarray) -> None:
        K.rnn_sequence_backward(w_hh, a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgates, a.dh_all, a.reverse,
                                relu)

    def rows_forward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
        K.rnn_sequence_forward_rows(a.gates, *packed, a.bias, a.h_all, a.out, a.lengths, a.reverse, a.rec, relu, rows)

    def rows_backward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
        K.rnn_sequence_backward_rows(*packed, a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgates, a.dh_all,
                                     a.reverse, relu, rows)

    return FusedKernels(step_forward, step_backward, sequence_forward, sequence_backward,
                        rows_forward=rows_forward, rows_backward=rows_backward)


def _drawing(nonlinearity: str) -> StepDrawing:
    """One equation node per step; every input feeds it."""
    return StepDrawing(
        nodes={"h": ("h_t", f"{nonlinearity}(W_ih x_t + b_ih + W_hh h_{{t-1}} + b_hh)")},
        edges=(),
        takes={"x": ("h",), "h": ("h",), "c": (), "weight_ih": ("h",), "weight_hh": ("h",), "bias_ih": ("h",),
               "bias_hh": ("h",)},
        values={"h": ("", "h")},
    )


RNN_TANH = CellDescription(
    mode="rnn_tanh", gates=("h",), state=("h",), step=_tanh_step, kernels=_fused_kernels(relu=False),
    equations=("h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)",), drawing=_drawing("tanh"),
)
RNN_RELU = CellDescription(
    mode="rnn_relu", gates=("h",), state=("h",), step=_relu_step, kernels=_fused_kernels(relu=True),
    equations=("h_t = relu(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)",), drawing=_drawing("relu"),
)
