"""Comparisons and value tests: eq, ne, lt, le, gt, ge (bool tensors, elementwise, broadcasting),
the logical ops, isnan, isinf, isfinite, isclose, and the whole-tensor checks allclose and equal
(Python bools).

None of them is differentiable: their results are bools, outside the graph, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.errors import broadcast_error
from minigrad.ops.elementwise import as_tensor, compare
from minigrad.tensor import Tensor

# ----------------------------------------------------------------------------------- comparisons


def eq(a: Any, b: Any) -> Tensor:
    """a == b elementwise, a bool tensor.

    Example::

        >>> import minigrad as mg
        >>> mg.eq(mg.tensor([1, 2]), 2)
        tensor([False,  True])
    """
    return compare(np.equal, a, b)


def ne(a: Any, b: Any) -> Tensor:
    """a != b elementwise.

    Example::

        >>> import minigrad as mg
        >>> mg.ne(mg.tensor([1, 2]), 2)
        tensor([ True, False])
    """
    return compare(np.not_equal, a, b)


def lt(a: Any, b: Any) -> Tensor:
    """a < b elementwise.

    Example::

        >>> import minigrad as mg
        >>> mg.lt(mg.tensor([1, 2]), 2)
        tensor([ True, False])
    """
    return compare(np.less, a, b)


def le(a: Any, b: Any) -> Tensor:
    """a <= b elementwise.

    Example::

        >>> import minigrad as mg
        >>> mg.le(mg.tensor([1, 3]), 2)
        tensor([ True, False])
    """
    return compare(np.less_equal, a, b)


def gt(a: Any, b: Any) -> Tensor:
    """a > b elementwise.

    Example::

        >>> import minigrad as mg
        >>> mg.gt(mg.tensor([1, 3]), 2)
        tensor([False,  True])
    """
    return compare(np.greater, a, b)


def ge(a: Any, b: Any) -> Tensor:
    """a >= b elementwise.

    Example::

        >>> import minigrad as mg
        >>> mg.ge(mg.tensor([1, 2]), 2)
        tensor([False,  True])
    """
    return compare(np.greater_equal, a, b)


# ----------------------------------------------------------------------------------- logical ops
# Any dtype: zero is False, everything else True; the result is a bool tensor.


def logical_not(x: Tensor) -> Tensor:
    """True where x is zero (or False).

    Example::

        >>> import minigrad as mg
        >>> mg.logical_not(mg.tensor([0.0, 2.0]))
        tensor([ True, False])
    """
    return Tensor(np.logical_not(as_tensor(x, op="logical_not")._array))


def logical_and(a: Any, b: Any) -> Tensor:
    """True where both are nonzero.

    Example: ``mg.logical_and(mg.tensor([1, 0]), mg.tensor([1, 1]))`` -> tensor([ True, False]).
    """
    return compare(np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    """True where either is nonzero.

    Example: ``mg.logical_or(mg.tensor([1, 0]), mg.tensor([0, 0]))`` -> tensor([ True, False]).
    """
    return compare(np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> Tensor:
    """True where exactly one is nonzero.

    Example: ``mg.logical_xor(mg.tensor([1, 1]), mg.tensor([1, 0]))`` -> tensor([False,  True]).
    """
    return compare(np.logical_xor, a, b)


# ----------------------------------------------------------------------------------- value tests


def isnan(x: Tensor) -> Tensor:
    """True where x is NaN.

    Example::

        >>> import minigrad as mg
        >>> mg.isnan(mg.tensor([1.0, float("nan")]))
        tensor([False,  True])
    """
    return Tensor(np.isnan(as_tensor(x, op="isnan")._array))


def isinf(x: Tensor) -> Tensor:
    """True where x is +inf or -inf.

    Example::

        >>> import minigrad as mg
        >>> mg.isinf(mg.tensor([1.0, float("-inf")]))
        tensor([False,  True])
    """
    return Tensor(np.isinf(as_tensor(x, op="isinf")._array))


def isfinite(x: Tensor) -> Tensor:
    """True where x is neither inf nor NaN.

    Example::

        >>> import minigrad as mg
        >>> mg.isfinite(mg.tensor([1.0, float("inf")]))
        tensor([ True, False])
    """
    return Tensor(np.isfinite(as_tensor(x, op="isfinite")._array))


def isclose(a: Tensor, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """True where |a - b| <= atol + rtol * |b| (shapes broadcast); a bool tensor.

    Example::

        >>> import minigrad as mg
        >>> mg.isclose(mg.tensor([1.0, 2.0]), mg.tensor([1.0, 2.1]))
        tensor([ True, False])
    """
    a, b = as_tensor(a, op="isclose"), as_tensor(b, op="isclose")
    try:
        return Tensor(np.isclose(a._array, b._array, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise broadcast_error("isclose", a.shape, b.shape) from None


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True if |a - b| <= atol + rtol * |b| everywhere (shapes broadcast); a Python bool.

    As in PyTorch, both must have the same dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.allclose(mg.tensor([1.0, 2.0]), mg.tensor([1.0, 2.0000001]))
        True
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"allclose: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"allclose: both tensors must have the same dtype, got {a.dtype} and {b.dtype}")
    try:
        return bool(np.allclose(a._array, b._array, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise broadcast_error("allclose", a.shape, b.shape) from None


def equal(a: Tensor, b: Tensor) -> bool:
    """True if both tensors have the same shape and the same values; a Python bool.

    Example::

        >>> import minigrad as mg
        >>> mg.equal(mg.tensor([1, 2]), mg.tensor([1, 2])), mg.equal(mg.tensor([1, 2]), mg.tensor([1]))
        (True, False)
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"equal: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    return a.shape == b.shape and bool(np.array_equal(a._array, b._array))

