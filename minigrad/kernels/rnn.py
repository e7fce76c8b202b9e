"""Numba kernels of the fused recurrent layers: LSTM, GRU and the Elman RNN (tanh / relu).

What a fused layer does (``minigrad/nn/fused_rnn.py`` drives these kernels):

1. One big matmul projects the inputs of *all* time steps at once: ``gates = X @ W_ih^T``
   with ``X`` of shape ``(T*B, I)``. That is the part of the work that needs no recurrence.
2. Then, step by step, ``rec = h_{t-1} @ W_hh^T`` (a BLAS matmul from Python) and ONE kernel
   call that does all the pointwise work of the step: bias, gate nonlinearities, new state.
3. Backward walks the steps in reverse: one kernel call per step turns ``dL/dh_t`` into the
   gradients of the gate pre-activations (``dgates``), then ``dgates_t @ W_hh`` carries the
   gradient to ``h_{t-1}``. The weight gradients are afterwards ONE matmul over all steps.
   (The LSTM kernels write ``dgates`` over ``gates`` in place: ``lstm_step_backward``.)

For tiny layers (``B * H`` small, e.g. one sequence of 1000 steps) the Python loop around the
steps costs more than the maths, so every mode also has a ``*_sequence_*`` kernel that runs the
whole time loop, small matmuls included, inside Numba. The LSTM's ``*_sequence_*_parallel``
kernels do the same with every step split across threads by blocks of hidden units.

Array layout (all C-contiguous, one dtype: float32 or float64):

- ``gates``  ``(T, B, G*H)``: on entry the input projection; the forward writes the *activated*
  gates of each step there (LSTM ``i, f, g, o``; GRU ``r, z, n``), which backward reads.
- ``h_all``  ``(T+1, B, H)``: the hidden state *between* steps, in time order. Going forward,
  step ``t`` reads ``h_all[t]`` and writes ``h_all[t+1]``; with ``reverse`` it reads
  ``h_all[t+1]`` and writes ``h_all[t]``. Kernels take these two indices as ``tp`` (previous)
  and ``tn`` (new). The layer output is then the contiguous view ``h_all[1:]`` (or ``[:-1]``).
  ``c_all`` (LSTM cell state) is laid out the same way.
- ``out``    ``(T, B, H)`` with variable lengths (padded steps output 0 but carry the state
  on); otherwise ``(T, B, 0)`` and the output is that view of ``h_all``. (Writing the same
  values through two aliased arrays would also work, but LLVM's runtime overlap check then
  sends the loop to its scalar version: 3x slower.)
- ``lengths`` ``(B,)`` int64: step ``t`` is *active* for sequence ``b`` iff ``t < lengths[b]``.
  An inactive step copies the state through and its gate gradients are 0.

Backward bookkeeping, the same for every mode: the gradient reaching the state after a step is
``rec + carry_h`` where ``rec = dgates_{next} @ W_hh`` (the path through the next step's matmul)
and ``carry_h`` is whatever reaches it directly (GRU's ``z * dh``; a whole ``dh`` across an
inactive step). ``dh_all[t]`` keeps the total ``dL/dh_t`` for inspection.

Each kernel has a NumPy reference of the same name ending in ``_ref`` (same arguments, same
in-place results) used by ``tests/kernels/test_rnn_kernels.py``.

Why our own ``sigmoid``/``tanh``: Numba's ``math.exp``/``math.tanh`` are scalar libm calls
(~10 ns each) that stop the loop from being vectorized; an LSTM step needs five of them per
hidden unit. ``_exp_split`` below is a textbook exp (range reduction + polynomial) written only
with arithmetic, so LLVM turns the loops into SIMD code; it is accurate to ~1 ulp in float32 and
float64. ``error_model="numpy"`` lets divisions vectorize too (no ZeroDivisionError checks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.kernels._jit import Inline, borrow, kernel, prange
from minigrad.kernels.gemm import (
    _stack_tile,
    gemm,
    gemm_panel,
    pack_panels,
    pack_panels_transposed,
    panel_plan,
    zeros_panels,
)

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}

# Outputs narrower than one float32 register tile (64 columns with AVX-512) use the plain loop.
GEMM_MIN_COLS = 64

# Options of every kernel here: no ZeroDivisionError checks, so that divisions vectorize;
# release the GIL (kernels touch only the arrays they are given), so that two Python threads
# training two models can run their kernels on two cores at once; and let a multiply and an add
# contract to one FMA instruction ("contract": one rounding instead of two; NaN and Inf propagate
# as before). Without it the exp polynomial inside every sigmoid/tanh is a chain of separate
# multiplies and adds (measured on charlm's forward step: the pointwise work 11-14% slower).
_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


# ============================================================================================
# Scalar helpers, inlined into the kernels
# ============================================================================================


# exp(-y) = 2^-m * exp(r) with m = round(y / ln2) and |r| <= ln2 / 2; ln2 in two parts so that
# m * LN2_HI is exact (Cody & Waite).
LOG2E = 1.4426950408889634
LN2_HI = 0.693145751953125
LN2_LO = 1.42860682030941723212e-6
EXP_CLAMP = 85.0  # exp(-85) ~ 1e-37: beyond it sigmoid/tanh are 0/1 to float32 and float64 precision


def _exp2_python(m, one):
    """``2^m`` in the dtype of ``one`` for an integer-valued ``m`` (the plain-Python version)."""
    return type(one)(np.ldexp(1.0, int(m)))


def _make_exp2() -> Any:
    """The compiled ``2^m``: write ``m`` straight into the exponent bits of a float, as every libm does.

    IEEE floats store ``x = 1.f * 2^(e - bias)``; with ``f = 0`` and ``e = m + bias`` the bits ARE
    ``2^m``. Numba has no bit-cast of a scalar, so this is a tiny LLVM intrinsic: float -> int,
    add the bias (127 / 1023), shift into place (23 / 52), reinterpret as float. It vectorizes;
    computing ``2^m`` from integer shifts would need int64 lanes (half as many for float32).
    """
    import numba
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def exp2_bits(typingctx, m, one):
        if not isinstance(m, types.Float) or m != one:
            return None

        def codegen(context, builder, sig, args):
            width, bias, shift = (32, 127, 23) if sig.return_type == types.float32 else (64, 1023, 52)
            int_t = ir.IntType(width)
            e = builder.add(builder.fptosi(args[0], int_t), ir.Constant(int_t, bias))
            bits = builder.shl(e, ir.Constant(int_t, shift))
            return builder.bitcast(bits, context.get_value_type(sig.return_type))

        return one(m, one), codegen

    return numba.njit(**_OPTIONS)(lambda m, one: exp2_bits(m, one))


# 2^m for integer-valued m with |m| < 127, in the dtype of `one`.
_exp2 = Inline(_exp2_python, _OPTIONS, make_jit=_make_exp2)


@Inline.with_options(_OPTIONS)
def _exp_split(y, one):
    """For ``y >= 0``: ``(P, q)`` with ``exp(-y) = (1 + q) / P``, ``P = 2^m`` exact, ``q = expm1(r)``.

    Returning ``expm1`` of the reduced argument (not ``exp``) keeps full relative precision for
    tiny ``y`` (``tanh(1e-20)``). ``one`` is ``1`` in the working dtype: every constant is cast
    to its type so float32 stays float32 (twice as many SIMD lanes).
    """
    T = type(one)
    y = y if y < T(EXP_CLAMP) else T(EXP_CLAMP)  # also maps NaN to the clamp; callers re-insert NaN
    m = np.floor(y * T(LOG2E) + T(0.5))
    r = (m * T(LN2_HI) - y) + m * T(LN2_LO)
    # Taylor series of expm1 (Horner) on |r| <= 0.347: to r^7 the error is < 1e-8 (enough for
    # float32), to r^13 < 1e-17 (float64). `single` is a constant per dtype (float32 cannot tell
    # 1 + 1e-10 from 1), so LLVM folds the test and keeps one branch: no cost inside the loop.
    single = one + T(1e-10) == one
    if single:
        q = r * (one + r * (T(1 / 2) + r * (T(1 / 6) + r * (T(1 / 24) + r * (T(1 / 120) + r * (
            T(1 / 720) + r * T(1 / 5040)))))))
    else:
        q = r * (one + r * (T(1 / 2) + r * (T(1 / 6) + r * (T(1 / 24) + r * (T(1 / 120) + r * (
            T(1 / 720) + r * (T(1 / 5040) + r * (T(1 / 40320) + r * (T(1 / 362880) + r * (
                T(1 / 3628800) + r * (T(1 / 39916800) + r * (T(1 / 479001600) + r * T(1 / 6227020800)))))))))))))
    return _exp2(m, one), q  # m <= 123: a normal number in float32 and float64


@Inline.with_options(_OPTIONS)
def _sigmoid(x, one):
    """sigma(x) = 1 / (1 + e^-x), with e^-|x| only (never overflows)."""
    P, q = _exp_split(abs(x), one)
    # x >= 0: 1 / (1 + e^-x) = P / (P + 1 + q);   x < 0: e^x / (1 + e^x) = (1 + q) / (P + 1 + q)
    s = (P if x >= 0 else one + q) / (P + one + q)
    s = s if x > -type(one)(EXP_CLAMP) else one - one  # below e^-85 (and at -inf): exactly 0
    return s if x == x else x  # NaN in, NaN out


@Inline.with_options(_OPTIONS)
def _exp_neg(y, one):
    """``exp(-y)`` for ``y >= 0`` (e.g. ``exp(x - max)`` in a softmax), vectorizable; NaN in, NaN out.

    A ``y`` a rounding error below 0 (``lse - x`` for the largest ``x``) is fine: the reduced argument stays small.
    """
    P, q = _exp_split(y, one)
    e = (one + q) / P
    e = e if y < type(one)(EXP_CLAMP) else one - one  # below e^-85 (and for y = inf): exactly 0
    return e if y == y else y


@Inline.with_options(_OPTIONS)
def _tanh(x, one):
    """tanh(|x|) = (1 - e^-2|x|) / (1 + e^-2|x|) = (P - 1 - q) / (P + 1 + q), sign restored."""
    P, q = _exp_split(abs(x) * (one + one), one)
    t = (P - one - q) / (P + one + q)
    t = t if x >= 0 else -t
    return t if x == x else x


@Inline.with_options(_OPTIONS)
def _matmul_rows(a, b, out):
    """``out = a @ b``, two rows of ``a`` at a time (float64, and outputs narrower than a tile).

    Two rows at a time, so that each row of ``b`` loaded from memory feeds two
    multiply-adds (measured: 1.4x faster than one row, and faster than four); the inner loop
    runs along contiguous rows: SIMD.
    """
    n_rows, n_inner = a.shape
    out[:] = 0
    i = 0
    while i + 1 < n_rows:
        o0, o1 = out[i], out[i + 1]
        for k in range(n_inner):
            a0, a1, bk = a[i, k], a[i + 1, k], b[k]
            for j in range(bk.shape[0]):
                o0[j] += a0 * bk[j]
                o1[j] += a1 * bk[j]
        i += 2
    if i < n_rows:  # an odd last row
        o0 = out[i]
        for k in range(n_inner):
            a0, bk = a[i, k], b[k]
            for j in range(bk.shape[0]):
                o0[j] += a0 * bk[j]


@Inline.with_options(_OPTIONS)
def _matmul(a, b, out):
    """``out = a @ b``: the per-step matmul of the sequence kernels (no Python, no BLAS call).

    float32 with at least one register tile of columns goes to ``gemm`` (``kernels/gemm.py``:
    a register-tiled multiply, as fast as BLAS or faster at these sizes). For float64 LLVM does
    not keep ``gemm``'s tile in registers, and narrower outputs fill no tile, so those take the
    two-rows loop (measured in ``benchmarks/bench_rnn_kernels.py``).
    """
    if out.itemsize == 4 and out.shape[1] >= GEMM_MIN_COLS:
        gemm(a, b, out)
    else:
        _matmul_rows(a, b, out)


def sigmoid_ref(x: np.ndarray) -> np.ndarray:
    """NumPy sigma(x), stable for any x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@kernel(**_OPTIONS)
def sigmoid_tanh(x, sig_out, tanh_out):
    """Elementwise sigma and tanh of a 1-D array (exposes the helpers to tests)."""
    one = x.dtype.type(1)
    for i in range(x.size):
        sig_out[i] = _sigmoid(x[i], one)
        tanh_out[i] = _tanh(x[i], one)


def sigmoid_tanh_ref(x: np.ndarray, sig_out: np.ndarray, tanh_out: np.ndarray) -> None:
    sig_out[...] = sigmoid_ref(x)
    tanh_out[...] = np.tanh(x)


# ============================================================================================
# LSTM: gates i, f, g, o (rows of W stacked in that order)
# ============================================================================================


@Inline.with_options(_OPTIONS)
def _blocks(row, n):
    """The gate blocks of a stacked row, as views: ``row[:H], row[H:2H], ...`` (``n`` of them).

    Kernels index these views from 0 (``i[j]``, not ``row[H + j]``): with a possibly negative
    index Numba must check for wraparound, and that check stops LLVM from vectorizing the loop.
    """
    H = row.shape[0] // n
    return row[:H], row[H:2 * H], row[2 * H:3 * H], row[(n - 1) * H:]


@Inline.with_options(_OPTIONS)
def _carry_forward(h_prev, h_new, out_t):
    """An inactive (padded) step: the state passes through unchanged and the output is 0."""
    for j in range(h_prev.shape[0]):
        h_new[j] = h_prev[j]
    out_t[:] = 0  # out_t is empty when the output is a view of h_all (no padding then)


@Inline.with_options(_OPTIONS)
def _write_output(h_new, out_t):
    """Copy the new state to a separate output array (only with variable lengths)."""
    for j in range(out_t.shape[0]):
        out_t[j] = h_new[j]


@Inline.with_options(_OPTIONS)
def _unit_blocks(row, H, u0, u1):
    """Hidden units ``u0..u1-1`` of each of the four gate blocks of a stacked row (as views).

    Kernels index these views from 0 (``i[j]``, not ``row[H + j]``): with a possibly negative
    index Numba must check for wraparound, and that check stops LLVM from vectorizing the loop.
    """
    return row[u0:u1], row[H + u0:H + u1], row[2 * H + u0:2 * H + u1], row[3 * H + u0:3 * H + u1]


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
            _carry_forward(h_prev, h_new, out_t)
            _carry_forward(c_prev, c_new, out_t[:0])
            i[:] = 0
            f[:] = 0
            g[:] = 0
            o[:] = 0
            continue
        ri, rf, rg, ro = _unit_blocks(rec[b], H, u0, u1)  # W_h* h_{t-1}
        bi, bf, bg, bo = _unit_blocks(bias, H, u0, u1)  # b_i* + b_h*
        # Short simple loops, one activation each, vectorize best (measured: 1.4-2x faster than
        # one loop doing everything). In place: gates[t] ends up holding i, f, g, o.
        for j in range(u1 - u0):
            i[j] = _sigmoid(i[j] + ri[j] + bi[j], one)  # i_t = sigma(W_ii x_t + W_hi h_{t-1} + b_i)
        for j in range(u1 - u0):
            f[j] = _sigmoid(f[j] + rf[j] + bf[j], one)  # f_t = sigma(W_if x_t + W_hf h_{t-1} + b_f)
        for j in range(u1 - u0):
            g[j] = _tanh(g[j] + rg[j] + bg[j], one)  # g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)
        for j in range(u1 - u0):
            o[j] = _sigmoid(o[j] + ro[j] + bo[j], one)  # o_t = sigma(W_io x_t + W_ho h_{t-1} + b_o)
        for j in range(u1 - u0):
            c = f[j] * c_prev[j] + i[j] * g[j]  # c_t = f_t * c_{t-1} + i_t * g_t
            c_new[j] = c
            h_new[j] = o[j] * _tanh(c, one)  # h_t = o_t * tanh(c_t)
        _write_output(h_new, out_t)


@Inline.with_options(_OPTIONS)
def _lstm_forward_step(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn):
    """One LSTM step, all hidden units."""
    _lstm_forward_units(gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn, 0, h_all.shape[2])


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
def _total_grad_h(dh_t, rec_b, carry_b, grad_out_b, active):
    """``dh_t = rec + carry (+ grad of the output if the step is active)``; returns ``active``.

    ``grad_out_b`` is empty when the layer output got no gradient. For an inactive step the
    whole gradient is carried on to the state before it.
    """
    for j in range(dh_t.shape[0]):
        dh_t[j] = rec_b[j] + carry_b[j]
    if active and grad_out_b.shape[0] > 0:
        for j in range(dh_t.shape[0]):
            dh_t[j] += grad_out_b[j]
    if not active:
        for j in range(dh_t.shape[0]):
            carry_b[j] = dh_t[j]
    return active


@Inline.with_options(_OPTIONS)
def _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn, u0, u1):
    """Backward of one LSTM step for hidden units ``u0..u1-1`` (a thread's share of a step).

    In place: ``gates[t]`` holds the activated ``i, f, g, o`` on entry and their pre-activation
    gradients ``di, df, dg, do`` on return (each value is read before it is overwritten).
    """
    H = c_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(gates.shape[1]):
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
                         0, c_all.shape[2])


@kernel(**_OPTIONS)
def lstm_step_backward(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn):
    """Backward of one LSTM step: turns ``gates[t]`` (the activated ``i, f, g, o``, ``(B, 4H)``) into
    the gradients of their pre-activations, in place, and fills ``dh_all[t]``.

    In place because the gates are not needed afterwards: no second ``(T, B, 4H)`` buffer, and
    each step writes the cache lines it has just read (measured on charlm's backward time loop:
    the pointwise work twice as fast as writing a separate array). A caller that keeps the
    gates (``backward(retain_graph=True)``) passes a copy.

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


def _indices(t, reverse):
    """(tp, tn): where step ``t`` reads its previous state in ``h_all`` and writes the new one."""
    return (t + 1, t) if reverse else (t, t + 1)


_indices_jit = Inline(_indices, _OPTIONS)


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


def unit_blocks(hidden: int, block: int = 64) -> np.ndarray:
    """Bounds of the blocks of hidden units the parallel LSTM kernels hand to threads: ``[0, 64, 128, ...]``.

    64 units = one float32 register tile of columns (``kernels/gemm.py``), so each block's share
    of the step matmul is whole tiles.

    Example::

        >>> unit_blocks(256).tolist(), unit_blocks(100).tolist()
        ([0, 64, 128, 192, 256], [0, 64, 100])
    """
    return np.array(sorted(set(range(0, hidden, block)) | {hidden}), np.int64)


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
    first, cols = panel_plan(4, H, units, tc)  # block u: panels first[u]..first[u+1]-1, gate by gate
    panels = zeros_panels(cols.shape[0], H, gates.dtype.type(0))
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
    first, cols = panel_plan(1, c_all.shape[2], units, tc)
    panels = zeros_panels(cols.shape[0], w_hh.shape[0], gates.dtype.type(0))
    for s in range(n_time - 1, -1, -1):
        t = n_time - 1 - s if reverse else s
        tp, tn = _indices_jit(t, reverse)
        t_after = t - 1 if reverse else t + 1  # the step done just before this one
        for u in prange(units.shape[0] - 1):
            if s == n_time - 1:  # once per sequence, each block its own panels (as in the forward kernel)
                pack_panels(w_hh, cols, panels, first[u], first[u + 1])
            if s < n_time - 1:  # rec is given as zeros before the first backward step
                for p in range(first[u], first[u + 1]):
                    gemm_panel(gates[t_after], panels[p], rec, cols[p, 0], cols[p, 1])  # its gradients by now
            _lstm_backward_units(gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn,
                                 units[u], units[u + 1])
    if n_time > 0 and need_h0:
        t_first = n_time - 1 if reverse else 0
        for u in prange(units.shape[0] - 1):
            for p in range(first[u], first[u + 1]):
                gemm_panel(gates[t_first], panels[p], rec, cols[p, 0], cols[p, 1])


def lstm_sequence_backward_parallel_ref(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                        dh_all, reverse, units, need_h0) -> None:
    lstm_sequence_backward_ref(gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, reverse)


# ============================================================================================
# GRU: gates r, z, n. PyTorch's placement of r: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
# ============================================================================================


@Inline.with_options(_OPTIONS)
def _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn):
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(gates.shape[1]):
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
    _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn)


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
                       t, tp, tn):
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(gates.shape[1]):
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
                       t, tp, tn)


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
        _gru_forward_step(gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn)


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
                           t, tp, tn)
        _matmul(dgh[t], w_hh, rec)


def gru_sequence_backward_ref(gates, w_hh, hn, h_all, lengths, grad_out, rec, carry_h, dgx,
                              dgh, dh_all, reverse) -> None:
    n_time = gates.shape[0]
    for t in (range(n_time) if reverse else range(n_time - 1, -1, -1)):
        tp, tn = _indices(t, reverse)
        gru_step_backward_ref(gates, hn, h_all, lengths, grad_out, rec, carry_h, dgx, dgh,
                              dh_all, t, tp, tn)
        rec[...] = dgh[t] @ w_hh


# ============================================================================================
# Elman RNN: h_t = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
# ============================================================================================


@Inline.with_options(_OPTIONS)
def _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu):
    H = h_all.shape[2]
    one = gates.dtype.type(1)
    for b in range(gates.shape[1]):
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
    _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu)


def rnn_step_forward_ref(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu) -> None:
    pre = gates[t] + rec + bias
    h = np.maximum(pre, 0) if relu else np.tanh(pre)
    active = (t < lengths)[:, None]
    h_all[tn] = np.where(active, h, h_all[tp])
    if out.shape[2]:
        out[t] = np.where(active, h, 0)


@Inline.with_options(_OPTIONS)
def _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu):
    H = h_all.shape[2]
    one = h_all.dtype.type(1)
    for b in range(h_all.shape[1]):
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
    _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu)


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
        _rnn_forward_step(gates, rec, bias, h_all, out, lengths, t, tp, tn, relu)


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
        _rnn_backward_step(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu)
        _matmul(dgates[t], w_hh, rec)


def rnn_sequence_backward_ref(w_hh, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all,
                              reverse, relu) -> None:
    n_time = dgates.shape[0]
    for t in (range(n_time) if reverse else range(n_time - 1, -1, -1)):
        tn = t if reverse else t + 1
        rnn_step_backward_ref(h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn,
                              relu)
        rec[...] = dgates[t] @ w_hh


# ============================================================================================
# Example inputs: warmup (compile for a dtype) and tests build their arguments here
# ============================================================================================


def example_args(name: str, dtype: Any, n_time: int = 2, batch: int = 2, hidden: int = 2, *,
                 reverse: bool = False, lengths: Any = None, t: int | None = None, relu: bool = False,
                 seed: int = 0, unit_block: int = 2) -> tuple:
    """Valid arguments (fresh C-contiguous arrays) for the kernel ``name``, in its argument order.

    Gate activations are drawn in their ranges ((0, 1) for sigmoid gates, (-1, 1) for tanh ones)
    so the backward kernels see plausible values. ``t`` picks the step of ``*_step_*`` kernels;
    ``unit_block`` the blocks of hidden units of the ``*_parallel`` kernels (2: even tiny test
    layers are split across threads).

    Example::

        >>> args = example_args("lstm_step_forward", np.float32, n_time=3, batch=2, hidden=4)
        >>> lstm_step_forward_ref(*args)
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if name == "sigmoid_tanh":
        x = rng.uniform(-30, 30, size=7).astype(dtype)
        return x, np.zeros(7, dtype), np.zeros(7, dtype)
    mode = name.split("_")[0]
    G = {"lstm": 4, "gru": 3, "rnn": 1}[mode] * hidden
    T, B, H = n_time, batch, hidden

    def rand(*shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
        return rng.uniform(low, high, size=shape).astype(dtype)

    out = np.zeros((T, B, H if lengths is not None else 0), dtype)  # separate output only when padded
    lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    if t is None:
        t = T - 1 if not reverse else 0
    tp, tn = _indices(t, reverse)
    backward = "backward" in name
    gates = rand(T, B, G, low=0.05, high=0.95) if backward else rand(T, B, G, low=-3, high=3)
    if backward and mode == "lstm":
        gates[:, :, 2 * H:3 * H] = rand(T, B, H, low=-0.95, high=0.95)
    if backward and mode == "gru":
        gates[:, :, 2 * H:] = rand(T, B, H, low=-0.95, high=0.95)
    h_all, c_all = rand(T + 1, B, H), rand(T + 1, B, H, low=-2, high=2)
    bias, bias_hn = rand(G), rand(H)
    rec, carry_h, carry_c = rand(B, G if not backward else H), rand(B, H), rand(B, H)
    w_hh = rand(G, H, low=-0.5, high=0.5)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    grad_out, dh_all = rand(T, B, H), np.zeros((T, B, H), dtype)
    dgates, dgh, hn = np.zeros((T, B, G), dtype), np.zeros((T, B, G), dtype), rand(T, B, H)
    table = {
        "lstm_step_forward": (gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn),
        "lstm_step_backward": (gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn),
        "lstm_sequence_forward": (gates, w_hh_t, bias, h_all, c_all, out, lengths, reverse,
                                  np.zeros((B, G), dtype)),
        "lstm_sequence_backward": (gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                                   reverse),
        "lstm_sequence_forward_parallel": (gates, w_hh, bias, h_all, c_all, out, lengths, reverse,
                                           np.zeros((B, G), dtype), unit_blocks(H, unit_block)),
        "lstm_sequence_backward_parallel": (gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                            dh_all, reverse, unit_blocks(H, unit_block), True),
        "gru_step_forward": (gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn),
        "gru_step_backward": (gates, hn, h_all, lengths, grad_out, rec, carry_h, dgates, dgh, dh_all,
                              t, tp, tn),
        "gru_sequence_forward": (gates, w_hh_t, bias, bias_hn, h_all, hn, out, lengths, reverse,
                                 np.zeros((B, G), dtype)),
        "gru_sequence_backward": (gates, w_hh, hn, h_all, lengths, grad_out, rec, carry_h, dgates, dgh,
                                  dh_all, reverse),
        "rnn_step_forward": (gates, rec, bias, h_all, out, lengths, t, tp, tn, relu),
        "rnn_step_backward": (h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu),
        "rnn_sequence_forward": (gates, w_hh_t, bias, h_all, out, lengths, reverse, np.zeros((B, G), dtype),
                                 relu),
        "rnn_sequence_backward": (w_hh, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse,
                                  relu),
    }
    return table[name]


def _register_warmups() -> None:
    """Give every kernel of this module a warmup(dtype) that calls it once on tiny arrays."""
    for name, k in list(globals().items()):
        if getattr(k, "py_func", None) is not None and hasattr(k, "warmup_fn") and k.warmup_fn is None:
            def warm(dtype: Any, _k: Any = k, _name: str = name) -> None:
                _k(*example_args(_name, dtype))
            k.warmup_fn = warm


_register_warmups()
