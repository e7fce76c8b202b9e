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

The tile's loop over ``k`` is written in LLVM's vector instructions (``_tile_multiply_add``), so
that its sums stay in vector registers on every CPU (LLVM's own vectorizer does that only for
tiles 64 columns wide, AVX-512's). A tile starts from and ends in ``out`` itself, one at the bottom
edge too (its rows past the end are the last row again); one at a ragged right edge goes through a
small array on the stack (``_stack_tile``).

Big products (a layer's input projection and its weight gradients over all time steps) copy
``b`` into packed panels (``pack_panels``: each panel's rows side by side, so they stay in L1)
and multiply them with the same register tile (``gemm_panel_k``); ``kernels/gemm_blocks.py``
cuts such a product into one block per thread. The parallel LSTM kernels pack ``W_hh`` the same
way once per sequence. Which products run here and which in NumPy's BLAS is decided in
``kernels/products.py``.

``matmul`` / ``matmul_cols`` (kernels, for tests and benchmarks) expose the helpers; their NumPy
references end in ``_ref``. The recurrent kernels take the tile for float32;
float64 (gradient checks) keeps their plain loop (``kernels/rnn_common.py: _matmul``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.kernels._intrinsics import copy_rows, stack_array, tile_loop, transpose_block
from minigrad.kernels._jit import Inline, kernel
from minigrad.kernels.cpu import simd, vector_lanes

# The tile: TILE_ROWS rows of `out` by a few SIMD vectors of columns, summed in registers:
# 4 x 4 vectors = 16 accumulators with AVX-512 (32 vector registers), 4 x 3 = 12 with AVX2 (16
# registers: 3 more hold a row of the panel, 1 a broadcast number of `a`).
TILE_ROWS = 4
# The inner dimension is summed K_BLOCK rows of a `b` panel at a time (128 x 64 float32 = 32 KiB):
# that block of the panel stays in the L1 cache while every row block of `a` passes over it, where
# one pass over all of a long K (weight gradients: K = T*B) would reload it from L2 for each block.
K_BLOCK = 128
# An inner dimension up to this is summed in one pass instead: its panel (64 KiB at most) comes from
# L2 rather than L1, but each element of `out` is written once instead of once per block of K. With
# few rows of K and many columns (Linear(200, 10000): an out of 28 MB) that traffic is what costs.
K_ONE_PASS = 2 * K_BLOCK
# `gemm_cols` reads `b` where it is. When its rows lie a multiple of CONFLICT_STRIDE_BYTES apart (128,
# 256, 512, ... float32 columns), the K_BLOCK rows of a panel fall into a few sets of the L1 cache and
# evict each other (see "Packed panels" below): every block of rows of `a` reads them from L2 again.
# With COPY_BLOCK_MIN_ROWS rows of `a` or more, enough blocks of rows to repay the copy, each K_BLOCK
# rows of the panel are first copied, as whole vectors, into one small contiguous block that stays in L1.
# Only for a tile whose row of the panel is COPY_MIN_TILE_BYTES or more (AVX-512's, 64 float32): AVX2's
# narrower tile (96 bytes) does fewer multiply-adds per number of `b` it loads, and the copy does not repay.
CONFLICT_STRIDE_BYTES = 512
COPY_BLOCK_MIN_ROWS = 32
COPY_MIN_TILE_BYTES = 256

# Multiply-adds contract to one FMA instruction (one rounding instead of two): twice the
# throughput. This is only a rounding difference; NaN and Inf propagate exactly as without it.
_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


def tile_shape(dtype: Any) -> tuple[int, int]:
    """``(rows, columns)`` of the register tile for ``dtype`` on this CPU.

    Example::

        >>> rows, cols = tile_shape(np.float32)
        >>> rows, cols in (24, 64)  # AVX2, AVX-512
        (4, True)
    """
    vector_bytes, vectors = simd()
    return TILE_ROWS, vectors * vector_bytes // np.dtype(dtype).itemsize


# The tile's multiply-adds over k run in `_tile_multiply_add`, written in vector instructions
# (`_intrinsics.tile_loop`): its sums stay in registers for the whole loop, on AVX2 as on AVX-512.
# At a ragged right edge of `out` they start and end in `_stack_tile`, a (rows, cols) array on the
# stack (no heap, no refcount) whose shape is a compile-time constant.
_stack_tile = stack_array(tile_shape)
_tile_multiply_add = tile_loop(tile_shape, vector_lanes)
# Where `b`'s rows conflict in L1 (CONFLICT_STRIDE_BYTES), `gemm_cols` copies K_BLOCK rows of a panel
# at a time into a block of the tile's width, whole vectors at a time.
_copy_panel_rows = copy_rows(lambda dtype: tile_shape(dtype)[1], vector_lanes)

# A panel narrower than the wide tile (the 8 columns past 192 of an output 200 wide, the last 10 of
# 650, a vocabulary of 28 letters) runs in a narrow tile: NARROW_TILE_ROWS rows by one vector, a
# vector of its columns at a time. The wide tile would spend most of its multiply-adds on the
# panel's padding; this one has as many sums in flight (8) as the CPU needs to keep its
# multiply-add units busy.
NARROW_TILE_ROWS = 8


def narrow_tile_shape(dtype: Any) -> tuple[int, int]:
    """``(rows, columns)`` of the narrow tile for ``dtype`` on this CPU: one vector wide.

    Example::

        >>> narrow_tile_shape(np.float32)[0]
        8
    """
    return NARROW_TILE_ROWS, vector_lanes(dtype)


_stack_narrow_tile = stack_array(narrow_tile_shape)
_narrow_multiply_add = tile_loop(narrow_tile_shape, vector_lanes)


@Inline.with_options(_OPTIONS)
def gemm_cols(a, b, out, j_start, j_stop):
    """``out[:, j_start:j_stop] = a @ b[:, j_start:j_stop]`` (2-D arrays of one float dtype).

    ``b`` and ``out`` C-contiguous; ``a`` any layout (a weight gradient passes ``dG.T``).
    Panels of columns as wide as the tile. A ragged last panel (the range is not a multiple of
    the tile's width) is moved left to end at ``j_stop``: it overlaps the panel before it, whose
    columns it computes again, from zero and in the same order, so to the same values. A range
    narrower than one tile goes the same way in the narrow tile, one vector of columns at a time
    (a character model's 28 letters: two vectors, the second overlapping the first); only a range
    narrower than one vector takes the plain row-times-matrix loop. Where the rows of ``b`` fall
    into few sets of the L1 cache (``CONFLICT_STRIDE_BYTES``) and ``a`` has ``COPY_BLOCK_MIN_ROWS``
    rows or more, a wide tile (``COPY_MIN_TILE_BYTES``) reads each block of a panel from a copy
    (``_copy_panel_rows``). A parallel kernel gives each thread its own column range. ``out`` must
    not overlap ``a`` or ``b``.
    """
    n_rows, n_inner = a.shape
    zero = out.dtype.type(0)
    tr, tc = _stack_tile(zero).shape  # compile-time constants
    narrow_tr, lanes = _stack_narrow_tile(zero).shape
    last_row = n_rows - 1
    copy = (tc * out.itemsize >= COPY_MIN_TILE_BYTES and n_rows >= COPY_BLOCK_MIN_ROWS and j_stop - j_start >= tc
            and b.strides[0] % CONFLICT_STRIDE_BYTES == 0)
    # the block the copies go to; without them an empty view of b stands in (no allocation per call)
    block = empty_panels(np.int64(1), np.int64(K_BLOCK), zero)[0] if copy else b[:0]
    j0 = j_start
    while j0 < j_stop and j_stop - j_start >= tc:  # one panel b[:, j0:j0+tc] at a time
        j0 = min(j0, j_stop - tc)  # the ragged last panel overlaps the one before it
        k0 = 0
        while k0 == 0 or k0 < n_inner:  # K_BLOCK rows of the panel at a time: they stay in L1 for all
            k1 = min(k0 + K_BLOCK, n_inner)  # rows of a (one pass even when n_inner is 0: out = 0)
            if copy:  # block[k - k0] = b[k, j0:j0+tc]: the tiles read a's columns k0:k1 with it
                _copy_panel_rows(b, k0, j0, block, 0, k1 - k0)
                a_k = a[:, k0:k1]
                for i0 in range(0, n_rows, tr):
                    _tile_multiply_add(out, i0, j0, a_k, block, i0, last_row, 0, 0, k1 - k0, k0 > 0)
            else:
                for i0 in range(0, n_rows, tr):  # every tile's sums start and end in out, the last partial one's too
                    _tile_multiply_add(out, i0, j0, a, b, i0, last_row, j0, k0, k1, k0 > 0)
            k0 = max(k1, 1)
        j0 += tc
    while j0 < j_stop and tc > j_stop - j_start >= lanes:  # narrower than the tile: one vector at a time
        j0 = min(j0, j_stop - lanes)  # the ragged last one overlaps the one before it, as above
        k0 = 0
        while k0 == 0 or k0 < n_inner:
            k1 = min(k0 + K_BLOCK, n_inner)
            for i0 in range(0, n_rows, narrow_tr):
                _narrow_multiply_add(out, i0, j0, a, b, i0, last_row, j0, k0, k1, k0 > 0)
            k0 = max(k1, 1)
        j0 += lanes
    if j0 < j_stop:  # fewer columns than a vector are left
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


# --------------------------------------------------------------------------------------------
# Packed panels: the layout the big products and the parallel time loops read `b` in
# --------------------------------------------------------------------------------------------
# `gemm_cols` reads a panel of `b` (tc columns) row by row out of the whole matrix: rows that lie
# N floats apart. When N * 4 bytes is a multiple of 1-4 KiB (256, 1024, ... columns) all those rows
# fall into the same few sets of the L1 cache and evict each other: the K_BLOCK rows that should
# stay in L1 come from L2 again for every block of rows of `a`. Copied once into a contiguous
# (K, tc) *panel*, the same rows sit side by side and stay in L1. BLAS libraries pack for this
# reason; the numbers are in docs/performance.md ("packed panels"). (`gemm_cols` itself copies one
# block of K_BLOCK rows at a time where the rows conflict: CONFLICT_STRIDE_BYTES above.)


@Inline.with_options(_OPTIONS)
def panel_plan(n_gates, gate_width, units, tile_cols):
    """Which columns of ``out`` each packed panel holds, grouped by block of units.

    The columns of ``out`` are ``n_gates`` gates of ``gate_width`` each; ``units`` (``[0, ..., gate_width]``)
    cuts every gate into the same blocks. Block ``u`` owns panels ``first[u]`` to ``first[u + 1] - 1``:
    for each gate, its columns ``g * gate_width + units[u]`` to ``... + units[u + 1]``, ``tile_cols`` at a
    time. Returns ``(first, cols)``; ``cols[p] = (first column, width)`` of panel ``p``.
    For a plain matmul ``n_gates = 1`` and ``units`` are the column ranges of the threads.
    """
    n_blocks = units.shape[0] - 1
    first = np.zeros(n_blocks + 1, np.int64)
    for u in range(n_blocks):
        first[u + 1] = first[u] + n_gates * ((units[u + 1] - units[u] + tile_cols - 1) // tile_cols)
    cols = np.zeros((first[n_blocks], 2), np.int64)
    p = 0
    for u in range(n_blocks):
        for g in range(n_gates):
            c = units[u]
            while c < units[u + 1]:
                cols[p, 0] = g * gate_width + c
                cols[p, 1] = min(tile_cols, units[u + 1] - c)
                c += tile_cols
                p += 1
    return first, cols


@Inline.with_options(_OPTIONS)
def empty_panels(n_panels, n_inner, zero):
    """``np.empty((n_panels, n_inner, tc))`` in ``zero``'s dtype, starting on a 64-byte cache line.

    Uninitialised: ``pack_panels`` and ``pack_panels_transposed`` write every element of the
    panels they fill, padding included. Aligned because Numba aligns arrays to 32 bytes only:
    half the time every 64-byte row of a panel would straddle two cache lines (two loads for
    each vector the tile reads).
    """
    tc = _stack_tile(zero).shape[1]
    size = n_panels * n_inner * tc
    buffer = np.empty(size + 16, type(zero))  # 16 more: room to move the start by up to 64 bytes
    start = (-buffer.ctypes.data) % 64 // buffer.itemsize
    return buffer[start:start + size].reshape((n_panels, n_inner, tc))


@Inline.with_options(_OPTIONS)
def panels_in(scratch, n_panels, n_inner, zero):
    """The packed panels ``(n_panels, n_inner, tc)`` at the start of ``scratch`` when it has room,
    else in a new array (``empty_panels``).

    ``scratch`` is a 1-D array of ``zero``'s dtype starting on a cache line: memory the caller
    keeps from one call to the next (``parallel_matmul`` takes it from the recycled buffers), so
    that a big product does not ask the C library for its packed copy of ``b`` every time.
    """
    tc = _stack_tile(zero).shape[1]
    size = n_panels * n_inner * tc
    if scratch.shape[0] >= size:
        return scratch[:size].reshape((n_panels, n_inner, tc))
    return empty_panels(n_panels, n_inner, zero)


@Inline.with_options(_OPTIONS)
def pack_panels(b, cols, panels, p0, p1):
    """``panels[p, :, :w] = b[:, c:c + w]`` for ``(c, w) = cols[p]``, ``p0 <= p < p1``; zeros in the padding.

    The padding (``panels[p, :, w:]``) is written too: the tile multiplies it, so it must be 0.
    """
    tile_cols = panels.shape[2]
    for k in range(b.shape[0]):  # row by row: b is read in order
        bk = b[k]
        for p in range(p0, p1):
            c, w = cols[p, 0], cols[p, 1]
            pk = panels[p, k]
            if w == tile_cols:  # a constant trip count: whole-vector copies
                for jj in range(tile_cols):
                    pk[np.uint64(jj)] = bk[np.uint64(c + jj)]
            else:  # a partial panel: the columns past w are padding, zeros (the tile multiplies them too)
                for jj in range(w):
                    pk[np.uint64(jj)] = bk[np.uint64(c + jj)]
                for jj in range(w, tile_cols):
                    pk[np.uint64(jj)] = 0


# pack_panels_transposed moves the weight in square blocks of one vector a side, transposed in
# registers (`_intrinsics.transpose_block`); element by element, LLVM gathers each panel row's numbers
# from as many rows of the weight, one load each.
_transpose_block = transpose_block(vector_lanes)


@Inline.with_options(_OPTIONS)
def pack_panels_transposed(bt, cols, panels, p0, p1):
    """``pack_panels`` of ``b = bt.T``, read from ``bt`` (a weight as stored, ``(N, K)``, C-contiguous).

    Per panel, ``lanes`` rows of ``bt`` at a time (one vector's worth): along ``K``, a block of
    ``lanes x lanes`` numbers at a time, transposed in registers into the panel's rows. The edges
    (the last ``K % lanes`` columns of ``bt``, a panel's last ``w % lanes`` rows of it) one number at a time.
    """
    tile_cols = panels.shape[2]
    n_inner = bt.shape[1]
    lanes = _stack_narrow_tile(panels.dtype.type(0)).shape[1]  # compile-time constant
    k_blocks = n_inner - n_inner % lanes
    for p in range(p0, p1):
        c, w = cols[p, 0], cols[p, 1]
        panel = panels[p]
        w_blocks = w - w % lanes
        for j0 in range(0, w_blocks, lanes):
            for k0 in range(0, k_blocks, lanes):
                _transpose_block(bt, c + j0, k0, panel, k0, j0)
        for k in range(k_blocks, n_inner):
            pk = panel[np.uint64(k)]
            for jj in range(w_blocks):
                pk[np.uint64(jj)] = bt[np.uint64(c + jj), np.uint64(k)]
        for k in range(n_inner):
            pk = panel[np.uint64(k)]
            for jj in range(w_blocks, w):
                pk[np.uint64(jj)] = bt[np.uint64(c + jj), np.uint64(k)]
            for jj in range(w, tile_cols):  # the padding of a partial panel: zeros
                pk[np.uint64(jj)] = 0


@Inline.with_options(_OPTIONS)
def gemm_panel(a, panel, out, j0, width):
    """``out[:, j0:j0 + width] = a @ panel[:, :width]`` for one packed panel (``(K, tc)``, zero-padded).

    ``gemm_panel_k`` over all of ``K``.
    """
    gemm_panel_k(a, panel, out, j0, width, np.int64(0), a.shape[1])


@Inline.with_options(_OPTIONS)
def gemm_panel_k(a, panel, out, j0, width, k_start, k_stop):
    """The part of ``out[:, j0:j0 + width] = a @ panel[:, :width]`` that sums over ``k_start <= k < k_stop``.

    From ``k_start = 0`` it overwrites ``out``; from a later ``k_start`` it adds to what the
    earlier calls left there. So a big product can go over ``K`` in blocks, each block over
    all its panels while that block of ``a`` is in cache (``gemm_blocks.matmul_blocks``).

    The register tile always sums all ``tc`` columns of the panel (the padding adds zeros) and
    ``TILE_ROWS`` rows of ``a`` (past the last row it computes the last one again). A tile of a
    whole panel starts from and ends in ``out`` itself, at the bottom edge too; the ragged last
    panel's tiles go through the stack tile, which keeps its padding columns out of ``out``.
    A panel narrower than the tile takes the narrow tile, one vector of its columns at a time
    (``gemm_panel_narrow``). ``a`` any layout; ``out`` C-contiguous, not overlapping ``a`` or the panel.
    """
    n_rows = a.shape[0]
    zero = out.dtype.type(0)
    if width < _stack_tile(zero).shape[1]:
        gemm_panel_narrow(a, panel, out, j0, width, k_start, k_stop)
        return
    tile = _stack_tile(zero)
    tr, tc = tile.shape  # compile-time constants
    last_row = n_rows - 1
    k_step = K_BLOCK if k_stop - k_start > K_ONE_PASS else max(k_stop - k_start, 1)
    k0 = k_start
    while k0 == 0 or k0 < k_stop:  # k_step rows of the panel at a time: they stay in cache (one pass
        k1 = min(k0 + k_step, k_stop)  # even when K is 0: out = 0)
        i0 = 0
        while i0 < n_rows:
            if width == tc:  # a whole panel: the tile's sums start and end in out
                _tile_multiply_add(out, i0, j0, a, panel, i0, last_row, 0, k0, k1, k0 > 0)
            else:  # the ragged last panel, through the stack tile
                rows = min(tr, n_rows - i0)
                for r in range(rows):
                    for jj in range(width):
                        tile[r, jj] = out[i0 + r, j0 + jj]
                _tile_multiply_add(tile, 0, 0, a, panel, i0, last_row, 0, k0, k1, k0 > 0)
                for r in range(rows):
                    for jj in range(width):
                        out[i0 + r, j0 + jj] = tile[r, jj]
            i0 += tr
        k0 = max(k1, 1)


@Inline.with_options(_OPTIONS)
def gemm_panel_narrow(a, panel, out, j0, width, k_start, k_stop):
    """``gemm_panel_k`` for a panel narrower than the wide tile, in the narrow tile: one vector of its
    columns at a time, a whole one's sums in ``out`` itself, a partial last one's through the stack.

    All of ``k_start <= k < k_stop`` in one pass: per row of the panel it reads one vector.
    """
    n_rows = a.shape[0]
    tile = _stack_narrow_tile(out.dtype.type(0))
    tr, lanes = tile.shape  # compile-time constants
    last_row = n_rows - 1
    whole = width - width % lanes
    for pj in range(0, whole, lanes):
        for i0 in range(0, n_rows, tr):
            _narrow_multiply_add(out, i0, j0 + pj, a, panel, i0, last_row, pj, k_start, k_stop, k_start > 0)
    if whole < width:
        for i0 in range(0, n_rows, tr):
            rows = min(tr, n_rows - i0)
            for r in range(rows):
                for jj in range(whole, width):
                    tile[r, jj - whole] = out[i0 + r, j0 + jj]
            _narrow_multiply_add(tile, 0, 0, a, panel, i0, last_row, whole, k_start, k_stop, k_start > 0)
            for r in range(rows):
                for jj in range(whole, width):
                    out[i0 + r, j0 + jj] = tile[r, jj - whole]


@Inline.with_options(_OPTIONS)
def _pack(b, b_transposed, cols, panels, p0, p1):
    """``pack_panels`` of ``B = b.T if b_transposed else b`` (``b`` C-contiguous), panels ``p0 <= p < p1``."""
    if b_transposed:
        pack_panels_transposed(b, cols, panels, p0, p1)
    else:
        pack_panels(b, cols, panels, p0, p1)
