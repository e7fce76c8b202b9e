"""Matrix multiplication, the op that does most of the arithmetic in every layer.

For C = A @ B: dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC. Batch dims that were broadcast are
summed back by the engine; 1-D operands are treated as a row (A) or a column (B), as NumPy does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.autograd.kept_transposes import transposed
from minigrad.autograd.stacked_products import rows_product
from minigrad.errors import ShapeError
from minigrad.kernels.products import batched_matmul, matmul2d
from minigrad.ops.elementwise import promote, refuse_out
from minigrad.tensor import Tensor


def _mm(a: Any, b: Any) -> Any:
    """``a @ b``; array products go through ``matmul2d`` / ``batched_matmul`` (our threads for big float32 ones).

    Tensors (a backward under ``create_graph=True``) multiply with the differentiable ``matmul``.
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return matmul(a, b)
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] != 1:  # the usual case, two matrices: the rules below in short
        return matmul2d(a, b)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1:
        # An outer product: each entry is one product, exactly as PyTorch computes it (NumPy's matmul
        # would add it to +0.0 and turn a -0.0 into +0.0, which flips the sign of x / 0 downstream).
        return a * b
    # A 1-D operand as a matrix of one row (a) or one column (b), that dimension dropped again after.
    a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
    out = matmul2d(a2, b2) if a2.ndim == 2 and b2.ndim == 2 else batched_matmul(a2, b2)
    if b.ndim == 1:
        out = out[..., 0]  # (..., m, 1) -> (..., m)
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim > 1 else out[..., 0]  # the one row
    return out


class MatMul(Function):
    def forward(self, a, b):
        # Each input's gradient needs only the other input: save just what backward will use.
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(a if need_b else None, b if need_a else None)
        return _mm(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        a_dims, b_dims = len(self.input_meta[0][0]), len(self.input_meta[1][0])
        g = grad
        # Put back the dims that 1-D operands dropped from C; b's first, so that a 0-d grad
        # (vector @ vector) becomes (1, 1).
        if b_dims == 1:
            g = g.reshape(*g.shape, 1)
        if a_dims == 1:
            g = g.reshape(*g.shape[:-1], 1, g.shape[-1])
        ga = gb = None
        if self.needs_input_grad[0]:
            b2 = b[:, None] if b_dims == 1 else b  # (k,) -> (k, 1)
            # dL/dA = dL/dC @ B^T; a weight's B^T copied once per backward pass where that pays (kept_transposes.py)
            ga = _mm(g, transposed(b2, g.shape[0]) if type(g) is np.ndarray and g.ndim == 2 else b2.mT)
            if a_dims == 1:  # (..., 1, k) -> (..., k); the engine sums the batch dims away
                ga = ga.squeeze(-2)
        if self.needs_input_grad[1]:
            # dL/dB = A^T @ dL/dC; for matrices, possibly stacked with B's other such terms (stacked_products.py)
            a2 = a[None, :] if a_dims == 1 else a  # (k,) -> (1, k)
            gb = rows_product(a, g) if a_dims == 2 and b_dims == 2 else _mm(a2.mT, g)
            if b_dims == 1:  # (..., k, 1) -> (..., k)
                gb = gb.squeeze(-1)
        return ga, gb


def _same_dtype(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one dtype: PyTorch multiplies matrices only of equal dtypes."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype != b.dtype:
        raise RuntimeError(f"{op}: both operands must have the same dtype, got {a.dtype} and {b.dtype}; "
                           "convert one of them first (e.g. b.to(a.dtype))")
    return promote(op, a, b)


def matmul(a: Any, b: Any, *, out: None = None) -> Tensor:
    """Matrix product with NumPy's rules (1-D vectors, broadcast batch dims).

    Example: ``(mg.ones(2, 3) @ mg.ones(3, 4)).shape`` -> (2, 4).
    """
    if out is not None or not (isinstance(a, Tensor) and isinstance(b, Tensor) and a._array.dtype == b._array.dtype):
        refuse_out("matmul", out)
        a, b = _same_dtype("matmul", a, b)  # (not needed by two tensors of one dtype: the usual case)
    return _checked_matmul("matmul", a, b)


def _checked_matmul(op: str, a: Tensor, b: Tensor) -> Tensor:
    """``MatMul`` of two tensors of one dtype, once their shapes are checked (``op`` names the caller in errors)."""
    a_shape, b_shape = a._array.shape, b._array.shape
    if not a_shape or not b_shape:
        raise ShapeError(f"{op}: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ShapeError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied: the last dimension of the first "
            f"({k_a}) must equal the {'size' if len(b_shape) == 1 else 'second-to-last dimension'} of the second "
            f"({k_b})"
        )
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ShapeError(f"{op}: batch dimensions of {a.shape} and {b.shape} cannot be broadcast together") from None


def mm(a: Tensor, b: Tensor, *, out: None = None) -> Tensor:
    """The product of two matrices (both exactly 2-D; use ``matmul`` for anything else).

    Example::

        >>> import minigrad as mg
        >>> mg.mm(mg.ones(2, 3), mg.ones(3, 4)).shape
        (2, 4)
    """
    refuse_out("mm", out)
    a, b = _same_dtype("mm", a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: both arguments must be matrices (2-D), got shapes {a.shape} and {b.shape}")
    return _checked_matmul("mm", a, b)


def bmm(a: Tensor, b: Tensor, *, out: None = None) -> Tensor:
    """Batched matrix product: (B, n, k) @ (B, k, m) -> (B, n, m), without broadcasting.

    Example::

        >>> import minigrad as mg
        >>> mg.bmm(mg.ones(5, 2, 3), mg.ones(5, 3, 4)).shape
        (5, 2, 4)
    """
    refuse_out("bmm", out)
    a, b = _same_dtype("bmm", a, b)
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(f"bmm: both arguments must be 3-D (batch, rows, cols), got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeError(f"bmm: shapes {a.shape} and {b.shape} do not fit: expected (B, n, k) and (B, k, m) "
                         "with the same B and k")
    return _checked_matmul("bmm", a, b)
