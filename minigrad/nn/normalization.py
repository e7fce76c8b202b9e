"""Normalisation layers: LayerNorm and BatchNorm1d (Modules around ``mg.nn.functional``).

``LayerNorm`` normalises each example over its last dimensions (as in transformers and
recurrent nets); ``BatchNorm1d`` normalises each channel over the batch, keeping running
estimates of the mean and variance for evaluation. Both learn a scale (``weight``, ones) and
a shift (``bias``, zeros) per feature, as in PyTorch.

Example::

    >>> import minigrad as mg
    >>> bn = mg.nn.BatchNorm1d(3)
    >>> _ = bn(mg.randn(8, 3))                        # training: batch statistics, running ones updated
    >>> bn.num_batches_tracked.item()
    1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import no_grad, version_counter
from minigrad.devices import check_device
from minigrad.errors import ShapeError
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers import _check_size, _float_dtype
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale by ``weight``, shift by ``bias``.

    ``elementwise_affine=False`` learns neither; ``bias=False`` learns only the scale.

    Example::

        >>> import minigrad as mg
        >>> ln = mg.nn.LayerNorm(4)
        >>> ln
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
        >>> y = ln(mg.tensor([[1.0, 2.0, 3.0, 4.0]]))
        >>> round(y.mean().item(), 6), round(y.var(unbiased=False).item(), 4)
        (0.0, 1.0)
    """

    def __init__(self, normalized_shape: int | tuple[int, ...] | list[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(_check_size("LayerNorm", "normalized_shape", n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        check_device(device, "LayerNorm")
        dt = _float_dtype(dtype, "LayerNorm")
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C.

    In training mode each channel is normalised with the batch's mean and (biased) variance,
    and the buffers ``running_mean`` / ``running_var`` move towards them:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased variance there).
    ``momentum=None`` makes them the cumulative average over all batches so far. In eval mode
    the running statistics normalise instead, so one example at a time works.
    ``num_batches_tracked`` counts training batches (it is in the ``state_dict``, as in PyTorch).
    ``track_running_stats=False`` always uses batch statistics; ``affine=False`` learns no scale/shift.

    Example::

        >>> import minigrad as mg
        >>> bn = mg.nn.BatchNorm1d(2, momentum=None)
        >>> _ = bn(mg.tensor([[0.0, 1.0], [2.0, 1.0]]))
        >>> bn.running_mean.tolist(), bn.running_var.tolist()
        ([1.0, 1.0], [2.0, 0.0])
        >>> bn.eval()(mg.tensor([[1.0, 1.0]])).tolist()        # (x - running_mean) / sqrt(running_var + eps)
        [[0.0, 0.0]]
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = _check_size("BatchNorm1d", "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        check_device(device, "BatchNorm1d")
        dt = _float_dtype(dtype, "BatchNorm1d")
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean to zeros, running variance to ones, the batch count to 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics; weight to ones, bias to zeros."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"BatchNorm1d: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ShapeError(f"BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) input, got {input.ndim}D input of "
                             f"shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm1d: input of shape {input.shape} has {input.shape[1]} channels (dimension "
                             f"1), expected num_features={self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._array[...] += 1
            version_counter(self.num_batches_tracked)[0] += 1  # PyTorch's add_(1) counts as an in-place change
            if self.momentum is None:  # cumulative moving average: batch k gets weight 1/k
                factor = 1.0 / float(self.num_batches_tracked._array)
        # Batch statistics in training, and in eval when there are no running ones to use.
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")
