"""A weight's gradient summed over time steps, as one product: BPTT's ``sum_t x_t^T g_t``.

A weight used at every step of a sequence (``h @ W_hh`` in a loop, an ``nn.Linear`` stepped in
Python) gets one gradient per step, each of the form ``x_t^T g_t``: the step's input rows times
the gradient rows of its output. Added one by one, every step multiplies a few rows (the batch)
into a whole weight-sized matrix and then adds that matrix to the sum. Stacked, the same sum is
one product over all the rows:

    sum_t x_t^T g_t  =  [x_1; x_2; ...; x_T]^T [g_1; g_2; ...; g_T]

which is how cuDNN computes a recurrent layer's weight gradients, and how minigrad's fused
layers do (``nn/fused_rnn.py: _non_recurrent_gradients``). Here it happens in the engine, for any
graph: ``MatMul``, ``Linear`` and the fused recurrent layers (a cell stepped in Python is one such
layer per step) return such a gradient as a ``TransposedProduct`` (not multiplied yet), and the
engine stacks those that reach one leaf (``ProductSum``) and multiplies once, when the walk is
over; the leaf's hooks then see the total, as always. Anywhere else (a gradient flowing on to
another node, anomaly mode's checks) the term is multiplied at once. The sum is the
same; only the order of the additions differs.

Rules: only terms with few rows are deferred (``stacking_pays``): with many rows a product is
already efficient, and stacking copies every row once, which pays only where the rows are few
against the size of the weight they are multiplied into. The rows held for one leaf are bounded
(``STACK_BYTES``): past that, what is stacked is multiplied and the stack starts again, so
deferring never holds more than that many bytes of gradients alive per weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad._allocator import empty
from minigrad.kernels._jit import pool_awake
from minigrad.kernels.products import SMALL_PRODUCT, matmul2d, use_tiled_threads

ROWS_PER_TERM = 64  # a term with more rows than this is multiplied at once
COPY_SHARE = 2  # ... and so is one whose rows, copied, are more numbers than 1 / COPY_SHARE of its k x n output
MID_SIZED_COPY_SHARE = 0.5  # (for a mid-sized term run on the calling thread: than 1 / this share instead)
STACK_BYTES = 8 * 2**20  # the rows one leaf's stack may hold before they are multiplied


class TransposedProduct:
    """``a.T @ b``, not multiplied yet: a gradient the engine may stack with others (module docstring).

    ``a`` and ``b`` are 2-D arrays of one float dtype with the same rows. NumPy sees the product
    (``np.asarray(term)`` multiplies), so code that expects an array still gets one.

    Example::

        >>> term = TransposedProduct(np.ones((2, 3)), np.ones((2, 4)))
        >>> term.shape, np.asarray(term)[0].tolist()
        ((3, 4), [2.0, 2.0, 2.0, 2.0])
    """

    __slots__ = ("a", "b", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.shape, self.dtype = (a.shape[1], b.shape[1]), a.dtype

    def result(self) -> np.ndarray:
        """The product, now (named as ``ProductSum.result``: the engine asks a leaf's one term or its stack alike)."""
        return transposed_product(self.a, self.b)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.result()
        return out if dtype is None else out.astype(dtype)


def transposed_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a.T @ b`` for 2-D arrays now; of one row, an outer product whose every entry is one product
    (exactly as ``_mm`` and PyTorch compute it: no sum that could turn a -0.0 into +0.0).

    Example: ``transposed_product(np.ones((1, 2)), np.ones((1, 3))).shape`` -> (2, 3).
    """
    return a.T * b if a.shape[0] == 1 else matmul2d(a.T, b)


def stacking_pays(rows: int, k: int, n: int, dtype: Any = np.float32) -> bool:
    """Whether a term ``a.T @ b`` of ``rows`` rows, ``a`` (rows, k) and ``b`` (rows, n), is worth deferring.

    Added one by one, each term writes and adds a ``k x n`` matrix; stacked, it copies its
    ``rows x (k + n)`` numbers once. Deferred where the term has at most ``ROWS_PER_TERM`` rows
    and the copy is at most half the matrix. Or at most twice the matrix, for a mid-sized product
    (``SMALL_PRODUCT`` multiply-adds or more) of ``dtype`` that runs on the calling thread alone
    here (Numba's pool awake: ``kernels/products.py``): one by one, such a product, whose inner
    dimension is just ``rows``, runs well below BLAS's speed, while the stacked one has every
    term's rows as its inner dimension. (On BLAS's own threads, one by one is the quicker way.)

    Example: ``stacking_pays(32, 256, 256), stacking_pays(32, 28, 256)`` -> (True, False).
    """
    if rows > ROWS_PER_TERM:
        return False
    copy, matrix = rows * (k + n), k * n
    if COPY_SHARE * copy <= matrix:
        return True
    return (rows * k * n >= SMALL_PRODUCT and MID_SIZED_COPY_SHARE * copy <= matrix
            and pool_awake() and use_tiled_threads(dtype))


def rows_product(a: Any, b: Any) -> Any:
    """``a.T @ b`` (a weight's gradient: input rows times gradient rows), deferred where ``stacking_pays``.

    Such arrays give a ``TransposedProduct`` the engine may stack; anything else (many rows,
    Tensors under ``create_graph=True``) is multiplied now.

    Example::

        >>> rows_product(np.ones((2, 3)), np.ones((2, 4))).shape
        (3, 4)
    """
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype == b.dtype and a.dtype.kind == "f"
            and stacking_pays(a.shape[0], a.shape[1], b.shape[1], a.dtype)):
        return TransposedProduct(a, b)
    return a.T @ b if type(a) is not np.ndarray or type(b) is not np.ndarray else transposed_product(a, b)


class ProductSum:
    """The gradient one leaf received so far: stacked ``TransposedProduct`` terms plus a plain array part.

    Example::

        >>> total = ProductSum(TransposedProduct(np.ones((2, 3)), np.ones((2, 4))))
        >>> total.add(TransposedProduct(np.ones((1, 3)), np.ones((1, 4))))
        >>> total.add(np.ones((3, 4)))
        >>> total.result()[0].tolist()
        [4.0, 4.0, 4.0, 4.0]
    """

    __slots__ = ("a", "b", "rows", "summed")

    def __init__(self, term: TransposedProduct) -> None:
        self.a, self.b, self.rows = [term.a], [term.b], term.a.shape[0]
        self.summed: np.ndarray | None = None  # what was multiplied already, plus the plain arrays added

    def add(self, g: Any) -> None:
        """Add a term (stacked) or an array of the leaf's shape (summed now)."""
        if type(g) is not TransposedProduct:
            if self.summed is None:
                self.summed = np.array(g, copy=True)  # (g may be held elsewhere: summed is ours to add into)
            else:
                self.summed += g
            return
        self.a.append(g.a)
        self.b.append(g.b)
        self.rows += g.a.shape[0]
        if self.rows * (g.a.shape[1] + g.b.shape[1]) * g.a.itemsize >= STACK_BYTES:
            self._multiply()

    def _multiply(self) -> None:
        """Multiply the stacked rows into ``summed`` and empty the stack."""
        if len(self.a) == 1:
            product = transposed_product(self.a[0], self.b[0])
        else:
            a, b = self.a[0], self.b[0]
            stacked_a = np.concatenate(self.a, out=empty((self.rows, a.shape[1]), a.dtype))
            stacked_b = np.concatenate(self.b, out=empty((self.rows, b.shape[1]), b.dtype))
            # Not the product that wakes Numba's pool: that would move every mid-sized product of
            # the step from BLAS's threads to ours for good (kernels/products.py: matmul2d).
            product = matmul2d(stacked_a.T, stacked_b, wake_pool=False)
        if self.summed is None:
            self.summed = product
        else:
            self.summed += product
        self.a, self.b, self.rows = [], [], 0

    def result(self) -> np.ndarray:
        """The whole sum, as a new array nobody else holds."""
        if self.a:
            self._multiply()
        assert self.summed is not None
        return self.summed
