"""Argument checks and reductions shared by the functional forms of ``minigrad.nn``.

Every loss and layer function checks its arguments here first, so that bad input gets one
clear error naming the function, the shapes and what was expected, never a NumPy traceback.

Example::

    >>> import numpy as np
    >>> _reduce(np.array([1.0, 2.0, 3.0]), "mean").item()
    2.0
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.errors import ShapeError
from minigrad.ops import grad_math as G
from minigrad.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _as_tensor(x: Any, op: str, what: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")


@functools.lru_cache(maxsize=32)
def ones_constant(n: int, dtype: np.dtype) -> np.ndarray:
    """An (n,) array of ones made once per size and dtype, shared: the weights of an unweighted loss.

    Rule: callers only read it (kernels take it as an argument; nobody writes into it). It stays
    writeable so that the kernels see the same array type as for user-given weights.

    Example::

        >>> ones_constant(3, np.dtype(np.float32)).tolist()
        [1.0, 1.0, 1.0]
    """
    return np.ones(n, dtype)


def loss_total(losses: np.ndarray) -> float:
    """The sum of a loss's per-row values, in float64: Python's sum of a few rows (a NumPy
    reduction costs more than the additions), NumPy's pairwise sum of many.

    Example::

        >>> loss_total(np.array([0.5, 1.5], np.float32)), loss_total(np.ones(100, np.float32))
        (2.0, 100.0)
    """
    return sum(losses.tolist(), 0.0) if losses.size <= 32 else float(losses.sum(dtype=np.float64))


def picked_total(rows: np.ndarray, classes: np.ndarray) -> float:
    """``sum_i rows[i, classes[i]]`` in float64, as ``loss_total`` sums: for a few rows through
    Python's item access (NumPy's fancy indexing costs more than the few reads), else through it.

    Example::

        >>> picked_total(np.array([[0.5, 1.5], [2.0, 4.0]], np.float32), np.array([1, 0]))
        3.5
    """
    if len(classes) == 1:  # one target (a step of a sequence): the same sum, of one term
        return 0.0 + rows.item(0, classes.item(0))
    if len(classes) <= 16:
        item = rows.item
        return sum([item(i, c) for i, c in enumerate(classes.tolist())], 0.0)
    return float(rows[np.arange(len(classes)), classes].sum(dtype=np.float64))


def _check_floating(x: Tensor, op: str, what: str = "input") -> None:
    if x._array.dtype.kind != "f":  # (the array's own dtype: this runs on every call of an op)
        raise TypeError(f"{op}: {what} must be a floating tensor (float32/float64), got {x.dtype}; "
                        "convert it with .float()")


def _check_p(p: float, who: str) -> float:
    """A dropout probability: a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, translated to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean'|'sum'|'none' "
                  "instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else "mean" if size_average else "sum"


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected 'mean', 'sum' "
                         "or 'none')")


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    """Apply an elementwise loss's reduction in the forward pass."""
    if reduction == "none":
        return loss
    total = loss.sum(dtype=np.float64)
    if reduction == "mean":
        total = total / loss.size if loss.size else np.float64(np.nan)
    return np.asarray(total, dtype=loss.dtype)


def _unreduce(grad: Any, shape: tuple[int, ...], reduction: str) -> Any:
    """The gradient of ``_reduce`` for each element: dL/dloss_i (an array, or a Tensor under create_graph)."""
    if reduction == "none":
        return grad
    n = int(np.prod(shape))
    scale = grad / n if reduction == "mean" and n else grad
    return G.broadcast_to(scale, shape)




def _broadcast_target(op: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ShapeError(f"{op}: input of shape {input.shape} and target of shape {target.shape} cannot be "
                             "broadcast together; they should have the same shape") from None
        warnings.warn(f"{op}: using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=3)




def value_range(a: np.ndarray) -> tuple:
    """``(min, max)`` of the non-empty integer array ``a``: for a few values (32 or fewer: a
    decoder's one token, a small batch's targets) through a Python list, which costs less than
    two NumPy reductions.

    Example::

        >>> value_range(np.array([[3, 1], [2, 5]]))
        (1, 5)
    """
    if a.size == 1:
        value = a.item(0)
        return value, value
    if a.size <= 32:
        values = a.ravel().tolist()
        return min(values), max(values)
    return a.min(), a.max()


def _check_targets(t: np.ndarray, n_cls: int, ignore_index: int, op: str) -> bool:
    """Every target must be a class in 0..C-1 or ignore_index (the kernel does not bounds-check).

    Returns True when every target is a class in 0..C-1 (then none is ignore_index, unless
    ignore_index is itself a class), False when some are ignore_index.
    """
    if not t.size:
        return True
    lo, hi = value_range(t)
    if lo >= 0 and hi < n_cls:  # the common case
        return True
    bad = (t != ignore_index) & ((t < 0) | (t >= n_cls))
    if bad.any():
        value = int(t[np.argmax(bad)])
        raise IndexError(f"{op}: target value {value} is out of range for {n_cls} classes (valid: 0..{n_cls - 1}, "
                         f"or ignore_index={ignore_index})")
    return False


def class_targets(input: Tensor, target: Tensor, n_cls: int, ignore_index: int, op: str) -> tuple[np.ndarray, bool]:
    """The integer class targets of a classification loss, checked: ``(t, every_target_a_class)``.

    ``t`` holds them flat as int64, one per row of the input's class rows; the flag is
    ``_check_targets``'s answer. Shared by ``cross_entropy`` and ``nll_loss``.

    Example::

        >>> import minigrad as mg
        >>> class_targets(mg.zeros(2, 3), mg.tensor([2, 0]), 3, -100, "nll_loss")
        (array([2, 0]), True)
    """
    targets = target._array  # (the array itself: a loss per step is common)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices (int64), got {target.dtype}; "
                        "use target.long()")
    expected = _expected_target_shape(input._array.shape)
    if targets.shape != expected:
        raise ShapeError(f"{op}: target of shape {target.shape} does not fit input of shape {input.shape}: "
                         f"expected target shape {expected}")
    t = targets.reshape(-1)
    if t.dtype != np.int64 or not t.flags.c_contiguous:
        t = np.ascontiguousarray(t, dtype=np.int64)
    return t, _check_targets(t, n_cls, ignore_index, op)


def _expected_target_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C,) -> (); (N, C) -> (N,); (N, C, d1, ...) -> (N, d1, ...)."""
    return () if len(input_shape) == 1 else input_shape[:1] + input_shape[2:]


def _maybe_inplace(input: Tensor, inplace: bool, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """``compute(input)``; with ``inplace=True`` written into ``input``'s memory, as PyTorch's ``op_`` does.

    In place follows PyTorch's rules (``minigrad/ops/inplace.py``): the version counter is
    bumped, a leaf that requires grad is refused, and the change stays differentiable.
    """
    if not inplace:
        return compute(input)
    from minigrad.ops.inplace import apply_inplace  # late: keeps importing nn light

    return apply_inplace(input, op + "_", compute)
