"""Normalisation and channel dropout for ``mg.nn.functional``: layer_norm, batch_norm, dropout1d/2d.

Both normalisations are the same computation over different axes::

    y = (x - mean) / sqrt(var + eps) * weight + bias        (var: the biased variance)

``layer_norm`` takes the statistics of each example over its last dimensions; ``batch_norm``
takes them per channel (dimension 1) over the batch and every other dimension, and in eval
mode uses running estimates instead. One ``Function`` node does both, in the dtype of the
statistics it is given: ``layer_norm`` computes in float32 for float32 and half-precision inputs
(in float64 for float64), as PyTorch does; ``batch_norm``'s statistics are float64 for every input.
A contiguous float32/float64 ``layer_norm`` goes through ``kernels/layer_norm.py`` instead: two
passes over each row each way, its sums in float64.

Example::

    >>> import minigrad as mg
    >>> F = mg.nn.functional
    >>> y = F.layer_norm(mg.tensor([[1.0, 2.0, 3.0]]), (3,))
    >>> [round(v, 4) for v in y[0].tolist()]
    [-1.2247, 0.0, 1.2247]
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from minigrad.autograd import Function, sum_to_shape, version_counter
from minigrad.errors import ShapeError
from minigrad.kernels import layer_norm as layer_norm_kernels
from minigrad.nn._checks import _as_tensor, _check_floating, _check_p, _maybe_inplace
from minigrad.random import rng
from minigrad.tensor import Tensor

__all__ = ["layer_norm", "batch_norm", "dropout1d", "dropout2d"]


class Normalize(Function):
    """``(x - mean) * rstd * weight + bias`` with ``rstd = 1 / sqrt(var + eps)``.

    The statistics are over ``self.axes``: the batch's own (``self.batch_stats``), computed here
    when ``self.mean`` is None (layer_norm) or given with ``self.var`` (batch_norm, which also
    updates its running averages with them), or fixed running averages. They are arrays
    broadcastable to ``x`` (keepdims shape) in the dtype the node computes in, ``self.dtype``;
    ``self.param_shape`` is the shape that weight and bias are broadcast as. With the batch's own
    statistics the gradient is::

        dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)),   gh = dL/dxhat = g * weight

    (the means over the normalised axes); with fixed statistics it is just ``gh * rstd``. Means are
    sums divided by the count: ``ndarray.sum`` is one call into NumPy, ``ndarray.mean`` several.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray:
        xc = x.astype(self.dtype, copy=False)
        self.count = math.prod(x.shape[a] for a in self.axes)  # values per statistic
        if self.mean is None:  # the biased variance, from the centred values (as np.var)
            self.mean = xc.sum(axis=self.axes, keepdims=True) / self.count
            centered = xc - self.mean
            self.var = np.square(centered).sum(axis=self.axes, keepdims=True) / self.count
        else:
            centered = xc - self.mean
        rstd = 1.0 / np.sqrt(self.var + self.eps)
        xhat = centered
        xhat *= rstd
        y = xhat if weight is None else xhat * weight.reshape(self.param_shape)
        if bias is not None:
            y = y + bias.reshape(self.param_shape)
        self.save_for_backward(xhat, rstd, weight, x)
        return y.astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray):
        xhat, rstd, weight, x = self.saved_tensors
        if self.create_graph:
            return self._backward_tensors(grad, x, weight)
        g = grad.astype(xhat.dtype, copy=False)
        gh = g if weight is None else g * weight.reshape(self.param_shape)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            if self.batch_stats:
                axes, count = self.axes, self.count
                gh_mean = gh.sum(axis=axes, keepdims=True) / count
                ghx_mean = (gh * xhat).sum(axis=axes, keepdims=True) / count
                gx = gh - gh_mean
                gx -= xhat * ghx_mean
                gx *= rstd
            else:
                gx = gh * rstd
            gx = gx.astype(grad.dtype, copy=False)
        if self.needs_input_grad[1]:
            gw = sum_to_shape(g * xhat, self.param_shape).reshape(weight.shape).astype(weight.dtype, copy=False)
        if self.needs_input_grad[2]:
            gb = sum_to_shape(g, self.param_shape).reshape(self.bias_shape).astype(grad.dtype, copy=False)
        return gx, gw, gb

    def _backward_tensors(self, g: Tensor, x: Tensor, weight: Tensor | None):
        """The same formulas in Tensor ops (create_graph=True), with xhat and rstd recomputed from x."""
        if self.batch_stats:
            mean = x.mean(self.axes, keepdim=True)
            rstd = (((x - mean) ** 2).mean(self.axes, keepdim=True) + self.eps) ** -0.5
        else:  # fixed statistics (running averages): constants
            mean, rstd = self.mean.astype(x.dtype), (1.0 / np.sqrt(self.var + self.eps)).astype(x.dtype)
        xhat = (x - mean) * rstd
        gh = g if weight is None else g * weight.reshape(self.param_shape)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            if self.batch_stats:
                gx = rstd * (gh - gh.mean(self.axes, keepdim=True) - xhat * (gh * xhat).mean(self.axes, keepdim=True))
            else:
                gx = gh * rstd
        if self.needs_input_grad[1]:
            gw = sum_to_shape(g * xhat, self.param_shape).reshape(weight.shape)
        if self.needs_input_grad[2]:
            gb = sum_to_shape(g, self.param_shape).reshape(self.bias_shape)
        return gx, gw, gb


class LayerNorm(Normalize):
    """``Normalize`` over the last dimensions: C-contiguous float32/float64 inputs (and their weight
    and bias) go through ``kernels/layer_norm.py``, two passes each way; the rest, and
    ``create_graph``, through ``Normalize``'s NumPy and Tensor formulas."""

    name = "layer_norm"

    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray:
        self.by_kernel = layer_norm_kernels.takes(x, weight, bias)
        if not self.by_kernel:
            return super().forward(x, weight, bias)
        self.count = n = math.prod(self.param_shape)
        w = np.ones(n, x.dtype) if weight is None else weight.reshape(n)
        b = np.zeros(n, x.dtype) if bias is None else bias.reshape(n)
        y, xhat, rstd = layer_norm_kernels.layer_norm(x.reshape(-1, n), w, b, self.eps)
        statistic_shape = x.shape[: x.ndim - len(self.axes)] + (1,) * len(self.axes)
        self.save_for_backward(xhat.reshape(x.shape), rstd.reshape(statistic_shape), weight, x)
        return y.reshape(x.shape)

    def backward(self, grad: np.ndarray):
        if not self.by_kernel or self.create_graph or grad.dtype != self.dtype:
            return super().backward(grad)
        xhat, rstd, weight, x = self.saved_tensors
        n = self.count
        w = np.ones(n, x.dtype) if weight is None else weight.reshape(n)
        dx, dw, db = layer_norm_kernels.layer_norm_backward(grad.reshape(-1, n), xhat.reshape(-1, n),
                                                            rstd.reshape(-1), w)
        needs = self.needs_input_grad
        return (dx.reshape(x.shape) if needs[0] else None, dw.reshape(weight.shape) if needs[1] else None,
                db.reshape(self.bias_shape) if needs[2] else None)


class BatchNorm(Normalize):
    name = "batch_norm"


def _affine(t: Any, shape: tuple[int, ...], what: str, op: str) -> Tensor | None:
    if t is None:
        return None
    t = _as_tensor(t, op, what)
    if t.shape != shape:
        raise ShapeError(f"{op}: {what} of shape {t.shape} does not fit: expected {shape}")
    return t


def layer_norm(input: Tensor, normalized_shape: int | tuple[int, ...] | list[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each example over its last ``len(normalized_shape)`` dimensions, then scale and shift.

    ``input`` is (*, *normalized_shape); ``weight`` and ``bias``, if given, have
    ``normalized_shape``.

    Example::

        >>> import minigrad as mg
        >>> y = mg.nn.functional.layer_norm(mg.tensor([[0.0, 2.0], [1.0, 1.0]]), [2])
        >>> [[round(v, 3) for v in row] for row in y.tolist()]
        [[-1.0, 1.0], [0.0, 0.0]]
    """
    op = "layer_norm"
    input = _as_tensor(input, op)
    _check_floating(input, op)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(
        int(n) for n in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise ShapeError(f"{op}: given normalized_shape={list(shape)}, expected input with shape "
                         f"(*, {', '.join(map(str, shape))}), but got input of shape {input.shape}")
    weight, bias = _affine(weight, shape, "weight", op), _affine(bias, shape, "bias", op)
    axes = tuple(range(input.ndim - k, input.ndim))
    dtype = np.dtype(np.float64 if input.dtype == np.float64 else np.float32)
    return LayerNorm.apply(input, weight, bias, mean=None, var=None, dtype=dtype, eps=float(eps), axes=axes,
                           param_shape=shape, bias_shape=shape, batch_stats=True)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dimension 1) of (N, C, *) ``input`` over the batch and the other dimensions.

    With ``training=True`` the batch's own statistics are used, and ``running_mean`` /
    ``running_var`` (if given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, the variance being the
    unbiased one there (divided by n - 1), as in PyTorch. With ``training=False`` the running
    statistics normalise instead.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([[1.0], [3.0]])
        >>> mean, var = mg.zeros(1), mg.ones(1)
        >>> [round(v, 4) for v in mg.nn.functional.batch_norm(x, mean, var, training=True).flatten().tolist()]
        [-1.0, 1.0]
        >>> [round(mean.item(), 4), round(var.item(), 4)]   # 0.9 * 0 + 0.1 * 2 and 0.9 * 1 + 0.1 * 2
        [0.2, 1.1]
    """
    op = "batch_norm"
    input = _as_tensor(input, op)
    _check_floating(input, op)
    if input.ndim < 2:
        raise ShapeError(f"{op}: input must be (N, C) or (N, C, *), got shape {input.shape}")
    n_ch = input.shape[1]
    weight, bias = _affine(weight, (n_ch,), "weight", op), _affine(bias, (n_ch,), "bias", op)
    running_mean = _affine(running_mean, (n_ch,), "running_mean", op)
    running_var = _affine(running_var, (n_ch,), "running_var", op)
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)):
        raise TypeError(f"{op}: momentum must be a number, got {type(momentum).__name__} (BatchNorm1d's "
                        "momentum=None, the cumulative average, is the module's option)")
    param_shape = (1, n_ch) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        count = input.shape[0] * int(np.prod(input.shape[2:]))  # values per channel
        if count == 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape "
                             f"{input.shape}")
        x64 = input._array.astype(np.float64, copy=False)
        mean = x64.mean(axis=axes, keepdims=True)
        var = x64.var(axis=axes, keepdims=True)
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * count / max(count - 1, 1), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed when training=False")
        mean = running_mean._array.astype(np.float64).reshape(param_shape)
        var = running_var._array.astype(np.float64).reshape(param_shape)
    return BatchNorm.apply(input, weight, bias, mean=mean, var=var, dtype=mean.dtype, eps=float(eps), axes=axes,
                           param_shape=param_shape, bias_shape=(n_ch,), batch_stats=bool(training))


def _update_running(running: Tensor | None, batch_stat: np.ndarray, momentum: float) -> None:
    """``running <- (1 - momentum) running + momentum batch_stat``, in place (a buffer, outside autograd)."""
    if running is None:
        return
    arr = running._array
    arr[...] = (1.0 - momentum) * arr + momentum * batch_stat.reshape(arr.shape)
    version_counter(running)[0] += 1  # an in-place change, counted as PyTorch counts it


# ------------------------------------------------------------------------------------------------
# Channel dropout: zero whole channels, not single elements
# ------------------------------------------------------------------------------------------------


def _channel_dropout(input: Tensor, p: float, mask_dims: int) -> Tensor:
    """``input * mask / (1 - p)`` with one Bernoulli(1 - p) draw per index of the first ``mask_dims`` dims."""
    mask_shape = input.shape[:mask_dims] + (1,) * (input.ndim - mask_dims)
    if p >= 1.0:
        mask = np.zeros(mask_shape, dtype=input.dtype)
    else:
        keep = rng().random(mask_shape) >= p
        mask = keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    return input * Tensor(mask)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) ``input`` with probability ``p``; scale the rest by 1/(1-p).

    Example::

        >>> import minigrad as mg
        >>> y = mg.nn.functional.dropout1d(mg.ones(1, 6, 3), p=0.5)
        >>> all(row in ([0.0] * 3, [2.0] * 3) for row in y[0].tolist())   # each channel all kept or all zero
        True
    """
    op = "dropout1d"
    p = _check_p(p, op)
    input = _as_tensor(input, op)
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {input.shape}; dropout1d "
                         "drops whole channels of inputs with one spatial dimension")
    if not training or p == 0.0:
        return input
    _check_floating(input, op)
    return _maybe_inplace(input, inplace, op, lambda x: _channel_dropout(x, p, mask_dims=x.ndim - 1))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) ``input`` with probability ``p``; scale the rest by 1/(1-p).

    As in PyTorch, a 3-D input is read as (N, C, L) (with a warning), not as an unbatched (C, H, W).

    Example::

        >>> import minigrad as mg
        >>> y = mg.nn.functional.dropout2d(mg.ones(2, 4, 3, 3), p=0.5)
        >>> sorted({round(v, 1) for v in y.sum((2, 3)).flatten().tolist()}) in ([0.0], [18.0], [0.0, 18.0])
        True
    """
    op = "dropout2d"
    p = _check_p(p, op)
    input = _as_tensor(input, op)
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected a 4-D (N, C, H, W) input, got shape {input.shape}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", UserWarning, stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", UserWarning, stacklevel=2)
    if not training or p == 0.0:
        return input
    _check_floating(input, op)
    return _maybe_inplace(input, inplace, op, lambda x: _channel_dropout(x, p, mask_dims=2))


# ================================================================================================
# pad: constant values, or the input's own edges (reflect, replicate, circular)
# ================================================================================================

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dims: ``pad = (left, right)`` for the last dim, ``(left, right, top, bottom)`` for
    the last two, and so on. ``mode='constant'`` fills with ``value`` (0 by default; negative pads
    crop); ``'reflect'`` mirrors the input without repeating its edge, ``'replicate'`` repeats the
    edge, ``'circular'`` wraps around. Differentiable: the gradient of a copied value goes back to
    where it was copied from (summed over its copies).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.pad(mg.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2.]])
    """
    x = _as_tensor(input, "pad")
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, two per padded dimension (left, right, ...), "
                        f"got {pad!r}")
    if len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: {len(pad)} values pad {len(pad) // 2} dimensions, but the input of shape {x.shape} "
                         f"has {x.ndim}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    if mode != "constant" and value:
        raise ValueError(f"pad: a value ({value}) is only for mode='constant', not {mode!r}")
    # (dim, before, after), the last dim first as PyTorch orders them
    sides = [(x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    if mode == "constant":
        return _pad_constant(x, sides, 0.0 if value is None else value)
    for dim, before, after in sides:
        x = x.index_select(dim, Tensor(_edge_indices(mode, x.shape[dim], before, after, dim, x.shape)))
    return x


def _pad_constant(x: Tensor, sides: list[tuple[int, int, int]], value: float) -> Tensor:
    """Crop by the negative pads, then write what is left into a tensor of ``value`` (a differentiable assignment)."""
    crop = [slice(None)] * x.ndim
    for dim, before, after in sides:
        if x.shape[dim] + before + after < 0:
            raise ShapeError(f"pad: padding {before, after} of dimension {dim} (size {x.shape[dim]}) would leave a "
                             "negative size")
        crop[dim] = slice(max(-before, 0), x.shape[dim] - max(-after, 0))
    kept = x[tuple(crop)]
    shape = list(kept.shape)
    place = [slice(None)] * x.ndim
    for dim, before, after in sides:
        shape[dim] += max(before, 0) + max(after, 0)
        place[dim] = slice(max(before, 0), max(before, 0) + kept.shape[dim])
    out = Tensor(np.full(shape, value, dtype=x.dtype))
    out[tuple(place)] = kept
    return out


def _edge_indices(mode: str, size: int, before: int, after: int, dim: int, shape: tuple[int, ...]) -> np.ndarray:
    """Which input position each output position of ``dim`` copies, for the non-constant modes."""
    if before < 0 or after < 0:
        raise ValueError(f"pad: mode={mode!r} needs non-negative pads, got {before, after} for dimension {dim}")
    positions = np.arange(-before, size + after)
    if mode == "replicate":
        if size == 0:
            raise ShapeError(f"pad: mode='replicate' needs a non-empty dimension {dim}, shape {shape}")
        return np.clip(positions, 0, size - 1)
    if mode == "circular":
        if before > size or after > size:
            raise ShapeError(f"pad: mode='circular' pads at most the size of dimension {dim} ({size}), "
                             f"got {before, after}")
        return positions % size
    if before >= size or after >= size:  # reflect: the edge itself is not repeated
        raise ShapeError(f"pad: mode='reflect' needs pads smaller than the size of dimension {dim} ({size}), "
                         f"got {before, after}")
    period = 2 * (size - 1)
    folded = np.abs(positions) % period if period else np.zeros_like(positions)
    return np.where(folded < size, folded, period - folded)
