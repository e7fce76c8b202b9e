"""Row-wise softmax and log-softmax over the last axis, numerically stable.

softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m) with m = max_k x_k, so exp never overflows.
NumPy needs five passes and three temporaries (max, subtract, exp, sum, divide); the kernels
make three passes over each row and allocate nothing but the output. That wins for small and
medium inputs; above ``EXP_KERNEL_MAX_SIZE`` elements NumPy's vectorised ``exp`` wins instead
(Numba without SVML calls the scalar ``exp``), so the wrappers send large inputs to NumPy
(``*_rows_large``): the same passes, a block of rows at a time, so that each block stays in
cache from its first pass to its last and the only big array made is the output. A language
model's log-softmax over a 10,000-word vocabulary is such an input. In float32, where Numba's
threads are usable, big inputs go instead to ``*_rows_parallel``: kernels with a vectorised
``exp`` (``kernels/fast_exp.py``) whose rows are shared among the threads (the numbers are in
docs/performance.md); float32 rows of ``VECTOR_MIN_COLS`` or more below that size take the same
vectorised rows on one thread (``*_rows_vector``), and so do big ones where the threads are not
usable (one core, ``MINIGRAD_NUM_THREADS=1``). The log-softmax gradient follows the same rule.

The rule every path keeps, as PyTorch does: a row holding a NaN or a +inf is NaN everywhere
(``nan_rows``); a row of only -inf is NaN too; -inf elements of other rows give 0 (softmax) or
-inf (log-softmax).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from minigrad._allocator import empty
from minigrad._quiet import quiet
from minigrad.kernels._jit import Inline, borrow, jit_disabled, kernel, prange, threads_usable
from minigrad.kernels.fast_exp import LANES, fast_exp32, stack_lanes

EXP_KERNEL_MAX_SIZE = 2048


def _shift(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - np.where(np.isfinite(m), m, 0)  # rows of -inf stay -inf instead of nan


def nan_rows(y: np.ndarray) -> np.ndarray:
    """Make each row (last axis) of ``y`` with a NaN anywhere NaN everywhere, in place; returns ``y``.

    A +inf in a row leaves a NaN in it after the shift (``inf - inf``), so this also gives
    PyTorch's NaN row for a row with +inf. One sum decides, in the common case, that there is
    no NaN at all.

    Example::

        >>> nan_rows(np.array([[np.nan, 1.0], [0.5, 0.5]])).tolist()
        [[nan, nan], [0.5, 0.5]]
    """
    if y.ndim == 0 or math.isfinite(y.sum()):  # no NaN (nor inf) anywhere; a 0-d NaN is NaN already
        return y
    nan = np.isnan(y)
    if nan.any():
        np.copyto(y, np.nan, where=nan.any(axis=-1, keepdims=True))
    return y


def softmax_rows_ref(x: np.ndarray) -> np.ndarray:
    e = np.exp(_shift(x))
    with quiet():  # inf / inf where a row held +inf: that row is NaN
        return nan_rows(e / e.sum(axis=-1, keepdims=True))


def log_softmax_rows_ref(x: np.ndarray) -> np.ndarray:
    z = _shift(x)
    with quiet():
        return nan_rows(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))


# Rows per block of the large-input paths: about this many elements (1 MiB of float32), which
# stay in the L2 cache through the block's passes.
BLOCK_ELEMENTS = 1 << 18


def _row_blocks(rows: int, cols: int) -> range:
    """The first row of each block of rows that ``*_rows_large`` work on."""
    return range(0, rows, max(1, BLOCK_ELEMENTS // max(cols, 1)))


def _as_rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous 2-D array of its last-axis rows (a copy only when ``x`` is strided)."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    return np.ascontiguousarray(x).reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _shifted_blocks(rows: np.ndarray, out: np.ndarray) -> Iterator[np.ndarray]:
    """Each block of ``out``'s rows, holding ``z = x - max(x)`` of its rows (as ``_shift``), in turn."""
    starts = _row_blocks(*rows.shape)
    for r0 in starts:
        xb, zb = rows[r0:r0 + starts.step], out[r0:r0 + starts.step]
        m = xb.max(axis=-1, keepdims=True)
        m[~np.isfinite(m)] = 0  # rows of -inf stay -inf instead of nan
        yield np.subtract(xb, m, out=zb)


def log_softmax_rows_large(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``log_softmax_rows_ref`` for big inputs: block by block, with one temporary block.

    Example::

        >>> x = np.array([[0.0, 0.0], [1.0, 1.0]])
        >>> np.allclose(log_softmax_rows_large(x), log_softmax_rows_ref(x))
        True
    """
    rows = _as_rows(x)
    out = np.empty_like(rows) if out is None else out.reshape(rows.shape)  # `out`: C-contiguous, x's shape
    exps = np.empty((min(_row_blocks(*rows.shape).step, len(rows)), rows.shape[1]), rows.dtype)
    with quiet():  # masked and NaN rows give NaN, silently, as the kernel
        for z in _shifted_blocks(rows, out):
            z -= np.log(np.exp(z, out=exps[:len(z)]).sum(axis=-1, keepdims=True))  # z - log(sum(exp(z)))
    return nan_rows(out).reshape(x.shape)


def softmax_rows_large(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``softmax_rows_ref`` for big inputs: block by block, no temporary block.

    Example::

        >>> x = np.array([[0.0, 0.0], [1.0, 3.0]])
        >>> np.allclose(softmax_rows_large(x), softmax_rows_ref(x))
        True
    """
    rows = _as_rows(x)
    out = np.empty_like(rows) if out is None else out.reshape(rows.shape)
    with quiet():  # masked and NaN rows give NaN, silently, as the kernel
        for z in _shifted_blocks(rows, out):
            e = np.exp(z, out=z)
            e /= e.sum(axis=-1, keepdims=True)  # exp(z) / sum(exp(z))
    return nan_rows(out).reshape(x.shape)


def log_softmax_rows_backward(y: np.ndarray, grad: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dL/dx = g - exp(y) * sum(g)`` over the last axis, for ``y = log_softmax(x)``: one new array.

    Example::

        >>> y = log_softmax_rows_ref(np.array([[0.0, 1.0]]))
        >>> g = np.array([[1.0, -1.0]])
        >>> np.allclose(log_softmax_rows_backward(y, g), g - np.exp(y) * g.sum(-1, keepdims=True))
        True
    """
    if (y.dtype == grad.dtype == np.float32 and y.shape == grad.shape and y.size > EXP_KERNEL_MAX_SIZE and out is None
            and not jit_disabled() and threads_usable()):
        y2, g2 = _as_rows(y), _as_rows(grad)
        out = empty(y2.shape, y2.dtype)
        log_softmax_backward_rows_parallel(y2, g2, out)
        return out.reshape(y.shape)
    if (y.dtype == grad.dtype == np.float32 and y.shape == grad.shape and y.ndim and y.shape[-1] >= VECTOR_MIN_COLS
            and out is None and not jit_disabled()):  # one thread, vectorised rows (as the forward's)
        if y.ndim == 2 and y.flags.c_contiguous and grad.flags.c_contiguous:  # the common case: rows as they are
            out = np.empty(y.shape, y.dtype) if y.size <= EXP_KERNEL_MAX_SIZE else empty(y.shape, y.dtype)
            log_softmax_backward_rows_vector(y, grad, out)
            return out
        y2, g2 = _as_rows(y), _as_rows(grad)
        out = empty(y2.shape, y2.dtype)
        log_softmax_backward_rows_vector(y2, g2, out)
        return out.reshape(y.shape)
    if y.ndim == 2 and y.size <= BLOCK_ELEMENTS and y.dtype == grad.dtype and out is None:  # one block
        with quiet():
            out = np.exp(y)
            out *= grad.sum(axis=-1, keepdims=True)
            return np.subtract(grad, out, out=out)
    y2, g2 = _as_rows(y), _as_rows(grad)
    out = empty(y2.shape, np.result_type(y2, g2)) if out is None else out.reshape(y2.shape)
    n, cols = y2.shape
    starts = _row_blocks(n, cols)
    with quiet():  # NaN rows (exp(y) * sum) stay NaN, as in the general formula
        for r0 in starts:
            yb, gb, ob = y2[r0:r0 + starts.step], g2[r0:r0 + starts.step], out[r0:r0 + starts.step]
            np.exp(yb, out=ob)
            ob *= gb.sum(axis=-1, keepdims=True)
            np.subtract(gb, ob, out=ob)
    return out.reshape(y.shape)


@kernel(error_model="numpy", nogil=True, fastmath={"contract", "reassoc"})
def softmax_backward_rows_kernel(y, grad, out):
    rows, cols = y.shape
    for r in range(rows):
        s = y.dtype.type(0)  # in the dtype, split into SIMD lanes (reassoc), each summing its share of the row
        for j in range(cols):
            s += grad[r, j] * y[r, j]
        for j in range(cols):
            out[r, j] = y[r, j] * (grad[r, j] - s)


def softmax_backward_rows_kernel_ref(y: np.ndarray, grad: np.ndarray, out: np.ndarray) -> None:
    """``out = y * (grad - sum(grad * y))`` per row."""
    s = (grad * y).sum(axis=-1, keepdims=True)
    out[...] = y * (grad - s)


def softmax_rows_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``dL/dx = y * (g - sum(g * y))`` over the last axis, for ``y = softmax(x)``: the Jacobian of
    softmax applied without forming it, in two passes over each row (float32/float64, any layout
    of ``grad``; NumPy's four passes otherwise).

    Example::

        >>> y = softmax_rows_ref(np.array([[0.0, 1.0]]))
        >>> g = np.array([[1.0, -1.0]])
        >>> np.allclose(softmax_rows_backward(y, g), y * (g - (g * y).sum(-1, keepdims=True)))
        True
    """
    if (y.dtype != grad.dtype or y.dtype.kind != "f" or y.dtype.itemsize < 4 or y.shape != grad.shape
            or y.ndim == 0 or y.size == 0 or jit_disabled()):
        return y * (grad - (grad * y).sum(axis=-1, keepdims=True))
    y2, g2 = _as_rows(y), _as_rows(grad)
    out = empty(y2.shape, y2.dtype)
    softmax_backward_rows_kernel(y2, g2, out)
    return out.reshape(y.shape)


def _warm(k):
    def warm(dtype):
        x = np.zeros((2, 3), dtype=dtype)
        k(x, np.empty_like(x))
    return warm


def _warm_backward(dtype):
    x = np.zeros((2, 3), dtype=dtype)
    softmax_backward_rows_kernel(x, x, np.empty_like(x))


@kernel
def softmax_rows_kernel(x, out):
    rows, cols = x.shape
    for r in range(rows):
        m = -np.inf
        for j in range(cols):
            if x[r, j] > m:
                m = x[r, j]
        if m == np.inf:  # a +inf in the row: NaN everywhere, as in PyTorch
            for j in range(cols):
                out[r, j] = np.nan
            continue
        if not math.isfinite(m):  # a row of -inf (or NaN): its sum below is 0 (or NaN)
            m = 0.0
        total = 0.0
        for j in range(cols):
            e = math.exp(x[r, j] - m)
            out[r, j] = e
            total += e
        inv = 1.0 / total if total > 0 else np.nan  # an all -inf row, or a NaN in it: NaN
        for j in range(cols):
            out[r, j] *= inv


softmax_rows_kernel.warmup_fn = _warm(softmax_rows_kernel)


@kernel
def log_softmax_rows_kernel(x, out):
    rows, cols = x.shape
    for r in range(rows):
        m = -np.inf
        for j in range(cols):
            if x[r, j] > m:
                m = x[r, j]
        if m == np.inf:  # a +inf in the row: NaN everywhere, as in PyTorch
            for j in range(cols):
                out[r, j] = np.nan
            continue
        if not math.isfinite(m):  # a row of -inf (or NaN): its sum below is 0 (or NaN)
            m = 0.0
        total = 0.0
        for j in range(cols):
            total += math.exp(x[r, j] - m)
        # lse = -inf for a row of -inf (x - lse is then NaN), NaN for a NaN in the row
        lse = m + math.log(total) if total > 0 else (-np.inf if total == 0 else np.nan)
        for j in range(cols):
            out[r, j] = x[r, j] - lse


log_softmax_rows_kernel.warmup_fn = _warm(log_softmax_rows_kernel)
softmax_backward_rows_kernel.warmup_fn = _warm_backward


# ------------------------------------------------------------------ big float32 inputs, on threads
# The kernels above lose to NumPy on big inputs because of their scalar `math.exp` and their
# one-variable sums. These ones use `fast_exp32` (vectorised, kernels/fast_exp.py), keep LANES
# partial maxima and sums (`stack_lanes`), and share the rows among Numba's threads. float32 only.
_VEC = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


@Inline.with_options(_VEC)
def _row_max(v):
    """The largest element of the 1-D ``v`` (NaN ignored; -inf when there is none)."""
    lanes = stack_lanes(v.dtype.type(0))
    for lane in range(LANES):
        lanes[lane] = -np.inf
    n = v.shape[0]
    full = n - n % LANES
    for j in range(0, full, LANES):
        for lane in range(LANES):
            e = v[np.uint64(j + lane)]  # unsigned: no negative-index check, whole-vector loads
            lanes[lane] = e if e > lanes[lane] else lanes[lane]
    m = lanes[0]
    for lane in range(1, LANES):
        m = lanes[lane] if lanes[lane] > m else m
    for j in range(full, n):
        m = v[j] if v[j] > m else m
    return m


@Inline.with_options(_VEC)
def _row_exp_sum(v, shift, out):
    """``out = exp(v - shift)`` (1-D, the same length); returns ``sum(out)``, in LANES partial sums."""
    lanes = stack_lanes(v.dtype.type(0))
    for lane in range(LANES):
        lanes[lane] = 0
    n = v.shape[0]
    full = n - n % LANES
    for j in range(0, full, LANES):
        for lane in range(LANES):
            e = fast_exp32(v[np.uint64(j + lane)] - shift)
            out[np.uint64(j + lane)] = e
            lanes[lane] += e
    total = lanes[0]
    for lane in range(1, LANES):
        total += lanes[lane]
    for j in range(full, n):
        e = fast_exp32(v[j] - shift)
        out[j] = e
        total += e
    return total


@Inline.with_options(_VEC)
def _row_sum(v):
    """``sum(v)`` of the 1-D ``v``, in LANES partial sums."""
    lanes = stack_lanes(v.dtype.type(0))
    for lane in range(LANES):
        lanes[lane] = 0
    n = v.shape[0]
    full = n - n % LANES
    for j in range(0, full, LANES):
        for lane in range(LANES):
            lanes[lane] += v[np.uint64(j + lane)]
    total = lanes[0]
    for lane in range(1, LANES):
        total += lanes[lane]
    for j in range(full, n):
        total += v[j]
    return total


@Inline.with_options(_VEC)
def _exp_row(xr, outr):
    """``outr = exp(xr - m)`` with ``m = max(xr)`` (0 when that is not finite); returns ``(m, sum(outr))``.

    The sum is not above 0 exactly for the rows that are NaN everywhere in the result (the rule
    of the module docstring): NaN for a row with a NaN or a +inf, 0 for a row of only -inf.
    """
    m = _row_max(xr)
    if m == np.inf:  # a +inf in the row
        return m, xr.dtype.type(np.nan)
    if not math.isfinite(m):  # a row of -inf (or NaN): its sum below is 0 (or NaN)
        m = xr.dtype.type(0)
    # exp(x - m) goes to outr even where only the sum is needed: LLVM vectorises the loop only
    # when it stores something (a loop that only sums stays scalar)
    return m, _row_exp_sum(xr, m, outr)


@Inline.with_options(_VEC)
def _log_softmax_row(xr, outr):
    """``outr = xr - m - log(sum(exp(xr - m)))`` for one row (NaN everywhere by the module's rule)."""
    m, total = _exp_row(xr, outr)
    if not total > 0:  # NaN everywhere, as in PyTorch
        outr[:] = np.nan
        return
    lse = xr.dtype.type(math.log(total))
    for j in range(xr.shape[0]):
        outr[np.uint64(j)] = (xr[np.uint64(j)] - m) - lse


@Inline.with_options(_VEC)
def _softmax_row(xr, outr):
    """``outr = exp(xr - m) / sum(exp(xr - m))`` for one row (NaN everywhere by the module's rule)."""
    total = _exp_row(xr, outr)[1]
    if not total > 0:  # NaN everywhere, as in PyTorch
        outr[:] = np.nan
        return
    inv = xr.dtype.type(1 / total)
    for j in range(xr.shape[0]):
        outr[np.uint64(j)] *= inv


@Inline.with_options(_VEC)
def _log_softmax_backward_row(yr, gr, outr):
    """``outr = gr - exp(yr) * sum(gr)``: one row of the gradient of ``y = log_softmax(x)``."""
    s = _row_sum(gr)
    for j in range(yr.shape[0]):
        k = np.uint64(j)
        outr[k] = gr[k] - fast_exp32(yr[k]) * s


@kernel(parallel=True, **_VEC)
def log_softmax_rows_parallel(x, out):
    """``log_softmax_rows_ref`` of the C-contiguous 2-D float32 ``x`` into ``out``, rows on threads."""
    x, out = borrow(x), borrow(out)
    for r in prange(x.shape[0]):
        _log_softmax_row(x[r], out[r])


def log_softmax_rows_parallel_ref(x: np.ndarray, out: np.ndarray) -> None:
    log_softmax_rows_large(x, out)


@kernel(parallel=True, **_VEC)
def softmax_rows_parallel(x, out):
    """``softmax_rows_ref`` of the C-contiguous 2-D float32 ``x`` into ``out``, rows on threads."""
    x, out = borrow(x), borrow(out)
    for r in prange(x.shape[0]):
        _softmax_row(x[r], out[r])


def softmax_rows_parallel_ref(x: np.ndarray, out: np.ndarray) -> None:
    softmax_rows_large(x, out)


# Rows of at least VECTOR_MIN_COLS float32 numbers (a decoder's vocabulary, one row at a time)
# below EXP_KERNEL_MAX_SIZE: the same vectorised rows on one thread. The scalar kernels above
# spend most of such a row in `math.exp`, and waking the threads costs more than the row.
VECTOR_MIN_COLS = 32


@kernel(**_VEC)
def log_softmax_rows_vector(x, out):
    """``log_softmax_rows_ref`` of the C-contiguous 2-D float32 ``x`` into ``out``, vectorised, one thread."""
    x, out = borrow(x), borrow(out)
    for r in range(x.shape[0]):
        _log_softmax_row(x[r], out[r])


def log_softmax_rows_vector_ref(x: np.ndarray, out: np.ndarray) -> None:
    log_softmax_rows_large(x, out)


@kernel(**_VEC)
def softmax_rows_vector(x, out):
    """``softmax_rows_ref`` of the C-contiguous 2-D float32 ``x`` into ``out``, vectorised, one thread."""
    x, out = borrow(x), borrow(out)
    for r in range(x.shape[0]):
        _softmax_row(x[r], out[r])


def softmax_rows_vector_ref(x: np.ndarray, out: np.ndarray) -> None:
    softmax_rows_large(x, out)


@kernel(parallel=True, **_VEC)
def log_softmax_backward_rows_parallel(y, grad, out):
    """``out = grad - exp(y) * sum(grad)`` per row (``y = log_softmax(x)``): C-contiguous 2-D float32."""
    y, grad, out = borrow(y), borrow(grad), borrow(out)
    for r in prange(y.shape[0]):
        _log_softmax_backward_row(y[r], grad[r], out[r])


def log_softmax_backward_rows_parallel_ref(y: np.ndarray, grad: np.ndarray, out: np.ndarray) -> None:
    log_softmax_rows_backward(y, grad, out)


@kernel(**_VEC)
def log_softmax_backward_rows_vector(y, grad, out):
    """``out = grad - exp(y) * sum(grad)`` per row, as ``log_softmax_backward_rows_parallel``, on one thread."""
    y, grad, out = borrow(y), borrow(grad), borrow(out)
    for r in range(y.shape[0]):
        _log_softmax_backward_row(y[r], grad[r], out[r])


def log_softmax_backward_rows_vector_ref(y: np.ndarray, grad: np.ndarray, out: np.ndarray) -> None:
    log_softmax_rows_backward(y, grad, out)


def _warm_float32(k, arguments):
    def warm(dtype):
        if np.dtype(dtype) == np.float32:  # float32 only: float64 inputs go to NumPy
            x = np.zeros((2, 3), np.float32)
            k(*[x] * arguments, np.empty_like(x))
    return warm


log_softmax_rows_parallel.warmup_fn = _warm_float32(log_softmax_rows_parallel, 1)
softmax_rows_parallel.warmup_fn = _warm_float32(softmax_rows_parallel, 1)
log_softmax_rows_vector.warmup_fn = _warm_float32(log_softmax_rows_vector, 1)
softmax_rows_vector.warmup_fn = _warm_float32(softmax_rows_vector, 1)
log_softmax_backward_rows_parallel.warmup_fn = _warm_float32(log_softmax_backward_rows_parallel, 2)
log_softmax_backward_rows_vector.warmup_fn = _warm_float32(log_softmax_backward_rows_vector, 2)


def _rows(x: np.ndarray, k, ref, large, parallel, vector) -> np.ndarray:
    """``k`` (a row kernel) on ``x``'s last-axis rows; ``ref`` for 0-d and non-float ``x``; for big
    ones ``parallel`` (a parallel float32 kernel) where it can run on threads, else ``large``; float32
    rows of ``VECTOR_MIN_COLS`` or more below that size ``vector`` (the same rows, one thread)."""
    if x.dtype.kind != "f" or x.ndim == 0:
        return ref(x)
    small = x.size <= EXP_KERNEL_MAX_SIZE
    if not small or jit_disabled():
        if x.dtype != np.float32 or jit_disabled():
            return large(x)
        if threads_usable():
            k = parallel
        elif x.shape[-1] >= VECTOR_MIN_COLS:  # no threads: the vectorised rows on this one
            k = vector
        else:
            return large(x)
    elif x.shape[-1] >= VECTOR_MIN_COLS and x.dtype == np.float32:
        k = vector
    if x.ndim == 2 and x.flags.c_contiguous:  # the common case: rows as they are
        out = np.empty(x.shape, x.dtype) if small else empty(x.shape, x.dtype)  # (small: no recycling to ask for)
        k(x, out)
        return out
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out = empty(x2.shape, x2.dtype)
    k(x2, out)
    return out.reshape(x.shape)


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``x`` (any shape)."""
    return _rows(x, softmax_rows_kernel, softmax_rows_ref, softmax_rows_large, softmax_rows_parallel,
                 softmax_rows_vector)


def log_softmax_rows(x: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis of ``x`` (any shape)."""
    return _rows(x, log_softmax_rows_kernel, log_softmax_rows_ref, log_softmax_rows_large,
                 log_softmax_rows_parallel, log_softmax_rows_vector)
