"""The GRU cell (gates r, z, n in PyTorch's order; the reset gate applied after the matmul).

State ``(h_t,)``. The compiled kernels and their NumPy references are in
``minigrad/kernels/gru.py`` (``gru_step_*``, ``gru_sequence_*``).
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels import gru as K
from minigrad.nn.cells.description import CellDescription, FusedKernels, LayerArrays, State, StepDrawing
from minigrad.tensor import Tensor
from minigrad.viz.marks import mark_gates


def gru_step(x_t: Tensor, h_prev: Tensor, W_ih: tuple[Tensor, ...], W_hh: tuple[Tensor, ...],
             b_ih: tuple[Tensor, ...], b_hh: tuple[Tensor, ...]) -> Tensor:
    """One GRU step in PyTorch's form (gate blocks in the order r, z, n).

    Two differences from many textbooks: the reset gate multiplies ``h_{t-1} @ W_hn.T + b_hn``
    *after* the matmul (textbook: ``U (r * h)``), and ``z_t`` weighs the *old* state (textbook:
    ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t``, the roles of z and 1 - z swapped).

    Example::

        >>> import minigrad as mg
        >>> W = [mg.zeros(1, 1)] * 3; b = [mg.zeros(1)] * 3
        >>> gru_step(mg.ones(1, 1), mg.ones(1, 1), W, W, b, b).item()  # z = 0.5, n = 0
        0.5
    """
    W_ir, W_iz, W_in = W_ih
    W_hr, W_hz, W_hn = W_hh
    b_ir, b_iz, b_in = b_ih
    b_hr, b_hz, b_hn = b_hh

    r_t = (x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr).sigmoid()          # reset gate
    z_t = (x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz).sigmoid()          # update gate
    n_t = (x_t @ W_in.T + b_in + r_t * (h_prev @ W_hn.T + b_hn)).tanh()     # candidate state
    h_t = (1 - z_t) * n_t + z_t * h_prev                                    # z_t = share of the old state kept
    mark_gates("gru", r=r_t, z=z_t, n=n_t)  # drawings name them and keep their order
    return h_t


def _step(x_t: Tensor, state: State, W_ih: tuple, W_hh: tuple, b_ih: tuple, b_hh: tuple) -> State:
    return (gru_step(x_t, state[0], W_ih, W_hh, b_ih, b_hh),)


# The compiled kernels (minigrad/kernels/gru.py, each next to its NumPy reference `*_ref`). The
# hidden side of n, hn = h_{t-1} @ W_hn.T + b_hn, is kept apart: r_t multiplies it after the matmul.
def _step_forward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
    K.gru_step_forward(a.gates, a.rec, a.bias, a.bias_hn, a.h_all, a.hn, a.out, a.lengths, t, tp, tn)


def _step_backward(a: LayerArrays, t: int, tp: int, tn: int) -> None:
    K.gru_step_backward(a.gates, a.hn, a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgx, a.dgates, a.dh_all,
                        t, tp, tn)


def _sequence_forward(a: LayerArrays, w_hh_t: np.ndarray) -> None:
    K.gru_sequence_forward(a.gates, w_hh_t, a.bias, a.bias_hn, a.h_all, a.hn, a.out, a.lengths, a.reverse, a.rec)


def _sequence_backward(a: LayerArrays, w_hh: np.ndarray) -> None:
    K.gru_sequence_backward(a.gates, w_hh, a.hn, a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgx, a.dgates,
                            a.dh_all, a.reverse)


def _rows_forward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
    K.gru_sequence_forward_rows(a.gates, *packed, a.bias, a.bias_hn, a.h_all, a.hn, a.out, a.lengths, a.reverse, a.rec,
                                rows)


def _rows_backward(a: LayerArrays, packed: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
    K.gru_sequence_backward_rows(a.gates, *packed, a.hn, a.h_all, a.lengths, a.grad_out, a.rec, a.carry_h, a.dgx,
                                 a.dgates, a.dh_all, a.reverse, rows)


GRU = CellDescription(
    mode="gru", gates=("r", "z", "n"), state=("h",), step=_step,
    kernels=FusedKernels(_step_forward, _step_backward, _sequence_forward, _sequence_backward,
                         rows_forward=_rows_forward, rows_backward=_rows_backward, hidden_n=True),
    equations=(
        "r_t = sigmoid(x_t @ W_ir.T + b_ir + h_{t-1} @ W_hr.T + b_hr)",
        "z_t = sigmoid(x_t @ W_iz.T + b_iz + h_{t-1} @ W_hz.T + b_hz)",
        "n_t = tanh(x_t @ W_in.T + b_in + r_t * (h_{t-1} @ W_hn.T + b_hn))",
        "h_t = (1 - z_t) * n_t + z_t * h_{t-1}",
    ),
    drawing=StepDrawing(
        nodes={
            "gi": ("gi", "W_ih x_t + b_ih"),
            "gh": ("gh", "W_hh h_{t-1} + b_hh"),
            "r": ("r_t  reset gate", "sigmoid(gi_r + gh_r)"),
            "z": ("z_t  update gate", "sigmoid(gi_z + gh_z)"),
            "n": ("n_t  candidate", "tanh(gi_n + r_t * gh_n)"),
            "h": ("h_t", "(1 - z_t) * n_t + z_t * h_{t-1}"),
        },
        edges=(("gi", "r"), ("gh", "r"), ("gi", "z"), ("gh", "z"), ("gi", "n"), ("gh", "n"), ("r", "n"),
               ("z", "h"), ("n", "h")),
        takes={"x": ("gi",), "h": ("gh", "h"), "c": (), "weight_ih": ("gi",), "weight_hh": ("gh",),
               "bias_ih": ("gi",), "bias_hh": ("gh",)},
        columns=(("gi", "gh"), ("r", "z")),
        values={"r": ("", "r"), "z": ("", "z"), "n": ("", "n"), "h": ("", "h"), "gh": ("gh_n ", "hn")},
    ),
)
