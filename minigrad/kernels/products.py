"""The matrix products minigrad's layers ask for, and which threads run them.

``matmul2d`` is the one entry point of ``Linear``, ``matmul`` and the fused recurrent layers (their
step products included). It sends a float32 product, by its multiply-adds, to one of three places:

- from ``PARALLEL_MIN_PRODUCT``: ``parallel_matmul`` on Numba's threads (the register-tiled kernel
  of ``kernels/gemm.py``, ``gemm_blocks.matmul_blocks``, or ``kernels/gemv.py`` for an ``a`` of a few rows);
- from ``SMALL_PRODUCT``, where BLAS would start threads of its own: BLAS while Numba's pool has
  never run in this process, else ``parallel_matmul`` on the calling thread alone (a few rows, an
  outer product and from ``AWAKE_PARALLEL_MIN_PRODUCT``: on all threads);
- below that, and every other dtype: NumPy (its BLAS), on one thread.

Why: a train step should keep ONE pool of threads busy. BLAS's threads and Numba's (which the
parallel recurrent kernels use inside the time loop) each spin-wait for work after a call; when
both pools are awake, each slows the other down (``docs/performance.md``, "One pool of threads").
Once Numba's pool is awake, BLAS only gets products it runs on one thread.

Example::

    >>> float(matmul2d(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))[1, 3])
    3.0
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad._allocator import RECYCLE_MIN_BYTES, empty, empty_aligned
from minigrad.kernels._jit import numba_threads, pool_awake, threads_usable
from minigrad.kernels.blas import in_swap_region, swap_pays, swapped_matmul, transposed_b_is_slow
from minigrad.kernels.cpu import vector_lanes
from minigrad.kernels.gemm import TILE_ROWS, tile_shape
from minigrad.kernels.gemm_blocks import IN_PLACE_MAX_ROWS, matmul_blocks, private_copies, reads_b_in_place
from minigrad.kernels.gemv import FEW_ROWS, matmul_few_rows

# Column blocks need at least this many panels per thread, and the busiest thread may have at most
# this much more than an even share of them; else the threads split the rows (every thread then
# reads every panel, but only its own rows of A: with many rows and few panels, A's traffic is
# what costs). Fewer panels do when A is no bigger than B (rows <= cols) and B is packed: then each
# thread reading every panel, half of them packed by the other core, is what costs.
COLUMN_MIN_PANELS = 8
COLUMN_IMBALANCE_MAX = 1.03
# ... and in that case (rows <= cols, B packed) the busiest thread may have this much more: its
# extra panels cost less than every thread reading all of them.
PACKED_B_IMBALANCE_MAX = 1.25


@functools.lru_cache(maxsize=256)
def split_blocks(rows: int, cols: int, parts: int, tile_rows: int = TILE_ROWS, tile_cols: int = 64,
                 narrow_cols: int = 16, b_transposed: bool = False) -> np.ndarray:
    """Cut a ``rows x cols`` output into ``parts`` blocks of whole tiles, as ``(n, 4)`` ``(r0, r1, j0, j1)``.

    Whole column panels when they share out evenly (each thread then packs and reads only its own
    part of ``b``) and there are ``COLUMN_MIN_PANELS`` per thread, or ``a`` has no more rows than
    ``b`` has columns and ``b`` is packed (``b_transposed``) or ``a`` has ``gemm_blocks.IN_PLACE_MAX_ROWS``
    rows per thread (with fewer, bands of rows read an untransposed ``b`` in place, unpacked, which
    pays), then less evenly too (``PACKED_B_IMBALANCE_MAX``); else bands of rows. A panel costs the
    same at any width (the tile always multiplies ``tile_cols`` columns), except a last panel
    narrower than that (``gemm_panel_k`` takes the narrow tile, ``narrow_cols`` columns, one vector,
    at a time). Columns also when there are too few rows to cut.

    Example::

        >>> split_blocks(32, 512, 2).tolist()
        [[0, 32, 0, 256], [0, 32, 256, 512]]
        >>> split_blocks(1120, 64, 2).tolist()
        [[0, 560, 0, 64], [560, 1120, 0, 64]]
        >>> split_blocks(700, 300, 2).tolist()  # 5 panels: 3 + 2 would leave one thread waiting
        [[0, 348, 0, 300], [348, 700, 0, 300]]
        >>> split_blocks(64, 512, 2, b_transposed=True).tolist()  # x @ W.T: W.T is packed, x is small
        [[0, 64, 0, 256], [0, 64, 256, 512]]
    """
    panels = -(-cols // tile_cols)
    few_rows = rows < 8 * tile_rows * parts
    shared_b = rows <= cols and (b_transposed or rows >= IN_PLACE_MAX_ROWS * parts)  # B packed, A no bigger
    if panels >= parts and (few_rows or panels >= COLUMN_MIN_PANELS * parts or shared_b):
        cuts = [min(cols, (panels * p // parts) * tile_cols) for p in range(parts + 1)]
        last = cols - (panels - 1) * tile_cols  # the width of the last panel
        cheap_last = (-(-last // narrow_cols) * narrow_cols if last < tile_cols else tile_cols) / tile_cols
        work = [-(-(cuts[p + 1] - cuts[p]) // tile_cols) for p in range(parts)]
        work[-1] += cheap_last - 1.0
        even = sum(work) / parts
        if max(work) <= (PACKED_B_IMBALANCE_MAX if shared_b else COLUMN_IMBALANCE_MAX) * even or few_rows:
            blocks = [(0, rows, cuts[p], cuts[p + 1]) for p in range(parts)]
            return _frozen(blocks)
    row_tiles = -(-rows // tile_rows)
    cuts = [min(rows, (row_tiles * p // parts) * tile_rows) for p in range(parts + 1)]
    return _frozen([(cuts[p], cuts[p + 1], 0, cols) for p in range(parts)])


def _frozen(blocks: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The non-empty blocks as a read-only ``(n, 4)`` int64 array (``split_blocks`` caches it for every caller)."""
    out = np.array([blk for blk in blocks if blk[0] < blk[1] and blk[2] < blk[3]] or [(0, 0, 0, 0)], np.int64)
    out.flags.writeable = False
    return out


def num_threads() -> int:
    """How many threads ``parallel_matmul`` and the parallel kernels use (1 where ``threads_usable()`` is False)."""
    return numba_threads() if threads_usable() else 1


# Below this many multiply-adds (m * n * k) OpenBLAS runs a product on one thread (its own
# GEMM_MULTITHREAD_THRESHOLD): no second pool wakes up, and its call overhead is lower than ours.
SMALL_PRODUCT = 4 * 65536
# From SMALL_PRODUCT up to this, a product is too small to repay waking Numba's pool between the
# Python ops of a step. It runs in BLAS (on BLAS's threads) while Numba's pool has never run in this
# process, and on the calling thread alone, in our kernels, once it has: one pool at a time.
PARALLEL_MIN_PRODUCT = 4 * 1024 * 1024
# ... but once Numba's pool is awake (a parallel kernel has run: its threads are up already), a
# product from this many multiply-adds, that BLAS's bands do not take, runs on all of them too.
AWAKE_PARALLEL_MIN_PRODUCT = 1024 * 1024


def use_tiled_threads(dtype: Any) -> bool:
    """Whether float matmuls of ``dtype`` run here, on Numba's threads, instead of in NumPy's BLAS.

    float32 where Numba may use several threads (``threads_usable``). Why: ONE pool of threads
    for a whole train step (the module docstring); the parallel recurrent kernels, which need
    Numba's threads, are taken on exactly these (``nn/rnn_plan.py: plan``).

    Example::

        >>> use_tiled_threads(np.float64)
        False
    """
    return np.dtype(dtype) == np.float32 and threads_usable()  # (threads_usable: more than one thread)


def matmul2d(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, wake_pool: bool = True) -> np.ndarray:
    """``a @ b`` for 2-D float arrays: ``parallel_matmul`` where ``use_tiled_threads``, else NumPy.

    The one entry point minigrad's layers use for matrix products (``Linear``, ``matmul``, the
    fused recurrent layers), so that they all run on the same threads. Rules (``product_route``
    decides; it says the same for ``gathers_transposed_b``):

    - big float32 products (``PARALLEL_MIN_PRODUCT`` multiply-adds or more) on Numba's threads;
    - from ``SMALL_PRODUCT`` to that: in BLAS while Numba's pool has never run (``pool_awake``);
      once it has, in BLAS in bands it runs on the calling thread (``blas_in_bands``) for a
      ``narrow_output`` of ``W.T`` or narrower than a vector (a ``narrow_output`` of ``b`` in rows:
      our narrow tile, reading ``b`` in place) or where ``bands_pay``, else in our kernels: on all
      threads for ``FEW_ROWS`` rows (a matrix-vector product), for an inner dimension of 1 (an
      outer product, which NumPy's ``matmul`` in bands would run in a plain loop, not in BLAS) and
      from ``AWAKE_PARALLEL_MIN_PRODUCT`` multiply-adds; below that on the calling thread alone;
    - everything else to NumPy (BLAS), through ``blas_matmul2d`` (recycled memory for a big
      result, ``np.dot`` or a broadcast multiply for an inner dimension of 1);
    - ``wake_pool=False``: while Numba's pool sleeps, to BLAS whatever the size, for a product
      made once per step (a stacked weight gradient) that must not decide where the step's many
      mid-sized products run from then on.

    Example::

        >>> float(matmul2d(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))[1, 3])
        3.0
        >>> matmul2d(np.array([[1.0], [2.0]]), np.array([[3.0, 4.0]])).tolist()  # an outer product
        [[3.0, 4.0], [6.0, 8.0]]
    """
    m, k = a.shape
    n = b.shape[1]
    if m * k * n >= SMALL_PRODUCT and a.dtype == b.dtype:
        where = product_route(m, k, n, a.dtype, is_transposed(b), wake_pool)
        if where is BLAS:
            return blas_matmul2d(a, b, out)
        if where is BANDS_OF_ROWS:
            return blas_in_bands(a, b, out, rows_only=True)
        if where is BANDS:
            return blas_in_bands(a, b, out)
        threads = None if where is ALL_THREADS else 1  # our kernels, on all threads or on this one
        if out is None:
            return parallel_matmul(a, b, empty_aligned((m, n), a.dtype), threads)
        if out.dtype == a.dtype and out.flags.c_contiguous:
            return parallel_matmul(a, b, out, threads)
    return blas_matmul2d(a, b, out)


# Where ``product_route`` sends a product.
BLAS = "BLAS"
BANDS = "BLAS in bands"
BANDS_OF_ROWS = "BLAS in bands of rows"
ALL_THREADS = "all threads"
ONE_THREAD = "this thread"


def product_route(m: int, k: int, n: int, dtype: Any, b_transposed: bool, wake_pool: bool = True) -> str:
    """Where ``matmul2d`` runs ``(m x k) @ (k x n)`` of one float dtype (``b`` a ``W.T`` if ``b_transposed``).

    ``BLAS``, ``BANDS`` or ``BANDS_OF_ROWS`` (``blas_in_bands``), or our kernels on ``ALL_THREADS``
    or on ``ONE_THREAD``, the calling one: ``matmul2d``'s rules, in one place for it and for
    ``gathers_transposed_b``.

    Example::

        >>> product_route(2, 3, 4, np.float32, False)  # under SMALL_PRODUCT multiply-adds
        'BLAS'
    """
    work = m * k * n
    if work < SMALL_PRODUCT:
        return BLAS
    awake = pool_awake()
    if not awake and (work < PARALLEL_MIN_PRODUCT or not wake_pool):
        return BLAS  # Numba's pool has never run here: BLAS's threads are the one pool
    if not use_tiled_threads(dtype):
        return BLAS
    if work >= PARALLEL_MIN_PRODUCT or m <= FEW_ROWS or k == 1:
        # All threads: a few rows stream all of b (two caches read it, nothing is packed); an outer
        # product (k = 1, the input projection of a one-feature series) only writes its output.
        return ALL_THREADS
    if narrow_output(k, n, dtype):
        if b_transposed or n < (_TILE_WIDTHS.get(dtype) or _tile_widths(dtype))[1]:
            return BANDS_OF_ROWS
        # b in rows: our narrow tile reads it in place
    elif bands_pay(m, k, n, dtype, b_transposed):
        return BANDS
    return ALL_THREADS if work >= AWAKE_PARALLEL_MIN_PRODUCT else ONE_THREAD


def gathers_transposed_b(rows: int, inner: int, cols: int, dtype: Any) -> bool:
    """Whether ``matmul2d`` gathers a transposed ``b`` (``W.T``, ``inner x cols``) into panels, for ``rows`` rows.

    Where ``product_route`` sends the product to our kernels and it has more than ``FEW_ROWS``
    rows: they pack ``W.T``'s columns into rows first, at every call. BLAS reads ``W.T`` as it is
    (or swaps the product: ``kernels/blas.py``), and so does a matrix-vector product. The question
    ``autograd/kept_transposes.py`` asks before it copies a weight's transpose for many products.

    Example::

        >>> gathers_transposed_b(32, 512, 512, np.float64)  # float64 runs in BLAS
        False
    """
    return rows > FEW_ROWS and product_route(rows, inner, cols, dtype, True) in (ALL_THREADS, ONE_THREAD)


# A band of rows of a narrow output must have at least this many rows: BLAS runs a product of a
# few rows well below its speed on a full block of rows.
BAND_MIN_ROWS = 8
# Below this many multiply-adds, with Numba's pool awake, BLAS in bands on the calling thread beats
# our register tile on one thread for x @ W.T (packing W.T is a large share of a small product's
# work); for b in rows only with a short inner dimension (at most BANDS_MAX_INNER) and many rows
# (BANDS_MIN_ROWS or more): the tile then writes out its sums after a few multiply-adds each.
BANDS_MAX_PRODUCT = 2 * SMALL_PRODUCT
BANDS_MAX_INNER = 50
BANDS_MIN_ROWS = 64
# ... as long as each band keeps this many rows (or columns) of the output.
BAND_MIN_SIDE = 16
# Where NumPy's BLAS runs x @ W.T slowly (kernels/blas.py: transposed_b_is_slow), its bands still
# beat our tile on one thread for a product of at most SLOW_BANDS_MAX_ROWS rows with an inner
# dimension of SLOW_BANDS_MIN_INNER or more, in bands of at least SLOW_BANDS_MIN_SIDE, up to
# AWAKE_PARALLEL_MIN_PRODUCT (the tile packs all of W for those few rows); from there our tile
# on all threads beats them.
SLOW_BANDS_MAX_ROWS = 48
SLOW_BANDS_MIN_INNER = 256
SLOW_BANDS_MIN_SIDE = 8


def narrow_output(inner: int, cols: int, dtype: Any) -> bool:
    """Whether a product with ``cols`` output columns goes to BLAS in bands of rows in the mid range.

    An output at most half the register tile wide (10 classes; a vocabulary of 28 characters with
    AVX-512's tile of 64 columns): the tile would multiply mostly padding. And ``b`` (``inner x
    cols``) small enough that a band of ``BAND_MIN_ROWS`` rows stays under ``SMALL_PRODUCT``, where
    BLAS uses one thread. (``matmul2d`` sends such a product with ``b`` in rows, a vector wide or
    more, to our narrow tile instead: it reads ``b`` in place, one vector of columns at a time.)

    Example::

        >>> narrow_output(512, 10, np.float32), narrow_output(512, 512, np.float32)
        (True, False)
    """
    tile_cols = (_TILE_WIDTHS.get(dtype) or _tile_widths(dtype))[0]
    return cols <= tile_cols // 2 and inner * cols * BAND_MIN_ROWS < SMALL_PRODUCT


def is_transposed(x: np.ndarray) -> bool:
    """Whether the 2-D ``x`` is the transpose of a C-ordered matrix (``W.T``).

    Example: ``is_transposed(np.ones((2, 3)).T)`` -> True.
    """
    return x.flags.f_contiguous and not x.flags.c_contiguous


def band_plan(rows: int, inner: int, cols: int, rows_only: bool = False) -> tuple[bool, int]:
    """``(along_rows, width)``: ``blas_in_bands``'s cut of a ``rows x cols`` output.

    Along the longer side (along the rows for ``rows_only``), in even bands of ``width``, as few
    as keep each band under ``SMALL_PRODUCT`` multiply-adds.

    Example::

        >>> band_plan(32, 28, 512), band_plan(512, 32, 100), band_plan(40, 512, 28, rows_only=True)
        ((False, 256), (True, 74), (True, 14))
    """
    along_rows = rows_only or rows > cols
    side, other = (rows, cols) if along_rows else (cols, rows)
    widest = max((SMALL_PRODUCT - 1) // (other * inner), 1)
    parts = -(-side // widest)
    return along_rows, -(-side // parts)


def bands_pay(rows: int, inner: int, cols: int, dtype: Any, b_transposed: bool) -> bool:
    """Whether a mid-sized product runs in ``blas_in_bands`` rather than in our tile on one thread.

    Below ``BANDS_MAX_PRODUCT`` multiply-adds, in bands of at least ``BAND_MIN_SIDE``; with ``b`` in
    rows only for a short inner dimension and many rows (``BANDS_MAX_INNER``, ``BANDS_MIN_ROWS``).
    A transposed ``b`` where NumPy's BLAS runs that case slowly (``kernels/blas.py``) has its own
    bounds: a few rows and a long inner dimension (``SLOW_BANDS_*``), below ``AWAKE_PARALLEL_MIN_PRODUCT``.

    Example::

        >>> bands_pay(20, 256, 64, np.float32, b_transposed=True)  # Linear(256, 64) on a batch of 20
        True
        >>> bands_pay(32, 28, 512, np.float32, b_transposed=False)  # x @ W_xh of a one-hot batch: our tile
        False
        >>> bands_pay(64, 256, 256, np.float32, b_transposed=False)  # 4 Mi multiply-adds
        False
    """
    if b_transposed and transposed_b_is_slow(dtype):
        return (rows <= SLOW_BANDS_MAX_ROWS and inner >= SLOW_BANDS_MIN_INNER
                and rows * inner * cols < AWAKE_PARALLEL_MIN_PRODUCT
                and band_plan(rows, inner, cols)[1] >= SLOW_BANDS_MIN_SIDE)
    if rows * inner * cols >= BANDS_MAX_PRODUCT:
        return False
    if not b_transposed and (inner > BANDS_MAX_INNER or rows < BANDS_MIN_ROWS):
        return False
    return band_plan(rows, inner, cols)[1] >= BAND_MIN_SIDE


def blas_in_bands(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None,
                  rows_only: bool = False) -> np.ndarray:
    """``a @ b`` in NumPy's BLAS, a band of the output at a time (``band_plan``), each under ``SMALL_PRODUCT``.

    Below that size BLAS runs a product on the calling thread: no pool of its own wakes up beside
    Numba's (the module docstring), and BLAS's one-thread kernels suit small and narrow products
    better than our tile (``bands_pay``, ``narrow_output``).

    Example::

        >>> float(blas_in_bands(np.ones((40, 512), np.float32), np.ones((512, 28), np.float32), rows_only=True)[39, 27])
        512.0
    """
    m, n = a.shape[0], b.shape[1]
    if out is None:
        out = empty((m, n), a.dtype)  # (recycled memory when it is big)
    along_rows, width = band_plan(m, a.shape[1], n, rows_only)
    for start in range(0, m if along_rows else n, width):
        band = slice(start, start + width)
        if along_rows:
            np.matmul(a[band], b, out=out[band])
        else:
            np.matmul(a, b[:, band], out=out[:, band])
    return out


def batched_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` for arrays of at least 2-D with batch dimensions (broadcast as NumPy does).

    Rule: each product that BLAS would run on its own threads goes through ``matmul2d`` in turn, so
    that BLAS never starts its pool beside Numba's.

    Example::

        >>> batched_matmul(np.ones((5, 2, 3), np.float32), np.ones((3, 4), np.float32)).shape
        (5, 2, 4)
    """
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if m * k * n < SMALL_PRODUCT or a.dtype != b.dtype or not use_tiled_threads(a.dtype):
        return np.matmul(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])  # ValueError when they do not broadcast
    a_all, b_all = np.broadcast_to(a, (*batch, m, k)), np.broadcast_to(b, (*batch, k, n))
    out = np.empty((*batch, m, n), a.dtype)
    for index in np.ndindex(*batch):
        matmul2d(a_all[index], b_all[index], out[index])
    return out


def blas_matmul2d(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays in NumPy (its BLAS), a big result in a recycled buffer.

    For callers that keep Numba's threads out of a step (the serial recurrent kernels) and for
    ``matmul2d``'s products that stay in NumPy. Rules:

    - a result of ``RECYCLE_MIN_BYTES`` or more goes into ``empty_aligned``'s recycled memory: a
      weight gradient made anew in every step would otherwise be memory the C library may have
      handed back to the OS, every page of it faulting again on first touch;
    - an inner dimension of 1 (``dL/dW = g^T x`` of a batch of one), an outer product: ``np.dot``
      (BLAS) where BLAS keeps it on one thread (below ``SMALL_PRODUCT`` elements), else a broadcast
      multiply; not ``np.matmul``, which sends an outer product to a plain loop instead of BLAS;
    - ``x @ W.T`` of few rows as ``(W @ x.T).T`` where NumPy's BLAS runs that quicker
      (``kernels/blas.py: swap_pays``);
    - ``np.dot`` rather than ``np.matmul`` wherever it can take the arguments (into an ``out`` only
      of the result's dtype, C-ordered): the same BLAS call with less of NumPy's dispatch around it;
    - it runs inside an op (``Function.apply``, the engine's backward), where NumPy is ``quiet()``:
      ``inf * 0`` is ``nan`` without NumPy's warning, as in PyTorch.

    Example::

        >>> blas_matmul2d(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).shape
        (2, 4)
    """
    m, k = a.shape
    n = b.shape[1]
    if out is None and m * n * a.itemsize >= RECYCLE_MIN_BYTES:
        out = empty_aligned((m, n), np.result_type(a, b))
    if k == 1:
        if m * n < SMALL_PRODUCT and (out is None or (out.flags.c_contiguous and out.dtype == np.result_type(a, b))):
            return np.dot(a, b, out=out)
        return np.multiply(a, b, out=out)
    # (the shape's bounds first: most products are outside the swap's region, and skip the rest)
    if in_swap_region(m, k, n) and is_transposed(b) and a.dtype == b.dtype and swap_pays(a.dtype, m, k, n, True):
        return swapped_matmul(a, b, np.empty((m, n), a.dtype) if out is None else out)
    if out is None:
        return np.dot(a, b)  # for 2-D arrays the same product as np.matmul, with less dispatch around it
    if out.dtype == a.dtype == b.dtype and out.flags.c_contiguous:  # what np.dot's `out` must be
        return np.dot(a, b, out=out)
    return np.matmul(a, b, out=out)


def _c_order(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(data, transposed)``: ``data`` C-contiguous and ``x`` equal to ``data.T if transposed else data``.

    A transpose (``dG.T``, ``W.T``) is passed as the array it views: no copy. Other strided
    views (a time step of a batch-first sequence, ``out[:, t]``, or its transpose) are copied into
    recycled aligned memory (``empty_aligned``), in the order that reads ``x`` a whole row at a
    time: a view whose columns lie next to each other in memory is copied as its transpose.

    Example::

        >>> w = np.ones((4, 3))
        >>> data, transposed = _c_order(w.T)
        >>> data.shape, transposed, np.shares_memory(data, w)
        ((4, 3), True, True)
        >>> steps = np.ones((2, 5, 3))  # (batch, time, features)
        >>> data, transposed = _c_order(steps[:, 1].T)  # (3, 2), its columns in rows of steps
        >>> data.shape, transposed, data.flags.c_contiguous
        ((2, 3), True, True)
    """
    if x.flags.c_contiguous:
        return x, False
    if x.flags.f_contiguous:
        return x.T, True
    transposed = x.strides[0] == x.itemsize and x.strides[1] != x.itemsize
    source = x.T if transposed else x
    data = empty_aligned(source.shape, source.dtype)
    np.copyto(data, source)
    return data, transposed


# Copying one element of `out` from a transposed buffer costs about as much time as this many
# multiply-adds in the tile (docs/performance.md, "Weight gradients computed transposed").
FLIP_COPY_COST = 50


def padded_work(rows: int, cols: int, tile_rows: int = TILE_ROWS, tile_cols: int = 64) -> int:
    """The multiply-adds per unit of ``K`` that the register tile does for a ``rows x cols`` output.

    The tile always computes whole tiles: the output is padded to a multiple of ``tile_rows`` rows
    and ``tile_cols`` columns. A weight gradient of ``nn.LSTM(200, 200)``, ``(800, 200)``, is
    padded to 256 columns (22% more work); its transpose ``(200, 800)`` to 832 (4%).

    Example::

        >>> padded_work(800, 200), padded_work(200, 800)
        (204800, 166400)
    """
    return -(-rows // tile_rows) * tile_rows * (-(-cols // tile_cols) * tile_cols)


def transposed_output_pays(rows: int, cols: int, inner: int, tile_cols: int = 64) -> bool:
    """Whether ``out^T`` (``cols x rows``) and a transposed copy back cost less than ``out`` itself.

    True when the padded multiply-adds the transpose saves (``padded_work``, times the inner
    dimension ``inner``) exceed ``FLIP_COPY_COST`` for each element of ``out`` copied back.

    Example::

        >>> transposed_output_pays(800, 200, inner=280), transposed_output_pays(800, 200, inner=8)
        (True, False)
    """
    saved = padded_work(rows, cols, TILE_ROWS, tile_cols) - padded_work(cols, rows, TILE_ROWS, tile_cols)
    return saved * inner > FLIP_COPY_COST * rows * cols


def parallel_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int | None = None) -> np.ndarray:
    """``out = a @ b`` on ``threads`` of Numba's threads (default: all).

    ``out`` is C-contiguous; ``a`` and ``b`` may have any 2-D layout.

    Rules: an ``a`` of at most ``FEW_ROWS`` rows takes ``matmul_few_rows`` (a matrix-vector
    product: one pass over ``b``, no packing). When ``a`` is a transpose (a weight gradient
    ``g^T x``) and ``transposed_output_pays``, the threads compute ``out^T = b^T a^T`` into a
    buffer, then copy it, transposed, into ``out``.

    Example::

        >>> a, b = np.ones((6, 3), np.float32), np.ones((70, 3), np.float32)
        >>> float(parallel_matmul(a, b.T, np.empty((6, 70), np.float32))[5, 69])
        3.0
    """
    threads = num_threads() if threads is None else threads  # one: the kernels' serial variants, on this thread
    rows, cols = out.shape
    inner = a.shape[1]
    if rows <= FEW_ROWS:
        b_data, b_transposed = _c_order(b)
        few_rows = matmul_few_rows.serial if threads == 1 else matmul_few_rows
        few_rows(np.ascontiguousarray(a), b_data, b_transposed, out, threads)
        return out
    (a_data, a_transposed), (b_data, b_transposed) = _c_order(a), _c_order(b)
    dtype = out.dtype
    tile_cols, lanes = _TILE_WIDTHS.get(dtype) or _tile_widths(dtype)
    blocks_kernel = matmul_blocks.serial if threads == 1 else matmul_blocks
    if a_transposed and transposed_output_pays(rows, cols, inner, tile_cols):
        out_t = empty_aligned((cols, rows), dtype)  # out^T = B^T A^T, with A^T = a_data, B^T = b_data(.T)
        blocks, panels = block_plan(cols, inner, rows, threads, tile_cols, lanes, dtype.itemsize, False)
        scratch = _scratch(panels * inner * tile_cols, dtype)
        blocks_kernel(b_data, not b_transposed, a_data, False, out_t, blocks, scratch)
        np.copyto(out, out_t.T)
        return out
    blocks, panels = block_plan(rows, inner, cols, threads, tile_cols, lanes, dtype.itemsize, b_transposed)
    blocks_kernel(a_data, a_transposed, b_data, b_transposed, out, blocks, _scratch(panels * inner * tile_cols, dtype))
    return out


def _scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """Room for ``size`` numbers of packed panels (``panel_scratch``'s size): recycled aligned memory,
    or a shared empty array for blocks that read B in place (they pack nothing)."""
    return empty_aligned((size,), dtype) if size else _no_scratch(dtype)


@functools.lru_cache(maxsize=8)
def _no_scratch(dtype: np.dtype) -> np.ndarray:
    return np.empty(0, dtype)


# dtype -> (the register tile's columns, the SIMD lanes) on this CPU: asked on every product.
_TILE_WIDTHS: dict[np.dtype, tuple[int, int]] = {}


def _tile_widths(dtype: np.dtype) -> tuple[int, int]:
    _TILE_WIDTHS[dtype] = widths = (tile_shape(dtype)[1], vector_lanes(dtype))
    return widths


@functools.lru_cache(maxsize=256)
def block_plan(rows: int, inner: int, cols: int, parts: int, tile_cols: int, narrow_cols: int, itemsize: int,
               b_transposed: bool = False) -> tuple[np.ndarray, int]:
    """``(blocks, panels)``: ``split_blocks`` of a ``rows x cols`` output and how many packed panels
    ``matmul_blocks`` cuts for them from a ``B`` of ``inner`` rows (``panel_scratch`` holds ``panels``
    of ``inner x tile_cols``, every private copy's included: ``gemm_blocks.private_copies``); none where its
    blocks read ``B`` in place (``gemm_blocks.reads_b_in_place``), and then no scratch is made.

    Remembered, both: a train step asks for the same few shapes over and over.

    Example::

        >>> blocks, panels = block_plan(32, 128, 512, 2, 64, 16, 4, b_transposed=True)
        >>> blocks.tolist(), panels
        ([[0, 32, 0, 256], [0, 32, 256, 512]], 8)
        >>> block_plan(32, 128, 512, 2, 64, 16, 4, b_transposed=False)[1]  # 32 rows read B in place
        0
        >>> blocks, panels = block_plan(256, 128, 40, 2, 64, 16, 4, b_transposed=True)  # bands of rows
        >>> blocks.tolist(), panels  # one panel of W.T, packed by each band for itself
        ([[0, 128, 0, 40], [128, 256, 0, 40]], 2)
    """
    blocks = split_blocks(rows, cols, parts, TILE_ROWS, tile_cols, narrow_cols, b_transposed)
    if reads_b_in_place(blocks, b_transposed, tile_cols, narrow_cols):
        return blocks, 0
    return blocks, _panels_with_copies(blocks, inner, tile_cols, itemsize)


def panel_scratch(blocks: np.ndarray, inner: int, tile_cols: int, dtype: Any) -> np.ndarray:
    """Room for the packed panels ``matmul_blocks`` cuts from a ``B`` with ``inner`` rows for ``blocks``.

    As the kernel counts them (``gemm.panel_plan``): each range between two neighbouring column
    bounds of the blocks, ``tile_cols`` columns a panel; times the blocks where each packs its own
    copy (``gemm_blocks.private_copies``). In ``empty_aligned``'s recycled memory: a train step packs the
    same big operands (a weight gradient's ``x``, several MB) every time.

    Example::

        >>> panel_scratch(np.array([[0, 6, 0, 64], [0, 6, 64, 70]]), 3, 64, np.float32).size  # 2 panels of 3 x 64
        384
    """
    size = _panels_with_copies(blocks, inner, tile_cols, np.dtype(dtype).itemsize) * inner * tile_cols
    return empty_aligned((size,), dtype)


def _panels_with_copies(blocks: np.ndarray, inner: int, tile_cols: int, itemsize: int) -> int:
    """How many packed panels ``matmul_blocks`` cuts for ``blocks``, counting every private copy."""
    panels = _panel_count(np.ascontiguousarray(blocks[:, 2:4], np.int64).tobytes(), tile_cols)
    return panels * private_copies(blocks, panels, inner, tile_cols, itemsize)


@functools.lru_cache(maxsize=256)
def _panel_count(column_bounds: bytes, tile_cols: int) -> int:
    """``panel_scratch``'s count of panels, from the blocks' column bounds (remembered: asked per product)."""
    bounds = sorted(set(np.frombuffer(column_bounds, np.int64).tolist()))
    return sum(-(-(stop - start) // tile_cols) for start, stop in zip(bounds, bounds[1:]))
