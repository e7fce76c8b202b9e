"""GRU kernels (gates r, z, n; PyTorch's placement of r: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

Each kernel sits next to its NumPy reference. The cell's description is ``minigrad/nn/cells/gru.py``;
the array layout the kernels share is described in ``minigrad/kernels/rnn.py``.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import Inline, borrow, kernel, prange
from minigrad.kernels.rnn_common import (
    _OPTIONS,
    _blocks,
    _carry_forward,
    _indices,
    _indices_jit,
    _matmul,
    _panels_matmul,
    _sigmoid,
    _tanh,
    _total_grad_h,
    _write_output,
    sigmoid_ref,
    unpacked_weight,
)

# ============================================================================================
# GRU: gates r, z, n. PyTorch's placement of r: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
# ============================================================================================


@Inline.with_options(_OPTIONS)
def _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn, r0, r1):
    """The forward step for rows ``r0..r1-1`` of the batch."""
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(r0, r1):
        h_prev, h_new, out_t, hn_t = h_all[tp, b], h_all[tn, b], out[t, b], hn[t, b]
        gt, rb = gates[t, b], rec[b]
        if t >= lengths[b]:
            _carry_forward(h_prev, h_new, out_t)
            gt[:] = 0
            hn_t[:] = 0
            continue
        r, z, n, _ = _blocks(gt, 3)
        rn, bn = rb[2 * H:], bias[2 * H:]
        rz_ = gt[:2 * H]  # r and z side by side: one loop for both sigmoids
        for k in range(2 * H):
            rz_[k] = _sigmoid(rz_[k] + rb[k] + bias[k], one)  # r = sigma(W_ir x + b_ir + W_hr h + b_hr), z
        for j in range(H):
            hn_t[j] = rn[j] + bias_hn[j]  # W_hn h + b_hn, kept for backward
        for j in range(H):
            n[j] = _tanh(n[j] + bn[j] + r[j] * hn_t[j], one)  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        for j in range(H):
            h_new[j] = (one - z[j]) * n[j] + z[j] * h_prev[j]  # h_t = (1 - z) * n + z * h_{t-1}
        _write_output(h_new, out_t)


@kernel(**_OPTIONS)
def gru_step_forward(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn):
    """One GRU step. ``rec = h_all[tp] @ W_hh^T`` (no bias), ``bias = b_ih + [b_hr, b_hz, 0]``,
    ``bias_hn = b_hn``. Overwrites ``gates[t]`` with ``r, z, n``; writes ``hn[t] = W_hn h + b_hn``,
    ``h_all[tn]`` and ``out[t]``.
    """
    _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn, np.int64(0), gates.shape[1])


def gru_step_forward_ref(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn) -> None:
    H = h_all.shape[2]
    pre = gates[t] + bias
    r = sigmoid_ref(pre[:, :H] + rec[:, :H])
    z = sigmoid_ref(pre[:, H:2 * H] + rec[:, H:2 * H])
    hn_t = rec[:, 2 * H:] + bias_hn
    n = np.tanh(pre[:, 2 * H:] + r * hn_t)
    h = (1 - z) * n + z * h_all[tp]
    active = (t < lengths)[:, None]
    gates[t] = np.where(active, np.concatenate([r, z, n], axis=1), 0)
    hn[t] = np.where(active, hn_t, 0)
    h_all[tn] = np.where(active, h, h_all[tp])
    if out.shape[2]:
        out[t] = np.where(active, h, 0)


@Inline.with_options(_OPTIONS)
def _gru_backward_step(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                       t, tp, tn, r0, r1):
    """The backward step for rows ``r0..r1-1`` of the batch."""
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(r0, r1):
        dh_t, ch = dh_all[t, b], carry_h[b]
        if not _total_grad_h(dh_t, rec[b], ch, grad_out[t, b], t < lengths[b]):
            dgx[t, b, :] = 0
            dgh[t, b, :] = 0
            continue
        r, z, n, _ = _blocks(gates[t, b], 3)
        dxr, dxz, dxn, _ = _blocks(dgx[t, b], 3)
        dhr, dhz, dhn, _ = _blocks(dgh[t, b], 3)
        h_prev, hn_t = h_all[tp, b], hn[t, b]
        # Few arrays per loop: more and LLVM gives up proving they don't overlap (scalar code).
        for j in range(H):
            dxn[j] = dh_t[j] * (one - z[j]) * (one - n[j] * n[j])  # d pre-activation of n (through tanh)
        for j in range(H):
            dhn[j] = dxn[j] * r[j]  # W_hn h sits inside r * (...)
            dxr[j] = dxn[j] * hn_t[j] * r[j] * (one - r[j])
        for j in range(H):
            dxz[j] = dh_t[j] * (h_prev[j] - n[j]) * z[j] * (one - z[j])  # h = (1 - z) n + z h_prev
            ch[j] = dh_t[j] * z[j]  # h_{t-1} also reaches h_t directly: z * h_{t-1}
        for j in range(H):  # the r and z blocks are the same on both sides
            dhr[j] = dxr[j]
            dhz[j] = dxz[j]


@kernel(**_OPTIONS)
def gru_step_backward(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                      t, tp, tn):
    """Backward of one GRU step: ``dgx[t]`` (grads of the input-side pre-activations, for
    ``W_ih``/``b_ih``/``x``) and ``dgh[t]`` (hidden side, for ``W_hh``/``b_hh``/``h``). They differ
    only in the ``n`` block: ``dgh_n = r * dgx_n``. Then the caller sets ``rec = dgh[t] @ W_hh``.
    """
    _gru_backward_step(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                       t, tp, tn, np.int64(0), gates.shape[1])


def gru_step_backward_ref(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                          t, tp, tn) -> None:
    H = h_all.shape[2]
    active = (t < lengths)[:, None]
    dh = rec + carry_h + (np.where(active, grad_out[t], 0) if grad_out.shape[2] else 0)
    dh_all[t] = dh
    r, z, n = (gates[t][:, k * H:(k + 1) * H] for k in range(3))
    dn = dh * (1 - z) * (1 - n * n)
    dz = dh * (h_all[tp] - n) * z * (1 - z)
    dr = dn * hn[t] * r * (1 - r)
    dgx[t] = np.where(active, np.concatenate([dr, dz, dn], axis=1), 0)
    dgh[t] = np.where(active, np.concatenate([dr, dz, dn * r], axis=1), 0)
    carry_h[...] = np.where(active, dh * z, dh)


@kernel(**_OPTIONS)
def gru_sequence_forward(gates, w_hh_t, bias, bias_hn, h_all, hn, out, lengths, reverse, rec):
    """The whole GRU forward in one call (tiny ``B*H``); ``w_hh_t = W_hh^T`` ``(H, 3H)``."""
    n_time = gates.shape[0]
    for s in range(n_time):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        _matmul(h_all[tp], w_hh_t, rec)
        _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn, np.int64(0), gates.shape[1])


def gru_sequence_forward_ref(gates, w_hh_t, bias, bias_hn, h_all, hn, out, lengths, reverse, rec) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time - 1, -1, -1) if reverse else range(n_time)):
        tp, tn = _indices(t, reverse)
        rec[...] = h_all[tp] @ w_hh_t
        gru_step_forward_ref(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn)


@kernel(**_OPTIONS)
def gru_sequence_backward(gates, w_hh, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                          dh_all, reverse):
    """The whole GRU backward in one call; on return ``rec = dgh[first step] @ W_hh``."""
    n_time = gates.shape[0]
    for s in range(n_time - 1, -1, -1):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        _gru_backward_step(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                           t, tp, tn, np.int64(0), gates.shape[1])
        _matmul(dgh[t], w_hh, rec)


def gru_sequence_backward_ref(gates, w_hh, hn, h_all, lengths, grad_out, rec, carry_h, dgx,
                              dgh, dh_all, reverse) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time) if reverse else range(n_time - 1, -1, -1)):
        tp, tn = _indices(t, reverse)
        gru_step_backward_ref(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                              dh_all, t, tp, tn)
        rec[...] = dgh[t] @ w_hh


@kernel(parallel=True, **_OPTIONS)
def gru_sequence_forward_rows(gates, cols, panels, bias, bias_hn, h_all, hn, out, lengths, reverse, rec, rows):
    """``gru_sequence_forward`` with the batch split across threads by blocks of rows (``kernels/lstm.py:
    lstm_sequence_forward_rows`` explains the split). ``W_hh^T`` in ``packed_weight``'s panels."""
    gates, bias, bias_hn, h_all, hn, out, lengths, rec = (borrow(gates), borrow(bias), borrow(bias_hn), borrow(h_all),
                                                          borrow(hn), borrow(out), borrow(lengths), borrow(rec))
    n_time, parts = gates.shape[0], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time):
            t = n_time - 1 - s if reverse else s
            tp, tn = _indices_jit(t, reverse)
            _panels_matmul(h_all[tp, r0:r1], cols, panels, rec[r0:r1])
            _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn, r0, r1)


def gru_sequence_forward_rows_ref(gates, cols, panels, bias, bias_hn, h_all, hn, out, lengths, reverse, rec,
                                  rows) -> None:
    gru_sequence_forward_ref(gates, unpacked_weight(cols, panels), bias, bias_hn, h_all, hn, out, lengths, reverse, rec)


def gru_sequence_forward_rows_stand_in(gates, cols, panels, bias, bias_hn, h_all, hn, out, lengths, reverse, rec,
                                       rows) -> None:
    """While the row-split kernel compiles (``_jit.LazyKernel.stand_in``): the serial kernel, all rows at once."""
    gru_sequence_forward(gates, unpacked_weight(cols, panels), bias, bias_hn, h_all, hn, out, lengths, reverse, rec)


@kernel(parallel=True, **_OPTIONS)
def gru_sequence_backward_rows(gates, cols, panels, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all,
                               reverse, rows):
    """``gru_sequence_backward`` with the batch split across threads by blocks of rows; on return
    ``rec = dgh[first step] @ W_hh``. ``W_hh`` in ``packed_weight``'s panels."""
    gates, hn, h_all, lengths, grad_out, rec = (borrow(gates), borrow(hn), borrow(h_all), borrow(lengths),
                                                borrow(grad_out), borrow(rec))
    carry_h, dgx, dgh, dh_all = borrow(carry_h), borrow(dgx), borrow(dgh), borrow(dh_all)
    n_time, parts = gates.shape[0], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time - 1, -1, -1):
            t = n_time - 1 - s if reverse else s
            tp, tn = _indices_jit(t, reverse)
            _gru_backward_step(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh, dh_all, t, tp, tn, r0, r1)
            _panels_matmul(dgh[t, r0:r1], cols, panels, rec[r0:r1])


def gru_sequence_backward_rows_ref(gates, cols, panels, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                                   dh_all, reverse, rows) -> None:
    gru_sequence_backward_ref(gates, unpacked_weight(cols, panels), hn, h_all, lengths, grad_out, rec, carry_h, dgx,
                              dgh, dh_all, reverse)


def gru_sequence_backward_rows_stand_in(gates, cols, panels, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                                        dh_all, reverse, rows) -> None:
    """While the row-split kernel compiles: the serial kernel, all rows at once."""
    gru_sequence_backward(gates, unpacked_weight(cols, panels), hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                          dh_all, reverse)
