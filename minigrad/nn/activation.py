"""Activation layers: LeakyReLU, ELU, GELU, Softplus, SiLU, LogSigmoid, Hardtanh, ReLU6 and
CosineSimilarity (Modules around ``mg.nn.functional``).

Tanh, Sigmoid, ReLU, Softmax and LogSoftmax live in ``layers.py``; all of them are in ``mg.nn``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.Sequential(mg.nn.Linear(2, 4), mg.nn.GELU(), mg.nn.Linear(4, 1))(mg.ones(3, 2)).shape
    (3, 1)
"""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class LeakyReLU(Module):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.LeakyReLU(0.5)(mg.tensor([-1.0, 2.0])).tolist()
        [-0.5, 2.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.ELU()(mg.tensor([0.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` for the tanh approximation.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.GELU()
        GELU(approximate='none')
        >>> round(mg.nn.GELU(approximate="tanh")(mg.tensor([1.0])).item(), 4)
        0.8412
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, the identity where ``beta * x > threshold``.

    Example::

        >>> import minigrad as mg
        >>> round(mg.nn.Softplus(beta=2.0)(mg.zeros(1)).item(), 4)
        0.3466
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """``x * sigmoid(x)``. Example: ``mg.nn.SiLU()(mg.tensor([0.0])).tolist()`` -> [0.0]."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    """``log(sigmoid(x))``. Example: ``round(mg.nn.LogSigmoid()(mg.tensor([0.0])).item(), 4)`` -> -0.6931."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Hardtanh(Module):
    """``x`` clamped to ``[min_val, max_val]``. Example: ``mg.nn.Hardtanh()(mg.tensor([2.0])).tolist()`` -> [1.0]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``. Example: ``mg.nn.ReLU6()(mg.tensor([7.0])).tolist()`` -> [6.0]."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CosineSimilarity(Module):
    """The cosine similarity of two inputs along ``dim``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.CosineSimilarity(dim=0)(mg.tensor([1.0, 0.0]), mg.tensor([2.0, 0.0])).tolist()
        1.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
