"""An LSTM layer with a projection (``LSTM(proj_size=P)``) as one graph node, on the LSTM's step kernels.

The projected LSTM of Sak et al. (2014), as PyTorch defines it: the cell computes
``m_t = o_t * tanh(c_t)`` of size ``H``, and the state it outputs and carries to the next step is
its projection ``h_t = m_t @ W_hr^T`` of size ``P < H``. The gates read ``h_{t-1}`` (size ``P``),
so ``W_hh`` is ``(4H, P)``. The textbook step is ``lstm_step`` (``nn/cells/lstm.py``); here the
same equations run around the compiled step kernels of the plain LSTM (``kernels/lstm.py``),
which compute ``m_t`` where a plain LSTM has its ``h_t``:

forward::

    gates = X @ W_ih^T                        # all time steps at once: (T*B, I) @ (I, 4H)
    for t in steps:
        rec = h_{t-1} @ W_hh^T                # (B, P) @ (P, 4H)
        kernel: gates_t, m_t, c_t             # the LSTM step: m_t = o_t * tanh(c_t)
        h_t = m_t @ W_hr^T                    # the projection

backward (reverse time)::

    for t in reversed(steps):
        dh_t = dL/doutput_t + dgates_{t+1} @ W_hh   (+ dL/dh_n after the last step)
        dm_t = dh_t @ W_hr
        kernel: dm_t -> dgates_t, dL/dc_{t-1}
    dW_hr = dH^T M,  dW_ih = dG^T X,  dW_hh = dG^T H_prev,  db = sum(dG),  dX = dG @ W_ih

Every sequence of the batch runs all ``T`` steps: a packed batch of a projected LSTM takes the
reference path. The node is drawn as one op (``nn/fused_rnn.py``'s layer declares its steps to
the drawings; this one does not): draw ``LSTM(..., impl="reference")`` to see each step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad._allocator import contiguous_aligned, empty_aligned, zeros_aligned
from minigrad.autograd import Function
from minigrad.autograd.stacked_products import transposed_product
from minigrad.errors import ShapeError
from minigrad.kernels.bias_rows import sum_rows
from minigrad.kernels.products import matmul2d
from minigrad.kernels.rnn_common import _indices as step_indices  # the one (tp, tn) rule
from minigrad.kernels.transpose import contiguous_transpose
from minigrad.nn.cells import BUILTIN_CELLS
from minigrad.nn.cells.description import LayerArrays
from minigrad.nn.fused_layer_parts import (
    LAYER_DTYPES,
    full_lengths,
    gate_gradients_buffer,
    layer_biases,
    refuse_spent_gates,
)
from minigrad.tensor import Tensor

_LSTM = BUILTIN_CELLS["lstm"]


class FusedProjectedLSTMLayer(Function):
    """One projected LSTM layer in one direction, as one node of the graph.

    Inputs ``(x (T, B, I), h0 (B, P), c0 (B, H), weight_ih (4H, I), weight_hh (4H, P), bias_ih,
    bias_hh, weight_hr (P, H))`` (the biases may be None); outputs ``(output (T, B, P), h_n (B, P),
    c_n (B, H))``. Use ``fused_projected_lstm_layer``, not this class directly.
    """

    name = "lstm_proj_layer"
    input_roles = ("x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    output_roles = ("output", "h_n", "c_n")
    _buffers: tuple = ()  # (gates, m_all, h_all, c_all): what forward computed, for backward
    _gates_spent = False  # True once a backward has turned the saved gates into their gradients

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = bool(reverse)

    def _steps(self, T: int) -> range:
        """Time indices in the order the forward pass visits them."""
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):  # type: ignore[override]
        self._inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)  # for backward_create_graph only (no copies)
        T, B, I = x.shape
        P, H = w_hr.shape
        G, dtype = 4 * H, x.dtype
        x2d = contiguous_aligned(x).reshape(T * B, I)
        gates = empty_aligned((T, B, G), dtype)
        matmul2d(x2d, w_ih.T, out=gates.reshape(T * B, G))  # the input side of every step at once

        # m_all, c_all: (T+1, B, H), the kernel's "h" and c; h_all: (T+1, B, P), the projected states.
        # Index t / t+1 holds the value before / after step t (the other way round with reverse).
        first, last = (T, 0) if self.reverse else (0, T)
        m_all = empty_aligned((T + 1, B, H), dtype)
        c_all = empty_aligned((T + 1, B, H), dtype)
        h_all = empty_aligned((T + 1, B, P), dtype)
        m_all[first] = 0  # (no m before the first step; the kernels do not read it when every step is active)
        h_all[first] = h0
        c_all[first] = c0
        a = LayerArrays(gates, m_all, full_lengths(B, T), empty_aligned((B, G), dtype), self.reverse,
                        out=np.empty((T, B, 0), dtype), bias=layer_biases(b_ih, b_hh, G, H, dtype)[0], c_all=c_all)
        w_hh_t, w_hr_t = contiguous_transpose(w_hh), contiguous_transpose(w_hr)  # read row by row in every step
        for t in self._steps(T):
            tp, tn = step_indices(t, self.reverse)
            matmul2d(h_all[tp], w_hh_t, out=a.rec)  # rec = h_{t-1} @ W_hh^T
            _LSTM.kernels.step_forward(a, t, tp, tn)  # gates_t, m_t = o_t * tanh(c_t), c_t
            matmul2d(m_all[tn], w_hr_t, out=h_all[tn])  # h_t = m_t @ W_hr^T
        out = h_all[:-1] if self.reverse else h_all[1:]
        h_n = h_all[last]
        # Saved, and so versioned: the inputs backward reads, and the outputs that show h_all's memory.
        self.save_for_backward(x2d, w_ih, w_hh, w_hr, out, h_n)
        self._buffers = (gates, m_all, h_all, c_all)
        return out, h_n, c_all[last].copy()  # (a copy: c_all's memory is recycled once the graph is freed)

    def backward(self, grad_out, grad_hn, grad_cn):  # type: ignore[override]
        x2d, w_ih, w_hh, w_hr, _, _ = self.saved_tensors
        gates, m_all, h_all, c_all = self._buffers
        refuse_spent_gates(self)
        T, B, G = gates.shape
        P, H = w_hr.shape
        dtype = gates.dtype
        dgates = gate_gradients_buffer(self, True, gates, empty_aligned)  # the LSTM's kernels work in place
        # The kernel's "dh" is dm_t, handed to it in `rec`; its own carry of dh stays zero (every step active).
        a = LayerArrays(dgates, m_all, full_lengths(B, T), empty_aligned((B, H), dtype), self.reverse,
                        c_all=c_all, grad_out=np.empty((T, B, 0), dtype), carry_h=zeros_aligned((B, H), dtype),
                        carry_c=zeros_aligned((B, H), dtype), dgates=dgates, dh_all=empty_aligned((T, B, H), dtype))
        if grad_cn is not None:
            a.carry_c[...] = grad_cn
        grad_out = None if grad_out is None else contiguous_aligned(grad_out.astype(dtype, copy=False))
        dh_all = empty_aligned((T, B, P), dtype)  # dL/dh_t of every step, for dW_hr
        carry = zeros_aligned((B, P), dtype)  # dL/dh_t through the next step (or from h_n)
        if grad_hn is not None:
            carry[...] = grad_hn
        need_h0 = self.needs_input_grad[1]
        for k, t in enumerate(reversed(self._steps(T))):
            tp, tn = step_indices(t, self.reverse)
            dh = dh_all[t]
            if grad_out is None:
                dh[...] = carry
            else:
                np.add(grad_out[t], carry, out=dh)  # dh_t = dL/doutput_t + what reaches h_t from step t+1
            matmul2d(dh, w_hr, out=a.rec)  # dm_t = dh_t @ W_hr
            _LSTM.kernels.step_backward(a, t, tp, tn)  # dgates_t, and dL/dc_{t-1} in carry_c
            if k < T - 1 or need_h0:  # after the first step, only dL/dh_0 would need it
                matmul2d(dgates[t], w_hh, out=carry)  # dL/dh_{t-1} through the gates
        return self._non_recurrent_gradients(dgates, dh_all, carry, a.carry_c, x2d, w_ih, m_all, h_all)

    def _non_recurrent_gradients(self, dgates, dh_all, dh0, dc0, x2d, w_ih, m_all, h_all) -> tuple:
        """Everything that is not recurrent: one product over all T*B rows each."""
        T, B, G = dgates.shape
        P, H = h_all.shape[2], m_all.shape[2]
        needs = self.needs_input_grad
        dG = dgates.reshape(T * B, G)
        h_prev = (h_all[1:] if self.reverse else h_all[:-1]).reshape(T * B, P)  # the state each step read
        m_now = (m_all[:-1] if self.reverse else m_all[1:]).reshape(T * B, H)  # the m each step projected
        dx = matmul2d(dG, w_ih).reshape(T, B, -1) if needs[0] else None
        db_ih = sum_rows(dG) if needs[5] else None
        db_hh = (db_ih.copy() if db_ih is not None else sum_rows(dG)) if needs[6] else None
        return (dx, dh0 if needs[1] else None, dc0 if needs[2] else None,
                transposed_product(dG, x2d) if needs[3] else None,  # dW_ih = dG^T X
                transposed_product(dG, h_prev) if needs[4] else None,  # dW_hh = dG^T H_prev
                db_ih, db_hh,
                transposed_product(dh_all.reshape(T * B, P), m_now) if needs[7] else None)  # dW_hr = dH^T M

    def backward_create_graph(self, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        """The backward under ``create_graph=True``: the layer recomputed with its reference steps (the
        same equations in Tensor ops) and those differentiated, graph and all, as ``FusedRNNLayer`` does."""
        from minigrad.autograd import enable_grad
        from minigrad.nn.recurrent_shared import _gradients_through_recomputed, reference_rnn_layer

        _ = self.saved_tensors  # the backward-twice and modified-in-place checks
        inputs = [None if a is None else self.input_tensor(i, a) for i, a in enumerate(self._inputs)]
        with enable_grad():
            outputs = reference_rnn_layer("lstm", *inputs[:7], reverse=self.reverse, weight_hr=inputs[7])
        return _gradients_through_recomputed(self, inputs, outputs, grads)

    def release(self) -> None:
        self._buffers = ()
        super().release()


def can_run(x: Tensor, lengths: Any) -> bool:
    """Whether ``fused_projected_lstm_layer`` takes this call: float32/float64, every sequence full length."""
    if x._array.dtype not in LAYER_DTYPES:
        return False
    return lengths is None or bool((np.asarray(lengths) == x.shape[0]).all())


def fused_projected_lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                               bias_ih: Tensor | None, bias_hh: Tensor | None, weight_hr: Tensor, *,
                               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Run one projected LSTM layer in one direction with the LSTM's compiled step kernels.

    ``x`` is time-major ``(T, B, I)``; ``h0`` ``(B, P)``, ``c0`` ``(B, H)``; ``weight_hr`` ``(P, H)``;
    the other weights as ``fused_rnn_layer``'s, with ``weight_hh`` ``(4H, P)``. Returns ``(output
    (T, B, P), h_n (B, P), c_n (B, H))``, all from ONE graph node. The same numbers as
    ``reference_rnn_layer("lstm", ..., weight_hr=weight_hr)``, its textbook steps.

    Example::

        >>> import minigrad as mg
        >>> x, h0, c0 = mg.randn(6, 2, 3), mg.zeros(2, 2), mg.zeros(2, 5)
        >>> w_ih, w_hh = mg.randn(20, 3, requires_grad=True), mg.randn(20, 2, requires_grad=True)
        >>> w_hr = mg.randn(2, 5, requires_grad=True)
        >>> out, h_n, c_n = fused_projected_lstm_layer(x, h0, c0, w_ih, w_hh, None, None, w_hr)
        >>> out.shape, h_n.shape, c_n.shape, out.grad_fn.name
        ((6, 2, 2), (2, 2), (2, 5), 'lstm_proj_layer')
        >>> out.sum().backward(); w_hr.grad.shape
        (2, 5)
    """
    T, B, _ = x.shape
    P, H = weight_hr.shape
    expected = (("h0", h0, (B, P)), ("c0", c0, (B, H)), ("weight_hh", weight_hh, (4 * H, P)),
                ("weight_ih", weight_ih, (4 * H, x.shape[2])))
    for what, t, shape in expected:
        if t.shape != shape:
            raise ShapeError(f"fused_projected_lstm_layer: {what} must have shape {shape} for x of shape {x.shape} "
                             f"and weight_hr of shape {weight_hr.shape}, got {t.shape}")
    return FusedProjectedLSTMLayer.apply(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr,
                                         reverse=reverse)
