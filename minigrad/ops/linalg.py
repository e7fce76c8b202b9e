"""Matrix multiplication, the op that does most of the arithmetic in every layer.

For C = A @ B: dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC. Batch dims that were broadcast are
summed back by the engine; 1-D operands are treated as a row (A) or a column (B), as NumPy does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.errors import ShapeError
from minigrad.kernels.gemm import matmul2d
from minigrad.ops.elementwise import promote
from minigrad.tensor import Tensor


def _mm(a: Any, b: Any) -> Any:
    """``a @ b``; plain 2-D array products go through ``matmul2d`` (our threads for big float32 ones).

    Tensors (a backward under ``create_graph=True``) multiply with the differentiable ``matmul``.
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return matmul(a, b)
    return matmul2d(a, b) if a.ndim == 2 and b.ndim == 2 else np.matmul(a, b)


class MatMul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return _mm(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a  # (k,) -> (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k,) -> (k, 1)
        g = grad
        # Put back the dims that 1-D operands dropped from C; b's first, so that a 0-d grad
        # (vector @ vector) becomes (1, 1).
        if b.ndim == 1:
            g = g.reshape(*g.shape, 1)
        if a.ndim == 1:
            g = g.reshape(*g.shape[:-1], 1, g.shape[-1])
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = _mm(g, b2.mT)  # dL/dA = dL/dC @ B^T
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0)
        if self.needs_input_grad[1]:
            gb = _mm(a2.mT, g)  # dL/dB = A^T @ dL/dC
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(0)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D vectors, broadcast batch dims).

    Example: ``(mg.ones(2, 3) @ mg.ones(3, 4)).shape`` -> (2, 4).
    """
    a, b = promote("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: the last dimension of the first "
            f"({k_a}) must equal the {'size' if b.ndim == 1 else 'second-to-last dimension'} of the second ({k_b})"
        )
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be broadcast together") from None
