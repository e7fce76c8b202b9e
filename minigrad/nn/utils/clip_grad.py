"""Gradient clipping: keep one bad batch from throwing a recurrent model off a cliff.

Backpropagation through time multiplies many Jacobians together, so gradients of RNNs can
*explode*: one step's norm is 1e3 times the last. The standard cure rescales the gradient
vector before the optimizer sees it.

- ``clip_grad_norm_`` treats the gradients of all parameters as ONE long vector ``g`` and, when
  its norm is larger than ``max_norm``, shrinks it:  ``g <- g * max_norm / (||g|| + 1e-6)``.
  The direction is kept; only the step length changes.
- ``clip_grad_value_`` clamps every gradient element into ``[-clip_value, clip_value]``
  (cheaper, but it changes the direction).

Both work in place on ``p.grad._array`` and skip parameters whose ``.grad`` is None, exactly like
``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from minigrad._quiet import quiet
from minigrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]

TensorOrTensors = Tensor | Iterable[Tensor]


def _as_list(parameters: TensorOrTensors, fn: str) -> list[Tensor]:
    """A single Tensor or an iterable of Tensors -> list (a generator is consumed only once)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors (parameters), got {type(p).__name__} at position {i}")
    if is_generator and not params:
        warnings.warn(f"{fn}: `parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=3)
    return params


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """``torch.linalg.vector_norm(x, p)`` of a flat array, as a 0-d array of x's dtype.

    ``||x||_p = (sum_i |x_i|^p)^(1/p)``; p = inf gives max |x_i|, p = -inf min |x_i|,
    p = 0 counts the non-zero elements.
    """
    dtype = x.dtype
    if x.size == 0:
        return np.zeros((), dtype)
    if p == 2:
        # x @ x is a BLAS dot: fast and accumulated in pairs, close to torch's own reduction. Of x
        # itself: x_i * x_i is |x_i| * |x_i| exactly, and no |x| array is made (a weight's size, per step).
        flat = x.ravel()
        return np.asarray(np.sqrt(np.dot(flat, flat)), dtype)
    a = np.abs(x.ravel())
    if p == math.inf:
        return np.asarray(a.max(), dtype)
    if p == -math.inf:
        return np.asarray(a.min(), dtype)
    if p == 0:
        return np.asarray(np.count_nonzero(a), dtype)
    if p == 1:
        return np.asarray(a.sum(dtype=dtype), dtype)
    with quiet():
        return np.asarray(np.sum(a ** dtype.type(p), dtype=dtype) ** dtype.type(1.0 / p), dtype)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The p-norm of several tensors viewed as one concatenated vector.

    As in PyTorch, each tensor's norm is computed first and the total is the norm of those norms
    (for p = 2: ``sqrt(sum_i ||t_i||^2)``). ``foreach`` is accepted for PyTorch compatibility and
    ignored (there is only one CPU implementation here).

    Example::

        >>> import minigrad as mg
        >>> float(get_total_norm([mg.tensor([3.0]), mg.tensor([4.0])]))
        5.0
    """
    del foreach
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = _number("get_total_norm", "norm_type", norm_type, "a number or float('inf')")
    if not tensors:
        return Tensor(np.zeros((), dtype=_default_float()))
    norms = [_vector_norm(t._array, norm_type) for t in tensors]
    dtype = np.result_type(*norms)
    total = _vector_norm(np.stack([n.astype(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite "
            f"({float(total)}), so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float,
                          foreach: bool | None = None) -> None:
    """Scale every ``p.grad`` in place by ``min(max_norm / (total_norm + 1e-6), 1)``.

    The scale is clamped at 1 so that small gradients are never *amplified*.

    Example::

        >>> import minigrad as mg
        >>> p = mg.tensor([1.0], requires_grad=True); p.grad = mg.tensor([10.0])
        >>> clip_grads_with_norm_([p], 1.0, 10.0); round(float(p.grad.numpy()[0]), 5)
        1.0
    """
    del foreach
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    total = total_norm._array if isinstance(total_norm, Tensor) else np.asarray(total_norm, np.float64)
    # Computed in the norm's dtype, like torch's 0-d tensor arithmetic (float32 stays float32).
    clip_coef = np.asarray(max_norm, total.dtype) / (total + total.dtype.type(1e-6))
    clip_coef_clamped = np.minimum(clip_coef, total.dtype.type(1.0))
    for g in grads:
        _scale_(g, clip_coef_clamped)


def _scale_(g: Tensor, coef: np.ndarray) -> None:
    """``g *= coef`` in place, keeping g's dtype (a read-only grad array is replaced instead)."""
    # Rule: the factor is a NumPy scalar of g's dtype, never a 0-d array. NumPy 2.4 can keep small
    # blocks behind after ufunc calls given 0-d arrays, which a long run accumulates (the soak test
    # guards it; docs/performance.md, twenty-second session).
    factor = g._array.dtype.type(coef)
    if g._array.flags.writeable:
        np.multiply(g._array, factor, out=g._array)
    else:
        g._array = g._array * factor


def _default_float() -> np.dtype:
    try:
        from minigrad.dtypes import get_default_dtype
        return np.dtype(get_default_dtype())
    except ImportError:  # pragma: no cover - dtypes is part of the core
        return np.dtype(np.float32)


def _number(who: str, name: str, value: object, expected: str) -> float:
    """``float(value)``, or a TypeError naming the argument ('inf' and other numeric strings are allowed)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be {expected}, got {value!r}") from None


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Clip the gradient norm of ``parameters`` to ``max_norm``, in place; return the norm before.

    The gradients of all parameters are treated as one long vector ``g``; if
    ``||g||_p > max_norm`` every gradient is multiplied by ``max_norm / (||g||_p + 1e-6)``.
    ``norm_type`` is any p (``float('inf')`` for the max-norm). With ``error_if_nonfinite=True``
    a NaN/Inf total norm raises RuntimeError instead of spreading NaN into every gradient.

    Returns the total norm (a 0-d Tensor, as in PyTorch) measured *before* clipping, a useful
    thing to log: spikes show exploding gradients.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([3.0, 4.0], requires_grad=True)
        >>> (w * w).sum().backward()          # grad = 2w = [6, 8], norm 10
        >>> float(clip_grad_norm_([w], max_norm=1.0))
        10.0
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.6, 0.8]
    """
    params = _as_list(parameters, "clip_grad_norm_")
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm, "a non-negative number")
    norm_type = _number("clip_grad_norm_", "norm_type", norm_type, "a number or float('inf')")
    if math.isnan(max_norm) or max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a non-negative number, got {max_norm}")
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> (w * 5).sum().backward()          # grad = [5, 5]
        >>> clip_grad_value_(w, 0.5); w.grad.tolist()
        [0.5, 0.5]
    """
    del foreach
    params = _as_list(parameters, "clip_grad_value_")
    clip_value = _number("clip_grad_value_", "clip_value", clip_value, "a non-negative number")
    if math.isnan(clip_value) or clip_value < 0:
        # [-c, c] with c < 0 is empty: np.clip would silently set every gradient to -c.
        raise ValueError(f"clip_grad_value_: clip_value must be a non-negative number, got {clip_value}")
    for p in params:
        g = p.grad
        if g is None:
            continue
        lo, hi = g._array.dtype.type(-clip_value), g._array.dtype.type(clip_value)
        if g._array.flags.writeable:
            np.clip(g._array, lo, hi, out=g._array)
        else:
            g._array = np.clip(g._array, lo, hi)
