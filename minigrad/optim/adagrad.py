"""Adagrad (Duchi, Hazan & Singer 2011), with PyTorch's exact update.

For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

    g    = -g                                   if maximize
    g    = g + weight_decay * p                 L2 penalty, if weight_decay
    clr  = lr / (1 + (t - 1) * lr_decay)        decayed learning rate
    s_t  = s_{t-1} + g^2                        sum of squared gradients (state 'sum')
    p_t  = p - clr * g / (sqrt(s_t) + eps)

Each weight's step shrinks with the total size of all its past gradients: weights that were
rarely updated (rare words' embeddings) keep larger steps than frequently updated ones. The sum
starts at ``initial_accumulator_value``. As in PyTorch, the state of every parameter is made
when the optimizer is built (so ``state_dict()`` has it from the start).

Written as NumPy expressions in the order of PyTorch's single-tensor CPU code
(torch/optim/adagrad.py); float32 parameters are updated in float32 arithmetic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.optim.optimizer import (
    Optimizer,
    ParamsT,
    grad_array,
    require_number,
    run_update,
    scalar_dtype,
    state_buffer,
)
from minigrad.tensor import Tensor

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(p: np.ndarray, g: np.ndarray, state_sum: np.ndarray, *, clr: float, eps: float,
                   weight_decay: float, maximize: bool) -> None:
    """One Adagrad step with the decayed learning rate ``clr``, in place on ``p`` and ``state_sum``.

    Example::

        >>> p, g, s = np.array([1.0]), np.array([2.0]), np.zeros(1)
        >>> adagrad_update(p, g, s, clr=0.1, eps=0.0, weight_decay=0.0, maximize=False)
        >>> s, p        # s = 2^2; p = 1 - 0.1 * 2 / sqrt(4)
        (array([4.]), array([0.9]))
    """
    t = p.dtype.type  # scalars in the parameter's dtype, as PyTorch casts them
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + t(weight_decay) * p
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += t(eps)
    p += t(-clr) * g / std


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    foreach=None, *, maximize=False)``, as ``torch.optim.Adagrad``.

    State per parameter (made at construction): ``step`` (a 0-d float32 Tensor) and ``sum``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = mg.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()               # first step: lr * g / |g| = 0.1 against the gradient's sign
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        del foreach, fused
        if differentiable:
            raise NotImplementedError("Adagrad: differentiable=True is not supported by minigrad")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        _check(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    # One NumPy path: impl='fused' and 'reference' run the same update.
    kernel = kernel_ref = staticmethod(adagrad_update)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        state["step"] = Tensor(np.zeros((), dtype=scalar_dtype()))
        state["sum"] = Tensor(np.full(p.shape, group["initial_accumulator_value"], dtype=p.dtype))

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
        update = functools.partial(kernel, eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                                   maximize=bool(group["maximize"]))
        for p in group["params"]:
            if p.grad is None:
                continue
            g = grad_array(p, "Adagrad.step")
            state = self.state[p]
            if "sum" not in state:  # a parameter added by add_param_group after construction
                self._init_state(p, group)
            state_sum = state_buffer(state, "sum", p)
            step_t = state["step"]
            step_t._array = np.array(step_t._array + 1, dtype=step_t._array.dtype)
            clr = lr / (1 + (float(step_t._array) - 1) * lr_decay)
            run_update(p, functools.partial(update, clr=clr), g, state_sum)


def _check(group: dict[str, Any]) -> None:
    for key, what in (("lr", "learning rate"), ("lr_decay", "lr_decay value"),
                      ("weight_decay", "weight_decay value"),
                      ("initial_accumulator_value", "initial_accumulator_value value"), ("eps", "epsilon value")):
        require_number(group[key], what)
        if not 0.0 <= group[key]:
            raise ValueError(f"Invalid {what}: {group[key]}")
