"""Which of two equal ways to write a product NumPy's BLAS runs faster.

``a @ b`` and ``(b.T @ a.T).T`` are the same product. A BLAS is free to run them at different
speeds, and OpenBLAS's kernels for AVX-512 (its "SkylakeX" family) do: in single precision, a
product whose ``b`` is a transposed matrix, ``x @ W.T``, runs well below their speed when ``x`` has
few rows, and the same product written as ``(W @ x.T).T`` runs at full speed. ``x @ W.T`` is what
``Linear``'s forward and every ``dL/dA = dL/dC @ B^T`` ask for, so ``blas_matmul2d``
(``kernels/products.py``) asks ``swap_pays`` and writes the product the quicker way.

Rules:

- only where the BLAS says which kernels it runs (``blas_core``): a BLAS we cannot ask, or one
  with other kernels (OpenBLAS's Haswell kernels, MKL, Accelerate), gets ``a @ b`` as written;
- the region (``SWAP_MAX_ROWS`` and the other bounds) is where the swap pays for its copy back
  into a C-ordered result (``docs/performance.md``, the eighteenth session).

Example::

    >>> swap_pays(np.float64, 32, 256, 256, b_transposed=True)  # double precision: as written
    False
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

# OpenBLAS's names for the kernel families that run a transposed b with few rows slowly.
SLOW_TRANSPOSED_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})

# The region where writing x @ W.T as (W @ x.T).T pays: x of at most SWAP_MAX_ROWS rows, an inner
# dimension of at least SWAP_MIN_INNER, at least SWAP_MIN_COLS output columns and SWAP_MIN_OUTPUT
# output elements. Outside it the two ways run alike, or the copy back costs more than it saves.
SWAP_MAX_ROWS = 48
SWAP_MIN_INNER = 64
SWAP_MIN_COLS = 100
SWAP_MIN_OUTPUT = 1536

# The names OpenBLAS's "which kernels" query has in the builds NumPy ships (scipy-openblas, with
# and without 64-bit integers) and in a plain OpenBLAS.
_CORENAME_SYMBOLS = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename")


@functools.cache
def blas_core() -> str:
    """The kernels NumPy's OpenBLAS runs on this CPU, lower case (``"skylakex"``, ``"haswell"``), or ``""``.

    ``""`` where NumPy's BLAS cannot be asked (another BLAS, or a NumPy that does not ship its
    OpenBLAS as a library beside it). Honours ``OPENBLAS_CORETYPE``, which OpenBLAS itself reads.
    Only a library the process has already loaded is asked (``RTLD_NOLOAD``): this never loads a
    second OpenBLAS, whose start would create threads of its own.

    Example::

        >>> isinstance(blas_core(), str)
        True
    """
    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:  # (Windows: no way to ask for a loaded library only)
        return ""
    folder = os.path.dirname(np.__file__)
    candidates = [*glob.glob(os.path.join(folder, os.pardir, "numpy.libs", "*openblas*")),
                  *glob.glob(os.path.join(folder, ".dylibs", "*openblas*"))]
    for path in candidates:
        try:
            library = ctypes.CDLL(path, mode=no_load | os.RTLD_LAZY)
        except OSError:  # not loaded by this process
            continue
        for symbol in _CORENAME_SYMBOLS:
            query = getattr(library, symbol, None)
            if query is not None:
                query.restype = ctypes.c_char_p
                name = query()
                return name.decode("ascii", "replace").strip().lower() if name else ""
    return ""


def swap_pays(dtype: object, rows: int, inner: int, cols: int, b_transposed: bool) -> bool:
    """Whether ``a @ b`` (``rows x inner`` times ``inner x cols``) runs faster in BLAS as ``(b.T @ a.T).T``.

    True for single precision, a ``b`` that is a transposed C-ordered matrix (``W.T``), a shape
    in the region above, and a BLAS whose kernels run that case slowly (``blas_core``).

    Example::

        >>> swap_pays(np.float32, 32, 256, 256, b_transposed=False)  # b in rows: as written
        False
    """
    return b_transposed and in_swap_region(rows, inner, cols) and transposed_b_is_slow(dtype)


def in_swap_region(rows: int, inner: int, cols: int) -> bool:
    """Whether a product's shape lies in the region where ``swap_pays`` can be True (``SWAP_*``).

    Its own function so that ``blas_matmul2d`` asks these integer bounds first: most products lie
    outside the region, and then need no look at ``b``'s layout or the BLAS.

    Example::

        >>> in_swap_region(32, 256, 256), in_swap_region(1, 32, 64)
        (True, False)
    """
    return (rows <= SWAP_MAX_ROWS and inner >= SWAP_MIN_INNER and cols >= SWAP_MIN_COLS
            and rows * cols >= SWAP_MIN_OUTPUT)


def transposed_b_is_slow(dtype: object) -> bool:
    """Whether NumPy's BLAS runs ``x @ W.T`` of few rows of ``dtype`` below its speed (single precision, ``blas_core``).

    Example::

        >>> transposed_b_is_slow(np.float64)
        False
    """
    return np.dtype(dtype) == np.float32 and blas_core() in SLOW_TRANSPOSED_CORES


def swapped_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ b`` computed as ``(b.T @ a.T).T``, copied back into the C-ordered ``out``.

    Example::

        >>> w = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> swapped_matmul(np.ones((1, 2), np.float32), w.T, np.empty((1, 3), np.float32)).tolist()
        [[1.0, 5.0, 9.0]]
    """
    np.copyto(out, np.dot(b.T, a.T).T)
    return out
