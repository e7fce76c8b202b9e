"""Adadelta (Zeiler 2012), with PyTorch's exact update.

For each parameter ``p`` with gradient ``g``::

    g   = -g                                        if maximize
    g   = g + weight_decay * p                      L2 penalty, if weight_decay
    v_t = rho * v_{t-1} + (1 - rho) * g^2           running mean of squared gradients ('square_avg')
    d   = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g the step, in the units of p
    u_t = rho * u_{t-1} + (1 - rho) * d^2           running mean of squared steps ('acc_delta')
    p_t = p - lr * d

The ratio of the two running RMS values gives the step the units of the parameter, so the
method needs no learning rate in theory; PyTorch still scales it by ``lr`` (default 1.0).

Written as NumPy expressions in the order of PyTorch's single-tensor CPU code
(torch/optim/adadelta.py); float32 parameters are updated in float32 arithmetic.
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

__all__ = ["Adadelta", "adadelta_update"]


def adadelta_update(p: np.ndarray, g: np.ndarray, square_avg: np.ndarray, acc_delta: np.ndarray, *, lr: float,
                    rho: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """One Adadelta step, in place on ``p``, ``square_avg`` and ``acc_delta``.

    Example::

        >>> p, g, v, u = np.array([1.0]), np.array([2.0]), np.zeros(1), np.zeros(1)
        >>> adadelta_update(p, g, v, u, lr=1.0, rho=0.75, eps=1e-6, weight_decay=0.0, maximize=False)
        >>> v, [round(float(x), 6) for x in p]      # v = 0.25 * 2^2; step = sqrt(1e-6) / sqrt(1) * 2
        (array([1.]), [0.998])
    """
    t = p.dtype.type  # scalars in the parameter's dtype, as PyTorch casts them
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + t(weight_decay) * p
    square_avg *= t(rho)
    square_avg += t(1 - rho) * g * g
    std = np.sqrt(square_avg + t(eps))
    delta = np.sqrt(acc_delta + t(eps))
    delta /= std
    delta *= g
    acc_delta *= t(rho)
    acc_delta += t(1 - rho) * delta * delta
    p += t(-lr) * delta


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, maximize=False)``,
    as ``torch.optim.Adadelta``.

    State per parameter: ``step`` (a 0-d float32 Tensor), ``square_avg`` and ``acc_delta``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = mg.optim.Adadelta([w])
        >>> (w * w).sum().backward()
        >>> opt.step()               # tiny first steps: sqrt(eps) / sqrt(0.1) = 0.0032 against the sign
        >>> [round(v, 4) for v in w.tolist()]
        [0.9968, -1.9968]
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        del foreach
        if capturable or differentiable:
            raise NotImplementedError("Adadelta: capturable/differentiable are not supported by minigrad")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        _check(defaults)
        super().__init__(params, defaults)

    # One NumPy path: impl='fused' and 'reference' run the same update.
    kernel = kernel_ref = staticmethod(adadelta_update)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        update = functools.partial(kernel, lr=float(group["lr"]), rho=float(group["rho"]), eps=float(group["eps"]),
                                   weight_decay=float(group["weight_decay"]), maximize=bool(group["maximize"]))
        for p in group["params"]:
            if p.grad is None:
                continue
            g = grad_array(p, "Adadelta.step")
            state = self.state[p]
            if len(state) == 0:  # lazy initialisation, on the parameter's first gradient
                state["step"] = Tensor(np.zeros((), dtype=scalar_dtype()))
            square_avg = state_buffer(state, "square_avg", p)
            acc_delta = state_buffer(state, "acc_delta", p)
            step_t = state["step"]
            step_t._array = np.array(step_t._array + 1, dtype=step_t._array.dtype)
            run_update(p, update, g, square_avg, acc_delta)


def _check(group: dict[str, Any]) -> None:
    for key, what in (("lr", "learning rate"), ("rho", "rho value"), ("eps", "epsilon value"),
                      ("weight_decay", "weight_decay value")):
        require_number(group[key], what)
    if not 0.0 <= group["lr"]:
        raise ValueError(f"Invalid learning rate: {group['lr']}")
    if not 0.0 <= group["rho"] <= 1.0:
        raise ValueError(f"Invalid rho value: {group['rho']}")
    if not 0.0 <= group["eps"]:
        raise ValueError(f"Invalid epsilon value: {group['eps']}")
    if not 0.0 <= group["weight_decay"]:
        raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
