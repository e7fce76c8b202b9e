"""LSTM kernels (gates i, f, g, o: rows of W stacked in that order), each next to its NumPy reference.

The cell's description is ``minigrad/nn/cells/lstm.py``; the array layout the kernels share is
described in ``minigrad/kernels/rnn.py``. The backward kernels write the gradients of the gate
pre-activations over the saved gates (``lstm_step_backward``).
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import Inline, borrow, kernel, prange
from minigrad.kernels.gemm import (
    _stack_tile,
    empty_panels,
    gemm_panel,
    pack_panels,
    pack_panels_transposed,
    panel_plan,
)
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


@Inline.with_options(_OPTIONS)
def _unit_blocks(row, H, u0, u1):
    """Hidden units ``u0..u1-1`` of each of the four gate blocks of a stacked row (as views).

    Kernels index these views from 0 (``i[j]``, not ``row[H + j]``): with a possibly negative
    index Numba must check for wraparound, and that check stops LLVM from vectorizing the loop.
    """
    return row[u0:u1], row[H + u0:H + u1], row[2 * H + u0:2 * H + u1], row[3 * H + u0:3 * H + u1]


@Inline.with_options(_OPTIONS)
def _lstm_inactive(h_prev, h_new, c_prev, c_new, out_t, i, f, g, o):
    """A padded step (``t >= lengths[b]``): the state passes through, the output and the gates are 0."""
    _carry_forward(h_prev, h_new, out_t)
    _carry_forward(c_prev, c_new, out_t[:0])
    i[:] = 0
    f[:] = 0
    g[:] = 0
    o[:] = 0


@Inline.with_options(_OPTIONS)
def _lstm_cell(i, f, g, o, c_prev, c_new, h_new, one):
    """The state update from the activated gates.

    Two loops, not one: LLVM vectorizes a loop only after checking at run time that the arrays
    it writes do not overlap the ones it reads, and gives up (scalar code, scalar tanh) beyond a
    few such checks; one loop writing c and h while reading five arrays is past that limit.
    """
    for j in range(c_new.shape[0]):
        c_new[j] = f[j] * c_prev[j] + i[j] * g[j]  # c_t = f_t * c_{t-1} + i_t * g_t
    for j in range(h_new.shape[0]):
        h_new[j] = o[j] * _tanh(c_new[j], one)  # h_t = o_t * tanh(c_t)


@Inline.with_options(_OPTIONS)
def _lstm_forward_units(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, u0, u1):
    """One LSTM step for hidden units ``u0..u1-1`` of every sequence (a thread's share of a step).

    Unit ``j`` needs only its own four gate columns, so a step splits across threads by units.
    """
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(gates.shape[1]):
        h_prev, c_prev = h_all[tp, b, u0:u1], c_all[tp, b, u0:u1]
        h_new, c_new = h_all[tn, b, u0:u1], c_all[tn, b, u0:u1]
        out_t = out[t, b, u0:u1]  # empty when the output is a view of h_all
        i, f, g, o = _unit_blocks(gates[t, b], H, u0, u1)  # in: W_i* x_t (the input projection)
        if t >= lengths[b]:
            _lstm_inactive(h_prev, h_new, c_prev, c_new, out_t, i, f, g, o)
            continue
        ri, rf, rg, ro = _unit_blocks(rec[b], H, u0, u1)  # W_h* h_{t-1}
        bi, bf, bg, bo = _unit_blocks(bias, H, u0, u1)  # b_i* + b_h*
        # Short simple loops, one activation each: they vectorize best (docs/performance.md).
        # In place: gates[t] ends up holding i, f, g, o.
        for j in range(u1 - u0):
            i[j] = _sigmoid(i[j] + ri[j] + bi[j], one)  # i_t = sigma(W_ii x_t + W_hi h_{t-1} + b_i)
        for j in range(u1 - u0):
            f[j] = _sigmoid(f[j] + rf[j] + bf[j], one)  # f_t = sigma(W_if x_t + W_hf h_{t-1} + b_f)
        for j in range(u1 - u0):
            g[j] = _tanh(g[j] + rg[j] + bg[j], one)  # g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)
        for j in range(u1 - u0):
            o[j] = _sigmoid(o[j] + ro[j] + bo[j], one)  # o_t = sigma(W_io x_t + W_ho h_{t-1} + b_o)
        _lstm_cell(i, f, g, o, c_prev, c_new, h_new, one)
        _write_output(h_new, out_t)


@Inline.with_options(_OPTIONS)
def _lstm_forward_step(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn):
    """One LSTM step, all hidden units of every sequence."""
    _lstm_forward_rows(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, np.int64(0), gates.shape[1])


@Inline.with_options(_OPTIONS)
def _lstm_forward_rows(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, r0, r1):
    """One LSTM step, all hidden units, for sequences (rows of the batch) ``r0..r1-1``.

    The stacked row ``[i | f | g | o]`` is activated in three loops, one per run of the same
    function (sigmoid over ``[i | f]``, tanh over ``g``, sigmoid over ``o``): one loop that picks the
    function per element computes both and costs more than the setup of two more loops.
    """
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(r0, r1):
        row, rec_b = gates[t, b], rec[b]  # in: W_ih x_t (the input projection) and W_hh h_{t-1}
        if t >= lengths[b]:
            i, f, g, o = _blocks(row, 4)
            _lstm_inactive(h_all[tp, b], h_all[tn, b], c_all[tp, b], c_all[tn, b], out[t, b], i, f, g, o)
            continue
        # i_t = sigma(W_ii x_t + W_hi h_{t-1} + b_i)    f_t = sigma(W_if x_t + W_hf h_{t-1} + b_f)
        # g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)     o_t = sigma(W_io x_t + W_ho h_{t-1} + b_o)
        # In place: gates[t] ends up holding i, f, g, o. (b = b_ih + b_hh)
        i, f, g, o = _blocks(row, 4)  # (as views from the row's start: their bounds are known, no clamping)
        i_f, rec_if, bias_if = row[:2 * H], rec_b[:2 * H], bias[:2 * H]
        rec_g, bias_g = rec_b[2 * H:3 * H], bias[2 * H:3 * H]
        rec_o, bias_o = rec_b[3 * H:], bias[3 * H:]
        for k in range(2 * H):
            i_f[k] = _sigmoid(i_f[k] + rec_if[k] + bias_if[k], one)
        for k in range(H):
            g[k] = _tanh(g[k] + rec_g[k] + bias_g[k], one)
        for k in range(H):
            o[k] = _sigmoid(o[k] + rec_o[k] + bias_o[k], one)
        _lstm_cell(i, f, g, o, c_all[tp, b], c_all[tn, b], h_all[tn, b], one)
        _write_output(h_all[tn, b], out[t, b])


@kernel(**_OPTIONS)
def lstm_step_forward(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn):
    """One LSTM step. ``rec = h_all[tp] @ W_hh^T`` ``(B, 4H)``; ``bias = b_ih + b_hh`` ``(4H,)``.

    Reads the input projection ``gates[t]`` and overwrites it with the activated ``i, f, g, o``;
    writes ``h_all[tn]``, ``c_all[tn]`` and ``out[t]``.
    """
    _lstm_forward_step(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn)


def lstm_step_forward_ref(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn) -> None:
    H = h_all.shape[2]
    pre = gates[t] + rec + bias
    i, f, o = sigmoid_ref(pre[:, :H]), sigmoid_ref(pre[:, H:2 * H]), sigmoid_ref(pre[:, 3 * H:])
    g = np.tanh(pre[:, 2 * H:3 * H])
    c = f * c_all[tp] + i * g
    h = o * np.tanh(c)
    active = (t < lengths)[:, None]
    gates[t] = np.where(active, np.concatenate([i, f, g, o], axis=1), 0)
    c_all[tn] = np.where(active, c, c_all[tp])
    h_all[tn] = np.where(active, h, h_all[tp])
    if out.shape[2]:
        out[t] = np.where(active, h, 0)


@Inline.with_options(_OPTIONS)
def _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn, u0, u1, r0, r1):
    """Backward of one LSTM step for hidden units ``u0..u1-1`` of sequences (rows) ``r0..r1-1``
    (a thread's share of a step: all rows and some units, or all units and some rows).

    In place: ``gates[t]`` holds the activated ``i, f, g, o`` on entry and their pre-activation
    gradients ``di, df, dg, do`` on return (each value is read before it is overwritten).
    """
    H = c_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(r0, r1):
        dh_t, rb, ch, cc = dh_all[t, b, u0:u1], rec[b, u0:u1], carry_h[b, u0:u1], carry_c[b, u0:u1]
        i, f, g, o = _unit_blocks(gates[t, b], H, u0, u1)  # in: the gates; out: their gradients
        if not _total_grad_h(dh_t, rb, ch, grad_out[t, b, u0:u1], t < lengths[b]):
            i[:] = 0  # c passes through unchanged: carry_c stays as it is
            f[:] = 0
            g[:] = 0
            o[:] = 0
            continue
        c_prev, c_now = c_all[tp, b, u0:u1], c_all[tn, b, u0:u1]
        # Few arrays per loop: more and LLVM gives up proving they don't overlap (scalar code).
        # Each loop overwrites only the gates it reads, at the same index: no overlap to check.
        for j in range(u1 - u0):
            tc, o_ = _tanh(c_now[j], one), o[j]
            o[j] = dh_t[j] * tc * o_ * (one - o_)  # do: h = o tanh(c); sigma' = sigma (1 - sigma)
            cc[j] += dh_t[j] * o_ * (one - tc * tc)  # now cc = dL/dc_t (through h, plus from c_{t+1})
        for j in range(u1 - u0):
            i_, g_ = i[j], g[j]
            i[j] = cc[j] * g_ * i_ * (one - i_)  # di: c = f c_prev + i g
            g[j] = cc[j] * i_ * (one - g_ * g_)  # dg: tanh' = 1 - tanh^2
        for j in range(u1 - u0):
            f_ = f[j]
            f[j] = cc[j] * c_prev[j] * f_ * (one - f_)  # df
            cc[j] *= f_  # dL/dc_{t-1} = dL/dc_t * f_t
        ch[:] = 0  # h_{t-1} reaches h_t only through the matmul (rec)


@Inline.with_options(_OPTIONS)
def _lstm_backward_step(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn):
    """Backward of one LSTM step, all hidden units (``gates[t]`` becomes its gradients)."""
    _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn,
                         np.int64(0), c_all.shape[2], np.int64(0), gates.shape[1])


@kernel(**_OPTIONS)
def lstm_step_backward(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn):
    """Backward of one LSTM step: turns ``gates[t]`` (the activated ``i, f, g, o``, ``(B, 4H)``) into
    the gradients of their pre-activations, in place, and fills ``dh_all[t]``.

    In place because the gates are not needed afterwards: no second ``(T, B, 4H)`` buffer, and
    each step writes the cache lines it has just read (docs/performance.md). A caller that keeps
    the gates (``backward(retain_graph=True)``) passes a copy.

    ``grad_out`` may be ``(T, B, 0)`` when the output got no gradient.

    ``rec = dgates[next] @ W_hh`` (zeros before the first backward step; ``dgates[next]`` is
    ``gates[next]`` after its own backward), ``carry_h``/``carry_c``
    hold the direct gradients of ``h``/``c`` after the step and are updated to those before it.
    The caller then computes ``rec = gates[t] @ W_hh``; after the last step ``dL/dh_0 = rec + carry_h``.
    """
    _lstm_backward_step(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn)


def lstm_step_backward_ref(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn) -> None:
    H = c_all.shape[2]
    active = (t < lengths)[:, None]
    dh = rec + carry_h + (np.where(active, grad_out[t], 0) if grad_out.shape[2] else 0)
    dh_all[t] = dh
    i, f, g, o = (gates[t][:, k * H:(k + 1) * H] for k in range(4))
    tc = np.tanh(c_all[tn])
    dc = carry_c + dh * o * (1 - tc * tc)
    d = np.concatenate([dc * g * i * (1 - i), dc * c_all[tp] * f * (1 - f), dc * i * (1 - g * g),
                        dh * tc * o * (1 - o)], axis=1)
    carry_c[...] = np.where(active, dc * f, carry_c)  # before gates[t] (f is a view of it) is overwritten
    gates[t] = np.where(active, d, 0)
    carry_h[...] = np.where(active, 0, dh)


@kernel(**_OPTIONS)
def lstm_sequence_forward(gates, w_hh_t, bias, h_all, c_all, out, lengths, reverse, rec):
    """The whole LSTM forward in one call (for tiny ``B*H``). ``w_hh_t = W_hh^T`` ``(H, 4H)``, ``rec`` workspace."""
    n_time = gates.shape[0]
    for s in range(n_time):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        _matmul(h_all[tp], w_hh_t, rec)
        _lstm_forward_step(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn)


def lstm_sequence_forward_ref(gates, w_hh_t, bias, h_all, c_all, out, lengths, reverse, rec) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time - 1, -1, -1) if reverse else range(n_time)):
        tp, tn = _indices(t, reverse)
        rec[...] = h_all[tp] @ w_hh_t
        lstm_step_forward_ref(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn)


@kernel(**_OPTIONS)
def lstm_sequence_backward(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, reverse):
    """The whole LSTM backward in one call, ``gates`` turned into their gradients in place
    (``lstm_step_backward``); on return ``rec = gates[first step] @ W_hh``."""
    n_time = gates.shape[0]
    for s in range(n_time - 1, -1, -1):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        _lstm_backward_step(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn)
        _matmul(gates[t], w_hh, rec)


def lstm_sequence_backward_ref(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                               reverse) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time) if reverse else range(n_time - 1, -1, -1)):
        tp, tn = _indices(t, reverse)
        lstm_step_backward_ref(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn)
        rec[...] = gates[t] @ w_hh


def unit_blocks(hidden: int, block: int = 64, *, tile_cols: int | None = None, threads: int = 2) -> np.ndarray:
    """Bounds of the blocks of hidden units the parallel LSTM kernels hand to threads: ``[0, 64, 128, ...]``.

    Rules: each block is whole register tiles of columns (``tile_cols``, the tile's width in
    ``kernels/gemm.py``; ``block`` when not given), so each block's share of the step matmul is
    whole tiles; blocks are about ``block`` units wide; and their number is a multiple of
    ``threads`` (2 when not given: the parallel kernels are planned only for two threads or more)
    with the tiles shared out as evenly as they go, because the kernels' ``prange`` gives each
    thread an equal run of blocks, whatever their width.

    Example::

        >>> unit_blocks(256).tolist(), unit_blocks(100).tolist()
        ([0, 64, 128, 192, 256], [0, 64, 100])
        >>> unit_blocks(650).tolist()  # 11 tiles: 5 for one thread, 6 (the last 10 columns wide) for the other
        [0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 650]
        >>> unit_blocks(512, tile_cols=24).tolist()  # AVX2's tile: 22 tiles, 11 for each thread
        [0, 48, 120, 192, 264, 312, 384, 456, 512]
    """
    tile_cols = block if tile_cols is None else tile_cols
    tiles = -(-hidden // tile_cols)
    if tiles < threads:
        n_blocks = max(tiles, 1)
    else:
        n_blocks = threads * max(1, min(tiles // threads, round(hidden / (block * threads))))
    return np.array(sorted({min(hidden, tiles * u // n_blocks * tile_cols) for u in range(n_blocks + 1)}), np.int64)


@kernel(parallel=True, **_OPTIONS)
def lstm_sequence_forward_parallel(gates, w_hh, bias, h_all, c_all, out, lengths, reverse, rec, units):
    """``lstm_sequence_forward`` with every step split across threads by blocks of hidden units.

    Block ``u`` (units ``units[u]..units[u+1]-1``) computes its own four gate columns of
    ``rec = h_{t-1} @ W_hh^T``, then the pointwise step for its units; all blocks of step ``t``
    finish before step ``t+1`` starts (it reads all of ``h_t``). ``W_hh`` (as stored, ``(4H, H)``) is
    copied, transposed, into packed panels (``kernels/gemm.py``), each block's own, so that every
    step reads ``W_hh^T`` from contiguous memory; each block packs its panels in the first step.
    """
    # Borrowed (see kernels/_jit.py): the threads take thousands of views of these arrays per call.
    gates, bias, h_all, c_all, out, lengths, rec = (borrow(gates), borrow(bias), borrow(h_all), borrow(c_all),
                                                    borrow(out), borrow(lengths), borrow(rec))
    n_time, H = gates.shape[0], h_all.shape[2]
    tc = _stack_tile(gates.dtype.type(0)).shape[1]
    first, cols = panel_plan(np.int64(4), H, units, tc)  # block u: panels first[u]..first[u+1]-1, gate by gate
    panels = empty_panels(cols.shape[0], H, gates.dtype.type(0))
    for s in range(n_time):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        for u in prange(units.shape[0] - 1):
            if s == 0:  # once per sequence, each block its own panels (on all threads, in no extra parallel loop)
                pack_panels_transposed(w_hh, cols, panels, first[u], first[u + 1])
            for p in range(first[u], first[u + 1]):  # rec[:, cols of block u] = h_{t-1} @ W_hh^T[:, ...]
                gemm_panel(h_all[tp], panels[p], rec, cols[p, 0], cols[p, 1])
            _lstm_forward_units(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, units[u], units[u + 1])


def lstm_sequence_forward_parallel_ref(gates, w_hh, bias, h_all, c_all, out, lengths, reverse, rec,
                                       units) -> None:
    lstm_sequence_forward_ref(gates, w_hh.T, bias, h_all, c_all, out, lengths, reverse, rec)


def lstm_sequence_forward_parallel_stand_in(gates, w_hh, bias, h_all, c_all, out, lengths, reverse, rec,
                                            units) -> None:
    """While the unit-split kernel compiles (``_jit.LazyKernel.stand_in``): the serial kernel on ``W_hh^T``."""
    lstm_sequence_forward(gates, np.ascontiguousarray(w_hh.T), bias, h_all, c_all, out, lengths, reverse, rec)


@kernel(parallel=True, **_OPTIONS)
def lstm_sequence_backward_parallel(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                    dh_all, reverse, units, need_h0):
    """``lstm_sequence_backward`` with every step split across threads by blocks of hidden units.

    Block ``u`` first computes its units' columns of ``rec = dgates_{t+1} @ W_hh`` (all of
    ``dgates_{t+1}``, by now in ``gates[t+1]``, is ready: the previous step finished), then the
    step's backward for its units. ``W_hh`` is read from packed panels, as in the forward kernel.
    On return ``rec = gates[first step] @ W_hh``, as in the serial kernel, if ``need_h0`` (the
    caller wants ``dL/dh_0 = rec + carry_h``); else that last product is skipped and ``rec`` is
    left as the last step read it.
    """
    # Borrowed (see kernels/_jit.py): the threads take thousands of views of these arrays per call.
    gates, c_all, lengths, grad_out, rec = borrow(gates), borrow(c_all), borrow(lengths), borrow(grad_out), borrow(rec)
    carry_h, carry_c, dh_all = borrow(carry_h), borrow(carry_c), borrow(dh_all)
    n_time = gates.shape[0]
    tc = _stack_tile(gates.dtype.type(0)).shape[1]
    first, cols = panel_plan(np.int64(1), c_all.shape[2], units, tc)
    panels = empty_panels(cols.shape[0], w_hh.shape[0], gates.dtype.type(0))
    # s = -1, after the first step, only computes that step's product (when asked for): one call
    # site of the tile loop in this kernel, so LLVM compiles it once.
    s_stop = -2 if need_h0 and n_time > 0 else -1
    for s in range(n_time - 1, s_stop, -1):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        t_after = t - 1 if reverse else t + 1  # the step done just before this one (at s = -1: the first step)
        for u in prange(units.shape[0] - 1):
            if s == n_time - 1:  # once per sequence, each block its own panels (as in the forward kernel)
                pack_panels(w_hh, cols, panels, first[u], first[u + 1])
            if s < n_time - 1:  # rec is given as zeros before the first backward step
                for p in range(first[u], first[u + 1]):
                    gemm_panel(gates[t_after], panels[p], rec, cols[p, 0], cols[p, 1])  # its gradients by now
            if s >= 0:
                _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn,
                                     units[u], units[u + 1], np.int64(0), gates.shape[1])


def lstm_sequence_backward_parallel_ref(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                        dh_all, reverse, units, need_h0) -> None:
    lstm_sequence_backward_ref(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, reverse)


def lstm_sequence_backward_parallel_stand_in(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                             dh_all, reverse, units, need_h0) -> None:
    """While the unit-split kernel compiles: the serial kernel."""
    lstm_sequence_backward(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, reverse)


def row_blocks(batch: int, parts: int) -> np.ndarray:
    """Bounds of the blocks of rows (sequences) the row-split LSTM kernels hand to threads.

    ``parts`` blocks as equal as can be (the first ones one row longer).

    Example::

        >>> row_blocks(20, 2).tolist(), row_blocks(9, 2).tolist()
        ([0, 10, 20], [0, 5, 9])
    """
    sizes = np.full(parts, batch // parts, np.int64)
    sizes[:batch % parts] += 1
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


@kernel(parallel=True, **_OPTIONS)
def lstm_sequence_forward_rows(gates, cols, panels, bias, h_all, c_all, out, lengths, reverse, rec, rows):
    """``lstm_sequence_forward`` with the batch split across threads by blocks of rows.

    Each row of a batch is a sequence of its own: block ``p`` (rows ``rows[p]..rows[p+1]-1``)
    runs the whole time loop for its rows, its share of ``rec = h_{t-1} @ W_hh^T`` included,
    and never waits for the other blocks (the units split waits for all of them at every step).
    ``W_hh^T`` comes in packed panels (``rnn_common.packed_weight``), which every block reads.
    """
    # Borrowed (see kernels/_jit.py): the threads take thousands of views of these arrays per call.
    gates, bias, h_all, c_all, out, lengths, rec = (borrow(gates), borrow(bias), borrow(h_all), borrow(c_all),
                                                    borrow(out), borrow(lengths), borrow(rec))
    n_time, parts = gates.shape[0], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time):
            t = n_time - 1 - s if reverse else s
            tp, tn = _indices_jit(t, reverse)
            _panels_matmul(h_all[tp, r0:r1], cols, panels, rec[r0:r1])
            _lstm_forward_rows(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, r0, r1)


def lstm_sequence_forward_rows_ref(gates, cols, panels, bias, h_all, c_all, out, lengths, reverse, rec,
                                   rows) -> None:
    lstm_sequence_forward_ref(gates, unpacked_weight(cols, panels), bias, h_all, c_all, out, lengths, reverse, rec)


def lstm_sequence_forward_rows_stand_in(gates, cols, panels, bias, h_all, c_all, out, lengths, reverse, rec,
                                        rows) -> None:
    """While the row-split kernel compiles (``_jit.LazyKernel.stand_in``): the serial kernel, all rows at once."""
    lstm_sequence_forward(gates, unpacked_weight(cols, panels), bias, h_all, c_all, out, lengths, reverse, rec)


@kernel(parallel=True, **_OPTIONS)
def lstm_sequence_backward_rows(gates, cols, panels, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                                reverse, rows):
    """``lstm_sequence_backward`` with the batch split across threads by blocks of rows (as
    ``lstm_sequence_forward_rows``, ``W_hh`` in ``packed_weight``'s panels); on return
    ``rec = gates[first step] @ W_hh``."""
    gates, c_all, lengths, grad_out, rec = borrow(gates), borrow(c_all), borrow(lengths), borrow(grad_out), borrow(rec)
    carry_h, carry_c, dh_all = borrow(carry_h), borrow(carry_c), borrow(dh_all)
    n_time, H, parts = gates.shape[0], c_all.shape[2], rows.shape[0] - 1
    for p in prange(parts):
        r0, r1 = rows[p], rows[p + 1]
        for s in range(n_time - 1, -1, -1):
            t = n_time - 1 - s if reverse else s
            tp, tn = _indices_jit(t, reverse)
            _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn,
                                 np.int64(0), H, r0, r1)
            _panels_matmul(gates[t, r0:r1], cols, panels, rec[r0:r1])


def lstm_sequence_backward_rows_ref(gates, cols, panels, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                                    reverse, rows) -> None:
    lstm_sequence_backward_ref(gates, unpacked_weight(cols, panels), c_all, lengths, grad_out, rec, carry_h, carry_c,
                               dh_all, reverse)


def lstm_sequence_backward_rows_stand_in(gates, cols, panels, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                         dh_all, reverse, rows) -> None:
    """While the row-split kernel compiles: the serial kernel, all rows at once."""
    lstm_sequence_backward(gates, unpacked_weight(cols, panels), c_all, lengths, grad_out, rec, carry_h, carry_c,
                           dh_all, reverse)
