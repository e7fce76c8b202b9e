"""Elman RNN kernels: ``h_t = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu), each next to its NumPy reference.

The cell's description is ``minigrad/nn/cells/elman.py``; the array layout the kernels share is
described in ``minigrad/kernels/rnn.py``.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import Inline, borrow, kernel, prange
from minigrad.kernels.rnn_common import (
    _OPTIONS,
    _carry_forward,
    _indices,
    _indices_jit,
    _matmul,
    _panels_matmul,
    _tanh,
    _total_grad_h,
    _write_output,
    unpacked_weight,
)

# ============================================================================================
# Elman RNN: h_t = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
# ============================================================================================


@Inline.with_options(_OPTIONS)
def _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu, r0, r1):
    """The forward step for rows ``r0..r1-1`` of the batch."""
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(r0, r1):
        h_prev, h_new, out_t = h_all[tp, b], h_all[tn, b], out[t, b]
        if t >= lengths[b]:
            _carry_forward(h_prev, h_new, out_t)
            continue
        gt, rb = gates[t, b], rec[b]
        for j in range(H):
            pre = gt[j] + rb[j] + bias[j]
            if relu:
                h_new[j] = pre if pre > 0 else pre * 0  # pre * 0 keeps NaN a NaN
            else:
                h_new[j] = _tanh(pre, one)
        _write_output(h_new, out_t)


@kernel(**_OPTIONS)
def rnn_step_forward(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu):
    """One Elman step: ``h_all[tn] = act(gates[t] + rec + bias)``, ``act`` = relu if ``relu`` else tanh.
    ``gates`` (the input projection) is left as it is.
    """
    _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu, np.int64(0), gates.shape[1])


def rnn_step_forward_ref(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu) -> None:
    pre = gates[t] + rec + bias
    h = np.maximum(pre, 0) if relu else np.tanh(pre)
    active = (t < lengths)[:, None]
    h_all[tn] = np.where(active, h, h_all[tp])
    if out.shape[2]:
        out[t] = np.where(active, h, 0)


@Inline.with_options(_OPTIONS)
def _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu, r0, r1):
    """The backward step for rows ``r0..r1-1`` of the batch."""
    H = h_all.shape[2]
    one = h_all.dtype.type(1)
    for b in range(r0, r1):
        dh_t, ch = dh_all[t, b], carry_h[b]
        if not _total_grad_h(dh_t, rec[b], ch, grad_out[t, b], t < lengths[b]):
            dgates[t, b, :] = 0
            continue
        h_now, dg = h_all[tn, b], dgates[t, b]
        for j in range(H):
            if relu:
                dg[j] = dh_t[j] if h_now[j] > 0 else dh_t[j] * 0  # relu' = [h > 0]
            else:
                dg[j] = dh_t[j] * (one - h_now[j] * h_now[j])  # tanh' = 1 - h^2
        ch[:] = 0


@kernel(**_OPTIONS)
def rnn_step_backward(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu):
    """Backward of one Elman step: ``dgates[t] = dL/dh_t * act'``; then the caller sets ``rec = dgates[t] @ W_hh``."""
    _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu, np.int64(0),
                       h_all.shape[1])


def rnn_step_backward_ref(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn,
                          relu) -> None:
    active = (t < lengths)[:, None]
    dh = rec + carry_h + (np.where(active, grad_out[t], 0) if grad_out.shape[2] else 0)
    dh_all[t] = dh
    h = h_all[tn]
    d = dh * (h > 0) if relu else dh * (1 - h * h)
    dgates[t] = np.where(active, d, 0)
    carry_h[...] = np.where(active, 0, dh)


@kernel(**_OPTIONS)
def rnn_sequence_forward(gates, w_hh_t, bias, h_all, out, lengths, reverse, rec, relu):
    """The whole Elman forward in one call (tiny ``B*H``); ``w_hh_t = W_hh^T`` ``(H, H)``."""
    n_time = gates.shape[0]
    for s in range(n_time):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        _matmul(h_all[tp], w_hh_t, rec)
        _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu, np.int64(0), gates.shape[1])


def rnn_sequence_forward_ref(gates, w_hh_t, bias, h_all, out, lengths, reverse, rec, relu) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time - 1, -1, -1) if reverse else range(n_time)):
        tp, tn = _indices(t, reverse)
        rec[...] = h_all[tp] @ w_hh_t
        rnn_step_forward_ref(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu)


@kernel(**_OPTIONS)
def rnn_sequence_backward(w_hh, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse,
                          relu):
    """The whole Elman backward in one call; on return ``rec = dgates[first step] @ W_hh``."""
    n_time = dgates.shape[0]
    for s in range(n_time - 1, -1, -1):
        t = n_time - 1 - s if reverse else s
        tn = t if reverse else t + 1
        _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu, np.int64(0),
                       h_all.shape[1])
        _matmul(dgates[t], w_hh, rec)


def rnn_sequence_backward_ref(w_hh, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all,
                              reverse, relu) -> None:
    n_time = dgates.shape[0]
    for t in (range(n_time) if reverse else range(n_time - 1, -1, -1)):
        tn = t if reverse else t + 1
        rnn_step_backward_ref(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn,
                              relu)
        rec[...] = dgates[t] @ w_hh


@kernel(parallel=True, **_OPTIONS)
def rnn_sequence_forward_rows(gates, cols, panels, bias, h_all, out, lengths, reverse, rec, relu, rows):
    """``rnn_sequence_forward`` with the batch split across threads by blocks of rows (``kernels/lstm.py:
    lstm_sequence_forward_rows`` explains the split). ``W_hh^T`` in ``packed_weight``'s panels."""
    gates, bias, h_all, out, lengths, rec = (borrow(gates), borrow(bias), borrow(h_all), borrow(out),
                                             borrow(lengths), borrow(rec))
    n_time, parts = gates.shape[0], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time):
            t = n_time - 1 - s if reverse else s
            tp, tn = _indices_jit(t, reverse)
            _panels_matmul(h_all[tp, r0:r1], cols, panels, rec[r0:r1])
            _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu, r0, r1)


def rnn_sequence_forward_rows_ref(gates, cols, panels, bias, h_all, out, lengths, reverse, rec, relu, rows) -> None:
    rnn_sequence_forward_ref(gates, unpacked_weight(cols, panels), bias, h_all, out, lengths, reverse, rec, relu)


def rnn_sequence_forward_rows_stand_in(gates, cols, panels, bias, h_all, out, lengths, reverse, rec, relu,
                                       rows) -> None:
    """While the row-split kernel compiles (``_jit.LazyKernel.stand_in``): the serial kernel, all rows at once."""
    rnn_sequence_forward(gates, unpacked_weight(cols, panels), bias, h_all, out, lengths, reverse, rec, relu)


@kernel(parallel=True, **_OPTIONS)
def rnn_sequence_backward_rows(cols, panels, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse, relu,
                                rows):
    """``rnn_sequence_backward`` with the batch split across threads by blocks of rows; on return
    ``rec = dgates[first step] @ W_hh``. ``W_hh`` in ``packed_weight``'s panels."""
    h_all, lengths, grad_out, rec = borrow(h_all), borrow(lengths), borrow(grad_out), borrow(rec)
    carry_h, dgates, dh_all = borrow(carry_h), borrow(dgates), borrow(dh_all)
    n_time, parts = dgates.shape[0], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time - 1, -1, -1):
            t = n_time - 1 - s if reverse else s
            tn = t if reverse else t + 1
            _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu, r0, r1)
            _panels_matmul(dgates[t, r0:r1], cols, panels, rec[r0:r1])


def rnn_sequence_backward_rows_ref(cols, panels, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse,
                                   relu, rows) -> None:
    rnn_sequence_backward_ref(unpacked_weight(cols, panels), h_all, lengths, grad_out, rec, carry_h, dgates, dh_all,
                              reverse, relu)


def rnn_sequence_backward_rows_stand_in(cols, panels, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all,
                                        reverse, relu, rows) -> None:
    """While the row-split kernel compiles: the serial kernel, all rows at once."""
    rnn_sequence_backward(unpacked_weight(cols, panels), h_all, lengths, grad_out, rec, carry_h, dgates, dh_all,
                          reverse, relu)
