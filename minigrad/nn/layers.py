"""Basic layers: Linear, Embedding, Dropout, activations and a few small helpers.

Each layer holds its parameters and calls the matching function in ``minigrad.nn.functional``.
Default initialisations are PyTorch's, so a model built here starts from the same
distribution as its PyTorch twin.

Example::

    >>> import minigrad as mg
    >>> net = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Tanh(), mg.nn.Linear(8, 2))
    >>> net
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=2, bias=True)
    )
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.autograd import no_grad
from minigrad.devices import check_device
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.errors import ShapeError
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor


def _check_size(who: str, name: str, value: Any) -> int:
    """A layer size: a non-negative int (0 is allowed, as in PyTorch: an empty layer)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} should be of type int, got: {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative int, got {value}")
    return int(value)


def _float_dtype(dtype: Any, who: str = "") -> np.dtype:
    d = get_default_dtype() if dtype is None else to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"{who + ': ' if who else ''}parameters must have a floating dtype, got {d}")
    return d


class Linear(Module):
    """Affine map ``y = x W^T + b`` on the last dimension: (*, in_features) -> (*, out_features).

    ``weight`` is (out_features, in_features) and ``bias`` (out_features,), initialised like
    PyTorch: ``W ~ U(-1/sqrt(in), 1/sqrt(in))`` (kaiming_uniform_ with a=sqrt(5)), same bound for b.

    Example::

        >>> import minigrad as mg
        >>> fc = mg.nn.Linear(4, 3)
        >>> fc(mg.randn(2, 4)).shape, fc.weight.shape
        ((2, 3), (3, 4))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device(device, "Linear")
        self.in_features = _check_size("Linear", "in_features", in_features)
        self.out_features = _check_size("Linear", "out_features", out_features)
        dt = _float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"Linear: input must be a Tensor, got {type(input).__name__} (wrap data with "
                            "mg.tensor(...))")
        shape = input._array.shape
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(f"Linear: input of shape {tuple(input.shape)} has last dimension "
                             f"{input.shape[-1] if input.ndim else 'none'}, expected in_features={self.in_features}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices of shape (*) -> vectors of shape (*, embedding_dim).

    ``weight`` (num_embeddings, embedding_dim) starts as N(0, 1), like PyTorch. Row
    ``padding_idx`` (negative counts from the end) starts at zero and never receives gradient,
    so padding tokens stay the zero vector.

    Example::

        >>> import minigrad as mg
        >>> emb = mg.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(mg.tensor([[1, 0, 4]])).shape, emb.weight[0].tolist()
        ((1, 3, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not supported")
        check_device(device, "Embedding")
        self.num_embeddings = _check_size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check_size("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            padding_idx = F._normalize_padding_idx(padding_idx, num_embeddings, "Embedding")
        self.padding_idx = padding_idx
        self.max_norm = None
        self.norm_type = norm_type
        self.scale_grad_by_freq = False
        self.sparse = False
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=_float_dtype(dtype, "Embedding")),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: _weight of shape {tuple(_weight.shape)} does not match "
                                 f"(num_embeddings, embedding_dim) = ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1), with the padding row set to zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        F._check_indices(input, self.num_embeddings, "Embedding")
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        **kwargs: Any) -> Embedding:
        """An Embedding whose table is ``embeddings`` (2-D); frozen unless ``freeze=False``.

        Example::

            >>> import minigrad as mg
            >>> emb = mg.nn.Embedding.from_pretrained(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> emb(mg.tensor([1])).tolist(), emb.weight.requires_grad
            ([[3.0, 4.0]], False)
        """
        if embeddings.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)


class Dropout(Module):
    """Inverted dropout: in training zero each element with probability ``p`` and scale the rest
    by ``1/(1-p)``; in ``eval()`` mode the identity.

    Example::

        >>> import minigrad as mg
        >>> drop = mg.nn.Dropout(0.5).eval()
        >>> drop(mg.ones(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = F._check_p(p, type(self).__name__)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Channel dropout for (N, C, L) or (C, L) input: each channel is zeroed whole with probability ``p``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.Dropout1d(0.5).eval()(mg.ones(1, 2, 3)).sum().item()
        6.0
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Channel dropout for (N, C, H, W) input: each channel (feature map) is zeroed whole with probability ``p``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.Dropout2d(0.5).eval()(mg.ones(1, 2, 3, 3)).sum().item()
        18.0
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


# ------------------------------------------------------------------------------------------------
# Activations and other parameter-free layers
# ------------------------------------------------------------------------------------------------


class Tanh(Module):
    """``tanh(x)`` elementwise. Example: ``mg.nn.Tanh()(mg.zeros(2)).tolist() == [0.0, 0.0]``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise. Example: ``mg.nn.Sigmoid()(mg.zeros(1)).item() == 0.5``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class ReLU(Module):
    """``max(x, 0)`` elementwise. Example: ``mg.nn.ReLU()(mg.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off). Ignores its arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Softmax(Module):
    """``softmax`` along ``dim``: rows of probabilities.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.Softmax(dim=-1)(mg.zeros(1, 2)).tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``log_softmax`` along ``dim``: log-probabilities, computed stably.

    Example::

        >>> import minigrad as mg
        >>> round(mg.nn.LogSoftmax(dim=1)(mg.zeros(1, 2))[0, 0].item(), 4)
        -0.6931
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (default: everything but the batch).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.Flatten()(mg.zeros(2, 3, 4)).shape
        (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of ``Flatten``; one size may be -1).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.Unflatten(1, (3, 4))(mg.zeros(2, 12)).shape
        (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for pos, size in enumerate(unflattened_size):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
                raise TypeError(f"Unflatten: unflattened_size must be tuple of ints, but found element of type "
                                f"{type(size).__name__} at pos {pos}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(input.shape)
        if not -len(shape) <= self.dim < len(shape):
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for input of shape {shape}")
        dim = self.dim % len(shape)
        sizes = [int(n) for n in self.unflattened_size]
        known = int(np.prod([n for n in sizes if n != -1]))
        if sizes.count(-1) > 1 or (-1 not in sizes and known != shape[dim]) or (
                -1 in sizes and (known == 0 or shape[dim] % known)):
            raise ShapeError(f"Unflatten: sizes {tuple(sizes)} don't multiply up to the size of dimension {dim} "
                             f"({shape[dim]}) of input of shape {shape}")
        return input.reshape(*shape[:dim], *sizes, *shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
