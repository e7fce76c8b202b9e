"""RMSprop (Hinton, Coursera lecture 6e, 2012), with PyTorch's exact update.

For each parameter ``p`` with gradient ``g``::

    g   = -g                                    if maximize
    g   = g + weight_decay * p                  L2 penalty, if weight_decay
    v_t = alpha * v_{t-1} + (1 - alpha) * g^2   running mean of squares (state 'square_avg')
    m_t = lerp(m_{t-1}, g, 1 - alpha)           centered only: running mean (state 'grad_avg')
    s   = sqrt(v_t - m_t^2) + eps   if centered   else   sqrt(v_t) + eps
    b_t = momentum * b_{t-1} + g / s            with momentum (state 'momentum_buffer')
    p_t = p - lr * b_t              with momentum, else   p_t = p - lr * g / s

Dividing by the root of the running mean square gives every weight a step of about ``lr``
whatever the scale of its gradient. ``centered`` divides by an estimate of the gradient's
standard deviation instead (the mean square minus the squared mean).

The update is written as NumPy expressions in the order of PyTorch's single-tensor CPU code
(torch/optim/rmsprop.py), so float32 parameters are updated in float32 arithmetic.
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

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(p: np.ndarray, g: np.ndarray, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                   momentum_buffer: np.ndarray | None, *, lr: float, alpha: float, eps: float,
                   weight_decay: float, momentum: float, maximize: bool) -> None:
    """One RMSprop step, in place on ``p`` and the state arrays (all of p's dtype and shape).

    ``grad_avg`` is given when centered, ``momentum_buffer`` when ``momentum > 0``.

    Example::

        >>> p, g, v = np.array([1.0]), np.array([2.0]), np.zeros(1)
        >>> rmsprop_update(p, g, v, None, None, lr=0.01, alpha=0.99, eps=0.0, weight_decay=0.0,
        ...                momentum=0.0, maximize=False)
        >>> v, p        # v = 0.01 * 2^2; p = 1 - 0.01 * 2 / sqrt(0.04)
        (array([0.04]), array([0.9]))
    """
    t = p.dtype.type  # scalars in the parameter's dtype, as PyTorch casts them
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + t(weight_decay) * p
    square_avg *= t(alpha)
    square_avg += t(1 - alpha) * g * g
    if grad_avg is not None:
        _lerp_(grad_avg, g, t(1 - alpha))
        avg = np.sqrt(square_avg + t(-1) * grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += t(eps)
    if momentum_buffer is not None:
        momentum_buffer *= t(momentum)
        momentum_buffer += g / avg
        p += t(-lr) * momentum_buffer
    else:
        p += t(-lr) * g / avg


def _lerp_(start: np.ndarray, end: np.ndarray, weight: np.floating) -> None:
    """``start <- start + weight * (end - start)``, with torch.lerp's second form for weights >= 0.5."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (weight.dtype.type(1) - weight)


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
    maximize=False)``, as ``torch.optim.RMSprop``.

    State per parameter: ``step`` (a 0-d float32 Tensor), ``square_avg``, and ``momentum_buffer``
    (momentum > 0) and ``grad_avg`` (centered). ``foreach`` is accepted and ignored.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = mg.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()               # first step: lr / sqrt(1 - alpha) = 0.1 against the gradient's sign
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        del foreach
        if capturable or differentiable:
            raise NotImplementedError("RMSprop: capturable/differentiable are not supported by minigrad")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        _check(defaults)
        super().__init__(params, defaults)

    # One NumPy path: impl='fused' and 'reference' run the same update.
    kernel = kernel_ref = staticmethod(rmsprop_update)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        update = functools.partial(kernel, lr=float(group["lr"]), alpha=float(group["alpha"]),
                                   eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                                   momentum=momentum, maximize=bool(group["maximize"]))
        for p in group["params"]:
            if p.grad is None:
                continue
            g = grad_array(p, "RMSprop.step")
            state = self.state[p]
            if len(state) == 0:  # lazy initialisation, on the parameter's first gradient
                state["step"] = Tensor(np.zeros((), dtype=scalar_dtype()))
            square_avg = state_buffer(state, "square_avg", p)
            grad_avg = state_buffer(state, "grad_avg", p) if centered else None
            buf = state_buffer(state, "momentum_buffer", p) if momentum > 0 else None
            step_t = state["step"]
            step_t._array = np.array(step_t._array + 1, dtype=step_t._array.dtype)
            run_update(p, update, g, square_avg, grad_avg, buf)


def _check(group: dict[str, Any]) -> None:
    for key, what in (("lr", "learning rate"), ("eps", "epsilon value"), ("momentum", "momentum value"),
                      ("weight_decay", "weight_decay value"), ("alpha", "alpha value")):
        require_number(group[key], what)
        if not 0.0 <= group[key]:
            raise ValueError(f"Invalid {what}: {group[key]}")
