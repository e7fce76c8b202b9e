"""A small matrix multiply written in Numba, for the matmuls *inside* the recurrent time loop.

Why not BLAS? The step matmul of a recurrent layer (``h_{t-1} @ W_hh^T``: ``(B, H) @ (H, 4H)``,
B and H in the tens to hundreds) is small, and there are two per time step (forward and
backward). Called from Python, each one costs a few microseconds of call overhead and returns to
the interpreter; written here, it runs inside the whole-sequence kernels with no Python between
steps. And Numba compiles for the CPU it runs on: on a machine with AVX-512 it uses 512-bit
registers even where the BLAS library was told to stay at AVX2.

How it is fast: the textbook triple loop ``out[i, j] += a[i, k] * b[k, j]`` reads and writes
``out`` from memory once per multiply-add. Here each block of ``out`` (``TILE_ROWS`` rows by
one panel of columns) is summed in a small *tile* of registers over all of ``k`` and written
once. Per ``k`` the tile needs one row of the ``b`` panel (a few vector loads) and
``TILE_ROWS`` numbers of ``a``, then does ``TILE_ROWS x panel`` multiply-adds: the CPU's
multiply-add units, not memory, set the pace. Panels of ``b`` are visited in the outer loop,
so a panel stays in cache while every row block of ``a`` passes over it.

The tile lives on the stack (``_stack_tile``, a tiny LLVM ``alloca``): LLVM then keeps it in
registers. A NumPy array would live on the heap, where LLVM must assume anything can alias it.

``matmul`` / ``matmul_cols`` (kernels, for tests and benchmarks) expose the helpers; their
NumPy references end in ``_ref``. Tuned for float32: in float64 LLVM does not keep the tile in
registers, so the recurrent kernels use their plain loop there (``kernels/rnn.py: _matmul``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.kernels._jit import Inline, kernel

# The tile: TILE_ROWS rows of `out` by a few SIMD vectors of columns, summed in registers:
# 4 x 4 vectors = 16 accumulators with AVX-512 (32 vector registers), 4 x 2 with AVX2 (16).
TILE_ROWS = 4

# Multiply-adds contract to one FMA instruction (one rounding instead of two): twice the
# throughput. This is only a rounding difference; NaN and Inf propagate exactly as without it.
_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


def tile_shape(dtype: Any) -> tuple[int, int]:
    """``(rows, columns)`` of the register tile for ``dtype`` on this CPU.

    Example::

        >>> rows, cols = tile_shape(np.float32)
        >>> rows, cols in (16, 32, 64)
        (4, True)
    """
    vector_bytes, vectors = _simd()
    return TILE_ROWS, vectors * vector_bytes // np.dtype(dtype).itemsize


_SIMD: tuple[int, int] | None = None


def _simd() -> tuple[int, int]:
    """(bytes per SIMD register, vectors per tile row) of the CPU Numba compiles for."""
    global _SIMD
    if _SIMD is None:
        try:
            import llvmlite.binding as ll

            features = ll.get_host_cpu_features()
            avx512 = features.get("avx512f", False) and features.get("avx512vl", False)
        except Exception:  # no llvmlite (plain-Python runs): any shape is correct
            avx512 = False
        _SIMD = (64, 4) if avx512 else (32, 2)
    return _SIMD


def _stack_tile_python(zero):
    """The plain-Python tile: a zeroed NumPy array of the tile's shape and ``zero``'s dtype."""
    return np.zeros(tile_shape(type(zero)), type(zero))


def _make_stack_tile() -> Any:
    """The compiled tile: a C-contiguous 2-D array over ``alloca``'d stack memory (no heap, no refcount).

    The shape is a compile-time constant, so after inlining LLVM knows every loop bound over the
    tile, unrolls those loops and promotes the tile to registers.
    """
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic
    from numba.np.arrayobj import make_array, populate_array

    @intrinsic
    def stack_tile(typingctx, zero):
        if not isinstance(zero, types.Float):
            return None
        rows, cols = tile_shape(np.dtype(str(zero)))
        array_type = types.Array(zero, 2, "C")

        def codegen(context, builder, sig, args):
            item = context.get_value_type(zero)
            itemsize = context.get_abi_sizeof(item)
            data = cgutils.alloca_once(builder, item, size=rows * cols)  # in the entry block
            intp = lambda v: context.get_constant(types.intp, v)  # noqa: E731
            tile = make_array(array_type)(context, builder)
            populate_array(tile, data=data, shape=[intp(rows), intp(cols)],
                           strides=[intp(cols * itemsize), intp(itemsize)],
                           itemsize=intp(itemsize), meminfo=None)
            return tile._getvalue()

        return array_type(zero), codegen

    return stack_tile


_stack_tile = Inline(_stack_tile_python, make_jit=_make_stack_tile)


@Inline.with_options(_OPTIONS)
def gemm_cols(a, b, out, j_start, j_stop):
    """``out[:, j_start:j_stop] = a @ b[:, j_start:j_stop]`` (C-contiguous 2-D arrays of one float dtype).

    Panels of columns as wide as the tile, then the last few columns with the plain
    row-times-matrix loop. A parallel kernel gives each thread its own column range. ``out``
    must not overlap ``a`` or ``b``.
    """
    n_rows, n_inner = a.shape
    tile = _stack_tile(out.dtype.type(0))
    tr, tc = tile.shape  # compile-time constants
    j0 = j_start
    while j0 + tc <= j_stop:  # one panel b[:, j0:j0+tc] at a time; it stays in cache for all rows
        i0 = 0
        while i0 < n_rows:
            rows = min(tr, n_rows - i0)
            for r in range(tr):
                for jj in range(tc):
                    tile[r, jj] = 0
            if rows == tr:  # the fast path: every tile row in use, every loop bound a constant
                for k in range(n_inner):
                    bk = b[k]
                    for r in range(tr):
                        a_rk = a[i0 + r, k]
                        for jj in range(tc):
                            # an unsigned index: no negative-index wraparound check, so LLVM sees
                            # consecutive addresses and loads whole vectors
                            tile[r, jj] += a_rk * bk[np.uint64(j0 + jj)]
            else:  # the last, partial block of rows
                for k in range(n_inner):
                    bk = b[k]
                    for r in range(rows):
                        a_rk = a[i0 + r, k]
                        for jj in range(tc):
                            tile[r, jj] += a_rk * bk[np.uint64(j0 + jj)]
            for r in range(rows):
                out_r = out[i0 + r]
                for jj in range(tc):
                    out_r[np.uint64(j0 + jj)] = tile[r, jj]
            i0 += tr
        j0 += tc
    if j0 < j_stop:  # fewer columns than a panel are left
        for i in range(n_rows):
            out_i = out[i]
            for j in range(j0, j_stop):
                out_i[j] = 0
            for k in range(n_inner):
                a_ik, bk = a[i, k], b[k]
                for j in range(j0, j_stop):
                    out_i[j] += a_ik * bk[j]


@Inline.with_options(_OPTIONS)
def gemm(a, b, out):
    """``out = a @ b`` (C-contiguous 2-D arrays of one float dtype; ``out`` must not overlap them)."""
    gemm_cols(a, b, out, 0, b.shape[1])


def _warmup(dtype: Any) -> None:
    a, b = np.ones((5, 3), dtype), np.ones((3, 70), dtype)
    matmul(a, b, np.empty((5, 70), dtype))
    matmul_cols(a, b, np.empty((5, 70), dtype), 1, 69)


@kernel(warmup=_warmup, **_OPTIONS)
def matmul(a, b, out):
    """``out = a @ b`` with ``gemm`` (C-contiguous 2-D float arrays of one dtype).

    Example::

        >>> a, b, out = np.ones((5, 3), np.float32), np.ones((3, 70), np.float32), np.empty((5, 70), np.float32)
        >>> matmul(a, b, out); float(out[4, 69])
        3.0
    """
    gemm(a, b, out)


def matmul_ref(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    np.matmul(a, b, out=out)


@kernel(**_OPTIONS)
def matmul_cols(a, b, out, j_start, j_stop):
    """``out[:, j_start:j_stop] = a @ b[:, j_start:j_stop]`` with ``gemm_cols``; other columns untouched."""
    gemm_cols(a, b, out, j_start, j_stop)


def matmul_cols_ref(a: np.ndarray, b: np.ndarray, out: np.ndarray, j_start: int, j_stop: int) -> None:
    out[:, j_start:j_stop] = a @ b[:, j_start:j_stop]
