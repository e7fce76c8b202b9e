"""Big matrix products cut into blocks, one per thread, in the register tile of ``kernels/gemm.py``.

A layer's input projection over all time steps and its weight gradients (``x^T @ dG``, with
``T * B`` rows in the inner dimension) are too big for one thread. ``matmul_blocks`` takes the
output cut into blocks (``kernels/products.py: split_blocks`` decides where), copies ``B`` into
packed panels (``gemm.pack_panels``) shared by the threads or, for bands of rows, one copy per
thread (``private_copies``), and multiplies each block with the tile (``gemm.gemm_panel_k``),
``M_BLOCK`` rows and ``K_BLOCK`` of the inner dimension at a time. Blocks of few rows read ``B``
where it is (``reads_b_in_place``, ``gemm.gemm_cols``). Its NumPy reference is
``matmul_blocks_ref``.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import Inline, kernel, prange
from minigrad.kernels.gemm import (
    _OPTIONS,
    K_BLOCK,
    K_ONE_PASS,
    _pack,
    _stack_narrow_tile,
    _stack_tile,
    gemm_cols,
    gemm_panel_k,
    panel_plan,
    panels_in,
)


@Inline.with_options(_OPTIONS)
def _column_bounds(blocks):
    """The sorted distinct column bounds ``j0``, ``j1`` of ``blocks`` (a few: a plain loop, not ``np.unique``,
    whose sort would add a second of compile time)."""
    bounds = np.empty(2 * blocks.shape[0], np.int64)
    n = 0
    for q in range(blocks.shape[0]):
        for c in (blocks[q, 2], blocks[q, 3]):
            pos = 0
            while pos < n and bounds[pos] < c:
                pos += 1
            if pos == n or bounds[pos] != c:  # insert c at pos
                for m in range(n, pos, -1):
                    bounds[m] = bounds[m - 1]
                bounds[pos] = c
                n += 1
    return bounds[:n]


@Inline.with_options(_OPTIONS)
def rows_of_transpose(a, m0, m1):
    """``a.T[m0:m1]`` copied into rows: the rows of ``A = a.T`` that one chunk of a block reads.

    Why copy: in ``a`` itself (a weight gradient's ``dG``, ``(K, M)``) the tile's ``TILE_ROWS``
    numbers for one ``k`` lie side by side, but the next ``k``'s lie a whole row of ``a`` further
    on: every ``k`` reads another page of memory, with too few multiply-adds between (a narrow AVX2
    tile most of all) to hide the wait. Copied, each row is read in order. The copy is not free:
    ``matmul_blocks`` makes it only for a narrow tile (``COPY_MAX_TILE_COLS``) and an output at
    least ``COPY_MIN_COLUMNS`` wide, whose every number of ``A`` then does that much work.

    Rules of the copy: its rows are an odd number of cache lines apart (the result is a view of
    the first ``K`` columns of a wider buffer), so that rows written one after the other fall in
    different sets of the L1 cache; with ``K`` a power of two they would all fall in one set and
    evict each other. It goes ``COPY_K`` columns at a time: those rows of ``a`` stay in L1 while
    every row of the copy is written.
    """
    n_inner = a.shape[0]
    line = 64 // a.itemsize
    lines = n_inner // line + 1
    lines += 1 - lines % 2  # odd
    buffer = np.empty((m1 - m0, lines * line), a.dtype)
    rows = buffer[:, :n_inner]
    for k0 in range(0, n_inner, COPY_K):
        k1 = min(k0 + COPY_K, n_inner)
        for i in range(m0, m1):
            ri = rows[i - m0]
            for k in range(k0, k1):
                ri[k] = a[k, i]
    return rows


# rows_of_transpose copies this many columns of A at a time (as many rows of `a`, in L1).
COPY_K = 8
# matmul_blocks reads a transposed A from such a copy when its tile is narrower than this many
# columns (AVX2's: 24 float32) and `out` has at least COPY_MIN_COLUMNS columns, each number of A
# used that many times. A wider tile does enough multiply-adds per number read to hide the wait.
# The copy of a chunk holds all of K and pays only while it stays in a core's L2 cache for the
# tile to read (M_BLOCK rows of K up to 1024 in float32): past COPY_MAX_BYTES A is read in place.
COPY_MAX_TILE_COLS = 32
COPY_MIN_COLUMNS = 128
COPY_MAX_BYTES = 2 * 1024 * 1024

# Each block's rows go M_BLOCK at a time: that chunk of A (M_BLOCK rows by K_BLOCK, 256 KiB of
# float32) stays in the L2 cache while every panel of the block passes over it.
M_BLOCK = 512
# A chunk of A up to this size stays in a core's L2 cache (2 MiB and more on CPUs with AVX-512,
# 1 MiB and more on most with AVX2) while the block's panels pass over it.
A_CACHED_BYTES = 1024 * 1024
# Blocks of at most this many rows read an untransposed B where it is (``gemm_cols``), unpacked: the
# packed copy is one more pass over all of B, and a few row tiles do not re-read each panel often
# enough to repay it (docs/performance.md, "Few rows read B in place").
IN_PLACE_MAX_ROWS = 64


@kernel(parallel=True, **_OPTIONS)
def matmul_blocks(a, a_transposed, b, b_transposed, out, blocks, scratch):
    """``out[r0:r1, j0:j1] = A[r0:r1] @ B[:, j0:j1]`` for each row ``(r0, r1, j0, j1)`` of ``blocks``, in parallel.

    ``A = a.T if a_transposed else a``, the same for ``B``; ``a``, ``b`` and ``out`` are
    C-contiguous. A transpose (a weight gradient's ``dG.T``, Linear's ``W.T``) is passed as
    the array it views plus the flag, so the kernel compiles once for every layout (each
    compilation costs seconds on a cold start); with a narrow tile each block copies its chunks of
    a transposed ``A`` into rows (``rows_of_transpose``). ``B`` is first copied into packed panels
    (``pack_panels``) in ``scratch`` (``panels_in``), cut at every column bound of the blocks so
    that each block owns whole panels; the threads share the packing (when the blocks split the
    columns, each packs its own panels; bands of rows each pack a small ``B`` whole for themselves,
    ``private_copies``). Then each block goes over its rows ``M_BLOCK`` at a
    time, each chunk over ``K`` in blocks of ``K_BLOCK``, each of those over all the block's
    panels (``gemm_panel_k``, which takes the narrow tile for a panel narrower than the tile).
    Blocks of few rows, or narrower than the tile (``reads_b_in_place``), skip the packing: each
    reads an untransposed ``B`` where it is (``gemm_cols``). The blocks must not overlap;
    ``parallel_matmul`` cuts them, and sizes ``scratch`` (``products.panel_scratch``).
    """
    tc = _stack_tile(out.dtype.type(0)).shape[1]
    lanes = _stack_narrow_tile(out.dtype.type(0)).shape[1]
    n_blocks = blocks.shape[0]
    if reads_b_in_place(blocks, b_transposed, tc, lanes):
        for n in prange(n_blocks):
            r0, r1, j0, j1 = blocks[n, 0], blocks[n, 1], blocks[n, 2], blocks[n, 3]
            gemm_cols(a.T[r0:r1] if a_transposed else a[r0:r1], b, out[r0:r1], j0, j1)
        return
    units = _column_bounds(blocks)  # the column ranges of the blocks, as units of one "gate"
    first, cols = panel_plan(np.int64(1), out.shape[1], units, tc)
    n_inner = a.shape[0] if a_transposed else a.shape[1]
    n_panels = cols.shape[0]
    copies = private_copies(blocks, n_panels, n_inner, tc, out.itemsize)
    panels = panels_in(scratch, n_panels * copies, n_inner, out.dtype.type(0))  # pack_panels writes all of each panel
    if copies > 1:  # bands of rows, each packing all of a small B for itself: no thread reads the other's copy
        for n in prange(n_blocks):
            own = panels[n * n_panels:(n + 1) * n_panels]
            _pack(b, b_transposed, cols, own, 0, n_panels)
            _block_product(a, a_transposed, out, blocks[n], units, first, cols, own)
        return
    for q in prange(n_blocks):  # share q of the panels: with column blocks, exactly block q's own
        _pack(b, b_transposed, cols, panels, n_panels * q // n_blocks, n_panels * (q + 1) // n_blocks)
    for n in prange(n_blocks):
        _block_product(a, a_transposed, out, blocks[n], units, first, cols, panels)


@Inline.with_options(_OPTIONS)
def _block_product(a, a_transposed, out, block, units, first, cols, panels):
    """``matmul_blocks``' product of one block ``(r0, r1, j0, j1)`` from the packed ``panels``."""
    tc = _stack_tile(out.dtype.type(0)).shape[1]
    n_inner = a.shape[0] if a_transposed else a.shape[1]
    k_step = K_BLOCK if n_inner > K_ONE_PASS else max(n_inner, 1)
    copy_a = (a_transposed and tc < COPY_MAX_TILE_COLS and out.shape[1] >= COPY_MIN_COLUMNS
              and M_BLOCK * n_inner * out.itemsize <= COPY_MAX_BYTES)
    r0, r1, j0, j1 = block[0], block[1], block[2], block[3]
    u = 0
    while units[u] < j0:
        u += 1
    u_stop = u
    while u_stop < units.shape[0] - 1 and units[u_stop] < j1:  # the column ranges inside [j0, j1)
        u_stop += 1
    for m0 in range(r0, r1, M_BLOCK):
        m1 = min(m0 + M_BLOCK, r1)
        # K_BLOCK rows of A at a time, each over all the block's panels: that part of A (often the
        # big operand: a weight gradient's dG.T, 8 MB on charlm) is read from memory once. When the
        # whole chunk of A fits in cache (A_CACHED_BYTES), each panel goes over all of K instead:
        # its block of out stays in cache (a word model's dW^T: 8 MB of out, 6 blocks of K).
        # A transposed is read in place or from a copy in rows (rows_of_transpose); all have one
        # type ('A', any strides): one tile loop to compile.
        if copy_a:
            a_rows = rows_of_transpose(a, m0, m1)
        else:
            a_rows = a.T[m0:m1] if a_transposed else a[m0:m1]
        step = max(n_inner, 1) if (m1 - m0) * n_inner * out.itemsize <= A_CACHED_BYTES else k_step
        for k0 in range(0, max(n_inner, 1), step):  # once even when K is 0: out = 0
            k1 = min(k0 + step, n_inner)
            for p in range(first[u], first[u_stop]):
                gemm_panel_k(a_rows, panels[p], out[m0:m1], cols[p, 0], cols[p, 1], k0, k1)


@Inline.with_options(_OPTIONS)
def reads_b_in_place(blocks, b_transposed, tile_cols, lanes):
    """Whether ``matmul_blocks`` reads ``B`` unpacked: ``B`` untransposed and every block at least one
    vector (``lanes`` numbers) wide (``gemm_cols`` runs a narrower range in a plain loop), and at most
    ``IN_PLACE_MAX_ROWS`` rows unless it is narrower than the tile (``tile_cols``): then its columns
    of ``B`` lie close together, a vector's worth of them in every row, and stay in cache unpacked."""
    if b_transposed:
        return False
    for n in range(blocks.shape[0]):
        width = blocks[n, 3] - blocks[n, 2]
        if width < lanes or (blocks[n, 1] - blocks[n, 0] > IN_PLACE_MAX_ROWS and width >= tile_cols):
            return False
    return True


# Bands of rows pack B each for itself, not a share of it for all, while one copy of the packed B is
# at most this big: every thread then reads its own copy from its own cache, never the panels the
# other core packed (its cache lines crossing between cores for every band of rows).
PRIVATE_PANELS_MAX_BYTES = 512 * 1024


@Inline.with_options(_OPTIONS)
def private_copies(blocks, n_panels, n_inner, tile_cols, itemsize):
    """How many copies of the packed ``B`` ``matmul_blocks`` makes: one per block where the blocks
    are bands of rows (each spans all the columns) and one copy is at most ``PRIVATE_PANELS_MAX_BYTES``,
    else one, shared."""
    n_blocks = blocks.shape[0]
    for n in range(n_blocks):
        if blocks[n, 2] != blocks[0, 2] or blocks[n, 3] != blocks[0, 3]:
            return 1
    if n_blocks > 1 and n_panels * n_inner * tile_cols * itemsize <= PRIVATE_PANELS_MAX_BYTES:
        return n_blocks
    return 1


def matmul_blocks_ref(a: np.ndarray, a_transposed: bool, b: np.ndarray, b_transposed: bool, out: np.ndarray,
                      blocks: np.ndarray, scratch: np.ndarray) -> None:
    a, b = (a.T if a_transposed else a), (b.T if b_transposed else b)
    for r0, r1, j0, j1 in blocks:
        out[r0:r1, j0:j1] = a[r0:r1] @ b[:, j0:j1]
