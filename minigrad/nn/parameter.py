"""Parameter: a Tensor that a Module learns.

A ``Parameter`` is an ordinary leaf tensor with ``requires_grad=True`` by default. The only
thing special about it is the type: assigning one to a ``Module`` attribute registers it, so
``module.parameters()`` finds it and the optimizer can update it.

Example::

    >>> import minigrad as mg
    >>> w = mg.nn.Parameter(mg.zeros(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    >>> w
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A learnable tensor. ``Parameter(t)`` shares ``t``'s array (no copy), like PyTorch.

    ``data`` may be a Tensor, an ndarray, or anything ``mg.tensor`` accepts; ``None`` gives an
    empty float tensor. Integer data cannot require grad: pass ``requires_grad=False`` for it.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            from minigrad.dtypes import get_default_dtype

            data = np.empty(0, dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            data = data._array  # share memory, as torch.nn.Parameter(tensor) does
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # Tensor uses __slots__, so copy.deepcopy needs to be told what a Parameter consists of.
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self._array.copy(), requires_grad=self.requires_grad)
        memo[id(self)] = result
        if self.grad is not None:
            result.grad = Tensor(self.grad._array.copy())
        result.name = self.name
        return result

