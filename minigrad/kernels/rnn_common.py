"""What every recurrent kernel shares: fast sigmoid/tanh, small matmuls, the step helpers, and
``W_hh`` packed into panels for the row-split kernels (``packed_weight``).

The kernels of each cell live next to their NumPy references in ``lstm.py``, ``gru.py`` and
``elman.py``; ``rnn.py`` describes the array layout they all share.

Why our own ``sigmoid``/``tanh``: Numba's ``math.exp``/``math.tanh`` are scalar libm calls that
stop the loop from being vectorized; an LSTM step needs five of them per hidden unit.
``_exp_split`` below is a textbook exp (range reduction + polynomial) written only with
arithmetic, so LLVM turns the loops into SIMD code; it is accurate to ~1 ulp in float32 and
float64. ``error_model="numpy"`` lets divisions vectorize too (no ZeroDivisionError checks).
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._intrinsics import exp2
from minigrad.kernels._jit import Inline, kernel, prange
from minigrad.kernels.gemm import TILE_ROWS, _pack, _stack_tile, empty_panels, gemm, gemm_panel, panel_plan, tile_shape

# Options of every kernel here: no ZeroDivisionError checks, so that divisions vectorize;
# release the GIL (kernels touch only the arrays they are given), so that two Python threads
# training two models can run their kernels on two cores at once; and let a multiply and an add
# contract to one FMA instruction ("contract": one rounding instead of two; NaN and Inf propagate
# as before), so that the exp polynomial inside every sigmoid/tanh is a chain of FMAs, not of
# separate multiplies and adds (docs/performance.md has the measurements).
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
    return exp2(m, one), q  # m <= 123: a normal number in float32 and float64


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

    Two rows at a time, so that each row of ``b`` loaded from memory feeds two multiply-adds
    (the fastest row count: docs/performance.md); the inner loop runs along contiguous rows: SIMD.
    Four rows of ``b`` per pass over ``out``: each element of ``out`` is loaded and stored once per
    four multiply-adds, not once per one. The sums keep their order (``out[j] + a[k] b[k, j]``, k
    rising, one rounding each): the same numbers, bit for bit, as one row of ``b`` per pass.
    """
    n_rows, n_inner = a.shape
    k4 = n_inner - n_inner % 4
    out[:] = 0
    i = 0
    while i + 1 < n_rows:
        o0, o1 = out[i], out[i + 1]
        for k in range(0, k4, 4):
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            x0, x1, x2, x3 = a[i, k], a[i, k + 1], a[i, k + 2], a[i, k + 3]
            y0, y1, y2, y3 = a[i + 1, k], a[i + 1, k + 1], a[i + 1, k + 2], a[i + 1, k + 3]
            for j in range(o0.shape[0]):
                o0[j] = (((o0[j] + x0 * b0[j]) + x1 * b1[j]) + x2 * b2[j]) + x3 * b3[j]
                o1[j] = (((o1[j] + y0 * b0[j]) + y1 * b1[j]) + y2 * b2[j]) + y3 * b3[j]
        for k in range(k4, n_inner):
            x0, y0, bk = a[i, k], a[i + 1, k], b[k]
            for j in range(bk.shape[0]):
                o0[j] += x0 * bk[j]
                o1[j] += y0 * bk[j]
        i += 2
    if i < n_rows:  # an odd last row
        o0 = out[i]
        for k in range(0, k4, 4):
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            x0, x1, x2, x3 = a[i, k], a[i, k + 1], a[i, k + 2], a[i, k + 3]
            for j in range(o0.shape[0]):
                o0[j] = (((o0[j] + x0 * b0[j]) + x1 * b1[j]) + x2 * b2[j]) + x3 * b3[j]
        for k in range(k4, n_inner):
            x0, bk = a[i, k], b[k]
            for j in range(bk.shape[0]):
                o0[j] += x0 * bk[j]


@Inline.with_options(_OPTIONS)
def _matmul(a, b, out):
    """``out = a @ b``: the per-step matmul of the sequence kernels (no Python, no BLAS call).

    float32 with at least one register tile of columns and more than half a tile of rows (three
    or more) goes to ``gemm`` (``kernels/gemm.py``: a register-tiled multiply, with no call into
    Python or BLAS between steps). Everything else takes the two-rows loop
    (``benchmarks/bench_rnn_kernels.py`` measures both): float64, the dtype of gradient checks,
    outputs narrower than a tile, and batches of one or two rows, where the tile would spend half
    or more of its multiply-adds on copies of the last row.
    """
    tc = _stack_tile(out.dtype.type(0)).shape[1]  # a compile-time constant, as is out.itemsize
    if out.itemsize == 4 and out.shape[1] >= tc and a.shape[0] > TILE_ROWS // 2:
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
# Helpers every recurrent kernel shares
# ============================================================================================


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


def _indices(t, reverse):
    """(tp, tn): where step ``t`` reads its previous state in ``h_all`` and writes the new one."""
    return (t + 1, t) if reverse else (t, t + 1)


_indices_jit = Inline(_indices, _OPTIONS)


# ============================================================================================
# W_hh in packed panels, for the kernels that split the batch across threads by rows
# ============================================================================================
# Every thread of a row-split kernel reads all of W_hh in every step. Read straight out of W_hh^T,
# a panel's rows lie a whole row of W_hh^T apart; at 1-4 KiB apart they fall into the same few sets
# of the L1 cache and evict each other. Packed (``kernels/gemm.py``), they lie side by side.
# Rule: the caller packs W_hh once per sequence with ``packed_weight`` (the threads share the
# packing) and hands the panels to the row-split kernel. One packing kernel serves all six row
# kernels: each parallel loop costs its kernel seconds of compiling (docs/performance.md, "Where
# the warmup's time went"), and each row kernel used to pack in a parallel loop of its own.


@kernel(parallel=True, **_OPTIONS)
def packed_weight(w, transposed, parts):
    """``(cols, panels)``: ``W = w.T if transposed else w`` (``w`` C-contiguous) in packed panels, all its columns.

    ``cols[p] = (first column, width)`` of panel ``p``, ``panels[p]`` its ``(K, tc)`` block of
    ``W`` (zero-padded to the tile's width); ``_panels_matmul`` multiplies by them. ``parts``
    threads share the packing. The forward row kernels take ``W_hh^T`` (``w = W_hh`` as stored,
    ``transposed=True``), the backward ones ``W_hh``.

    Example::

        >>> w = np.arange(6.0).reshape(2, 3)
        >>> cols, panels = packed_weight(w, True, 2)
        >>> np.array_equal(unpacked_weight(cols, panels), w.T)
        True
    """
    zero = w.dtype.type(0)
    n_inner, n_cols = (w.shape[1], w.shape[0]) if transposed else (w.shape[0], w.shape[1])
    everything = np.zeros(2, np.int64)
    everything[1] = n_cols
    _, cols = panel_plan(np.int64(1), n_cols, everything, _stack_tile(zero).shape[1])
    n = cols.shape[0]
    panels = empty_panels(n, n_inner, zero)
    for q in prange(parts):
        _pack(w, transposed, cols, panels, n * q // parts, n * (q + 1) // parts)
    return cols, panels


def packed_weight_ref(w: np.ndarray, transposed: bool, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """``packed_weight`` in NumPy: the same ``(cols, panels)``, padding zeros included."""
    matrix = w.T if transposed else w
    n_inner, n_cols = matrix.shape
    tc = tile_shape(w.dtype)[1]
    starts = np.arange(0, n_cols, tc, dtype=np.int64)
    cols = np.stack([starts, np.minimum(tc, n_cols - starts)], axis=1).reshape(-1, 2)
    panels = np.zeros((len(starts), n_inner, tc), w.dtype)
    for p, (c, width) in enumerate(cols):
        panels[p, :, :width] = matrix[:, c:c + width]
    return cols, panels


def unpacked_weight(cols: np.ndarray, panels: np.ndarray) -> np.ndarray:
    """The ``(K, N)`` matrix that ``packed_weight`` packed into ``(cols, panels)`` (for the NumPy references)."""
    n_cols = int(cols[-1].sum()) if len(cols) else 0
    matrix = np.empty((panels.shape[1], n_cols), panels.dtype)
    for p, (c, width) in enumerate(cols):
        matrix[:, c:c + width] = panels[p, :, :width]
    return matrix


@Inline.with_options(_OPTIONS)
def _panels_matmul(a, cols, panels, out):
    """``out = a @ W`` with ``W`` in the packed panels of ``packed_weight`` (``out`` C-contiguous)."""
    for p in range(cols.shape[0]):
        gemm_panel(a, panels[p], out, cols[p, 0], cols[p, 1])
